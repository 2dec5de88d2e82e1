package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage/storagetest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testConfig(t *testing.T) (*config.Config, string) {
	t.Helper()
	src, err := os.ReadFile("../../config/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	body := strings.Replace(string(src), "data_dir: ./data", "data_dir: "+filepath.Join(dir, "data"), 1) +
		"http: {listen: \"127.0.0.1:0\"}\n"
	path := filepath.Join(dir, "viza.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// TestServeEndToEnd starts the wired service, starts a document through the
// engine and sees the notification leave through the log channel; then it
// shuts down, verifies the chain and makes a backup with the CLI.
func TestServeEndToEnd(t *testing.T) {
	cfg, path := testConfig(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMain(ctx, cfg, path, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	base := "http://" + m.Listener.Addr().String()
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s = %d", p, resp.StatusCode)
		}
	}
	out, err := m.Engine.Start(ctx, flows.StartCmd{Key: "t:1", Actor: "ivanova", TypeID: "contract", Title: "Поставка",
		File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF-1.4 test")}})
	if err != nil {
		t.Fatal(err)
	}
	// Both lawyers get the task, each in their own language; the log lines
	// come one delivery at a time, so wait for petrov's.
	if !tgfake.Until(5*time.Second, func() bool {
		return strings.Contains(logs.String(), `"kind":"task_assigned"`) && strings.Contains(logs.String(), "Legal review")
	}) {
		t.Fatalf("petrov (en) should get the English text; logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), out.Number) {
		t.Fatalf("the notification does not name %s; logs:\n%s", out.Number, logs.String())
	}
	m.Reload()
	if !strings.Contains(logs.String(), "configuration reloaded") {
		t.Fatalf("reload: %s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"verify", "-config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("verify = %d: %s %s", code, stdout.String(), stderr.String())
	}
	// The company speaks Russian; -lang overrides.
	if !strings.Contains(stdout.String(), "цепочка аудита цела") || !strings.Contains(stdout.String(), "целостность базы: ok") {
		t.Fatalf("verify said %q", stdout.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"verify", "-config", path, "-lang", "en"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "audit chain intact") || !strings.Contains(stdout.String(), "database integrity: ok") {
		t.Fatalf("verify -lang en = %d %q", code, stdout.String())
	}
	// The sheet, the registry, and a printed sheet checked against the record.
	outDir := t.TempDir()
	for _, args := range [][]string{
		{"sheet", out.Number, "-config", path, "-o", filepath.Join(outDir, "s.pdf")},
		{"sheet", out.Number, "-config", path, "-lang", "en", "-o", filepath.Join(outDir, "s.en.pdf")},
		{"export", "-config", path, "-o", filepath.Join(outDir, "r.xlsx")},
		{"export", "-config", path, "--csv", "-o", filepath.Join(outDir, "r.csv")},
	} {
		stderr.Reset()
		if code := run(context.Background(), args, io.Discard, &stderr); code != 0 {
			t.Fatalf("%v = %d: %s", args, code, stderr.String())
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outDir, "s.pdf")); !bytes.HasPrefix(b, []byte("%PDF")) {
		t.Fatal("sheet is not a PDF")
	}
	if b, _ := os.ReadFile(filepath.Join(outDir, "r.csv")); !strings.Contains(string(b), out.Number) {
		t.Fatalf("csv = %s", b)
	}
	if code := run(context.Background(), []string{"sheet", "НЕТ-1", "-config", path, "-o", filepath.Join(outDir, "x.pdf")}, io.Discard, &stderr); code != 1 {
		t.Fatal("a sheet of a missing document must fail")
	}
	m2, err := OpenStorage(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	events, _ := m2.DB.DocumentEvents(context.Background(), out.DocID)
	m2.DB.Close()
	for _, tc := range []struct {
		hash string
		lang string
		code int
		want string
	}{
		{events[len(events)-1].Hash, "en", 0, "OK: the record of " + out.Number},
		{events[len(events)-1].Hash, "", 0, "ВЕРНО: запись о " + out.Number},
		{events[0].Hash, "en", 1, "CHANGED: " + out.Number},
		{events[0].Hash, "", 1, "ИЗМЕНЕНО: у " + out.Number},
		{strings.Repeat("0", 64), "en", 1, "MISMATCH:"},
	} {
		stdout.Reset()
		args := []string{"verify", "-config", path, "--doc", out.Number, "--hash", tc.hash}
		if tc.lang != "" {
			args = append(args, "-lang", tc.lang)
		}
		if code := run(context.Background(), args, &stdout, &stderr); code != tc.code || !strings.Contains(stdout.String(), tc.want) {
			t.Fatalf("verify --doc = %d %q, want %d %q", code, stdout.String(), tc.code, tc.want)
		}
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if storagetest.Postgres() {
		stderr.Reset()
		if code := run(context.Background(), []string{"backup", "-config", path, backup}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "pg_dump") {
			t.Fatalf("backup on PostgreSQL = %d: %s", code, stderr.String())
		}
		return
	}
	if code := run(context.Background(), []string{"backup", "-config", path, backup}, io.Discard, &stderr); code != 0 {
		t.Fatalf("backup = %d: %s", code, stderr.String())
	}
	if st, err := os.Stat(backup); err != nil || st.Size() == 0 {
		t.Fatalf("backup file: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	_, path := testConfig(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check-config", "-config", path}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "конфигурация в порядке: людей — 5, типов документов — 2") {
		t.Fatalf("good config: %d %q %s", code, out.String(), errOut.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("company: X\npeople:\n  - {id: a, name: A, manager: b}\n  - {id: a, name: A2}\n"), 0o600)
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"check-config", "-config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("bad config accepted: %d", code)
	}
	for _, want := range []string{"bad.yaml:3:", "bad.yaml:4:", `no person "b"`, "duplicate person id"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("missing %q in %s", want, errOut.String())
		}
	}
	if code := run(context.Background(), []string{"check-config", "--demo"}, &out, &errOut); code != 0 {
		t.Fatalf("demo config: %s", errOut.String())
	}
	if code := run(context.Background(), []string{"version"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "viza ") {
		t.Fatal("version")
	}
	if code := run(context.Background(), []string{"nonsense"}, &out, &errOut); code != 2 {
		t.Fatal("unknown command must exit 2")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
