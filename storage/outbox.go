package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
)

// Delivery states.
const (
	deliveryPending = "pending"
	deliverySent    = "sent"
	deliveryFailed  = "failed"
)

var _ flows.Outbox = (*DB)(nil)

// execer is the writer's transaction as bookkeeping outside the engine sees
// it.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// writeTx runs fn in the writer's queue, so outbox bookkeeping never races
// the engine's writes for the single write connection.
func (db *DB) writeTx(ctx context.Context, fn func(tx execer) error) error {
	_, err := db.Write(ctx, "", func(t flows.Tx) (flows.Outcome, error) {
		return flows.Outcome{}, fn(t.(*txn).w)
	})
	return err
}

// FanOut implements flows.Outbox.
func (db *DB) FanOut(ctx context.Context, route func(flows.Notification) []string, now time.Time) (int, error) {
	type pending struct {
		id int64
		n  flows.Notification
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT id, payload FROM notifications
		WHERE id > COALESCE((SELECT value FROM counters WHERE name = 'fanned_out'), 0) ORDER BY id LIMIT 500`)
	if err != nil {
		return 0, fmt.Errorf("read new notifications: %w", err)
	}
	var list []pending
	for rows.Next() {
		var p pending
		var raw string
		if err := rows.Scan(&p.id, &raw); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan notification: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &p.n); err != nil {
			rows.Close()
			return 0, fmt.Errorf("decode notification %d: %w", p.id, err)
		}
		list = append(list, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(list) == 0 {
		return 0, err
	}
	// Notifications are committed in id order by the one writer, so the
	// reader's snapshot holds every id up to its last: a mark at that id
	// leaves none behind.
	err = db.writeTx(ctx, func(tx execer) error {
		for _, p := range list {
			for _, ch := range route(p.n) {
				if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries(notification_id, channel, state, next_at, updated_at)
					VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`, p.id, ch, deliveryPending, now.UnixNano(), now.UnixNano()); err != nil {
					return fmt.Errorf("create delivery: %w", err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO counters(name, value) VALUES ('fanned_out', ?)
			ON CONFLICT(name) DO UPDATE SET value = CASE WHEN excluded.value > counters.value THEN excluded.value ELSE counters.value END`, list[len(list)-1].id); err != nil {
			return fmt.Errorf("mark fanned out: %w", err)
		}
		return nil
	})
	return len(list), err
}

// Due implements flows.Outbox. On PostgreSQL every replica runs a
// dispatcher, so the due deliveries are claimed, not just read: FOR UPDATE
// SKIP LOCKED hands each to one replica, which writes its id on it. A claim
// lasts as long as its replica lives — for as long as the replica's
// liveness lock is held (see liveness) — not for a time: a replica sending
// a long queue to a person at Telegram's one message a second keeps it,
// and one that dies loses all of its claims at once, to whichever replica
// looks next.
func (db *DB) Due(ctx context.Context, now time.Time, limit int, closed []string) ([]flows.Delivery, error) {
	skip, skipArgs := notIn("channel", closed)
	q, args := `SELECT d.id, d.channel, d.attempts, n.id, n.payload FROM deliveries d
		JOIN notifications n ON n.id = d.notification_id
		WHERE d.state = 'pending' AND d.next_at <= ?`+strings.ReplaceAll(skip, "channel", "d.channel")+` ORDER BY d.next_at, d.id LIMIT ?`,
		append(append([]any{now.UnixNano()}, skipArgs...), limit)
	if db.pg {
		// The rows are picked and locked once, in a CTE of their own: in
		// UPDATE … WHERE id IN (SELECT … SKIP LOCKED), a row another replica
		// updated meanwhile makes PostgreSQL recheck the join, running the
		// subquery again, and so claim rows it never locked.
		q, args = `WITH picked AS MATERIALIZED (
			SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= ?`+skip+`
				AND (claimed_by = ? OR claimed_by NOT IN (`+qLiveReplicas+`))
			ORDER BY next_at, id LIMIT ? FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE deliveries d SET claimed_by = ? FROM picked WHERE d.id = picked.id
			RETURNING d.id, d.channel, d.attempts, d.notification_id)
		SELECT c.id, c.channel, c.attempts, n.id, n.payload FROM claimed c JOIN notifications n ON n.id = c.notification_id
		ORDER BY c.id`, append(append([]any{now.UnixNano()}, skipArgs...), db.replica, limit, db.replica)
	}
	rows, err := db.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read due deliveries: %w", err)
	}
	defer rows.Close()
	var out []flows.Delivery
	for rows.Next() {
		var d flows.Delivery
		var nid int64
		var raw string
		if err := rows.Scan(&d.ID, &d.Channel, &d.Attempts, &nid, &raw); err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &d.Notification); err != nil {
			return nil, fmt.Errorf("decode notification %d: %w", nid, err)
		}
		d.Notification.ID = nid
		out = append(out, d)
	}
	return out, rows.Err()
}

// notIn is " AND col NOT IN (?,…)" with its arguments, or nothing for an
// empty list.
func notIn(col string, values []string) (string, []any) {
	if len(values) == 0 {
		return "", nil
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return " AND " + col + " NOT IN (" + strings.TrimSuffix(strings.Repeat("?,", len(values)), ",") + ")", args
}

func (db *DB) setDelivery(ctx context.Context, id int64, state string, next time.Time, ref, reason string, now time.Time) error {
	return db.updateDelivery(ctx, id, state, next, ref, reason, now, 1)
}

// updateDelivery records what became of a delivery; counted adds to its
// attempts (0 for a hold, which is not the message's failure).
func (db *DB) updateDelivery(ctx context.Context, id int64, state string, next time.Time, ref, reason string, now time.Time, counted int) error {
	return db.writeTx(ctx, func(tx execer) error {
		// claimed_by is let go: a delivery to retry is anyone's again.
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state=?, attempts=attempts+?, next_at=?, ref=?, last_error=?, updated_at=?, claimed_by=0
			WHERE id=? AND state='pending'`, state, counted, next.UnixNano(), ref, reason, now.UnixNano(), id)
		if err != nil {
			return fmt.Errorf("update delivery %d: %w", id, err)
		}
		// Sent deliveries are counted as they go: /metrics reads the
		// counter, and old ones may be compacted away.
		if n, _ := res.RowsAffected(); n == 1 && state == deliverySent {
			if _, err := tx.ExecContext(ctx, `INSERT INTO counters(name, value) SELECT 'deliveries_sent:' || channel, 1 FROM deliveries WHERE id = ?
				ON CONFLICT(name) DO UPDATE SET value = counters.value + 1`, id); err != nil {
				return fmt.Errorf("count delivery %d: %w", id, err)
			}
		}
		return nil
	})
}

