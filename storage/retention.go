package storage

import (
	"context"
	"fmt"
	"time"
)

// Retention says how long what is only bookkeeping is kept. The audit log,
// documents and their versions are never compacted.
type Retention struct {
	// Notifications: delivered notifications and their deliveries, once
	// this old. Failed ones stay (a card shows them), and so do pending.
	Notifications time.Duration
	// Dialogues: chat leftovers — references to cards sent, unanswered
	// prompts and dialogues, long button actions — and processed inbound
	// updates, once this old.
	Dialogues time.Duration
}

// Compacted counts the rows a compaction removed.
type Compacted struct {
	Deliveries, Notifications, States, Inbound int64
}

// dialoguePrefixes are the chat state keys that belong to one message or
// one conversation's moment, not to a person or a task.
var dialoguePrefixes = []string{"card:", "prompt:", "dialog:", "act:"}

// compactChunk bounds one delete, so that the writer — which every
// decision waits for — is never held long.
const compactChunk = 2000

// Compact removes what r says is old enough, a chunk per write.
func (db *DB) Compact(ctx context.Context, r Retention, now time.Time) (Compacted, error) {
	var c Compacted
	chunks := func(n *int64, q string, args ...any) error {
		for {
			var affected int64
			err := db.writeTx(ctx, func(tx execer) error {
				res, err := tx.ExecContext(ctx, q, append(args, compactChunk)...)
				if err != nil {
					return err
				}
				affected, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return err
			}
			*n += affected
			if affected < compactChunk || ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if r.Notifications > 0 {
		cut := now.Add(-r.Notifications).UnixNano()
		if err := chunks(&c.Deliveries, `DELETE FROM deliveries WHERE id IN (
			SELECT id FROM deliveries WHERE state = 'sent' AND updated_at < ? LIMIT ?)`, cut); err != nil {
			return c, fmt.Errorf("compact deliveries: %w", err)
		}
		// A notification goes with its last delivery, and only after it was
		// fanned out: one not yet fanned out has none and is still news.
		if err := chunks(&c.Notifications, `DELETE FROM notifications WHERE id IN (
			SELECT n.id FROM notifications n WHERE n.created_at < ?
				AND n.id <= COALESCE((SELECT value FROM counters WHERE name = 'fanned_out'), 0)
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id) LIMIT ?)`, cut); err != nil {
			return c, fmt.Errorf("compact notifications: %w", err)
		}
	}
	if r.Dialogues > 0 {
		cut := now.Add(-r.Dialogues).UnixNano()
		for _, p := range dialoguePrefixes {
			// The prefix's range of keys: "card:" up to "card;".
			end := p[:len(p)-1] + ";"
			if err := chunks(&c.States, `DELETE FROM channel_state WHERE (channel, key) IN (
				SELECT channel, key FROM channel_state WHERE key >= ? AND key < ? AND updated_at < ? LIMIT ?)`, p, end, cut); err != nil {
				return c, fmt.Errorf("compact %s states: %w", p, err)
			}
		}
		if err := chunks(&c.Inbound, `DELETE FROM inbox WHERE (channel, id) IN (
			SELECT channel, id FROM inbox WHERE processed_at IS NOT NULL AND processed_at < ? LIMIT ?)`, cut); err != nil {
			return c, fmt.Errorf("compact inbound updates: %w", err)
		}
	}
	return c, nil
}

// SpaceUsed is the database's size without its free pages: what the data
// takes, the file's size less what compaction freed for reuse.
func (db *DB) SpaceUsed(ctx context.Context) (int64, error) {
	var pages, free, size int64
	err := db.reader.QueryRowContext(ctx, `SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count),
		(SELECT page_size FROM pragma_page_size)`).Scan(&pages, &free, &size)
	if err != nil {
		return 0, fmt.Errorf("space used: %w", err)
	}
	return (pages - free) * size, nil
}
