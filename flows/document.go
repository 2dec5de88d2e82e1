package flows

import (
	"fmt"
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
	CloseTimedOut   = "timed_out"  // dropped on timeout (a stage's on_timeout: skip)
	CloseSuperseded = "superseded" // the round ended (rejection or new version)
	CloseWithdrawn  = "withdrawn"  // the initiator withdrew the document
	CloseReassigned = "reassigned" // handed over to a colleague
	// CloseDecided is not a task state: task_closed notifications carry it
	// when the holder's task was decided, so that every channel can update
	// its messages wherever the decision was made.
	CloseDecided = "decided"
)

// Document is the aggregate the engine works on: everything about one
// document, loaded and saved as a whole inside one transaction.
type Document struct {
	ID           int64             `json:"id,omitzero"`
	Number       string            `json:"number,omitzero"`
	TypeID       string            `json:"type_id,omitzero"`
	TypeName     map[string]string `json:"type_name,omitzero"`
	Title        string            `json:"title,omitzero"`
	Counterparty string            `json:"counterparty,omitzero"`
	AmountMinor  int64             `json:"amount_minor,omitzero"` // in hundredths of Currency
	HasAmount    bool              `json:"has_amount,omitzero"`
	Currency     string            `json:"currency,omitzero"`
	ExternalID   string            `json:"external_id,omitzero"`
	Initiator    PersonID          `json:"initiator,omitzero"`
	State        string            `json:"state,omitzero"`
	Rework       string            `json:"rework,omitzero"`
	CreatedAt    time.Time         `json:"created_at,omitzero"`
	FinishedAt   time.Time         `json:"finished_at,omitzero"`
	Stages       []Stage           `json:"stages,omitzero"`
	Versions     []Version         `json:"versions,omitzero"`
	Rounds       []Round           `json:"rounds,omitzero"`
	Tasks        []Task            `json:"tasks,omitzero"`
	Decisions    []Decision        `json:"decisions,omitzero"`
	Remarks      []Remark          `json:"remarks,omitzero"`
	// Signatures are the electronic signatures verified at sign stages
	// signed by upload.
	Signatures []Signature `json:"signatures,omitzero"`
	// DSS are the requests to КриптоПро DSS to sign, pending and ended.
	DSS []DSSOperation `json:"dss,omitzero"`
}

// Stage is a resolved stage of the route snapshot taken at start.
type Stage struct {
	Index      int               `json:"index,omitzero"`
	Name       map[string]string `json:"name,omitzero"`
	Kind       string            `json:"kind,omitzero"`
	Mode       Mode              `json:"mode,omitzero"`
	Approvers  []PersonID        `json:"approvers,omitzero"`
	Deadline   WorkDuration      `json:"deadline,omitzero"`
	Timeout    Timeout           `json:"timeout,omitzero"`
	When       string            `json:"when,omitzero"`
	WhenLabel  map[string]string `json:"when_label,omitzero"`
	Skipped    bool              `json:"skipped,omitzero"`
	SkipReason string            `json:"skip_reason,omitzero"`
	// Post marks post-approval steps (signature, acknowledgement after the
	// last approve stage): they run in state "signing".
	Post bool `json:"post,omitzero"`
	// Method is how a sign stage is signed: SignScan ("" too) or
	// SignUpload or SignDSS.
	Method string `json:"method,omitzero"`
}

// Version is one uploaded file of the document.
type Version struct {
	No         int       `json:"no,omitzero"`
	FileName   string    `json:"file_name,omitzero"`
	Size       int64     `json:"size,omitzero"`
	MIME       string    `json:"mime,omitzero"`
	SHA256     string    `json:"sha256,omitzero"`
	UploadedBy PersonID  `json:"uploaded_by,omitzero"`
	At         time.Time `json:"at,omitzero"`
	Comment    string    `json:"comment,omitzero"`
	Scan       bool      `json:"scan,omitzero"` // a signed scan attached to a sign task; starts no round
}

// Round is one pass of the route over one version.
type Round struct {
	No        int       `json:"no,omitzero"`
	Version   int       `json:"version,omitzero"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Stage     int       `json:"stage,omitzero"`   // index of the stage in progress
	Outcome   string    `json:"outcome,omitzero"` // "", approved, rejected, superseded, withdrawn
	// Carried lists, per stage index, the people whose approval from the
	// previous round stays valid under the rework policy.
	Carried map[int][]PersonID `json:"carried,omitzero"`
}

// Task is one person's job in one stage of one round.
type Task struct {
	ID          int64     `json:"id,omitzero"`
	Round       int       `json:"round,omitzero"`
	Stage       int       `json:"stage,omitzero"`
	Kind        string    `json:"kind,omitzero"`
	Assignee    PersonID  `json:"assignee,omitzero"`
	OnBehalfOf  PersonID  `json:"on_behalf_of,omitzero"` // set when a deputy got the task for an absent person
	State       string    `json:"state,omitzero"`
	OpenedAt    time.Time `json:"opened_at,omitzero"`
	Due         time.Time `json:"due,omitzero"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	CloseReason string    `json:"close_reason,omitzero"`
	Carried     bool      `json:"carried,omitzero"` // approval carried over from the previous round
	From        PersonID  `json:"from,omitzero"`    // previous holder when reassigned
	Reason      string    `json:"reason,omitzero"`  // reassignment reason
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
	TaskID  int64     `json:"task_id,omitzero"`
	Round   int       `json:"round,omitzero"`
	Stage   int       `json:"stage,omitzero"`
	Kind    string    `json:"kind,omitzero"` // approve, reject, comment, acknowledge, done, reassign, version, withdraw
	Actor   PersonID  `json:"actor,omitzero"`
	For     PersonID  `json:"for,omitzero"` // the task's holder when someone else acted
	At      time.Time `json:"at,omitzero"`
	Comment string    `json:"comment,omitzero"`
	Version int       `json:"version,omitzero"`
	// Bulk marks an approval made with others in one action.
	Bulk bool `json:"bulk,omitzero"`
	// Timeout marks a decision nobody made: the stage's on_timeout did,
	// for the task's holder (For).
	Timeout bool `json:"timeout,omitzero"`
	// Person is whom a change of the route concerns (approver_added,
	// approver_removed); Stage is the stage changed.
	Person PersonID `json:"person,omitzero"`
}

