package flows

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// How a reminder step is sent.
const (
	SendChat     = "chat"     // a chat reminder to the assignee, with the task's buttons
	SendSMS      = "sms"      // an SMS to the assignee, in working hours only
	SendEmail    = "email"    // an e-mail to the assignee
	SendEscalate = "escalate" // the assignee's manager and the initiator are told
	SendTimeout  = "timeout"  // the stage's decision on timeout (see Timeout)
)

// Notification kinds of the reminder ladder.
const (
	NoteReminder      = "reminder"       // chat reminder of an open task
	NoteReminderSMS   = "reminder_sms"   // the same by SMS
	NoteReminderEmail = "reminder_email" // the same by e-mail
	NoteEscalation    = "escalation"     // to a manager and the initiator: who holds the document
)

// ReminderRule is one step of a type's reminder ladder: At a working
// duration after the task's deadline, or Every working duration after the
// previous step.
type ReminderRule struct {
	At    WorkDuration
	Every WorkDuration
	Send  string
}

// DefaultLadder: at the deadline a chat reminder, 4 working hours later an
// SMS, a working day later the manager and the initiator, then a daily
// chat reminder until the task closes.
var DefaultLadder = []ReminderRule{
	{Send: SendChat},
	{At: WorkDuration{Minutes: 240}, Send: SendSMS},
	{At: WorkDuration{Days: 1}, Send: SendEscalate},
	{Every: WorkDuration{Days: 1}, Send: SendChat},
}

// Reminder is one scheduled step for one task.
type Reminder struct {
	ID     int64
	TaskID int64
	DocID  int64
	Step   int // index in the ladder; -1 for a manual "Remind"
	Send   string
	Due    time.Time
	Every  WorkDuration // for repeating steps
	Sent   bool         // already sent when stored (a manual reminder)
}

// WorkCalendar is the part of working time the ladder needs besides
// AddWorking.
type WorkCalendar interface {
	Calendar
	// NextWorkingTime returns t, or the start of the next working period.
	NextWorkingTime(t time.Time) time.Time
}

func (AlwaysWorking) NextWorkingTime(t time.Time) time.Time { return t }

// ladderFor returns a document type's ladder.
func (o *op) ladderFor() []ReminderRule {
	if t, ok := o.dir.Type(o.d.TypeID); ok && t.Reminders != nil {
		return t.Reminders
	}
	return DefaultLadder
}

// schedule computes the reminders of a task with a deadline. SMS steps
// move to working hours.
func schedule(cal Calendar, ladder []ReminderRule, t *Task, docID int64) []Reminder {
	if t.Due.IsZero() {
		return nil
	}
	var out []Reminder
	last := t.Due
	for i, r := range ladder {
		due := t.Due
		switch {
		case !r.Every.IsZero():
			due = cal.AddWorking(last, r.Every)
		case !r.At.IsZero():
			due = cal.AddWorking(t.Due, r.At)
		}
		if r.Send == SendSMS {
			if wc, ok := cal.(WorkCalendar); ok {
				due = wc.NextWorkingTime(due)
			}
		}
		out = append(out, Reminder{TaskID: t.ID, DocID: docID, Step: i, Send: r.Send, Due: due, Every: r.Every})
		if due.After(last) {
			last = due
		}
	}
	return out
}

// ReminderStore keeps the reminder rows.
type ReminderStore interface {
	DueReminders(ctx context.Context, now time.Time, limit int) ([]Reminder, error)
	NextReminder(ctx context.Context) (time.Time, bool, error)
}

// Scheduler fires due reminders. It keeps no state of its own: the rows
// are the schedule, and each fired step is recorded in the same
// transaction as its notifications, so none is sent twice — and after a
// restart, steps that fell due meanwhile fire once each.
type Scheduler struct {
	Engine *Engine
	Store  ReminderStore
	Log    *slog.Logger
	Idle   time.Duration
	waker  Waker
}

// NewScheduler prepares a scheduler; Run starts it.
func NewScheduler(e *Engine, store ReminderStore, log *slog.Logger) *Scheduler {
	return &Scheduler{Engine: e, Store: store, Log: log, Idle: time.Minute}
}

// Wake makes the scheduler look again now (an earlier reminder may have
// been added).
func (s *Scheduler) Wake() { s.waker.Wake() }

// Run fires reminders until ctx ends, sleeping until the next one is due.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		if _, err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("reminders", "err", err)
		}
		next, ok, err := s.Store.NextReminder(ctx)
		if !s.waker.Sleep(ctx, NextWait(s.Engine.clock.Now(), next, ok && err == nil, s.Idle)) {
			return nil
		}
	}
}

