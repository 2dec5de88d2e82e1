package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/viza-app/viza/flows"
)

// ChainReport is the result of walking the audit chain.
type ChainReport struct {
	Events   int
	LastHash string
	// BrokenAt is the id of the first event whose hash does not follow from
	// its predecessor and content; 0 when the chain is intact.
	BrokenAt int64
	// Reason says what is wrong there, as a code (prev_hash, content or
	// doc_link) for the caller to put in words.
	Reason string
}

// VerifyChain recomputes every audit hash in order.
func (db *DB) VerifyChain(ctx context.Context) (ChainReport, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, prev_hash, hash, doc_prev
		FROM audit ORDER BY id`)
	if err != nil {
		return ChainReport{}, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var rep ChainReport
	prev := ""
	// The per-document links are not hashed (a document's history is read
	// through them, not proven by them), so they are checked against the
	// order of the chain instead.
	lastOfDoc := map[int64]int64{}
	for rows.Next() {
		var id, docPrev int64
		var c auditContent
		var storedPrev, stored string
		if err := rows.Scan(&id, &c.DocID, &c.At, &c.Actor, &c.For, &c.Kind, &c.Version, &c.TaskID, &c.Detail, &storedPrev, &stored, &docPrev); err != nil {
			return rep, fmt.Errorf("scan audit: %w", err)
		}
		rep.Events++
		if storedPrev != prev {
			rep.BrokenAt, rep.Reason = id, "prev_hash"
			return rep, nil
		}
		if docPrev != lastOfDoc[c.DocID] {
			rep.BrokenAt, rep.Reason = id, "doc_link"
			return rep, nil
		}
		lastOfDoc[c.DocID] = id
		h, err := chainHash(prev, c)
		if err != nil {
			return rep, err
		}
		if h != stored {
			rep.BrokenAt, rep.Reason = id, "content"
			return rep, nil
		}
		prev = h
		rep.LastHash = h
	}
	return rep, rows.Err()
}

// DocumentEvents returns a document's audit events in order.
func (db *DB) DocumentEvents(ctx context.Context, docID int64) ([]flows.AuditEvent, error) {
	rows, err := db.reader.QueryContext(ctx, `WITH RECURSIVE chain(id) AS (
			SELECT last_event FROM documents WHERE id = ?
			UNION ALL SELECT audit.doc_prev FROM audit JOIN chain ON audit.id = chain.id WHERE audit.doc_prev > 0 AND audit.doc_prev < audit.id)
		SELECT id, doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, hash
		FROM audit WHERE id IN chain ORDER BY id`, docID)
	if err != nil {
		return nil, fmt.Errorf("read audit of %d: %w", docID, err)
	}
	defer rows.Close()
	var out []flows.AuditEvent
	for rows.Next() {
		var e flows.AuditEvent
		var at sql.NullInt64
		var actor, forWhom string
		if err := rows.Scan(&e.ID, &e.DocID, &at, &actor, &forWhom, &e.Kind, &e.Version, &e.TaskID, &e.Detail, &e.Hash); err != nil {
			return nil, fmt.Errorf("scan audit: %w", err)
		}
		e.At, e.Actor, e.For = fromNanos(at), flows.PersonID(actor), flows.PersonID(forWhom)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Notifications returns a document's queued notifications in order (for
// history views and tests).
func (db *DB) Notifications(ctx context.Context, docID int64) ([]flows.Notification, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, payload FROM notifications WHERE doc_id = ? ORDER BY id`, docID)
	if err != nil {
		return nil, fmt.Errorf("read notifications of %d: %w", docID, err)
	}
	defer rows.Close()
	var out []flows.Notification
	for rows.Next() {
		var n flows.Notification
		var raw string
		if err := rows.Scan(&n.ID, &raw); err != nil {
			return nil, fmt.Errorf("scan notification: %w", err)
		}
		id := n.ID
		if err := json.Unmarshal([]byte(raw), &n); err != nil {
			return nil, fmt.Errorf("decode notification %d: %w", id, err)
		}
		n.ID = id
		out = append(out, n)
	}
	return out, rows.Err()
}
