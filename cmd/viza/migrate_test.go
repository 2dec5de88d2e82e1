package main

import (
	"bytes"
	"context"
	neturl "net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage/storagetest"
)

// TestMigrateToPostgres moves a company's SQLite record to PostgreSQL with
// the CLI, which verifies the copy; `viza verify` then passes on it, and
// the same command refuses a second copy.
func TestMigrateToPostgres(t *testing.T) {
	if !storagetest.Postgres() {
		t.Skip("needs PostgreSQL (VIZA_TEST_BACKEND=postgres)")
	}
	onSQLite(t) // the company to move
	ctx := context.Background()
	cfg, path := testConfig(t)
	m, err := OpenStorage(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.useAuditKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	for i, title := range []string{"Поставка бумаги", "Аренда склада"} {
		out, err := m.Engine.Start(ctx, flows.StartCmd{Key: title, Actor: "ivanova", TypeID: "contract", Title: title,
			File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF-1.4 " + title)}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			d, _ := m.DB.Document(ctx, out.DocID)
			tk := d.OpenTasks()[0]
			if _, err := m.Engine.Decide(ctx, flows.DecideCmd{Key: "d", Actor: tk.Assignee, TaskID: tk.ID, Action: flows.ActionReject, Comment: "нет"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := m.DB.Close(); err != nil {
		t.Fatal(err)
	}
	// A password in the URL (trust authentication ignores it) must not be
	// printed.
	u, err := neturl.Parse(storagetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = neturl.UserPassword(u.User.Username(), "s3cret-pw")
	url := u.String()

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"migrate", "-config", path, "--to", url}, &stdout, &stderr); code != 0 {
		t.Fatalf("migrate = %d: %s %s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"documents: 2", "files: 2", "перенесено в", "цепочка аудита цела"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("migrate said %q, want %q in it", stdout.String(), want)
		}
	}
	if strings.Contains(stdout.String(), "s3cret-pw") {
		t.Fatal("the URL is shown with its password")
	}
	// The service's configuration pointed at the copy.
	t.Setenv("VIZA_DATABASE_URL", url)
	stdout.Reset()
	if code := run(ctx, []string{"verify", "-config", path, "-lang", "en"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "audit chain intact") {
		t.Fatalf("verify on the copy = %d %q %s", code, stdout.String(), stderr.String())
	}
	stderr.Reset()
	if code := run(ctx, []string{"migrate", "-config", path}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "уже есть документы") {
		t.Fatalf("a second migrate = %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(ctx, []string{"backup", "-config", path, filepath.Join(t.TempDir(), "b.db")}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "pg_dump") {
		t.Fatalf("backup on PostgreSQL = %d %q", code, stderr.String())
	}
	stderr.Reset()
	missing := filepath.Join(t.TempDir(), "none.db")
	if code := run(ctx, []string{"migrate", "-config", path, "--from", missing}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "базы "+missing+" нет") {
		t.Fatalf("migrate from nothing = %d %q", code, stderr.String())
	}
}
