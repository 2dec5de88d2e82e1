package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/viza-app/viza/flows"
)

var _ flows.ReminderStore = (*DB)(nil)

func (t *txn) ScheduleReminders(rs []flows.Reminder) error {
	for _, r := range rs {
		var sent any
		if r.Sent {
			sent = r.Due.UnixNano()
		}
		if _, err := t.exec(qInsertReminder, r.TaskID, r.DocID, r.Step, r.Send, r.Due.UnixNano(), r.Every.Minutes, r.Every.Days, sent); err != nil {
			return fmt.Errorf("schedule reminder of task %d: %w", r.TaskID, err)
		}
	}
	return nil
}

func (t *txn) CancelReminders(taskIDs []int64, at time.Time) error {
	for _, id := range taskIDs {
		if _, err := t.exec(qCancelReminders, id); err != nil {
			return fmt.Errorf("cancel reminders of task %d: %w", id, err)
		}
	}
	return nil
}

func (t *txn) MarkReminder(id int64, at time.Time) error {
	if _, err := t.exec(qMarkReminder, at.UnixNano(), id); err != nil {
		return fmt.Errorf("mark reminder %d: %w", id, err)
	}
	if _, err := t.exec(qCountReminder, id); err != nil {
		return fmt.Errorf("count reminder %d: %w", id, err)
	}
	if _, err := t.exec(qFactReminderSent, id, id, id); err != nil {
		return fmt.Errorf("count reminder %d in its task's facts: %w", id, err)
	}
	return nil
}

func (t *txn) LastManualReminder(taskID int64) (time.Time, error) {
	var at sql.NullInt64
	err := t.queryRow(qLastManual, taskID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last manual reminder of task %d: %w", taskID, err)
	}
	return fromNanos(at), nil
}

// DueReminders implements flows.ReminderStore.
func (db *DB) DueReminders(ctx context.Context, now time.Time, limit int) ([]flows.Reminder, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, task_id, doc_id, step, send, due_at, every_min, every_day FROM reminders
		WHERE sent_at IS NULL AND cancelled = 0 AND due_at <= ? ORDER BY due_at LIMIT ?`, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("due reminders: %w", err)
	}
	defer rows.Close()
	var out []flows.Reminder
	for rows.Next() {
		var r flows.Reminder
		var due int64
		if err := rows.Scan(&r.ID, &r.TaskID, &r.DocID, &r.Step, &r.Send, &due, &r.Every.Minutes, &r.Every.Days); err != nil {
			return nil, fmt.Errorf("scan reminder: %w", err)
		}
		r.Due = time.Unix(0, due)
		out = append(out, r)
	}
	return out, rows.Err()
}

// NextReminder implements flows.ReminderStore.
func (db *DB) NextReminder(ctx context.Context) (time.Time, bool, error) {
	var n sql.NullInt64
	if err := db.reader.QueryRowContext(ctx, `SELECT MIN(due_at) FROM reminders WHERE sent_at IS NULL AND cancelled = 0`).Scan(&n); err != nil {
		return time.Time{}, false, fmt.Errorf("next reminder: %w", err)
	}
	return fromNanos(n), n.Valid, nil
}

// PendingReminders lists a task's unsent reminders (for tests and cards).
func (db *DB) PendingReminders(ctx context.Context, taskID int64) ([]flows.Reminder, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, step, send, due_at FROM reminders WHERE task_id = ? AND sent_at IS NULL AND cancelled = 0 ORDER BY due_at`, taskID)
	if err != nil {
		return nil, fmt.Errorf("reminders of task %d: %w", taskID, err)
	}
	defer rows.Close()
	var out []flows.Reminder
	for rows.Next() {
		var r flows.Reminder
		var due int64
		if err := rows.Scan(&r.ID, &r.Step, &r.Send, &due); err != nil {
			return nil, err
		}
		r.TaskID, r.Due = taskID, time.Unix(0, due)
		out = append(out, r)
	}
	return out, rows.Err()
}
