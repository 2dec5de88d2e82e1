package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TamperForTest sets one column of one audit row behind the triggers'
// back, as an attacker with the file would, so that verify can be shown to
// catch it.
func TamperForTest(db *DB, id int64, column string, value any) error {
	return db.writeTx(context.Background(), func(tx execer) error {
		if _, err := tx.ExecContext(context.Background(), db.dropAuditGuard("audit_no_update")); err != nil {
			return err
		}
		if _, err := tx.ExecContext(context.Background(), `UPDATE audit SET `+column+` = ? WHERE id = ?`, value, id); err != nil {
			return err
		}
		return nil
	})
}

// RawForTest is a connection pool that may write the database behind the
// writer's back, as a test's attacker or old version would.
func RawForTest(tb testing.TB, db *DB) *sql.DB {
	tb.Helper()
	if db.pg {
		return db.reader
	}
	raw, err := sql.Open("sqlite", DSN(db.Path, false))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

// dropAuditGuard is the statement that drops one of the triggers keeping
// the audit log append-only.
func (db *DB) dropAuditGuard(name string) string {
	if db.pg {
		return `DROP TRIGGER IF EXISTS ` + name + ` ON audit`
	}
	return `DROP TRIGGER IF EXISTS ` + name
}

// SeedOpenTasks fills the database with n open tasks, each with the four
// steps of the default ladder pending, due over the next year; `due` of
// them are due before now. SQLite generates the rows itself.
func SeedOpenTasks(db *DB, n, due int, now int64) error {
	return db.writeTx(context.Background(), func(tx execer) error {
		if _, err := tx.ExecContext(context.Background(), `INSERT INTO documents(id, number, type, title, initiator, state, created_at, updated_at, body)
		VALUES (1, 'SEED-1', 'seed', 'seed', 'seed', 'in_approval', 0, 0, '{}')`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(context.Background(), `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO open_tasks(assignee, id, doc_id, due_at)
		SELECT 'p' || (i % 2000), i, 1, ? + i * 31000000000 FROM seq`, n, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(context.Background(), `INSERT INTO tasks(id, doc_id) SELECT id, 1 FROM open_tasks`); err != nil {
			return err
		}
		year := int64(365 * 24 * 3600 * 1e9)
		if _, err := tx.ExecContext(context.Background(), `INSERT INTO reminders(task_id, doc_id, step, send, due_at)
		SELECT id, 1, s.step, 'chat', ? + ((id * 7919 + s.step * 104729) % ?) FROM tasks, (SELECT 0 AS step UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) s`,
			now+1, year); err != nil {
			return err
		}
		if _, err := tx.ExecContext(context.Background(), `UPDATE reminders SET due_at = ? - id WHERE id <= ?`, now, due); err != nil {
			return err
		}
		return nil
	})
}

// QueuedForTest reports how many commands wait for the writer.
func QueuedForTest(db *DB) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.queue)
}

// CommitsForTest counts the writer's commits so far.
func CommitsForTest(db *DB) int { return db.commits }

// ReaderForTest is the readers' pool, for query plans.
func (db *DB) ReaderForTest() interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
} {
	return db.reader
}

// AttackForTest runs statements on the database file as someone who can
// write it would: triggers dropped, no writer, no key.
func AttackForTest(db *DB, statements ...string) error {
	return db.writeTx(context.Background(), func(tx execer) error {
		for _, q := range append([]string{db.dropAuditGuard("audit_no_update"), db.dropAuditGuard("audit_no_delete")}, statements...) {
			if _, err := tx.ExecContext(context.Background(), q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
}

// ChainHashForTest is the plain (unkeyed) chain hash of an event, as an
// attacker without the key can compute it.
func ChainHashForTest(prev string, docID, at int64, actor, forWhom, kind string, version int, taskID int64, detail string) string {
	h, _ := chainHash(prev, auditContent{DocID: docID, At: at, Actor: actor, For: forWhom, Kind: kind, Version: version, TaskID: taskID, Detail: detail})
	return h
}

// QueryPlan explains how SQLite runs a page query (for tests that hold the
// read paths to their indexes).
func (db *DB) QueryPlan(ctx context.Context, q DocQuery) (string, error) {
	var err error
	if q.wideDates, err = db.datesAreWide(ctx, q); err != nil {
		return "", err
	}
	from, where, args := q.where(false)
	order := q.order()
	rows, err := db.reader.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT d.id, d.body FROM `+from+` WHERE `+where+` ORDER BY `+order+` LIMIT 50`, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// SetWideDateRange lowers the count above which a date range is read
// newest first, so that a small register takes that path too.
func SetWideDateRange(tb interface{ Cleanup(func()) }, n int) {
	old := wideDateRange
	wideDateRange = n
	tb.Cleanup(func() { wideDateRange = old })
}

// SetLeaderPoll shortens how often replicas try for the leader lock.
func SetLeaderPoll(tb testing.TB, d time.Duration) {
	was := leaderPoll
	leaderPoll = d
	tb.Cleanup(func() { leaderPoll = was })
}

// SetLeaseTTL shortens the leader's lease.
func SetLeaseTTL(tb testing.TB, d time.Duration) {
	was := leaseTTL
	leaseTTL = d
	tb.Cleanup(func() { leaseTTL = was })
}

// SetLeaseRenewHook makes the leader call hook before each renewal (a test
// blocks in it to stand for a frozen process).
func SetLeaseRenewHook(tb testing.TB, hook func()) {
	leaseRenewHook = hook
	tb.Cleanup(func() { leaseRenewHook = nil })
}

// WriterPIDForTest is the server process of the writer's connection
// (PostgreSQL).
func WriterPIDForTest(db *DB) (int64, error) {
	var pid int64
	err := db.w.queryRow(`SELECT pg_backend_pid()`).Scan(&pid)
	return pid, err
}

// SetDecisionCount makes the decision count's steps small and its budget
// per scrape short.
func SetDecisionCount(tb testing.TB, chunk int, budget time.Duration) {
	c, b := countChunk, countBudget
	countChunk, countBudget = chunk, budget
	tb.Cleanup(func() { countChunk, countBudget = c, b })
}
