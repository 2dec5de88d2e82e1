package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/viza-app/viza/flows"
)

// Files keeps version contents under a folder, named by SHA-256, so a file
// uploaded twice is stored once and its name can never escape the folder.
type Files struct{ Dir string }

var _ flows.FileStore = Files{}

var shaRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (f Files) path(sum string) string { return filepath.Join(f.Dir, sum[:2], sum) }

// Put streams r to a temporary file while hashing it, then renames it into
// place after an fsync: a crash leaves either nothing or the whole file.
func (f Files) Put(ctx context.Context, r io.Reader, maxSize int64) (string, int64, error) {
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return "", 0, fmt.Errorf("create files folder: %w", err)
	}
	tmp, err := os.CreateTemp(f.Dir, ".upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(ctxReader{ctx, r}, maxSize+1))
	if err != nil {
		return "", 0, fmt.Errorf("store upload: %w", err)
	}
	if n > maxSize {
		return "", 0, flows.Errorf(flows.KindInvalid, "file_too_big", "%d bytes over %d", n, maxSize)
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("sync upload: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst := f.path(sum)
	if _, err := os.Stat(dst); err == nil {
		return sum, n, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", 0, fmt.Errorf("create files folder: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("close upload: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("place upload: %w", err)
	}
	return sum, n, nil
}

// Open returns the content stored under sum.
func (f Files) Open(sum string) (io.ReadCloser, error) {
	if !shaRE.MatchString(sum) {
		return nil, flows.Errorf(flows.KindInvalid, "bad_file_id", "%q", sum)
	}
	fh, err := os.Open(f.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, flows.Errorf(flows.KindNotFound, "file_not_found", "%s", sum)
	}
	if err != nil {
		return nil, fmt.Errorf("open file %s: %w", sum, err)
	}
	return fh, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
