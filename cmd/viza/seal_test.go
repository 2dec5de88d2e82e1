package main

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

// TestDeletingTheSealIsRefused: the service seals a new database and
// keeps a marker beside its key. Someone with write access to the file
// but no key deletes the seal row: the service refuses to start, verify
// exits non-zero saying seal_missing, and viza seal refuses to seal it
// again, since the marker says it was sealed. A database from before
// audit keys (no marker) is sealed once with viza seal, knowingly.
func TestDeletingTheSealIsRefused(t *testing.T) {
	onSQLite(t) // it edits the SQLite file as an attacker would
	cfg, path := testConfig(t)
	m, err := NewMain(context.Background(), cfg, path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Engine.Start(context.Background(), flows.StartCmd{Key: "s:1", Actor: "ivanova", TypeID: "contract", Title: "Печать",
		File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF-1.4 s")}}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	marker := filepath.Join(cfg.DataDir, "audit.key.sealed")
	if b, err := os.ReadFile(marker); err != nil || !strings.Contains(string(b), `"from":1`) {
		t.Fatalf("the marker beside the key: %q %v", b, err)
	}
	cmd := func(args ...string) (int, string) {
		var stdout, stderr strings.Builder
		code := run(context.Background(), append(args, "-config", path, "-lang", "en"), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, out := cmd("verify"); code != 0 {
		t.Fatalf("intact: exit %d\n%s", code, out)
	}
	raw, err := sql.Open("sqlite", filepath.Join(cfg.DataDir, "viza.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM channel_state WHERE channel = 'audit' AND key = 'seal'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	cfg2, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := NewMain(context.Background(), cfg2, path, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "seal_missing") {
		if m != nil {
			m.Close()
		}
		t.Fatalf("the service started on a chain whose seal was deleted: %v", err)
	}
	if code, out := cmd("verify"); code == 0 || !strings.Contains(out, "seal_missing") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	if code, out := cmd("seal"); code == 0 || !strings.Contains(out, "was removed") {
		t.Fatalf("viza seal with the marker: exit %d\n%s", code, out)
	}
	// A database from before keys: events written plain, a key given
	// later, no marker. Refused until sealed knowingly, once.
	cfgOld, pathOld := testConfig(t)
	old, err := OpenStorage(context.Background(), cfgOld)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Engine.Start(context.Background(), flows.StartCmd{Key: "s:2", Actor: "ivanova", TypeID: "contract", Title: "Старая",
		File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF-1.4 o")}}); err != nil {
		t.Fatal(err)
	}
	old.DB.Close()
	os.WriteFile(filepath.Join(cfgOld.DataDir, "audit.key"), []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	path = pathOld
	if code, out := cmd("verify"); code == 0 || !strings.Contains(out, "viza seal") {
		t.Fatalf("an old database with a new key: exit %d\n%s", code, out)
	}
	if code, out := cmd("seal"); code != 0 || !strings.Contains(out, "keyed from event") {
		t.Fatalf("viza seal: exit %d\n%s", code, out)
	}
	if code, out := cmd("verify"); code != 0 || !strings.Contains(out, "audit chain intact") {
		t.Fatalf("verify after the seal: exit %d\n%s", code, out)
	}
}

// TestSubscriptionWithinItsKeysTypes: a subscription made for a connector
// key restricted to some document types gets those, and one that asks for
// more than the key may see is refused.
func TestSubscriptionWithinItsKeysTypes(t *testing.T) {
	cfg, _ := testConfig(t)
	m, err := OpenStorage(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.DB.Close()
	ctx := context.Background()
	if _, _, err := m.DB.CreateAPIKey(ctx, "crm", "read", []string{"contract"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.DB.CreateAPIKey(ctx, "erp", "read", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hook config.Webhook
		want string // the types, or the error's words
	}{
		{config.Webhook{APIKey: "crm"}, "contract"},
		{config.Webhook{APIKey: "crm", Types: []string{"contract"}}, "contract"},
		{config.Webhook{APIKey: "crm", Types: []string{"memo"}}, "more than the key"},
		{config.Webhook{APIKey: "erp", Types: []string{"memo"}}, "memo"},
		{config.Webhook{Types: []string{"memo"}}, "memo"},
		{config.Webhook{APIKey: "nobody"}, "no connector key"},
	} {
		types, err := m.subscriptionTypes(ctx, tc.hook)
		got := strings.Join(types, ",")
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.hook, got, tc.want)
		}
	}
}
