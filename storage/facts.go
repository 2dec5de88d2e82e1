package storage

import (
	"context"
	"database/sql"
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
	return nil
}

// saveDocFact writes analytics' row of a document when it is new, or its
// state or its number of rounds changed: most commands change neither.
func (t *txn) saveDocFact(d *flows.Document) error {
	if state, known := t.states[d.ID]; known && state == d.State && t.nrounds[d.ID] == len(d.Rounds) {
		return nil
	}
	if _, err := t.exec(qUpsertDocFact, t.db.docFactArgs(stats.DocFactOf(d))...); err != nil {
		return fmt.Errorf("document fact %s: %w", d.Number, err)
	}
	return nil
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
			for _, d := range docs {
				if _, err := t.exec(qKeepDocFact, db.docFactArgs(stats.DocFactOf(d))...); err != nil {
					return flows.Outcome{}, fmt.Errorf("document fact %s: %w", d.Number, err)
				}
				for _, tk := range d.Tasks {
					if f, ok := stats.TaskFactOf(d, tk); ok {
						if _, err := t.exec(qKeepTaskFact, db.taskFactArgs(f)...); err != nil {
							return flows.Outcome{}, fmt.Errorf("task fact %d: %w", tk.ID, err)
						}
					}
				}
			}
			return flows.Outcome{}, nil
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

// Facts reads what analytics needs for q, aggregated in SQL: the tasks
// closed in its period in groups of alike (stats.TaskGroup), the
// documents started in it by month and time to approval and to the end,
// their rework sums, and the tasks open now one by one.
func (db *DB) Facts(ctx context.Context, q stats.Query) (stats.Facts, error) {
	var out stats.Facts
	var where strings.Builder
	args := []any{q.From.UnixNano(), q.To.UnixNano()}
	typed := func() {
		if q.Type != "" {
			where.WriteString(" AND type = ?")
			args = append(args, q.Type)
		}
	}
	people := func(cols ...string) {
		if q.People == nil {
			return
		}
		if len(q.People) == 0 {
			where.WriteString(" AND 1 = 0")
			return
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.People)), ", ")
		var ors []string
		for _, c := range cols {
			ors = append(ors, c+" IN ("+marks+")")
			for _, p := range q.People {
				args = append(args, string(p))
			}
		}
		where.WriteString(" AND (" + strings.Join(ors, " OR ") + ")")
	}
	typed()
	people("actor", "holder")
	// Grouped here rather than by GROUP BY: SQLite would sort a year's
	// rows first, which costs more than reading them (measured).
	rows, err := db.reader.QueryContext(ctx, `SELECT type, stage, actor, holder, state, reason, late, work_min FROM task_facts
		WHERE closed_at >= ? AND closed_at < ?`+where.String(), args...)
	if err != nil {
		return out, fmt.Errorf("read task facts: %w", err)
	}
	index := map[stats.TaskGroup]int{}
	for rows.Next() {
		var g stats.TaskGroup
		var actor, holder string
		var late int
		var minutes sql.NullInt64
		if err := rows.Scan(&g.Type, &g.Stage, &actor, &holder, &g.State, &g.Reason, &late, &minutes); err != nil {
			rows.Close()
			return out, fmt.Errorf("scan task facts: %w", err)
		}
		g.Actor, g.Holder, g.Late, g.Tenths = flows.PersonID(actor), flows.PersonID(holder), late != 0, int(minutes.Int64/6)
		if i, ok := index[g]; ok {
			out.Tasks[i].N++
			continue
		}
		index[g] = len(out.Tasks)
		g.N = 1
		out.Tasks = append(out.Tasks, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}

	// Documents: the month by the bounds given, as SQL of either backend
	// can say it.
	where.Reset()
	args = args[:0]
	var month strings.Builder
	month.WriteString("CASE")
	for i := len(q.Months) - 1; i >= 0; i-- {
		fmt.Fprintf(&month, " WHEN started_at >= %d THEN %d", q.Months[i].UnixNano(), i)
	}
	month.WriteString(" ELSE -1 END")
	args = append(args, q.From.UnixNano(), q.To.UnixNano())
	typed()
	people("initiator")
	docWhere := ` FROM doc_facts WHERE started_at >= ? AND started_at < ?` + where.String()
	if err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(rounds), 0), COALESCE(SUM(rejected), 0)`+docWhere, args...).Scan(
		&out.Rework.Docs, &out.Rework.Rounds, &out.Rework.Rejected); err != nil {
		return out, fmt.Errorf("read rework: %w", err)
	}
	rows, err = db.reader.QueryContext(ctx, `SELECT type, `+month.String()+`, approved_min, done_min`+docWhere+
		` AND (approved_min IS NOT NULL OR done_min IS NOT NULL)`, args...)
	if err != nil {
		return out, fmt.Errorf("read document facts: %w", err)
	}
	cycles := map[stats.CycleGroup]int{}
	for rows.Next() {
		var g stats.CycleGroup
		var m int
		var approved, done sql.NullInt64
		if err := rows.Scan(&g.Type, &m, &approved, &done); err != nil {
			rows.Close()
			return out, fmt.Errorf("scan document facts: %w", err)
		}
		g.Approved, g.Done = -1, -1
		if approved.Valid {
			g.Approved = int(approved.Int64 / 6)
		}
		if done.Valid {
			g.Done = int(done.Int64 / 6)
		}
		if m >= 0 && m < len(q.Months) {
			g.Month = q.Months[m]
		} else {
			g.Month = q.From
		}
		if i, ok := cycles[g]; ok {
			out.Cycle[i].N++
			continue
		}
		cycles[g] = len(out.Cycle)
		g.N = 1
		out.Cycle = append(out.Cycle, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}

	where.Reset()
	args = args[:0]
	typed()
	people("actor", "holder")
	rows, err = db.reader.QueryContext(ctx, `SELECT `+taskFactColumns+` FROM task_facts WHERE state = 'open'`+where.String()+` ORDER BY opened_at, id`,
		args...)
	if err != nil {
		return out, fmt.Errorf("read open task facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f stats.TaskFact
		var holder, actor string
		var opened int64
		var due, closed sql.NullInt64
		if err := rows.Scan(&f.ID, &f.DocID, &f.Type, &f.Stage, &f.Kind, &holder, &actor, &f.Round, &opened, &due, &closed, &f.State,
			&f.Reason); err != nil {
			return out, fmt.Errorf("scan task fact: %w", err)
		}
		f.Holder, f.Actor = flows.PersonID(holder), flows.PersonID(actor)
		f.Opened, f.Due, f.Closed = time.Unix(0, opened), fromNanos(due), fromNanos(closed)
		out.Open = append(out.Open, f)
	}
	return out, rows.Err()
}

// InsertFacts writes facts directly, in batches, for benchmarks and
// tests that need a large history fast (storagetest.SeedFacts).
func (db *DB) InsertFacts(ctx context.Context, tasks []stats.TaskFact, docs []stats.DocFact) error {
	const batch = 5000
	for i := 0; i < len(tasks) || i < len(docs); i += batch {
		_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			t := tx.(*txn)
			for _, f := range tasks[min(i, len(tasks)):min(i+batch, len(tasks))] {
				if _, err := t.exec(qUpsertTaskFact, db.taskFactArgs(f)...); err != nil {
					return flows.Outcome{}, err
				}
			}
			for _, f := range docs[min(i, len(docs)):min(i+batch, len(docs))] {
				if _, err := t.exec(qUpsertDocFact, db.docFactArgs(f)...); err != nil {
					return flows.Outcome{}, err
				}
			}
			return flows.Outcome{}, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
