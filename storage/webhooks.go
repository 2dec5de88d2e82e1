package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WebhookEvent is one event for one subscription, about to be queued.
type WebhookEvent struct {
	EventID int64 // the audit event it was made from
	Type    string
	DocID   int64
	Payload string
}

// WebhookDelivery is a queued event on its way to a subscriber.
type WebhookDelivery struct {
	ID           int64
	Subscription string
	EventID      int64
	Type         string
	DocID        int64
	Payload      string
	Attempts     int
	CreatedAt    time.Time
	LastError    string
	State        string // pending, sent or failed
}

func webhookCursorName(sub string) string { return "webhook_cursor:" + sub }

// WebhookCursor returns the last audit event a subscription has been given
// events for; false when it has never been seen.
func (db *DB) WebhookCursor(ctx context.Context, sub string) (int64, bool, error) {
	var v int64
	err := db.reader.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = ?`, webhookCursorName(sub)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("webhook cursor of %s: %w", sub, err)
	}
	return v, true, nil
}

// EnqueueWebhooks queues events for a subscription and moves its cursor to
// cursor, in one transaction: an event is queued once, or the cursor stays.
func (db *DB) EnqueueWebhooks(ctx context.Context, sub string, cursor int64, events []WebhookEvent, now time.Time) error {
	return db.writeTx(ctx, func(tx execer) error {
		for _, e := range events {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries(subscription, event_id, type, doc_id, payload, state,
				created_at, next_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
				sub, e.EventID, e.Type, e.DocID, e.Payload, deliveryPending, now.UnixNano(), now.UnixNano(), now.UnixNano()); err != nil {
				return fmt.Errorf("queue webhook %s of event %d: %w", e.Type, e.EventID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO counters(name, value) VALUES (?, ?)
			ON CONFLICT(name) DO UPDATE SET value = CASE WHEN excluded.value > counters.value THEN excluded.value ELSE counters.value END`, webhookCursorName(sub), cursor); err != nil {
			return fmt.Errorf("move webhook cursor of %s: %w", sub, err)
		}
		return nil
	})
}

// DueWebhooks returns the deliveries that may go now: due, and the oldest
// pending one of their subscription and document, so that a subscriber
// sees each document's events in order.
func (db *DB) DueWebhooks(ctx context.Context, now time.Time, limit int) ([]WebhookDelivery, error) {
	return db.dueWebhooks(ctx, "", now, limit)
}

// DueWebhooksFor is DueWebhooks of one subscription.
func (db *DB) DueWebhooksFor(ctx context.Context, sub string, now time.Time, limit int) ([]WebhookDelivery, error) {
	return db.dueWebhooks(ctx, sub, now, limit)
}

func (db *DB) dueWebhooks(ctx context.Context, sub string, now time.Time, limit int) ([]WebhookDelivery, error) {
	filter, args := "", []any{now.UnixNano()}
	if sub != "" {
		filter, args = " AND w.subscription = ?", append(args, sub)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT w.id, w.subscription, w.event_id, w.type, w.doc_id, w.payload, w.attempts,
			w.created_at, w.last_error
		FROM webhook_deliveries w
		WHERE w.state = 'pending' AND w.next_at <= ?`+filter+` AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
			WHERE e.state = 'pending' AND e.subscription = w.subscription AND e.doc_id = w.doc_id AND e.id < w.id)
		ORDER BY w.id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read due webhooks: %w", err)
	}
	defer rows.Close()
	var out []WebhookDelivery
	for rows.Next() {
		var d WebhookDelivery
		var created int64
		if err := rows.Scan(&d.ID, &d.Subscription, &d.EventID, &d.Type, &d.DocID, &d.Payload, &d.Attempts, &created, &d.LastError); err != nil {
			return nil, fmt.Errorf("scan webhook: %w", err)
		}
		d.CreatedAt, d.State = time.Unix(0, created), deliveryPending
		out = append(out, d)
	}
	return out, rows.Err()
}

