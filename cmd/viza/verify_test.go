package main

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
	code, out := verify()
	if code != 0 || !strings.Contains(out, "keyed from event 1 on") {
		t.Fatalf("intact record: exit %d\n%s", code, out)
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