// Delivered implements flows.Outbox.
func (db *DB) Delivered(ctx context.Context, id int64, ref string, now time.Time) error {
	return db.setDelivery(ctx, id, deliverySent, now, ref, "", now)
}

// Retry implements flows.Outbox.
func (db *DB) Retry(ctx context.Context, id int64, next time.Time, reason string, now time.Time) error {
	return db.setDelivery(ctx, id, deliveryPending, next, "", reason, now)
}

// Hold implements flows.Outbox.
func (db *DB) Hold(ctx context.Context, id int64, next time.Time, reason string, now time.Time) error {
	return db.updateDelivery(ctx, id, deliveryPending, next, "", reason, now, 0)
}

// Failed implements flows.Outbox.
func (db *DB) Failed(ctx context.Context, id int64, reason string, now time.Time) error {
	return db.setDelivery(ctx, id, deliveryFailed, now, "", reason, now)
}

// NextDue implements flows.Outbox.
func (db *DB) NextDue(ctx context.Context, closed []string) (time.Time, bool, error) {
	var n sql.NullInt64
	skip, args := notIn("channel", closed)
	if err := db.reader.QueryRowContext(ctx, `SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'`+skip, args...).Scan(&n); err != nil {
		return time.Time{}, false, fmt.Errorf("next due delivery: %w", err)
	}
	return fromNanos(n), n.Valid, nil
}

