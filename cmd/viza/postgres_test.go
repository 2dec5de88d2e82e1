package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/storage/storagetest"
)

// TestMain runs the package's tests — the whole service, its channels'
// scenarios and the SIGKILL tests of the real binary — on PostgreSQL when
// VIZA_TEST_BACKEND=postgres: each data folder gets a schema of its own
// (the same one whenever it is opened again, by this process or a child),
// and the replicas share one audit key, as on PostgreSQL they must.
func TestMain(m *testing.M) {
	pdfChild(os.Stdin, os.Stdout, os.Stderr) // the service's PDF reader is this binary too
	// Every test's service compiles PDFium once between them, not each.
	if os.Getenv(pdfiumCacheEnv) == "" {
		os.Setenv(pdfiumCacheEnv, filepath.Join(os.TempDir(), "viza-test-pdfium-cache"))
	}
	if !storagetest.Postgres() {
		os.Exit(m.Run())
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	os.Setenv(AuditKeyEnv, hex.EncodeToString(key))
	databaseURL = func(cfg *config.Config) (string, error) {
		if u, err := cfg.DatabaseURL(); err != nil || u != "" {
			return u, err
		}
		return schemas.of(cfg.DataDir)
	}
	code := m.Run()
	if err := schemas.dropAll(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// schemaMap gives each data folder its schema.
type schemaMap struct {
	mu    sync.Mutex
	urls  map[string]string
	drops []func() error
}

var schemas = &schemaMap{urls: map[string]string{}}

func (s *schemaMap) of(dataDir string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.urls[dataDir]; ok {
		return u, nil
	}
	u, drop, err := storagetest.CreateSchema()
	if err != nil {
		return "", err
	}
	s.urls[dataDir], s.drops = u, append(s.drops, drop)
	return u, nil
}

func (s *schemaMap) dropAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, drop := range s.drops {
		if err := drop(); err != nil {
			return err
		}
	}
	return nil
}

// childDatabase is the environment a child process of the binary needs to
// find the database its parent's test prepared.
func childDatabase(t *testing.T, cfgPath string) []string {
	t.Helper()
	if !storagetest.Postgres() {
		return nil
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	u, err := databaseURL(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"VIZA_DATABASE_URL=" + u}
}

// onSQLite runs the rest of a test on SQLite whatever the backend: it is
// about SQLite itself (its file, its backup), or moves from it.
func onSQLite(t *testing.T) {
	t.Helper()
	was := databaseURL
	databaseURL = (*config.Config).DatabaseURL
	t.Cleanup(func() { databaseURL = was })
	t.Setenv(AuditKeyEnv, "") // the key file beside the database, as SQLite companies have it
}