// NextWebhookDueFor is NextWebhookDue of one subscription.
func (db *DB) NextWebhookDueFor(ctx context.Context, sub string) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := db.reader.QueryRowContext(ctx, `SELECT MIN(next_at) FROM webhook_deliveries WHERE state = 'pending' AND subscription = ?`, sub).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("next webhook: %w", err)
	}
	return fromNanos(v), v.Valid, nil
}

// NextWebhookDue returns when the next pending delivery falls due.
func (db *DB) NextWebhookDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := db.reader.QueryRowContext(ctx, `SELECT MIN(next_at) FROM webhook_deliveries WHERE state = 'pending'`).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("next webhook: %w", err)
	}
	return fromNanos(v), v.Valid, nil
}

func (db *DB) setWebhook(ctx context.Context, id int64, state string, next time.Time, reason string, now time.Time) error {
	return db.writeTx(ctx, func(tx execer) error {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state=?, attempts=attempts+1, next_at=?, last_error=?, updated_at=?
			WHERE id=? AND state='pending'`, state, next.UnixNano(), reason, now.UnixNano(), id); err != nil {
			return fmt.Errorf("update webhook %d: %w", id, err)
		}
		return nil
	})
}

// WebhookSent records a delivery the subscriber accepted.
func (db *DB) WebhookSent(ctx context.Context, id int64, now time.Time) error {
	return db.setWebhook(ctx, id, deliverySent, now, "", now)
}

// WebhookRetry records a failed attempt and when to try again.
func (db *DB) WebhookRetry(ctx context.Context, id int64, next time.Time, reason string, now time.Time) error {
	return db.setWebhook(ctx, id, deliveryPending, next, reason, now)
}

// WebhookFailed gives up on a delivery; the next event of its document
// may then go.
func (db *DB) WebhookFailed(ctx context.Context, id int64, reason string, now time.Time) error {
	return db.setWebhook(ctx, id, deliveryFailed, now, reason, now)
}

// RetryFailedWebhooks queues every failed delivery again, with a new
// period of retries, and returns how many.
func (db *DB) RetryFailedWebhooks(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state='pending', attempts=0, created_at=?, next_at=?, updated_at=?
			WHERE state='failed'`, now.UnixNano(), now.UnixNano(), now.UnixNano())
		if err != nil {
			return fmt.Errorf("retry failed webhooks: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// WebhookStats counts deliveries waiting and given up, for /metrics and
// the dashboard.
type WebhookStats struct{ Pending, Failed int64 }

// WebhookStats reads the counts from the partial indexes.
func (db *DB) WebhookStats(ctx context.Context) (WebhookStats, error) {
	var s WebhookStats
	err := db.reader.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'),
		(SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'failed')`).Scan(&s.Pending, &s.Failed)
	if err != nil {
		return s, fmt.Errorf("webhook stats: %w", err)
	}
	return s, nil
}

// WebhookDeliveries lists a subscription's deliveries in order (tests and
// support).
func (db *DB) WebhookDeliveries(ctx context.Context, sub string) ([]WebhookDelivery, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, subscription, event_id, type, doc_id, payload, attempts, created_at, last_error, state
		FROM webhook_deliveries WHERE subscription = ? ORDER BY id`, sub)
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %s: %w", sub, err)
	}
	defer rows.Close()
	var out []WebhookDelivery
	for rows.Next() {
		var d WebhookDelivery
		var created int64
		if err := rows.Scan(&d.ID, &d.Subscription, &d.EventID, &d.Type, &d.DocID, &d.Payload, &d.Attempts, &created, &d.LastError, &d.State); err != nil {
			return nil, fmt.Errorf("scan webhook: %w", err)
		}
		d.CreatedAt = time.Unix(0, created)
		out = append(out, d)
	}
	return out, rows.Err()
}