// OutboxStats is the backlog for metrics and readiness.
type OutboxStats struct {
	Pending      int
	Failed       int
	Sent         int
	OldestQueued time.Time
}

// OutboxStats counts deliveries by state: the waiting and the failed
// through their partial indexes, the sent from their counters.
func (db *DB) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	var oldest sql.NullInt64
	err := db.reader.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM deliveries WHERE state = 'pending'),
		(SELECT COUNT(*) FROM deliveries WHERE state = 'failed'),
		(SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM counters WHERE name >= 'deliveries_sent:' AND name < 'deliveries_sent;'),
		(SELECT MIN(n.created_at) FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.state = 'pending')`).
		Scan(&s.Pending, &s.Failed, &s.Sent, &oldest)
	if err != nil {
		return s, fmt.Errorf("outbox stats: %w", err)
	}
	s.OldestQueued = fromNanos(oldest)
	return s, nil
}

// Reroute implements flows.Outbox.
func (db *DB) Reroute(ctx context.Context, notificationID int64, channels []string, now time.Time) error {
	return db.writeTx(ctx, func(tx execer) error {
		for _, ch := range channels {
			if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries(notification_id, channel, state, next_at, updated_at)
				VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`, notificationID, ch, deliveryPending, now.UnixNano(), now.UnixNano()); err != nil {
				return fmt.Errorf("reroute notification %d to %s: %w", notificationID, ch, err)
			}
		}
		return nil
	})
}

// FailedDelivery is a notification a channel gave up on.
type FailedDelivery struct {
	Person flows.PersonID
	Kind   string
	Reason string
	At     time.Time
}

// FailedDeliveries lists a document's deliveries that failed for good on
// a channel (for the status card).
func (db *DB) FailedDeliveries(ctx context.Context, docID int64, channel string) ([]FailedDelivery, error) {
	// Through the failed ones alone: left to itself, SQLite walks every
	// delivery in id order to spare a sort of a handful.
	rows, err := db.reader.QueryContext(ctx, `SELECT n.recipient, n.kind, d.last_error, d.updated_at FROM deliveries d INDEXED BY deliveries_failed
		JOIN notifications n ON n.id = d.notification_id WHERE n.doc_id = ? AND d.channel = ? AND d.state = 'failed' ORDER BY d.id`, docID, channel)
	if err != nil {
		return nil, fmt.Errorf("failed deliveries of %d: %w", docID, err)
	}
	defer rows.Close()
	var out []FailedDelivery
	for rows.Next() {
		var f FailedDelivery
		var p string
		var at int64
		if err := rows.Scan(&p, &f.Kind, &f.Reason, &at); err != nil {
			return nil, err
		}
		f.Person, f.At = flows.PersonID(p), time.Unix(0, at)
		out = append(out, f)
	}
	return out, rows.Err()
}

// Stats are the numbers /metrics exports, read at scrape time so that they
// are right after a restart.
type Stats struct {
	Decisions     map[string]int
	Deliveries    map[[2]string]int // channel, state
	RemindersSent map[string]int
	Outbox        OutboxStats
	Webhooks      WebhookStats
}

