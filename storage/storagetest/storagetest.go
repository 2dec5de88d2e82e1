// Package storagetest opens real databases for tests — SQLite in
// temporary folders, or PostgreSQL in a fresh schema when BackendEnv says
// so — with the same migrations and writer as production. Tests that open
// their database here run unchanged on either backend: that is how the
// storage contract, the engine's tests and the channels' scenarios are one
// suite for both.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for making schemas

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/flows/flowstest"
	"github.com/viza-app/viza/storage"
)

// BackendEnv names the environment variable that picks the backend tests
// run on: "postgres", or SQLite when unset.
const BackendEnv = "VIZA_TEST_BACKEND"

// PostgresURLEnv names the server tests use on PostgreSQL; DefaultPostgresURL
// is the one CI has.
const (
	PostgresURLEnv     = "VIZA_TEST_POSTGRES_URL"
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// Postgres reports whether tests run on PostgreSQL.
func Postgres() bool { return os.Getenv(BackendEnv) == "postgres" }

// PostgresURL is the test server's address.
func PostgresURL() string {
	if u := os.Getenv(PostgresURLEnv); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// SQLiteOnly skips a test that is about SQLite itself (its file, its
// pragmas, its backup) when the suite runs on PostgreSQL.
func SQLiteOnly(tb testing.TB) {
	tb.Helper()
	if Postgres() {
		tb.Skip("about SQLite's file; the suite runs on PostgreSQL")
	}
}

// NewLocation makes an empty place for a database on the test's backend:
// a temporary folder, or a fresh schema dropped when the test ends. It may
// be opened, closed and opened again (by another process too).
func NewLocation(tb testing.TB) storage.Location {
	tb.Helper()
	dir := tb.TempDir()
	if !Postgres() {
		return storage.Location{DataDir: dir}
	}
	return storage.Location{DataDir: dir, URL: NewSchema(tb)}
}

// NewSchema creates a schema of its own on the test server and returns a
// URL whose connections use it; the schema is dropped when the test ends.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	url, drop, err := CreateSchema()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Error(err)
		}
	})
	return url
}

// CreateSchema creates a schema of its own on the test server and returns
// a URL whose connections use it, and how to drop it.
func CreateSchema() (url string, drop func() error, err error) {
	base := PostgresURL()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "viza_test_" + hex.EncodeToString(b)
	admin := func(q string) error {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(context.Background(), q)
		return err
	}
	if err := admin(`CREATE SCHEMA ` + schema); err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at %s (set %s): %w", redacted(base), PostgresURLEnv, err)
	}
	u, err := neturl.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("parse %s: %w", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() error {
		if err := admin(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			return fmt.Errorf("drop test schema %s: %w", schema, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

func redacted(s string) string {
	if u, err := neturl.Parse(s); err == nil {
		return u.Redacted()
	}
	return "the test server"
}

// Open returns a fresh database and file store on the test's backend,
// closed when the test ends.
func Open(tb testing.TB) (*storage.DB, flows.FileStore) {
	tb.Helper()
	return OpenAt(tb, NewLocation(tb))
}

// OpenAt opens the database at l, closed when the test ends.
func OpenAt(tb testing.TB, l storage.Location) (*storage.DB, flows.FileStore) {
	tb.Helper()
	db, files, err := storage.OpenAt(context.Background(), l)
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close test database: %v", err)
		}
	})
	return db, files
}

// Rig is an engine over a fresh test database, configured from the example
// configuration the config package tests (config/testdata/example.yaml),
// with a manual clock at Monday 2026-11-30 10:00 in the company's time
// zone.
type Rig struct {
	DB     *storage.DB
	Files  flows.FileStore
	Config *config.Config
	Dir    *flows.Directory
	Clock  *flowstest.Clock
	Engine *flows.Engine
}

// NewRig builds a Rig. With workingTime, deadlines and reminders follow the
// configured calendar; without, the engine runs without one.
func NewRig(tb testing.TB, workingTime bool) *Rig {
	tb.Helper()
	return NewRigAt(tb, NewLocation(tb), workingTime)
}

// NewRigAt builds a Rig on the database at loc.
func NewRigAt(tb testing.TB, loc storage.Location, workingTime bool) *Rig {
	tb.Helper()
	db, files := OpenAt(tb, loc)
	// The example lives beside the config package, found from this file
	// so that a test in any package can use it.
	_, here, _, _ := runtime.Caller(0)
	cfg, err := config.Load(filepath.Join(filepath.Dir(here), "..", "..", "config", "testdata", "example.yaml"))
	if err != nil {
		tb.Fatalf("load example configuration: %v", err)
	}
	dir, err := cfg.Directory()
	if err != nil {
		tb.Fatalf("directory of the example configuration: %v", err)
	}
	var cal flows.Calendar // a nil *calendar.Calendar would not be a nil interface
	if workingTime {
		wc, err := cfg.WorkCalendar()
		if err != nil {
			tb.Fatalf("calendar of the example configuration: %v", err)
		}
		cal = wc
	}
	clock := flowstest.NewClock(time.Date(2026, 11, 30, 10, 0, 0, 0, dir.Location))
	return &Rig{DB: db, Files: files, Config: cfg, Dir: dir, Clock: clock, Engine: flows.NewEngine(db, files, clock, cal, dir)}
}