// Step fires every reminder due now and returns how many.
func (s *Scheduler) Step(ctx context.Context) (int, error) {
	due, err := s.Store.DueReminders(ctx, s.Engine.clock.Now(), 500)
	if err != nil {
		return 0, err
	}
	for _, r := range due {
		if Fenced(ctx) {
			return 0, nil // no longer the leader: the one that is fires them
		}
		if r.Send == SendDSS {
			problem, err := s.Engine.pollDSS(ctx, r)
			if err != nil {
				return 0, fmt.Errorf("DSS row %d of task %d: %w", r.ID, r.TaskID, err)
			}
			if problem != nil && ctx.Err() == nil {
				s.Log.Warn("DSS did not answer; asking again later", "task", r.TaskID, "err", problem)
			}
			continue
		}
		if err := s.Engine.fire(ctx, r); err != nil {
			return 0, fmt.Errorf("reminder %d of task %d: %w", r.ID, r.TaskID, err)
		}
	}
	return len(due), nil
}

// fire sends one reminder step, marks it sent and, for a repeating step,
// schedules the next one from now — so a long outage yields one reminder,
// not one per missed day.
func (e *Engine) fire(ctx context.Context, r Reminder) error {
	dir := e.dir.Load()
	_, err := e.run(ctx, fmt.Sprintf("reminder:%d", r.ID), dir, loadDoc(r.DocID), func(o *op) (Outcome, error) {
		if err := o.tx.MarkReminder(r.ID, o.now); err != nil {
			return Outcome{}, err
		}
		t, ok := o.d.Task(r.TaskID)
		if !ok || t.State != TaskOpen {
			return Outcome{}, nil
		}
		if r.Send == SendTimeout {
			return Outcome{}, o.timeout(t)
		}
		o.remind(t, r.Send)
		if !r.Every.IsZero() {
			next := r
			next.ID, next.Due = 0, o.cal.AddWorking(o.now, r.Every)
			o.reminders = append(o.reminders, next)
		}
		return Outcome{}, nil
	})
	return err
}

// remind emits the notifications of one step for an open task.
func (o *op) remind(t *Task, send string) {
	since := func(n *Notification) {
		o.taskFill(t)(n)
		n.Due, n.At = t.Due, t.OpenedAt
	}
	switch send {
	case SendSMS:
		o.notify(NoteReminderSMS, t.Assignee, since)
	case SendEmail:
		o.notify(NoteReminderEmail, t.Assignee, since)
	case SendEscalate:
		holder := t.Assignee
		to := []PersonID{o.d.Initiator}
		if p, ok := o.dir.Person(holder); ok && p.Manager != "" && p.Manager != o.d.Initiator {
			to = append(to, p.Manager)
		}
		for _, who := range to {
			o.notify(NoteEscalation, who, func(n *Notification) { since(n); n.Actor = holder })
		}
	default:
		o.notify(NoteReminder, t.Assignee, since)
	}
	o.audit("reminder_"+send, t.Assignee, "", t.ID, "")
}

// Announce queues notifications that belong to no change of a document
// (the morning digest), once per key: announced again with the same key,
// nothing more is queued.
func (e *Engine) Announce(ctx context.Context, key string, notes []Notification) error {
	now := e.clock.Now()
	_, err := e.store.Write(ctx, key, func(tx Tx) (Outcome, error) {
		out := make([]Notification, len(notes))
		for i, n := range notes {
			if n.At.IsZero() {
				n.At = now
			}
			out[i] = n
		}
		return Outcome{}, tx.Record(nil, out)
	})
	if err != nil {
		return fmt.Errorf("announce %s: %w", key, err)
	}
	return nil
}

// ManualReminderGap is how often the initiator may press "Remind" per task.
const ManualReminderGap = time.Hour

// RemindNow sends an immediate chat reminder for every open task of a
// document, at most once per ManualReminderGap per task. The initiator and
// viewers may. It returns how many people were reminded.
func (e *Engine) RemindNow(ctx context.Context, key string, actor PersonID, docID int64) (int, error) {
	dir, err := e.actor(actor)
	if err != nil {
		return 0, err
	}
	sent := 0
	_, err = e.run(ctx, key, dir, loadDoc(docID), func(o *op) (Outcome, error) {
		// The writer may run a command again (a batch rerun after another
		// command failed): the count is the last run's, not a sum.
		sent = 0
		if actor != o.d.Initiator && !dir.IsViewer(actor) {
			return Outcome{}, Errorf(KindForbidden, "initiator_only", "%s reminding on %s", actor, o.d.Number)
		}
		for _, t := range o.d.OpenTasks() {
			last, err := o.tx.LastManualReminder(t.ID)
			if err != nil {
				return Outcome{}, err
			}
			if !last.IsZero() && o.now.Sub(last) < ManualReminderGap {
				continue
			}
			o.remind(t, SendChat)
			o.reminders = append(o.reminders, Reminder{TaskID: t.ID, DocID: o.d.ID, Step: -1, Send: SendChat, Due: o.now, Sent: true})
			sent++
		}
		if sent == 0 && len(o.d.OpenTasks()) > 0 {
			return Outcome{}, Errorf(KindConflict, "reminded_recently", "%s: every task was reminded within the hour", o.d.Number)
		}
		return Outcome{}, nil
	})
	return sent, err
}