// Stats counts decisions, deliveries and reminders.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Decisions: map[string]int{}, Deliveries: map[[2]string]int{}, RemindersSent: map[string]int{}}
	scan := func(q string, f func(rows *sql.Rows) error) error {
		rows, err := db.reader.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := f(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	counted := func(prefix string, into func(key string, n int)) error {
		return scan(`SELECT name, value FROM counters WHERE name >= '`+prefix+`:' AND name < '`+prefix+`;'`, func(r *sql.Rows) error {
			var name string
			var n int
			err := r.Scan(&name, &n)
			into(strings.TrimPrefix(name, prefix+":"), n)
			return err
		})
	}
	err := db.countDecisions(ctx)
	if err == nil {
		err = counted("decisions", func(k string, n int) { st.Decisions[k] = n })
	}
	if err == nil {
		err = counted("deliveries_sent", func(ch string, n int) { st.Deliveries[[2]string{ch, deliverySent}] = n })
	}
	if err == nil {
		// The waiting and the failed are few, and read through their
		// partial indexes.
		err = scan(`SELECT channel, 'pending', COUNT(*) FROM deliveries WHERE state = 'pending' GROUP BY channel
			UNION ALL SELECT channel, 'failed', COUNT(*) FROM deliveries WHERE state = 'failed' GROUP BY channel`, func(r *sql.Rows) error {
			var ch, s string
			var n int
			err := r.Scan(&ch, &s, &n)
			st.Deliveries[[2]string{ch, s}] = n
			return err
		})
	}
	if err == nil {
		err = counted("reminders_sent", func(s string, n int) { st.RemindersSent[s] = n })
	}
	if err != nil {
		return st, err
	}
	if st.Outbox, err = db.OutboxStats(ctx); err != nil {
		return st, err
	}
	st.Webhooks, err = db.WebhookStats(ctx)
	return st, err
}

// decisionKinds are the audit kinds /metrics counts as decisions ("done"
// only on a task: without one it is the document's end).
var decisionKinds = map[string]bool{flows.ActionApprove: true, flows.ActionReject: true, flows.ActionComment: true,
	flows.ActionAcknowledge: true, flows.ActionDone: true}

// countChunk is how many audit events one step of the count reads: each
// step commits its progress, so a count cut short (a scrape's deadline)
// resumes where it stopped instead of starting over.
var countChunk = 10000

// countBudget bounds the time one scrape spends catching up: past it the
// scrape answers with what was counted, a little behind, and the next one
// goes on.
var countBudget = time.Second

// countDecisions adds the decisions recorded since the last count to their
// counters: a scrape reads the events of its interval, not the log, and a
// decision writes nothing for it. After a long gap (an upgrade, a service
// that was never scraped) the catch-up goes by chunks, each committed with
// its cursor, within countBudget. The cursor moves only from where a
// chunk began, so two counts at once (a second process) cannot add twice.
func (db *DB) countDecisions(ctx context.Context) error {
	db.countMu.Lock()
	defer db.countMu.Unlock()
	until := time.Now().Add(countBudget)
	for {
		more, err := db.countDecisionsChunk(ctx)
		if err != nil || !more {
			return err
		}
		if time.Now().After(until) || ctx.Err() != nil {
			return nil // behind, not wrong: the next scrape goes on
		}
	}
}

// countDecisionsChunk counts one chunk; more reports a full chunk (there
// may be more after it).
func (db *DB) countDecisionsChunk(ctx context.Context) (more bool, err error) {
	var from int64
	if err := db.reader.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM counters WHERE name = 'decisions_counted'), 0)`).Scan(&from); err != nil {
		return false, fmt.Errorf("decisions counted: %w", err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT id, kind, task_id FROM audit WHERE id > ? ORDER BY id LIMIT ?`, from, countChunk)
	if err != nil {
		return false, fmt.Errorf("read new decisions: %w", err)
	}
	kinds := map[string]int64{}
	to, read := from, 0
	for rows.Next() {
		var kind string
		var task int64
		if err := rows.Scan(&to, &kind, &task); err != nil {
			rows.Close()
			return false, fmt.Errorf("scan audit: %w", err)
		}
		read++
		if decisionKinds[kind] && (kind != flows.ActionDone || task != 0) {
			kinds[kind]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || to == from {
		return false, err
	}
	err = db.writeTx(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO counters(name, value) VALUES ('decisions_counted', ?)
			ON CONFLICT(name) DO UPDATE SET value = excluded.value WHERE counters.value = ?`, to, from)
		if err != nil {
			return fmt.Errorf("move decisions cursor: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // counted meanwhile by someone else
		}
		for k, n := range kinds {
			if _, err := tx.ExecContext(ctx, qAddCounter, "decisions:"+k, n); err != nil {
				return fmt.Errorf("count decisions: %w", err)
			}
		}
		return nil
	})
	return read == countChunk, err
}
