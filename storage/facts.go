package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
)

const (
	qUpsertTaskFact = `INSERT INTO task_facts(id, doc_id, type, stage, kind, holder, actor, round, opened_at, due_at, closed_at, state, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET actor = excluded.actor, due_at = excluded.due_at, closed_at = excluded.closed_at,
			state = excluded.state, reason = excluded.reason`
	qUpsertDocFact = `INSERT INTO doc_facts(doc_id, type, initiator, started_at, approved_at, done_at, rounds, rejected, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(doc_id) DO UPDATE SET approved_at = excluded.approved_at, done_at = excluded.done_at, rounds = excluded.rounds,
			rejected = excluded.rejected, state = excluded.state`
	taskFactColumns = `id, doc_id, type, stage, kind, holder, actor, round, opened_at, due_at, closed_at, state, reason`
	docFactColumns  = `doc_id, type, initiator, started_at, approved_at, done_at, rounds, rejected, state`
)

func taskFactArgs(f stats.TaskFact) []any {
	return []any{f.ID, f.DocID, f.Type, f.Stage, f.Kind, string(f.Holder), string(f.Actor), f.Round, f.Opened.UnixNano(), nanos(f.Due),
		nanos(f.Closed), f.State, f.Reason}
}

func docFactArgs(f stats.DocFact) []any {
	rejected := 0
	if f.Rejected {
		rejected = 1
	}
	return []any{f.ID, f.Type, string(f.Initiator), f.Started.UnixNano(), nanos(f.Approved), nanos(f.Done), f.Rounds, rejected, f.State}
}

// saveTaskFact writes analytics' row of a task that is new or changed.
func (t *txn) saveTaskFact(d *flows.Document, tk flows.Task) error {
	f, ok := stats.TaskFactOf(d, tk)
	if !ok {
		return nil
	}
	if _, err := t.exec(qUpsertTaskFact, taskFactArgs(f)...); err != nil {
		return fmt.Errorf("task fact %d: %w", tk.ID, err)
	}
	return nil
}

// saveDocFact writes analytics' row of a document when it is new, or its
// state or its number of rounds changed: most commands change neither.
func (t *txn) saveDocFact(d *flows.Document) error {
	if state, known := t.states[d.ID]; known && state == d.State && t.nrounds[d.ID] == len(d.Rounds) {
		return nil
	}
	if _, err := t.exec(qUpsertDocFact, docFactArgs(stats.DocFactOf(d))...); err != nil {
		return fmt.Errorf("document fact %s: %w", d.Number, err)
	}
	return nil
}

// backfillFacts fills analytics' tables from the documents' bodies, for
// the documents made before they existed.
func backfillFacts(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, body FROM documents ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read documents: %w", err)
	}
	var docs []*flows.Document
	for rows.Next() {
		var id int64
		var b body
		if err := rows.Scan(&id, &b); err != nil {
			rows.Close()
			return fmt.Errorf("scan document: %w", err)
		}
		d, err := decodeDocument(id, b)
		if err != nil {
			rows.Close()
			return err
		}
		docs = append(docs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range docs {
		if _, err := tx.ExecContext(ctx, qUpsertDocFact, docFactArgs(stats.DocFactOf(d))...); err != nil {
			return fmt.Errorf("document fact %s: %w", d.Number, err)
		}
		for _, tk := range d.Tasks {
			if f, ok := stats.TaskFactOf(d, tk); ok {
				if _, err := tx.ExecContext(ctx, qUpsertTaskFact, taskFactArgs(f)...); err != nil {
					return fmt.Errorf("task fact %d: %w", tk.ID, err)
				}
			}
		}
	}
	return nil
}

// Facts reads what analytics needs for q: the tasks closed in its period,
// the tasks open now, and the documents started in its period.
func (db *DB) Facts(ctx context.Context, q stats.Query) (stats.Facts, error) {
	var out stats.Facts
	from, to := q.From.UnixNano(), q.To.UnixNano()
	typed := ""
	args := []any{from, to}
	if q.Type != "" {
		typed, args = " AND type = ?", append(args, q.Type)
	}
	scanTasks := func(query string, args ...any) ([]stats.TaskFact, error) {
		rows, err := db.reader.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("read task facts: %w", err)
		}
		defer rows.Close()
		var list []stats.TaskFact
		for rows.Next() {
			var f stats.TaskFact
			var holder, actor string
			var opened int64
			var due, closed sql.NullInt64
			if err := rows.Scan(&f.ID, &f.DocID, &f.Type, &f.Stage, &f.Kind, &holder, &actor, &f.Round, &opened, &due, &closed, &f.State,
				&f.Reason); err != nil {
				return nil, fmt.Errorf("scan task fact: %w", err)
			}
			f.Holder, f.Actor = flows.PersonID(holder), flows.PersonID(actor)
			f.Opened, f.Due, f.Closed = time.Unix(0, opened), fromNanos(due), fromNanos(closed)
			list = append(list, f)
		}
		return list, rows.Err()
	}
	var err error
	if out.Tasks, err = scanTasks(`SELECT `+taskFactColumns+` FROM task_facts WHERE closed_at >= ? AND closed_at < ?`+typed+` ORDER BY id`,
		args...); err != nil {
		return out, err
	}
	openArgs := []any{}
	openTyped := ""
	if q.Type != "" {
		openTyped, openArgs = " AND type = ?", append(openArgs, q.Type)
	}
	if out.Open, err = scanTasks(`SELECT `+taskFactColumns+` FROM task_facts WHERE state = 'open'`+openTyped+` ORDER BY opened_at, id`,
		openArgs...); err != nil {
		return out, err
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+docFactColumns+` FROM doc_facts WHERE started_at >= ? AND started_at < ?`+typed+` ORDER BY doc_id`, args...)
	if err != nil {
		return out, fmt.Errorf("read document facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f stats.DocFact
		var initiator string
		var started int64
		var approved, done sql.NullInt64
		var rejected int
		if err := rows.Scan(&f.ID, &f.Type, &initiator, &started, &approved, &done, &f.Rounds, &rejected, &f.State); err != nil {
			return out, fmt.Errorf("scan document fact: %w", err)
		}
		f.Initiator, f.Started, f.Approved, f.Done, f.Rejected = flows.PersonID(initiator), time.Unix(0, started), fromNanos(approved),
			fromNanos(done), rejected != 0
		out.Docs = append(out.Docs, f)
	}
	return out, rows.Err()
}
