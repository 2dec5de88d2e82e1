package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Text states as stored; "pending" waits for the job, any other is the
// extraction's outcome, kept with its body.
const TextPending = "pending"

// queueTexts queues the text of the versions a save added (see the
// version_texts migration). A file seen before keeps its row.
func (t *txn) queueTexts(shas []string) error {
	now := time.Now().UnixNano()
	for _, sum := range shas {
		if _, err := t.exec(`INSERT INTO version_texts(sha256, state, queued_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING`,
			sum, TextPending, now); err != nil {
			return fmt.Errorf("queue the text of %s: %w", sum, err)
		}
	}
	return nil
}

// VersionText returns a file's text as stored: its state and body; ok is
// false when nothing is queued for it (a version stored before texts
// were kept).
func (db *DB) VersionText(ctx context.Context, sum string) (state string, body []byte, ok bool, err error) {
	var b sql.NullString
	err = db.reader.QueryRowContext(ctx, `SELECT state, body FROM version_texts WHERE sha256 = ?`, sum).Scan(&state, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("read the text of %s: %w", sum, err)
	}
	return state, []byte(b.String), true, nil
}

// QueueText queues a file's text unless it is queued or read already.
func (db *DB) QueueText(ctx context.Context, sum string) error {
	return db.writeTx(ctx, func(tx execer) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO version_texts(sha256, state, queued_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING`,
			sum, TextPending, time.Now().UnixNano())
		if err != nil {
			return fmt.Errorf("queue the text of %s: %w", sum, err)
		}
		return nil
	})
}

// PutVersionText stores what reading a file's text came to.
func (db *DB) PutVersionText(ctx context.Context, sum, state string, body []byte) error {
	return db.writeTx(ctx, func(tx execer) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO version_texts(sha256, state, body, queued_at, done_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (sha256) DO UPDATE SET state = excluded.state, body = excluded.body, done_at = excluded.done_at`,
			sum, state, string(body), time.Now().UnixNano(), time.Now().UnixNano())
		if err != nil {
			return fmt.Errorf("store the text of %s: %w", sum, err)
		}
		return nil
	})
}

// PendingTexts lists up to limit files whose text waits, oldest first,
// and counts an attempt on each: a file that makes the reader crash the
// process is not taken forever (see MaxTextAttempts).
func (db *DB) PendingTexts(ctx context.Context, limit int) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT sha256 FROM version_texts WHERE state = ? ORDER BY queued_at LIMIT ?`, TextPending, limit)
	if err != nil {
		return nil, fmt.Errorf("list pending texts: %w", err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list pending texts: %w", err)
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending texts: %w", err)
	}
	err = db.writeTx(ctx, func(tx execer) error {
		for _, s := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE version_texts SET attempts = attempts + 1 WHERE sha256 = ?`, s); err != nil {
				return fmt.Errorf("count an attempt on %s: %w", s, err)
			}
		}
		return nil
	})
	return out, err
}

// TextAttempts is how many times a file's text was taken up.
func (db *DB) TextAttempts(ctx context.Context, sum string) (int, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, `SELECT attempts FROM version_texts WHERE sha256 = ?`, sum).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
