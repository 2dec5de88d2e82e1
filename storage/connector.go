package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
)

// APIKey is an integration's key as stored: its public id, never its
// secret.
type APIKey struct {
	ID        string
	Name      string
	Scope     string
	Types     []string // empty: every type
	CreatedAt time.Time
	RevokedAt time.Time
}

// Revoked reports whether the key no longer works.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// apiKeyPrefix marks Viza's keys so that secret scanners can find leaked
// ones.
const apiKeyPrefix = "viza_"

// CreateAPIKey makes a key and returns it whole, the only time it exists
// outside the caller's hands: only the hash of its secret is kept.
func (db *DB) CreateAPIKey(ctx context.Context, name, scope string, types []string, now time.Time) (key string, k APIKey, err error) {
	idRaw, secretRaw := make([]byte, 6), make([]byte, 32)
	rand.Read(idRaw)
	rand.Read(secretRaw)
	k = APIKey{ID: hex.EncodeToString(idRaw), Name: name, Scope: scope, Types: types, CreatedAt: now}
	secret := base64.RawURLEncoding.EncodeToString(secretRaw)
	err = db.writeTx(ctx, func(tx execer) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys(id, name, hash, scope, types, created_at) VALUES (?,?,?,?,?,?)`,
			k.ID, name, secretHash(secret), scope, strings.Join(types, ","), now.UnixNano())
		if err != nil {
			return fmt.Errorf("store api key %q: %w", name, err)
		}
		return nil
	})
	return apiKeyPrefix + k.ID + "_" + secret, k, err
}

func secretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// ErrBadAPIKey is any key that does not open the API: malformed, unknown,
// wrong secret or revoked. Callers answer all of them alike.
var ErrBadAPIKey = errors.New("bad api key")

// CheckAPIKey returns the key a presented key string belongs to, if its
// secret matches and it is not revoked.
func (db *DB) CheckAPIKey(ctx context.Context, presented string) (APIKey, error) {
	rest, ok := strings.CutPrefix(presented, apiKeyPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || id == "" || secret == "" {
		return APIKey{}, ErrBadAPIKey
	}
	k, hash, err := db.apiKey(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrBadAPIKey
	}
	if err != nil {
		return APIKey{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(secretHash(secret))) != 1 || k.Revoked() {
		return APIKey{}, ErrBadAPIKey
	}
	return k, nil
}

func (db *DB) apiKey(ctx context.Context, id string) (APIKey, string, error) {
	var k APIKey
	var hash, types string
	var created int64
	var revoked sql.NullInt64
	err := db.reader.QueryRowContext(ctx, `SELECT id, name, hash, scope, types, created_at, revoked_at FROM api_keys WHERE id = ?`, id).
		Scan(&k.ID, &k.Name, &hash, &k.Scope, &types, &created, &revoked)
	if err != nil {
		return APIKey{}, "", err
	}
	k.CreatedAt, k.RevokedAt, k.Types = time.Unix(0, created), fromNanos(revoked), splitList(types)
	return k, hash, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// APIKeys lists every key, revoked ones too, oldest first.
func (db *DB) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, name, scope, types, created_at, revoked_at FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var types string
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &k.Scope, &types, &created, &revoked); err != nil {
			return nil, fmt.Errorf("scan api key: %w", err)
		}
		k.CreatedAt, k.RevokedAt, k.Types = time.Unix(0, created), fromNanos(revoked), splitList(types)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey stops a key, named by its id or its name. It reports
// whether a working key was found.
func (db *DB) RevokeAPIKey(ctx context.Context, idOrName string, now time.Time) (bool, error) {
	var n int64
	err := db.writeTx(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL`,
			now.UnixNano(), idOrName, idOrName)
		if err != nil {
			return fmt.Errorf("revoke api key %q: %w", idOrName, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, err
}

// DocumentFilter narrows ListDocuments. Zero fields do not filter.
type DocumentFilter struct {
	State      string
	Types      []string // any of
	ExternalID string
	// After is the keyset cursor: documents written after (At, ID).
	AfterAt, AfterID int64
	Limit            int
}

// ListDocuments lists documents in the order they were last written, from
// the cursor on, through the documents_updated index: a page costs its
// rows however many documents there are.
func (db *DB) ListDocuments(ctx context.Context, f DocumentFilter) ([]ChangedDocument, error) {
	q := strings.Builder{}
	q.WriteString(`SELECT id, updated_at, body FROM documents WHERE (updated_at > ? OR (updated_at = ? AND id > ?))`)
	args := []any{f.AfterAt, f.AfterAt, f.AfterID}
	if f.State != "" {
		q.WriteString(` AND state = ?`)
		args = append(args, f.State)
	}
	if f.ExternalID != "" {
		q.WriteString(` AND external_id = ?`)
		args = append(args, f.ExternalID)
	}
	if len(f.Types) > 0 {
		q.WriteString(` AND type IN (?` + strings.Repeat(",?", len(f.Types)-1) + `)`)
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	q.WriteString(` ORDER BY updated_at, id LIMIT ?`)
	args = append(args, max(f.Limit, 1))
	rows, err := db.reader.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	defer rows.Close()
	var out []ChangedDocument
	for rows.Next() {
		var id, updated int64
		var b body
		if err := rows.Scan(&id, &updated, &b); err != nil {
			return nil, fmt.Errorf("scan document: %w", err)
		}
		d, err := decodeDocument(id, b)
		if err != nil {
			return nil, err
		}
		out = append(out, ChangedDocument{Doc: d, UpdatedAt: updated})
	}
	return out, rows.Err()
}

// DocumentUpdatedAt returns when a document was last written, in Unix
// nanoseconds as stored.
func (db *DB) DocumentUpdatedAt(ctx context.Context, id int64) (int64, error) {
	var at int64
	if err := db.reader.QueryRowContext(ctx, `SELECT updated_at FROM documents WHERE id = ?`, id).Scan(&at); err != nil {
		return 0, fmt.Errorf("updated_at of %d: %w", id, err)
	}
	return at, nil
}

// AuditSince returns audit events after id, in order, at most limit.
func (db *DB) AuditSince(ctx context.Context, afterID int64, limit int) ([]flows.AuditEvent, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, hash
		FROM audit WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit after %d: %w", afterID, err)
	}
	return scanAudit(rows)
}
