package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
)

const (
	qUpsertTaskFact = `INSERT INTO task_facts(id, doc_id, type, stage, kind, holder, actor, round, opened_at, due_at, closed_at, state, reason,
			work_min, late)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET actor = excluded.actor, due_at = excluded.due_at, closed_at = excluded.closed_at,
			state = excluded.state, reason = excluded.reason, work_min = excluded.work_min, late = excluded.late`
	qUpsertDocFact = `INSERT INTO doc_facts(doc_id, type, initiator, started_at, approved_at, done_at, rounds, rejected, state,
			approved_min, done_min)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(doc_id) DO UPDATE SET approved_at = excluded.approved_at, done_at = excluded.done_at, rounds = excluded.rounds,
			rejected = excluded.rejected, state = excluded.state, approved_min = excluded.approved_min, done_min = excluded.done_min`
	taskFactColumns = `id, doc_id, type, stage, kind, holder, actor, round, opened_at, due_at, closed_at, state, reason`
)

// SetWorktime sets how analytics' facts measure working time (the
// company calendar's WorkingBetween); the calendar a reload brings is set
// again. Facts already written keep their measure.
func (db *DB) SetWorktime(f func(from, to time.Time) time.Duration) { db.worktime.Store(&f) }

// workMinutes is the working time from from to to, in minutes; nil when
// to is not set.
func (db *DB) workMinutes(from, to time.Time) any {
	if to.IsZero() {
		return nil
	}
	if f := db.worktime.Load(); f != nil && *f != nil {
		return int64((*f)(from, to) / time.Minute)
	}
	return int64(to.Sub(from) / time.Minute)
}

func (db *DB) taskFactArgs(f stats.TaskFact) []any {
	late := 0
	if !f.Due.IsZero() && f.Closed.After(f.Due) {
		late = 1
	}
	return []any{f.ID, f.DocID, f.Type, f.Stage, f.Kind, string(f.Holder), string(f.Actor), f.Round, f.Opened.UnixNano(), nanos(f.Due),
		nanos(f.Closed), f.State, f.Reason, db.workMinutes(f.Opened, f.Closed), late}
}

func (db *DB) docFactArgs(f stats.DocFact) []any {
	rejected := 0
	if f.Rejected {
		rejected = 1
	}
	return []any{f.ID, f.Type, string(f.Initiator), f.Started.UnixNano(), nanos(f.Approved), nanos(f.Done), f.Rounds, rejected, f.State,
		db.workMinutes(f.Started, f.Approved), db.workMinutes(f.Started, f.Done)}
}

// saveTaskFact writes analytics' row of a task that is new or changed.
func (t *txn) saveTaskFact(d *flows.Document, tk flows.Task) error {
	f, ok := stats.TaskFactOf(d, tk)
	if !ok {
		return nil
	}
	if _, err := t.exec(qUpsertTaskFact, t.db.taskFactArgs(f)...); err != nil {
		return fmt.Errorf("task fact %d: %w", tk.ID, err)
	}
	if f.Closed.IsZero() {
		return nil
	}
	return t.markFacts(f.Closed)
}

// saveDocFact writes analytics' row of a document when it is new, or its
// state or its number of rounds changed: most commands change neither.
func (t *txn) saveDocFact(d *flows.Document) error {
	if state, known := t.states[d.ID]; known && state == d.State && t.nrounds[d.ID] == len(d.Rounds) {
		return nil
	}
	f := stats.DocFactOf(d)
	if _, err := t.exec(qUpsertDocFact, t.db.docFactArgs(f)...); err != nil {
		return fmt.Errorf("document fact %s: %w", d.Number, err)
	}
	return t.markFacts(f.Started)
}

// BackfillFacts writes analytics' rows of the documents made before the
// facts tables existed, once (a counter remembers): the service calls it
// at start, after SetWorktime, so they are measured by the company
// calendar. A row the writer wrote meanwhile is newer and stays.
func (db *DB) BackfillFacts(ctx context.Context) (int, error) {
	var done int64
	if err := db.reader.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM counters WHERE name = 'facts_backfilled'), 0)`).Scan(&done); err != nil {
		return 0, fmt.Errorf("facts backfilled: %w", err)
	}
	if done != 0 {
		return 0, nil
	}
	n := 0
	for after := int64(0); ; {
		rows, err := db.reader.QueryContext(ctx, `SELECT id, body FROM documents WHERE id > ? ORDER BY id LIMIT 500`, after)
		if err != nil {
			return n, fmt.Errorf("read documents: %w", err)
		}
		var docs []*flows.Document
		for rows.Next() {
			var id int64
			var b body
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return n, fmt.Errorf("scan document: %w", err)
			}
			d, err := decodeDocument(id, b)
			if err != nil {
				rows.Close()
				return n, err
			}
			docs, after = append(docs, d), id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return n, err
		}
		if len(docs) == 0 {
			break
		}
		if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			t := tx.(*txn)
			marks := hours{}
			for _, d := range docs {
				f := stats.DocFactOf(d)
				if _, err := t.exec(qKeepDocFact, db.docFactArgs(f)...); err != nil {
					return flows.Outcome{}, fmt.Errorf("document fact %s: %w", d.Number, err)
				}
				marks.add(f.Started)
				for _, tk := range d.Tasks {
					if f, ok := stats.TaskFactOf(d, tk); ok {
						if _, err := t.exec(qKeepTaskFact, db.taskFactArgs(f)...); err != nil {
							return flows.Outcome{}, fmt.Errorf("task fact %d: %w", tk.ID, err)
						}
						if _, err := t.exec(qCountFactReminders, tk.ID); err != nil {
							return flows.Outcome{}, fmt.Errorf("reminders of task %d: %w", tk.ID, err)
						}
						marks.add(f.Closed)
					}
				}
			}
			return flows.Outcome{}, t.markHours(marks)
		}); err != nil {
			return n, err
		}
		n += len(docs)
	}
	_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		_, err := tx.(*txn).exec(qAddCounter, "facts_backfilled", 1)
		return flows.Outcome{}, err
	})
	return n, err
}

// The backfill's inserts keep a row the writer wrote since.
var (
	qKeepTaskFact = strings.Split(qUpsertTaskFact, "ON CONFLICT")[0] + "ON CONFLICT(id) DO NOTHING"
	qKeepDocFact  = strings.Split(qUpsertDocFact, "ON CONFLICT")[0] + "ON CONFLICT(doc_id) DO NOTHING"
)

// InsertFacts writes facts directly, in batches, for benchmarks and
// tests that need a large history fast (storagetest.SeedFacts).
func (db *DB) InsertFacts(ctx context.Context, tasks []stats.TaskFact, docs []stats.DocFact) error {
	const batch = 5000
	for i := 0; i < len(tasks) || i < len(docs); i += batch {
		_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			t := tx.(*txn)
			marks := hours{}
			for _, f := range tasks[min(i, len(tasks)):min(i+batch, len(tasks))] {
				if _, err := t.exec(qUpsertTaskFact, db.taskFactArgs(f)...); err != nil {
					return flows.Outcome{}, err
				}
				marks.add(f.Closed)
			}
			for _, f := range docs[min(i, len(docs)):min(i+batch, len(docs))] {
				if _, err := t.exec(qUpsertDocFact, db.docFactArgs(f)...); err != nil {
					return flows.Outcome{}, err
				}
				marks.add(f.Started)
			}
			return flows.Outcome{}, t.markHours(marks)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