// Remark is a comment that may block approval.
type Remark struct {
	ID            int       `json:"id,omitzero"`
	Blocking      bool      `json:"blocking,omitzero"`
	Owner         PersonID  `json:"owner,omitzero"`  // for whom it was raised (the task's holder)
	Author        PersonID  `json:"author,omitzero"` // who typed it
	Text          string    `json:"text,omitzero"`
	Version       int       `json:"version,omitzero"`
	Round         int       `json:"round,omitzero"`
	At            time.Time `json:"at,omitzero"`
	ClosedAt      time.Time `json:"closed_at,omitzero"`
	ClosedByTask  int64     `json:"closed_by_task,omitzero"`
	ClosedVersion int       `json:"closed_version,omitzero"`
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

// routeChanged lists the people route changes concerned: one taken off a
// stage stays a reader, as the list of readers only grows.
func (d *Document) routeChanged() []PersonID {
	var out []PersonID
	for _, dc := range d.Decisions {
		if IsRouteChange(dc.Kind) && !slices.Contains(out, dc.Person) {
			out = append(out, dc.Person)
		}
	}
	return out
}

// Readers are the people who may read the document without being viewers:
// its participants and everyone its route names, skipped stages too. The
// list only grows as the document goes on (storage indexes it so).
func (d *Document) Readers() []PersonID {
	out := d.Participants()
	for _, s := range d.Stages {
		for _, p := range s.Approvers {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	for _, p := range d.routeChanged() {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// IsParticipant reports whether id takes part in the document.
func (d *Document) IsParticipant(id PersonID) bool { return slices.Contains(d.Participants(), id) }

// Approved reports whether the document's approval is complete: approved,
// being signed, or done.
func (d *Document) Approved() bool {
	return d.State == StateApproved || d.State == StateSigning || d.State == StateDone
}

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

// Clone copies the document so that a command can change the copy freely.
// Maps and the slices inside elements (names, approvers, carried approvals)
// are shared: the core never changes them after creating them.
func (d *Document) Clone() *Document {
	c := *d
	c.Stages = slices.Clone(d.Stages)
	c.Versions = slices.Clone(d.Versions)
	c.Rounds = slices.Clone(d.Rounds)
	c.Tasks = slices.Clone(d.Tasks)
	c.Decisions = slices.Clone(d.Decisions)
	c.Remarks = slices.Clone(d.Remarks)
	c.Signatures = slices.Clone(d.Signatures)
	// A DSS operation's state changes in place (pollDSS): the copy has
	// its own.
	c.DSS = slices.Clone(d.DSS)
	return &c
}

// AmountDecimal writes the amount as a decimal with two places
// ("1500000.00"), exact where a float would not be; "" without an amount.
func (d *Document) AmountDecimal() string {
	if !d.HasAmount {
		return ""
	}
	return fmt.Sprintf("%d.%02d", d.AmountMinor/100, d.AmountMinor%100)
}

// StagePosition numbers the stages the document actually passes: stage i
// is the n-th of count, skipped stages left out of both (n is 0 for a
// skipped stage). A contract below the finance threshold reads "stage 2 of
// 3", never "stage 3 of 4" after "stage 1 of 4".
func (d *Document) StagePosition(i int) (n, count int) {
	for _, s := range d.Stages {
		if s.Skipped {
			continue
		}
		count++
		if s.Index <= i {
			n = count
		}
	}
	if i >= 0 && i < len(d.Stages) && d.Stages[i].Skipped {
		n = 0
	}
	return n, count
}

// AcceptsVersions reports whether a corrected version may be uploaded now:
// while the document is being approved or back with its initiator.
func (d *Document) AcceptsVersions() bool {
	return d.State == StateInApproval || d.State == StateChangesRequested
}

// CanWithdraw reports whether the document's state lets its initiator
// withdraw it.
func (d *Document) CanWithdraw() bool { return d.can(EventWithdraw) }

// SigningSince is when the post-approval steps began (the first of their
// tasks opened in the current round); zero when there were none.
func (d *Document) SigningSince() time.Time {
	r := d.CurrentRound()
	var since time.Time
	for _, t := range d.Tasks {
		if r == nil || t.Round != r.No || t.Stage >= len(d.Stages) || !d.Stages[t.Stage].Post {
			continue
		}
		if since.IsZero() || t.OpenedAt.Before(since) {
			since = t.OpenedAt
		}
	}
	return since
}
