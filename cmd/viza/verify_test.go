package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

// TestVerifyTamperedRecord: the service keys the audit chain with a key it
// keeps beside the database; `viza verify` finds an event edited in the
// file, says which, and exits non-zero; without the key it says it cannot
// check the keyed part; --head prints the anchor the log also carries.
func TestVerifyTamperedRecord(t *testing.T) {
	onSQLite(t) // it edits the SQLite file as an attacker would; storage tests do the same on PostgreSQL
	cfg, path := testConfig(t)
	logs := &syncBuffer{}
	m, err := NewMain(context.Background(), cfg, path, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Engine.Start(context.Background(), flows.StartCmd{Key: "v:1", Actor: "ivanova", TypeID: "contract", Title: "Поставка",
		File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF-1.4 v")}}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	verify := func(args ...string) (int, string) {
		var stdout, stderr strings.Builder
		code := run(context.Background(), append([]string{"verify", "-config", path, "-lang", "en"}, args...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, out := verify("--since-checkpoint"); code != 1 || !strings.Contains(out, "no checkpoint yet") {
		t.Fatalf("--since-checkpoint before a full run: exit %d\n%s", code, out)
	}
	code, out := verify()
	if code != 0 || !strings.Contains(out, "keyed from event 1 on") {
		t.Fatalf("intact record: exit %d\n%s", code, out)
	}
	if code, out := verify("--since-checkpoint"); code != 0 || !strings.Contains(out, "intact after the checkpoint at event") ||
		!strings.Contains(out, ": 0 new events") || !strings.Contains(out, "not checked by --since-checkpoint") {
		t.Fatalf("--since-checkpoint after a full run: exit %d\n%s", code, out)
	}
	code, anchor := verify("--head")
	if code != 0 || !regexp.MustCompile(`^\d+:[0-9a-f]{64}\n$`).MatchString(anchor) {
		t.Fatalf("--head: exit %d %q", code, anchor)
	}
	raw, err := sql.Open("sqlite", filepath.Join(cfg.DataDir, "viza.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET actor = 'mallory' WHERE id = 1`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	code, out = verify()
	if code == 0 || !strings.Contains(out, "BROKEN at audit event 1") || !strings.Contains(out, "the content does not match its hash") {
		t.Fatalf("tampered record: exit %d\n%s", code, out)
	}
	if err := os.Rename(filepath.Join(cfg.DataDir, "audit.key"), filepath.Join(t.TempDir(), "audit.key")); err != nil {
		t.Fatal(err)
	}
	code, out = verify()
	if code == 0 || !strings.Contains(out, "the key is not available") {
		t.Fatalf("without the key: exit %d\n%s", code, out)
	}
	if !strings.Contains(logs.String(), `"msg":"audit key made beside the database`) {
		t.Fatalf("the new key was not announced:\n%s", logs.String())
	}
}

// TestMetricsAccess: /metrics can be kept off the public address, and
// behind a bearer token.
func TestMetricsAccess(t *testing.T) {
	t.Setenv("VIZA_METRICS_TOKEN", "metrics-token-123")
	dir := t.TempDir()
	path := filepath.Join(dir, "viza.yaml")
	body := strings.Replace(chattest.Config(filepath.Join(dir, "data"), func(flows.PersonID) string { return "" }, ""),
		`http: {listen: "127.0.0.1:0"}`, `http: {listen: "127.0.0.1:0", metrics_listen: "127.0.0.1:0"}`, 1)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMain(ctx, cfg, path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done; m.Close() }()
	get := func(addr, token string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		var resp *http.Response
		if !until(func() bool { resp, err = http.DefaultClient.Do(req); return err == nil }) {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	public, private := m.Listener.Addr().String(), m.metricsListener.Addr().String()
	if code := get(public, "metrics-token-123"); code == http.StatusOK {
		t.Fatal("/metrics is served on the public address")
	}
	if code := get(private, ""); code != http.StatusUnauthorized {
		t.Fatalf("without the token = %d", code)
	}
	if code := get(private, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong token = %d", code)
	}
	if code := get(private, "metrics-token-123"); code != http.StatusOK {
		t.Fatalf("with the token = %d", code)
	}
}

// TestCommandLine: help exits 0 and lists every command; each command
// takes only its own flags, before or after its argument; an unknown
// command or language says so; usage follows the locale.
func TestCommandLine(t *testing.T) {
	cli := func(args ...string) (int, string) {
		var out strings.Builder
		code := run(context.Background(), args, &out, &out)
		return code, out.String()
	}
	t.Setenv("VIZA_LANG", "en")
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out := cli(args...)
		if code != 0 || !strings.Contains(out, "bitrix24 users") || !strings.Contains(out, "sheet NUMBER") {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	code, out := cli("serve", "--help")
	if code != 0 || !strings.Contains(out, "-demo") || strings.Contains(out, "-csv") || strings.Contains(out, "-hash") {
		t.Fatalf("serve --help lists other commands' flags: exit %d\n%s", code, out)
	}
	if code, out := cli("frobnicate"); code != 2 || !strings.Contains(out, "unknown command “frobnicate”") {
		t.Fatalf("unknown command: exit %d\n%s", code, out)
	}
	if code, out := cli("export", "--csv", "--head"); code != 2 || !strings.Contains(out, "-head") {
		t.Fatalf("a flag of another command: exit %d\n%s", code, out)
	}
	if code, out := cli("sheet", "Д-1", "-o", "x.pdf", "-lang", "de"); code != 2 || !strings.Contains(out, "unknown language “de”") {
		t.Fatalf("-lang de: exit %d\n%s", code, out)
	}
	if code, out := cli("sheet", "-o", "x.pdf"); code != 2 || !strings.Contains(out, "usage: viza sheet NUMBER") {
		t.Fatalf("sheet without its number: exit %d\n%s", code, out)
	}
	t.Setenv("VIZA_LANG", "ru")
	if code, out := cli("help", "verify"); code != 0 || !strings.Contains(out, "цепочку аудита") || !strings.Contains(out, "-head") ||
		!strings.Contains(out, "viza verify --doc NUMBER --hash HASH") || !strings.Contains(out, "viza verify --since-checkpoint") {
		t.Fatalf("help verify in Russian: exit %d\n%s", code, out)
	}
	// Flags after the argument count as well as before it.
	onSQLite(t) // backup is SQLite's
	_, path := testConfig(t)
	outDir := t.TempDir()
	if code, out := cli("backup", filepath.Join(outDir, "b.db"), "-config", path); code != 0 {
		t.Fatalf("backup with -config after the file: exit %d\n%s", code, out)
	}
}

// TestCommandLineErrors: every mistake a person makes at the command line
// gets a message in their language that says what to do, and nothing is
// overwritten or half-done.
func TestCommandLineErrors(t *testing.T) {
	t.Setenv("VIZA_LANG", "ru")
	t.Setenv("VIZA_CONFIG", "")
	_, path := testConfig(t)
	dir := t.TempDir()
	file := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	existing := file("old.csv", "keep me")
	badIndent := file("indent.yaml", "language: ru\npeople:\n  - id: a\n    name: A\n   title: B\n")
	twoProblems := file("two.yaml", "company: ООО Тест\nlanguage: ru\nfoo: 1\nbar: 2\n")
	oneProblem := file("one.yaml", "company: ООО Тест\nlanguage: ru\nfoo: 1\n")
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		want      []string
		forbidden []string
	}{
		{"demo with a config", []string{"serve", "--demo", "-config", path}, 2, []string{"--demo и -config", "Уберите один"}, nil},
		{"doc without hash", []string{"verify", "--doc", "Д-1", "-config", path}, 2, []string{"--doc НОМЕР и --hash ХЕШ"}, nil},
		{"hash without doc", []string{"verify", "--hash", "abc", "-config", path}, 2, []string{"--doc НОМЕР и --hash ХЕШ"}, nil},
		{"unknown document", []string{"sheet", "НЕТ-1", "-config", path, "-o", filepath.Join(dir, "x.pdf")}, 1, []string{"нет документа НЕТ-1"}, []string{"sql", "SELECT", "not_found"}},
		{"unknown person", []string{"login-link", "nobody", "-config", path}, 1, []string{"«nobody»", "viza check-config"}, []string{"unknown_person"}},
		{"export over a file", []string{"export", "--csv", "-o", existing, "-config", path}, 1, []string{"уже есть", "-f"}, nil},
		{"one problem", []string{"check-config", "-config", oneProblem}, 1, []string{"1 проблема:", "неизвестный ключ «foo»"}, []string{"problem(s)", "unknown key"}},
		{"two problems", []string{"check-config", "-config", twoProblems}, 1, []string{"2 проблемы:", "two.yaml:3", "two.yaml:4"}, nil},
		{"indentation", []string{"check-config", "-config", badIndent}, 1, []string{"indent.yaml:5:", "отступ этой строки"}, nil},
		{"no config", []string{"check-config"}, 1, []string{"нет конфигурации", "--demo"}, nil},
		{"language", []string{"check-config", "--demo", "-lang", "de"}, 2, []string{"«de»", "ru или en"}, nil},
		{"unknown flag", []string{"sheet", "Д-1", "--bogus"}, 2, []string{"у этой команды нет флага -bogus", "использование: viza sheet"}, []string{"flag provided"}},
		{"flag without its value", []string{"export", "-o"}, 2, []string{"флагу -o нужно значение"}, []string{"flag needs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			code := run(context.Background(), tc.args, &out, &out)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, f := range tc.forbidden {
				if strings.Contains(out.String(), f) {
					t.Errorf("output shows %q:\n%s", f, out.String())
				}
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatalf("export overwrote the file without -f: %q", b)
	}
	var out strings.Builder
	if code := run(context.Background(), []string{"export", "--csv", "-f", "-o", existing, "-config", path}, &out, &out); code != 0 {
		t.Fatalf("export -f: exit %d\n%s", code, out.String())
	}
}

// TestServeListenOverride: VIZA_HTTP_LISTEN moves the web server off the
// configured address (make run on a machine where 8080 is taken).
func TestServeListenOverride(t *testing.T) {
	_, path := testConfig(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("VIZA_HTTP_LISTEN", addr)
	ctx, cancel := context.WithCancel(context.Background())
	// The listener is bound before "viza started" is logged.
	started := &watch{want: "viza started", seen: make(chan struct{})}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "-config", path}, io.Discard, started) }()
	select {
	case <-started.seen:
	case code := <-done:
		cancel()
		t.Fatalf("serve ended with %d before it started", code)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		cancel()
		t.Fatalf("nothing listens on %s: %v", addr, err)
	}
	resp.Body.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d", code)
	}
}

// watch is a log writer that closes seen once the output holds want.
type watch struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}
