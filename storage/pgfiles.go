package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/viza-app/viza/flows"
)

// DBFiles keeps version contents in the database, by SHA-256, so that
// every replica reads what any of them stored (on PostgreSQL; on SQLite the
// files live beside the database, see Files).
type DBFiles struct{ DB *DB }

var _ flows.FileStore = DBFiles{}

// Put reads the content (at most maxSize bytes, 20 MB by default) while
// hashing it and stores it once: a file uploaded twice is one row. It is
// held in memory on the way: one bytea in one statement, where large
// objects would stream but need their own cleanup and permissions.
func (f DBFiles) Put(ctx context.Context, r io.Reader, maxSize int64) (string, int64, error) {
	var buf bytes.Buffer
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(ctxReader{ctx, r}, maxSize+1))
	if err != nil {
		return "", 0, fmt.Errorf("store upload: %w", err)
	}
	if n > maxSize {
		return "", 0, flows.Errorf(flows.KindInvalid, "file_too_big", "%d bytes over %d", n, maxSize)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.DB.reader.ExecContext(ctx, `INSERT INTO files(sha256, size, content, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		sum, n, buf.Bytes(), time.Now().UnixNano()); err != nil {
		return "", 0, fmt.Errorf("store file %s: %w", sum, err)
	}
	return sum, n, nil
}

// Open returns the content stored under sum.
func (f DBFiles) Open(sum string) (io.ReadCloser, error) {
	if !shaRE.MatchString(sum) {
		return nil, flows.Errorf(flows.KindInvalid, "bad_file_id", "%q", sum)
	}
	var content []byte
	err := f.DB.reader.QueryRowContext(context.Background(), `SELECT content FROM files WHERE sha256 = ?`, sum).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flows.Errorf(flows.KindNotFound, "file_not_found", "%s", sum)
	}
	if err != nil {
		return nil, fmt.Errorf("read file %s: %w", sum, err)
	}
	return io.NopCloser(bytes.NewReader(content)), nil
}
