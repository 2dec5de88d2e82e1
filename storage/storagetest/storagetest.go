// Package storagetest opens real SQLite databases in temporary folders for
// tests: the same pragmas, migrations and writer as production.
package storagetest

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/flows/flowstest"
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

// Rig is an engine over a fresh test database, configured from the example
// configuration the config package tests (config/testdata/example.yaml),
// with a manual clock at Monday 2026-11-30 10:00 in the company's time
// zone.
type Rig struct {
	DB     *storage.DB
	Files  storage.Files
	Config *config.Config
	Dir    *flows.Directory
	Clock  *flowstest.Clock
	Engine *flows.Engine
}

// NewRig builds a Rig. With workingTime, deadlines and reminders follow the
// configured calendar; without, the engine runs without one.
func NewRig(tb testing.TB, workingTime bool) *Rig {
	tb.Helper()
	db, files := Open(tb)
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
