package storage

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFanOutMarkMigration brings a database to migration 3 with some
// notifications fanned out and some not, applies the rest, and checks that
// the new mark leaves exactly the pending ones to fan out.
func TestFanOutMarkMigration(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows       int
		fannedUpTo int // rows 1..fannedUpTo were fanned out under the old flag
		wantMark   int64
	}{
		{name: "some pending", rows: 5, fannedUpTo: 3, wantMark: 3},
		{name: "none pending", rows: 4, fannedUpTo: 4, wantMark: 4},
		{name: "all pending", rows: 2, fannedUpTo: 0, wantMark: 0},
		{name: "no notifications", rows: 0, fannedUpTo: 0, wantMark: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "viza.db")
			db, err := sql.Open("sqlite", DSN(path, false))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			names, err := migrationNames()
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range names[:3] {
				n, _ := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
				body, _ := migrationFS.ReadFile(name)
				if err := applyMigration(ctx, db, n, string(body)); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			for i := 1; i <= tc.rows; i++ {
				if _, err := db.ExecContext(ctx, `INSERT INTO notifications(recipient, kind, doc_id, payload, created_at, fanned_out)
					VALUES ('p', 'k', 1, '{}', 0, ?)`, i <= tc.fannedUpTo); err != nil {
					t.Fatal(err)
				}
			}
			if err := migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			var mark int64
			if err := db.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'fanned_out'`).Scan(&mark); err != nil {
				t.Fatal(err)
			}
			if mark != tc.wantMark {
				t.Errorf("mark = %d, want %d", mark, tc.wantMark)
			}
		})
	}
}
