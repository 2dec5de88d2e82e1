// Package stats computes where approvals stall: time to decision per stage
// and per person in working hours, deadlines missed, rework and cycle
// time, and the tasks stuck now. It reads facts the storage writes in the
// transaction of each change (one row per task and per document), never
// the documents themselves, so a year of a large company is read in one
// pass of small rows.
package stats

import (
	"time"

	"github.com/viza-app/viza/flows"
)

// TaskFact is one task as analytics sees it (the open ones are read row
// by row, the closed ones in a Tally).
type TaskFact struct {
	ID     int64          `json:"id,omitzero"`
	DocID  int64          `json:"doc_id,omitzero"`
	Type   string         `json:"type,omitzero"`
	Stage  int            `json:"stage"` // index into the document's route
	Kind   string         `json:"kind,omitzero"`
	Holder flows.PersonID `json:"holder"` // whose decision it was: the route's person
	Actor  flows.PersonID `json:"actor"`  // who held it: a deputy, or a colleague it was handed to
	Round  int            `json:"round,omitzero"`
	Opened time.Time      `json:"opened,omitzero"`
	Due    time.Time      `json:"due,omitzero"`    // zero without a deadline
	Closed time.Time      `json:"closed,omitzero"` // zero while open
	State  string         `json:"state,omitzero"`  // a task state: open, approved, rejected, acknowledged, done, closed
	Reason string         `json:"reason,omitzero"` // why a closed task closed without a decision
}

// Decided reports whether someone decided the task (a decision on timeout
// is nobody's and does not count as a person's time).
func (t TaskFact) Decided() bool {
	switch t.State {
	case flows.TaskApproved, flows.TaskRejected, flows.TaskAcknowledged, flows.TaskDone:
		return t.Reason != flows.CloseTimedOut
	}
	return false
}

// DocFact is one document as analytics sees it.
type DocFact struct {
	ID        int64
	Type      string
	Initiator flows.PersonID
	Started   time.Time
	Approved  time.Time // zero until approved
	Done      time.Time // zero until every step is done
	Rounds    int
	Rejected  bool // rejected at least once
	State     string
}

// TaskFactOf is what the storage keeps of task t of d; ok is false for a
// carried approval, which is nobody's new decision.
func TaskFactOf(d *flows.Document, t flows.Task) (TaskFact, bool) {
	if t.Carried {
		return TaskFact{}, false
	}
	holder := t.Assignee
	if t.OnBehalfOf != "" {
		holder = t.OnBehalfOf
	}
	if t.From != "" {
		holder = t.From
	}
	f := TaskFact{ID: t.ID, DocID: d.ID, Type: d.TypeID, Stage: t.Stage, Kind: t.Kind, Holder: holder, Actor: t.Assignee,
		Round: t.Round, Opened: t.OpenedAt, Due: t.Due, Closed: t.ClosedAt, State: t.State, Reason: t.CloseReason}
	if f.Reason == "" && t.State != flows.TaskOpen {
		// Approved on timeout: the stage's rule decided, nobody did.
		for _, dc := range d.Decisions {
			if dc.TaskID == t.ID && dc.Timeout {
				f.Reason = flows.CloseTimedOut
			}
		}
	}
	return f, true
}

// DocFactOf is what the storage keeps of d. Approved is when the last
// decision of the approval part came: the last round's latest closing
// before the post-approval steps.
func DocFactOf(d *flows.Document) DocFact {
	f := DocFact{ID: d.ID, Type: d.TypeID, Initiator: d.Initiator, Started: d.CreatedAt, Rounds: len(d.Rounds), State: d.State}
	for _, t := range d.Tasks {
		if t.State == flows.TaskRejected {
			f.Rejected = true
		}
	}
	switch d.State {
	case flows.StateApproved, flows.StateSigning, flows.StateDone:
		r := d.CurrentRound()
		if r == nil {
			break
		}
		f.Approved = r.StartedAt
		for _, t := range d.Tasks {
			if t.Round == r.No && t.Stage < len(d.Stages) && !d.Stages[t.Stage].Post && t.ClosedAt.After(f.Approved) {
				f.Approved = t.ClosedAt
			}
		}
	}
	if d.IsFinal() && d.State != flows.StateWithdrawn {
		f.Done = d.FinishedAt
	}
	return f
}

// Query chooses the facts: the tasks closed and the documents started in
// [From, To), of one type or all, of some people or everyone's.
type Query struct {
	From, To time.Time
	Type     string
	// People limits the figures to these people's tasks (held or decided
	// for) and the documents they started; nil is everyone.
	People []flows.PersonID
	// Zone is the company's: days and the months of the cycle time are
	// its (nil: UTC).
	Zone *time.Location
}

// ReworkSum sums the documents started in a span.
type ReworkSum struct {
	Docs, Rounds, Rejected int
}

// Facts are what a report is computed from.
type Facts struct {
	Tally *Tally     // the tasks closed and the documents started in the period
	Open  []TaskFact // open now, oldest first
}
