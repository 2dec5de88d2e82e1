package flows

import (
	"slices"
	"time"
)

// Document states. They are the states of the per-document machine (fsm.go).
const (
	StateDraft            = "draft"
	StateInApproval       = "in_approval"
	StateChangesRequested = "changes_requested"
	StateApproved         = "approved"
	StateSigning          = "signing"
	StateDone             = "done"
	StateWithdrawn        = "withdrawn"
)

// Task states.
const (
	TaskOpen         = "open"
	TaskApproved     = "approved"
	TaskRejected     = "rejected"
	TaskAcknowledged = "acknowledged"
	TaskDone         = "done"
	TaskClosed       = "closed" // closed without a decision; see Task.CloseReason
)

// Reasons a task closes without a decision of its own.
const (
	CloseNotNeeded  = "not_needed" // an any/quorum stage completed without it
	CloseSuperseded = "superseded" // the round ended (rejection or new version)
	CloseWithdrawn  = "withdrawn"  // the initiator withdrew the document
	CloseReassigned = "reassigned" // handed over to a colleague
)

// Document is the aggregate the engine works on: everything about one
// document, loaded and saved as a whole inside one transaction.
type Document struct {
	ID           int64
	Number       string
	TypeID       string
	TypeName     map[string]string
	Title        string
	Counterparty string
	AmountMinor  int64 // in hundredths of Currency
	HasAmount    bool
	Currency     string
	Initiator    PersonID
	State        string
	Rework       string
	CreatedAt    time.Time
	FinishedAt   time.Time
	Stages       []Stage
	Versions     []Version
	Rounds       []Round
	Tasks        []Task
	Decisions    []Decision
	Remarks      []Remark
}

// Stage is a resolved stage of the route snapshot taken at start.
type Stage struct {
	Index      int
	Name       map[string]string
	Kind       string
	Mode       Mode
	Approvers  []PersonID
	Deadline   WorkDuration
	When       string
	Skipped    bool
	SkipReason string
	// Post marks post-approval steps (signature, acknowledgement after the
	// last approve stage): they run in state "signing".
	Post bool
}

// Version is one uploaded file of the document.
type Version struct {
	No         int
	FileName   string
	Size       int64
	MIME       string
	SHA256     string
	UploadedBy PersonID
	At         time.Time
	Comment    string
	Scan       bool // a signed scan attached to a sign task; starts no round
}

// Round is one pass of the route over one version.
type Round struct {
	No        int
	Version   int
	StartedAt time.Time
	EndedAt   time.Time
	Stage     int    // index of the stage in progress
	Outcome   string // "", approved, rejected, superseded, withdrawn
	// Carried lists, per stage index, the people whose approval from the
	// previous round stays valid under the rework policy.
	Carried map[int][]PersonID
}

// Task is one person's job in one stage of one round.
type Task struct {
	ID          int64
	Round       int
	Stage       int
	Kind        string
	Assignee    PersonID
	OnBehalfOf  PersonID // set when a deputy got the task for an absent person
	State       string
	OpenedAt    time.Time
	Due         time.Time
	ClosedAt    time.Time
	CloseReason string
	Carried     bool     // approval carried over from the previous round
	From        PersonID // previous holder when reassigned
	Reason      string   // reassignment reason
}

// Holders are the people for whom the task is done: the assignee, the absent
// person a deputy stands for, and whoever handed the task over.
func (t *Task) Holders() []PersonID {
	h := []PersonID{t.Assignee}
	if t.OnBehalfOf != "" {
		h = append(h, t.OnBehalfOf)
	}
	if t.From != "" {
		h = append(h, t.From)
	}
	return h
}

// Decision is a recorded action on a task or on the document.
type Decision struct {
	TaskID  int64
	Round   int
	Stage   int
	Kind    string // approve, reject, comment, acknowledge, done, reassign, version, withdraw
	Actor   PersonID
	For     PersonID // the task's holder when someone else acted
	At      time.Time
	Comment string
	Version int
}

// Remark is a comment that may block approval.
type Remark struct {
	ID            int
	Blocking      bool
	Owner         PersonID // for whom it was raised (the task's holder)
	Author        PersonID // who typed it
	Text          string
	Version       int
	Round         int
	At            time.Time
	ClosedAt      time.Time
	ClosedByTask  int64
	ClosedVersion int
}

// Open reports whether a blocking remark still blocks.
func (r *Remark) Open() bool { return r.Blocking && r.ClosedAt.IsZero() }

// CurrentRound returns the last round, or nil before the start.
func (d *Document) CurrentRound() *Round {
	if len(d.Rounds) == 0 {
		return nil
	}
	return &d.Rounds[len(d.Rounds)-1]
}

// CurrentVersion returns the newest non-scan version number.
func (d *Document) CurrentVersion() int {
	for i := len(d.Versions) - 1; i >= 0; i-- {
		if !d.Versions[i].Scan {
			return d.Versions[i].No
		}
	}
	return 0
}

// Version returns version no.
func (d *Document) Version(no int) (*Version, bool) {
	for i := range d.Versions {
		if d.Versions[i].No == no {
			return &d.Versions[i], true
		}
	}
	return nil, false
}

// Task returns the task with id.
func (d *Document) Task(id int64) (*Task, bool) {
	for i := range d.Tasks {
		if d.Tasks[i].ID == id {
			return &d.Tasks[i], true
		}
	}
	return nil, false
}

// OpenTasks lists the open tasks.
func (d *Document) OpenTasks() []*Task {
	var out []*Task
	for i := range d.Tasks {
		if d.Tasks[i].State == TaskOpen {
			out = append(out, &d.Tasks[i])
		}
	}
	return out
}

// OpenBlockingRemarks lists the remarks that still block approval.
func (d *Document) OpenBlockingRemarks() []*Remark {
	var out []*Remark
	for i := range d.Remarks {
		if d.Remarks[i].Open() {
			out = append(out, &d.Remarks[i])
		}
	}
	return out
}

// Participants are the initiator, everyone who held or acted on a task, and
// every uploader, in first-seen order.
func (d *Document) Participants() []PersonID {
	var out []PersonID
	add := func(id PersonID) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	add(d.Initiator)
	for _, t := range d.Tasks {
		if t.Carried {
			continue
		}
		for _, h := range t.Holders() {
			add(h)
		}
	}
	for _, dc := range d.Decisions {
		add(dc.Actor)
	}
	for _, v := range d.Versions {
		add(v.UploadedBy)
	}
	return out
}

// IsParticipant reports whether id takes part in the document.
func (d *Document) IsParticipant(id PersonID) bool { return slices.Contains(d.Participants(), id) }

// IsFinal reports whether nothing more can happen to the document.
func (d *Document) IsFinal() bool {
	return d.State == StateDone || d.State == StateWithdrawn || (d.State == StateApproved && !d.hasPostStages())
}

func (d *Document) hasPostStages() bool {
	for _, s := range d.Stages {
		if s.Post && !s.Skipped {
			return true
		}
	}
	return false
}
