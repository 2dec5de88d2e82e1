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
	ID         int64
	Kind       string
	To         PersonID
	DocID      int64
	Number     string
	Title      string
	TypeName   map[string]string
	State      string
	TaskID     int64
	TaskKind   string
	Actor      PersonID
	For        PersonID
	Decision   string
	Comment    string
	Reason     string
	Round      int
	Stage      int // 1-based for display
	StageCount int
	StageName  map[string]string
	Version    int
	Due        time.Time
	At         time.Time
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
