package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/viza-app/viza/flows"
)

// InboxItem is one stored platform update.
type InboxItem struct {
	ID      string
	Payload []byte
}

// InboxPut stores updates not seen before, in one commit, and returns the
// ids that were new. A platform may send an update again; the second copy
// is dropped here.
func (db *DB) InboxPut(ctx context.Context, channel string, items []InboxItem) ([]string, error) {
	var fresh []string
	err := db.writeTx(ctx, func(tx execer) error {
		fresh = fresh[:0]
		for _, it := range items {
			res, err := tx.ExecContext(ctx, `INSERT INTO inbox(channel, id, payload, received_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`,
				channel, it.ID, string(it.Payload), time.Now().UnixNano())
			if err != nil {
				return fmt.Errorf("store %s update %s: %w", channel, it.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				fresh = append(fresh, it.ID)
			}
		}
		if len(fresh) > 0 {
			return db.notifyPeers(tx, PeerInbox(channel))
		}
		return nil
	})
	return fresh, err
}

// InboxPending returns stored updates not yet handled, oldest first.
func (db *DB) InboxPending(ctx context.Context, channel string, limit int) ([]InboxItem, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, payload FROM inbox WHERE channel = ? AND processed_at IS NULL
		ORDER BY received_at, id LIMIT ?`, channel, limit)
	if err != nil {
		return nil, fmt.Errorf("pending %s updates: %w", channel, err)
	}
	defer rows.Close()
	var out []InboxItem
	for rows.Next() {
		var it InboxItem
		var p string
		if err := rows.Scan(&it.ID, &p); err != nil {
			return nil, fmt.Errorf("scan update: %w", err)
		}
		it.Payload = []byte(p)
		out = append(out, it)
	}
	return out, rows.Err()
}

// InboxDone marks an update handled.
func (db *DB) InboxDone(ctx context.Context, channel, id string) error {
	return db.writeTx(ctx, func(tx execer) error {
		_, err := tx.ExecContext(ctx, `UPDATE inbox SET processed_at = ? WHERE channel = ? AND id = ?`, time.Now().UnixNano(), channel, id)
		if err != nil {
			return fmt.Errorf("mark %s update %s: %w", channel, id, err)
		}
		return nil
	})
}

// StateGet reads a channel's state value.
func (db *DB) StateGet(ctx context.Context, channel, key string) (string, bool, error) {
	var v string
	err := db.reader.QueryRowContext(ctx, `SELECT value FROM channel_state WHERE channel = ? AND key = ?`, channel, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s state %s: %w", channel, key, err)
	}
	return v, true, nil
}

// StatePut writes a channel's state value; an empty value deletes it.
func (db *DB) StatePut(ctx context.Context, channel, key, value string) error {
	return db.writeTx(ctx, func(tx execer) error {
		var err error
		if value == "" {
			_, err = tx.ExecContext(ctx, `DELETE FROM channel_state WHERE channel = ? AND key = ?`, channel, key)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO channel_state(channel, key, value, updated_at) VALUES (?,?,?,?)
				ON CONFLICT(channel, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
				channel, key, value, time.Now().UnixNano())
		}
		if err != nil {
			return fmt.Errorf("write %s state %s: %w", channel, key, err)
		}
		return nil
	})
}

// StateKeep stores value under key unless something is stored there
// already, and returns what is stored: replicas starting together, each
// with a random secret of its own, all keep the first one's.
func (db *DB) StateKeep(ctx context.Context, channel, key, value string) (string, error) {
	err := db.writeTx(ctx, func(tx execer) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO channel_state(channel, key, value, updated_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`,
			channel, key, value, time.Now().UnixNano())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("keep %s state %s: %w", channel, key, err)
	}
	v, ok, err := db.StateGet(ctx, channel, key)
	if err == nil && !ok {
		err = fmt.Errorf("%s state %s vanished", channel, key)
	}
	return v, err
}

// StateSwap replaces a state value only if it still is old, in one
// conditional write, and reports whether it did: of many callers that read
// the same value, exactly one wins (a one-time link used once).
func (db *DB) StateSwap(ctx context.Context, channel, key, old, new string) (bool, error) {
	var swapped bool
	err := db.writeTx(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, `UPDATE channel_state SET value = ?, updated_at = ? WHERE channel = ? AND key = ? AND value = ?`,
			new, time.Now().UnixNano(), channel, key, old)
		if err != nil {
			return fmt.Errorf("swap %s state %s: %w", channel, key, err)
		}
		n, err := res.RowsAffected()
		swapped = err == nil && n == 1
		return err
	})
	return swapped, err
}

