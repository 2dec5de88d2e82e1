package storage

import (
	"context"
	"net/url"
	"path/filepath"

	"github.com/viza-app/viza/flows"
)

// Location says where a Viza database lives: at a postgres:// URL when URL
// is set, else in SQLite under DataDir.
type Location struct {
	DataDir string
	URL     string
}

func (l Location) String() string {
	if l.URL != "" {
		return redactURL(l.URL)
	}
	return filepath.Join(l.DataDir, "viza.db")
}

// Location is where db lives, to open it again.
func (db *DB) Location() Location {
	if db.pg {
		return Location{URL: db.url}
	}
	return Location{DataDir: filepath.Dir(db.Path)}
}

// OpenAt opens the database at l and the store of its version files.
func OpenAt(ctx context.Context, l Location) (*DB, flows.FileStore, error) {
	if l.URL != "" {
		db, err := OpenPostgres(ctx, l.URL)
		if err != nil {
			return nil, nil, err
		}
		return db, DBFiles{DB: db}, nil
	}
	db, err := Open(ctx, filepath.Join(l.DataDir, "viza.db"))
	if err != nil {
		return nil, nil, err
	}
	return db, Files{Dir: filepath.Join(l.DataDir, "files")}, nil
}

// redactURL hides a URL's password, for logs and messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}
