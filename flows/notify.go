package flows

import "time"

// Notification kinds: what the core tells people. Channels render them with
// messages/ and deliver them; the core knows no channel.
const (
	NoteTaskAssigned     = "task_assigned"     // you have a task
	NoteTaskClosed       = "task_closed"       // your task closed without your decision
	NoteDecision         = "decision"          // someone decided (to the initiator)
	NoteRemark           = "remark"            // a non-blocking comment
	NoteChangesRequested = "changes_requested" // rejected: the initiator must rework
	NoteRoundRestarted   = "round_restarted"   // a new version started a new round
	NoteVersionUploaded  = "version_uploaded"  // a scan or file was added without a new round
	NoteApproved         = "approved"          // approval complete
	NoteDone             = "done"              // post-approval steps complete
	NoteWithdrawn        = "withdrawn"         // the initiator withdrew the document
)

// Notification is one message the core wants a person to get. It carries a
// snapshot of what the renderer needs, so that delivery never has to read
// the document again (it may have moved on by then).
type Notification struct {
	ID       int64             `json:"id,omitzero"`
	Kind     string            `json:"kind,omitzero"`
	To       PersonID          `json:"to,omitzero"`
	DocID    int64             `json:"doc_id,omitzero"`
	Number   string            `json:"number,omitzero"`
	Title    string            `json:"title,omitzero"`
	TypeName map[string]string `json:"type_name,omitzero"`
	State    string            `json:"state,omitzero"`
	TaskID   int64             `json:"task_id,omitzero"`
	TaskKind string            `json:"task_kind,omitzero"`
	// SignMethod is SignUpload on a request to sign with an uploaded (or
	// SignDSS, in DSS)
	// electronic signature.
	SignMethod string   `json:"sign_method,omitzero"`
	Actor      PersonID `json:"actor,omitzero"`
	For        PersonID `json:"for,omitzero"`
	Decision   string   `json:"decision,omitzero"`
	Comment    string   `json:"comment,omitzero"`
	Reason     string   `json:"reason,omitzero"`
	// Person is whom a route change concerns (route_changed).
	Person     PersonID          `json:"person,omitzero"`
	Round      int               `json:"round,omitzero"`
	Stage      int               `json:"stage,omitzero"` // 1-based for display
	StageCount int               `json:"stage_count,omitzero"`
	StageName  map[string]string `json:"stage_name,omitzero"`
	Version    int               `json:"version,omitzero"`
	Due        time.Time         `json:"due,omitzero"`
	At         time.Time         `json:"at,omitzero"`

	// What an approver needs to decide from a phone, filled in requests
	// (a new task, its reminders and escalations): the document's parties
	// and money, the file to read and the objections still open.
	Counterparty   string   `json:"counterparty,omitzero"`
	AmountMinor    int64    `json:"amount_minor,omitzero"`
	HasAmount      bool     `json:"has_amount,omitzero"`
	Currency       string   `json:"currency,omitzero"`
	Initiator      PersonID `json:"initiator,omitzero"`
	FileName       string   `json:"file_name,omitzero"`
	VersionComment string   `json:"version_comment,omitzero"`
	Blocking       int      `json:"blocking,omitzero"` // open blocking remarks
}

// IsRequest reports whether a notification asks its reader to act on a
// task, and so carries the request's facts.
func (n *Notification) IsRequest() bool {
	switch n.Kind {
	case NoteTaskAssigned, NoteReminder, NoteReminderSMS, NoteReminderEmail, NoteEscalation:
		return true
	}
	return false
}

// AuditEvent is one entry of the append-only, hash-chained audit log.
type AuditEvent struct {
	ID      int64
	DocID   int64
	At      time.Time
	Actor   PersonID
	For     PersonID
	Kind    string
	Version int
	TaskID  int64
	Detail  string
	Hash    string
}