// StatePrefix lists a channel's state values whose keys start with prefix.
func (db *DB) StatePrefix(ctx context.Context, channel, prefix string) (map[string]string, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT key, value FROM channel_state WHERE channel = ? AND key >= ? AND key < ?`,
		channel, prefix, prefix+"\uffff")
	if err != nil {
		return nil, fmt.Errorf("list %s state %s: %w", channel, prefix, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, rows.Err()
}

// DocumentsOf lists the documents a person started, newest first.
func (db *DB) DocumentsOf(ctx context.Context, p flows.PersonID, limit int) ([]*flows.Document, error) {
	return db.documents(ctx, `SELECT id, body FROM documents WHERE initiator = ? ORDER BY id DESC LIMIT ?`, string(p), limit)
}

func (db *DB) documents(ctx context.Context, q string, args ...any) ([]*flows.Document, error) {
	rows, err := db.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	defer rows.Close()
	var out []*flows.Document
	for rows.Next() {
		var id int64
		var b body
		if err := rows.Scan(&id, &b); err != nil {
			return nil, fmt.Errorf("scan document: %w", err)
		}
		d, err := decodeDocument(id, b)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// AllDocuments lists every document, newest first. Callers filter by who
// may read them. The dashboard, /list and the registry call it on every
// view, and decoding bodies is most of its cost, so documents decoded once
// are kept (see decodedDocs) and only those changed since are read again.
func (db *DB) AllDocuments(ctx context.Context) ([]*flows.Document, error) {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot for both reads
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	defer tx.Rollback()
	type version struct{ id, updatedAt int64 }
	var all []version
	rows, err := tx.QueryContext(ctx, `SELECT id, updated_at FROM documents ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	for rows.Next() {
		var v version
		if err := rows.Scan(&v.id, &v.updatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan document: %w", err)
		}
		all = append(all, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	got := make(map[int64]*flows.Document, len(all))
	var stale []any
	for _, v := range all {
		if d := db.decoded.get(v.id, v.updatedAt); d != nil {
			got[v.id] = d
		} else {
			stale = append(stale, v.id)
		}
	}
	for len(stale) > 0 {
		chunk := stale[:min(len(stale), 500)]
		stale = stale[len(chunk):]
		rows, err := tx.QueryContext(ctx, `SELECT id, updated_at, body FROM documents WHERE id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, chunk...)
		if err != nil {
			return nil, fmt.Errorf("read documents: %w", err)
		}
		for rows.Next() {
			var id, updatedAt int64
			var b body
			if err := rows.Scan(&id, &updatedAt, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan document: %w", err)
			}
			d, err := decodeDocument(id, b)
			if err != nil {
				rows.Close()
				return nil, err
			}
			got[id] = d
			db.decoded.put(d.Clone(), updatedAt)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read documents: %w", err)
		}
	}
	out := make([]*flows.Document, 0, len(all))
	for _, v := range all {
		if d := got[v.id]; d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// decodedDocs are documents as readers last decoded them, each with the
// updated_at it had then: a row with another updated_at has changed since.
type decodedDocs struct {
	mu   sync.Mutex
	docs map[int64]decodedDoc
}

type decodedDoc struct {
	updatedAt int64
	doc       *flows.Document
}

// get returns a copy callers may change, or nil.
func (c *decodedDocs) get(id, updatedAt int64) *flows.Document {
	c.mu.Lock()
	e, ok := c.docs[id]
	c.mu.Unlock()
	if !ok || e.updatedAt != updatedAt {
		return nil
	}
	return e.doc.Clone()
}

func (c *decodedDocs) put(d *flows.Document, updatedAt int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Past the bound the kept documents start over, which costs decodes.
	if c.docs == nil || len(c.docs) >= maxDecodedDocs {
		c.docs = map[int64]decodedDoc{}
	}
	c.docs[d.ID] = decodedDoc{updatedAt: updatedAt, doc: d}
}

// maxDecodedDocs bounds the documents readers keep decoded (a few KB each),
// as maxCachedDocs bounds the writer's.
const maxDecodedDocs = 20000

// DocumentsByCounterparty returns the documents whose counterparty has
// words beginning with those of q (any letter case), newest first, through
// the full-text index.
func (db *DB) DocumentsByCounterparty(ctx context.Context, q string, limit int) ([]*flows.Document, error) {
	if ftsQuery(q) == "" {
		return nil, nil
	}
	return db.DocumentPage(ctx, DocQuery{Counterparty: q, Limit: limit})
}

// ChangedDocument is a document with the moment it was last written.
type ChangedDocument struct {
	Doc       *flows.Document
	UpdatedAt int64 // Unix nanoseconds, as stored
}

// DocumentsChangedSince lists the documents last written after (at, id),
// in the order written, at most limit: a reader that keeps the last one's
// (UpdatedAt, ID) as its cursor sees every change once it is committed.
func (db *DB) DocumentsChangedSince(ctx context.Context, at, id int64, limit int) ([]ChangedDocument, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, updated_at, body FROM documents
		WHERE updated_at > ? OR (updated_at = ? AND id > ?) ORDER BY updated_at, id LIMIT ?`, at, at, id, limit)
	if err != nil {
		return nil, fmt.Errorf("documents changed since %d: %w", at, err)
	}
	defer rows.Close()
	var out []ChangedDocument
	for rows.Next() {
		var docID, updated int64
		var b body
		if err := rows.Scan(&docID, &updated, &b); err != nil {
			return nil, fmt.Errorf("scan document: %w", err)
		}
		d, err := decodeDocument(docID, b)
		if err != nil {
			return nil, err
		}
		out = append(out, ChangedDocument{Doc: d, UpdatedAt: updated})
	}
	return out, rows.Err()
}
