package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
)

// The audit chain is keyed from its seal on: each event's hash is an
// HMAC-SHA256, under a key kept outside the database, of the previous hash
// and the event's content. Someone who can write the database file but
// does not hold the key can neither edit an event nor rewrite the chain
// after it: every hash from the edit on would have to be made again with
// the key. Events written before a key was first used (databases of
// earlier versions) stay plain SHA-256 and are verified as before; the
// first keyed event covers the last plain hash, which seals them.

const (
	auditChannel = "audit"
	sealKey      = "seal"
)

// Seal is where the keyed part of the chain begins.
type Seal struct {
	From int64 // the first keyed event's id
}

// SealPolicy says what UseAuditKey may do about a chain that has no seal.
type SealPolicy int

const (
	// SealIfEmpty seals a database that holds no events yet (the service
	// on a new database); one that holds events and no seal is refused.
	SealIfEmpty SealPolicy = iota
	// SealNever writes nothing (verify and the other commands): a chain
	// with events and no seal is refused.
	SealNever
	// SealNow seals the chain at its next event whatever it holds: an
	// operator's explicit `viza seal` of a database from before keys.
	SealNow
)

// ErrSealMissing is a database that holds events, is used with a key,
// and has no seal: written before keys existed (seal it explicitly, once,
// with `viza seal`), or its seal was deleted to undo the keyed chain.
var ErrSealMissing = errors.New("seal_missing: the audit chain holds events but has no seal")

// UseAuditKey turns the keyed chain on with key (at least 32 bytes). Run it
// after Open and before any write. A seal kept in the database (with its
// own HMAC) says where the keyed part begins; without one, policy says
// whether the chain may be sealed now, at its next event. fresh reports a
// seal made now.
func (db *DB) UseAuditKey(ctx context.Context, key []byte, policy SealPolicy) (seal Seal, fresh bool, err error) {
	if len(key) < 32 {
		return Seal{}, false, errors.New("audit key: want at least 32 bytes")
	}
	db.auditKey = key
	raw, ok, err := db.StateGet(ctx, auditChannel, sealKey)
	if err != nil {
		return Seal{}, false, err
	}
	if ok {
		s, err := db.parseSeal(raw)
		if err != nil {
			return Seal{}, false, err
		}
		db.seal = s.From
		return s, false, nil
	}
	var events bool
	if err := db.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit)`).Scan(&events); err != nil {
		return Seal{}, false, fmt.Errorf("look for audit events: %w", err)
	}
	switch {
	case policy == SealNever && events:
		return Seal{}, false, ErrSealMissing
	case policy == SealNever:
		return Seal{}, false, nil // nothing recorded yet: the service seals it
	case policy == SealIfEmpty && events:
		return Seal{}, false, ErrSealMissing
	}
	// Sealed at the event after the log's end as the write transaction
	// sees it, and only if no seal is there by then: replicas starting
	// together on a new PostgreSQL database make one seal, the first. The
	// service seals only an empty chain, checked again under the lock.
	var made Seal
	_, err = db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		t := tx.(*txn)
		if policy == SealIfEmpty && t.batch.lastAudit > 0 {
			return flows.Outcome{}, nil // someone wrote first: read what is there
		}
		made = Seal{From: t.batch.lastAudit + 1}
		_, err := t.exec(`INSERT INTO channel_state(channel, key, value, updated_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`,
			auditChannel, sealKey, db.sealValue(made), time.Now().UnixNano())
		return flows.Outcome{}, err
	})
	if err != nil {
		return Seal{}, false, fmt.Errorf("seal the audit chain: %w", err)
	}
	raw, ok, err = db.StateGet(ctx, auditChannel, sealKey)
	if err != nil {
		return Seal{}, false, err
	}
	if !ok {
		return Seal{}, false, ErrSealMissing
	}
	s, err := db.parseSeal(raw)
	if err != nil {
		return Seal{}, false, err
	}
	db.seal = s.From
	return s, s == made, nil
}

// SealFrom is where the keyed part of the chain begins (0: not keyed).
func (db *DB) SealFrom() int64 { return db.seal }

// SealMAC is a seal's signature under the key in use, to keep outside the
// database beside the key.
func (db *DB) SealMAC(s Seal) string { return db.sealMAC(s) }

func (db *DB) sealMAC(s Seal) string {
	m := hmac.New(sha256.New, db.auditKey)
	fmt.Fprintf(m, "viza-audit-seal:%d", s.From)
	return hex.EncodeToString(m.Sum(nil))
}

func (db *DB) sealValue(s Seal) string {
	b, _ := json.Marshal(map[string]any{"from": s.From, "mac": db.sealMAC(s)})
	return string(b)
}

// errSeal means the seal's own HMAC does not hold: it was edited, or the
// key is another.
var errSeal = errors.New("the audit chain's seal does not match the key")

func (db *DB) parseSeal(raw string) (Seal, error) {
	var v struct {
		From int64  `json:"from"`
		MAC  string `json:"mac"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil || v.From <= 0 {
		return Seal{}, errSeal
	}
	s := Seal{From: v.From}
	if !hmac.Equal([]byte(v.MAC), []byte(db.sealMAC(s))) {
		return Seal{}, errSeal
	}
	return s, nil
}

// hashEvent is event id's chain hash: keyed from the seal on.
func (db *DB) hashEvent(id int64, prev string, c auditContent) (string, error) {
	if db.auditKey == nil || db.seal == 0 || id < db.seal {
		return chainHash(prev, c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode audit event: %w", err)
	}
	m := hmac.New(sha256.New, db.auditKey)
	m.Write([]byte(prev))
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// ParseAuditKey reads a key written as hex (64 characters or more).
func ParseAuditKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) < 32 {
		return nil, errors.New("audit key: want 64 or more hex characters (32 bytes)")
	}
	return k, nil
}

// Head is the chain's newest event: an anchor to keep outside the
// database, which a later verify can be held against.
func (db *DB) Head(ctx context.Context) (id int64, hash string, err error) {
	return scanLastEvent(db.reader.QueryRowContext(ctx, qLastEvent).Scan)
}

// FormatAnchor writes a head as ID:HASH.
func FormatAnchor(id int64, hash string) string { return strconv.FormatInt(id, 10) + ":" + hash }

// DerivedKey is a key for purpose derived from the audit key, kept as far
// from the database as it is; nil without an audit key.
func (db *DB) DerivedKey(purpose string) []byte {
	if db.auditKey == nil {
		return nil
	}
	m := hmac.New(sha256.New, db.auditKey)
	m.Write([]byte("viza-derived-key:" + purpose))
	return m.Sum(nil)
}
