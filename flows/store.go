package flows

import (
	"context"
	"io"
	"time"
)

// Clock is the core's only source of time.
type Clock interface{ Now() time.Time }

// SystemClock reads the wall clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Outcome is what a command returns. It is stored with the command's
// idempotency key, so a repeated command returns the first outcome.
type Outcome struct {
	DocID   int64  `json:"doc_id,omitempty"`
	Number  string `json:"number,omitempty"`
	State   string `json:"state,omitempty"`
	TaskID  int64  `json:"task_id,omitempty"`
	Round   int    `json:"round,omitempty"`
	Version int    `json:"version,omitempty"`
	// Request is the fingerprint of the request another system sent (see
	// Origin), so that a key reused for a different request is refused.
	Request string `json:"request,omitempty"`
	// Repeated is set when the key had been seen and nothing changed now.
	Repeated bool `json:"-"`
}

// Tx is the view of storage inside one write transaction.
type Tx interface {
	Document(id int64) (*Document, error)
	DocumentByNumber(number string) (*Document, error)
	DocumentOfTask(taskID int64) (*Document, error)
	// NextSequence returns the next value of a named counter, from 1.
	NextSequence(name string) (int64, error)
	// SaveDocument inserts (ID 0: assigning ID) or updates the aggregate.
	SaveDocument(d *Document) error
	// Record appends audit events (chained) and queues notifications.
	Record(events []AuditEvent, notes []Notification) error
	ActiveAbsence(p PersonID, at time.Time) (Absence, bool, error)
	// ScheduleReminders stores reminder steps; CancelReminders drops the
	// unsent ones of tasks that closed; MarkReminder records a step sent.
	ScheduleReminders(rs []Reminder) error
	CancelReminders(taskIDs []int64, at time.Time) error
	MarkReminder(id int64, at time.Time) error
	LastManualReminder(taskID int64) (time.Time, error)
	PutAbsence(a Absence, by PersonID, at time.Time) error
	// RequestDelivered tells whether the request of a task (its
	// task_assigned notification) reached its holder on some channel.
	RequestDelivered(docID, taskID int64) (bool, error)
}

// Store persists documents. Write runs fn in a write transaction together
// with the idempotency key: if key was already applied, fn is not run and
// the first outcome comes back with Repeated set. An empty key disables the
// check. Writes may be committed in groups; Write returns only after the
// commit that holds its changes.
type Store interface {
	Write(ctx context.Context, key string, fn func(Tx) (Outcome, error)) (Outcome, error)
	Document(ctx context.Context, id int64) (*Document, error)
	DocumentByNumber(ctx context.Context, number string) (*Document, error)
	DocumentOfTask(ctx context.Context, taskID int64) (*Document, error)
}

// FileStore keeps version contents by their SHA-256, once each.
type FileStore interface {
	Put(ctx context.Context, r io.Reader, maxSize int64) (sha256hex string, size int64, err error)
	Open(sha256hex string) (io.ReadCloser, error)
}
