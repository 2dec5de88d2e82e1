package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	// Reason says what is wrong there, as a code (prev_hash, content,
	// doc_link, doc_head, no_key) for the caller to put in words.
	Reason string
	// Document is the number of the document whose last event the chain
	// does not end with (doc_head).
	Document string
	// SealedFrom is the first keyed event (0: the chain is not keyed).
	SealedFrom int64
	// From is the checkpoint the walk started after (0: the first event).
	From int64
}

// VerifyOptions choose how much of the chain a verification walks.
type VerifyOptions struct {
	// SinceCheckpoint starts after the last verified checkpoint instead of
	// at the first event: minutes on a large file become seconds. What it
	// cannot see — an edit before the checkpoint — the full run finds.
	SinceCheckpoint bool
	// Progress, when set, is told every ProgressEvery events (default
	// 10 000) how many of how many have been checked.
	Progress      func(done, total int64)
	ProgressEvery int
}

const checkpointKey = "checkpoint"

// Checkpoint is the last event a verification found intact, with its hash.
type Checkpoint struct {
	ID   int64  `json:"id"`
	Hash string `json:"hash"`
	MAC  string `json:"mac,omitempty"` // under the audit key, when there is one
}

func (db *DB) checkpointMAC(c Checkpoint) string {
	if db.auditKey == nil {
		return ""
	}
	m := hmac.New(sha256.New, db.auditKey)
	fmt.Fprintf(m, "viza-checkpoint:%d:%s", c.ID, c.Hash)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyChain recomputes every audit hash in order — plain up to the
// seal, keyed from it — and holds every document's recorded last event
// against the chain, so that a chain cut short shows too.
func (db *DB) VerifyChain(ctx context.Context) (ChainReport, error) {
	return db.Verify(ctx, VerifyOptions{})
}

// Verify checks the chain as opts say, and on success records where it got
// to as the checkpoint a later run may start from.
func (db *DB) Verify(ctx context.Context, opts VerifyOptions) (ChainReport, error) {
	var from Checkpoint
	if opts.SinceCheckpoint {
		raw, ok, err := db.StateGet(ctx, auditChannel, checkpointKey)
		if err != nil {
			return ChainReport{}, err
		}
		if !ok {
			return ChainReport{}, ErrNoCheckpoint
		}
		if err := json.Unmarshal([]byte(raw), &from); err != nil {
			return ChainReport{}, fmt.Errorf("read checkpoint: %w", err)
		}
		if !hmac.Equal([]byte(from.MAC), []byte(db.checkpointMAC(from))) {
			return ChainReport{BrokenAt: from.ID, Reason: "checkpoint"}, nil
		}
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 10000
	}
	rep, lastOfDoc, err := db.walkChain(ctx, from, opts)
	if err != nil || rep.BrokenAt != 0 {
		return rep, err
	}
	// Every document's recorded head must be the chain's; a run from a
	// checkpoint knows the heads that moved since.
	rows, err := db.reader.QueryContext(ctx, `SELECT id, number, COALESCE(last_event, 0) FROM documents WHERE COALESCE(last_event, 0) > ? ORDER BY id`, from.ID)
	if err != nil {
		return rep, fmt.Errorf("read documents' last events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, last int64
		var number string
		if err := rows.Scan(&id, &number, &last); err != nil {
			return rep, fmt.Errorf("scan document: %w", err)
		}
		if last != lastOfDoc[id] {
			rep.BrokenAt, rep.Reason, rep.Document = max(last, lastOfDoc[id]), "doc_head", number
			return rep, nil
		}
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}
	if from.ID == 0 || rep.Events > 0 {
		end := Checkpoint{ID: from.ID + int64(rep.Events), Hash: rep.LastHash}
		if end.ID == from.ID {
			end.Hash = from.Hash
		}
		end.MAC = db.checkpointMAC(end)
		b, _ := json.Marshal(end)
		if err := db.StatePut(ctx, auditChannel, checkpointKey, string(b)); err != nil {
			return rep, fmt.Errorf("save checkpoint: %w", err)
		}
	}
	rep.From = from.ID
	return rep, nil
}

// ErrNoCheckpoint is a run from a checkpoint before any full run made one.
var ErrNoCheckpoint = errors.New("no checkpoint yet: run a full verification first")

func (db *DB) walkChain(ctx context.Context, from Checkpoint, opts VerifyOptions) (ChainReport, map[int64]int64, error) {
	progress := opts.Progress
	seal := db.seal
	if db.auditKey == nil {
		if raw, ok, err := db.StateGet(ctx, auditChannel, sealKey); err != nil {
			return ChainReport{}, nil, err
		} else if ok {
			var v struct {
				From int64 `json:"from"`
			}
			json.Unmarshal([]byte(raw), &v)
			seal = v.From
		}
	}
	var total int64
	if progress != nil {
		if err := db.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM audit`).Scan(&total); err != nil {
			return ChainReport{}, nil, fmt.Errorf("count audit: %w", err)
		}
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT id, doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, prev_hash, hash, doc_prev
		FROM audit WHERE id > ? ORDER BY id`, from.ID)
	if err != nil {
		return ChainReport{}, nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	rep := ChainReport{SealedFrom: seal}
	prev := from.Hash
	// The per-document links are not hashed (a document's history is read
	// through them, not proven by them), so they are checked against the
	// order of the chain instead. A run from a checkpoint has not seen the
	// events before it: there a link must at least name an earlier event
	// of the same document.
	lastOfDoc := map[int64]int64{}
	for rows.Next() {
		var id, docPrev int64
		var c auditContent
		var storedPrev, stored string
		if err := rows.Scan(&id, &c.DocID, &c.At, &c.Actor, &c.For, &c.Kind, &c.Version, &c.TaskID, &c.Detail, &storedPrev, &stored, &docPrev); err != nil {
			return rep, nil, fmt.Errorf("scan audit: %w", err)
		}
		rep.Events++
		if progress != nil && rep.Events%opts.ProgressEvery == 0 {
			progress(from.ID+int64(rep.Events), total)
		}
		if id != from.ID+int64(rep.Events) {
			// The writer numbers events 1, 2, 3 …: a gap is an event gone.
			rep.BrokenAt, rep.Reason = id, "gap"
			return rep, nil, nil
		}
		if storedPrev != prev {
			rep.BrokenAt, rep.Reason = id, "prev_hash"
			return rep, nil, nil
		}
		if last, seen := lastOfDoc[c.DocID]; seen || from.ID == 0 {
			if docPrev != last {
				rep.BrokenAt, rep.Reason = id, "doc_link"
				return rep, nil, nil
			}
		} else if docPrev != 0 {
			var doc int64
			err := db.reader.QueryRowContext(ctx, `SELECT doc_id FROM audit WHERE id = ?`, docPrev).Scan(&doc)
			if (err != nil && !errors.Is(err, sql.ErrNoRows)) || docPrev > from.ID {
				rep.BrokenAt, rep.Reason = id, "doc_link"
				return rep, nil, err
			}
			if doc != c.DocID {
				rep.BrokenAt, rep.Reason = id, "doc_link"
				return rep, nil, nil
			}
		}
		lastOfDoc[c.DocID] = id
		if seal != 0 && id >= seal && db.auditKey == nil {
			// The keyed part cannot be checked without its key.
			rep.BrokenAt, rep.Reason = id, "no_key"
			return rep, nil, nil
		}
		h, err := db.hashEvent(id, prev, c)
		if err != nil {
			return rep, nil, err
		}
		if h != stored {
			rep.BrokenAt, rep.Reason = id, "content"
			return rep, nil, nil
		}
		prev = h
		rep.LastHash = h
	}
	if err := rows.Err(); err != nil {
		return rep, nil, err
	}
	if seal != 0 && from.ID+int64(rep.Events) < seal-1 {
		// Sealed when the chain had seal-1 events: it cannot have fewer.
		rep.BrokenAt, rep.Reason = from.ID+int64(rep.Events)+1, "cut"
		return rep, nil, nil
	}
	if rep.LastHash == "" {
		rep.LastHash = from.Hash
	}
	return rep, lastOfDoc, nil
}

// DocumentEvents returns a document's audit events in order.
func (db *DB) DocumentEvents(ctx context.Context, docID int64) ([]flows.AuditEvent, error) {
	rows, err := db.reader.QueryContext(ctx, `WITH RECURSIVE chain(id) AS (
			SELECT last_event FROM documents WHERE id = ?
			UNION ALL SELECT audit.doc_prev FROM audit JOIN chain ON audit.id = chain.id WHERE audit.doc_prev > 0 AND audit.doc_prev < audit.id)
		SELECT id, doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, hash
		FROM audit WHERE id IN (SELECT id FROM chain) ORDER BY id`, docID)
	if err != nil {
		return nil, fmt.Errorf("read audit of %d: %w", docID, err)
	}
	return scanAudit(rows)
}

// scanAudit reads rows of id, doc_id, at, actor, on_behalf_of, kind,
// version, task_id, detail, hash.
func scanAudit(rows *sql.Rows) ([]flows.AuditEvent, error) {
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
