// Package storagetest opens real SQLite databases in temporary folders for
// tests: the same pragmas, migrations and writer as production.
package storagetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/viza-app/viza/storage"
)

// Open returns a fresh database and file store under t.TempDir(), closed
// when the test ends.
func Open(tb testing.TB) (*storage.DB, storage.Files) {
	tb.Helper()
	dir := tb.TempDir()
	db, err := storage.Open(context.Background(), filepath.Join(dir, "viza.db"))
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close test database: %v", err)
		}
	})
	return db, storage.Files{Dir: filepath.Join(dir, "files")}
}
