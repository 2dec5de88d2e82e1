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

// UseAuditKey turns the keyed chain on with key (at least 32 bytes). Run it
// after Open and before any write. The first time a key is used, the chain
// is sealed at the next event; the seal, with its own HMAC, is kept in the
// database and returned. fresh reports a seal made now: on a database that
// had events and was sealed before, that means its seal was removed.
func (db *DB) UseAuditKey(ctx context.Context, key []byte) (seal Seal, fresh bool, err error) {
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
	// Sealed at the event after the log's end as the write transaction
	// sees it, and only if no seal is there by then: replicas starting
	// together on a new PostgreSQL database make one seal, the first.
	var made Seal
	_, err = db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		t := tx.(*txn)
		made = Seal{From: t.batch.lastAudit + 1}
		_, err := t.exec(`INSERT INTO channel_state(channel, key, value, updated_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`,
			auditChannel, sealKey, db.sealValue(made), time.Now().UnixNano())
		return flows.Outcome{}, err
	})
	if err != nil {
		return Seal{}, false, fmt.Errorf("seal the audit chain: %w", err)
	}
	raw, _, err = db.StateGet(ctx, auditChannel, sealKey)
	if err != nil {
		return Seal{}, false, err
	}
	s, err := db.parseSeal(raw)
	if err != nil {
		return Seal{}, false, err
	}
	db.seal = s.From
	return s, s == made, nil
}

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
