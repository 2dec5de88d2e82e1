package storage

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

// databaseAt makes a database with the first n migrations applied.
func databaseAt(t *testing.T, n int) (*sql.DB, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "viza.db")
	db, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, err := migrationNames(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:n] {
		v, _ := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		body, _ := migrationFS.ReadFile(name)
		if err := applyMigration(ctx, db, v, string(body), false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return db, path
}

// reopen closes a database filled at an older migration and opens it as
// the service does, applying the rest.
func reopen(t *testing.T, old *sql.DB, path string) *DB {
	t.Helper()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

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
			db, _ := databaseAt(t, 3)
			for i := 1; i <= tc.rows; i++ {
				if _, err := db.ExecContext(ctx, `INSERT INTO notifications(recipient, kind, doc_id, payload, created_at, fanned_out)
					VALUES ('p', 'k', 1, '{}', 0, ?)`, i <= tc.fannedUpTo); err != nil {
					t.Fatal(err)
				}
			}
			if err := migrate(ctx, db, false); err != nil {
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

// TestLeanDecisionMigration fills a database at migration 4 — audit events
// of two documents interleaved, open and closed tasks — applies the rest,
// and checks that each document's history, the open tasks, the documents
// of closed tasks and the chain all read as before, and that new events
// extend the right lists.
func TestLeanDecisionMigration(t *testing.T) {
	ctx := context.Background()
	old, path := databaseAt(t, 4)
	for _, doc := range []int64{1, 2} {
		if _, err := old.ExecContext(ctx, `INSERT INTO documents(id, number, type, title, initiator, state, created_at, updated_at, body)
			VALUES (?, ?, 't', 'x', 'a', 'in_approval', 0, 0, '{}')`, doc, fmt.Sprint("N-", doc)); err != nil {
			t.Fatal(err)
		}
	}
	prev := ""
	for i, doc := range []int64{1, 2, 2, 1, 1} {
		c := auditContent{DocID: doc, Kind: "k", Detail: fmt.Sprint("e", i+1)}
		h, err := chainHash(prev, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO audit(doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, prev_hash, hash)
			VALUES (?, 0, '', '', 'k', 0, 0, ?, ?, ?)`, doc, c.Detail, prev, h); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	for _, tk := range []struct {
		id, doc  int64
		assignee string
		state    string
	}{{10, 1, "anna", "open"}, {11, 1, "boris", "approved"}, {12, 2, "anna", "open"}, {13, 2, "boris", "open"}} {
		if _, err := old.ExecContext(ctx, `INSERT INTO tasks(id, doc_id, round, stage, kind, assignee, state, opened_at, due_at)
			VALUES (?, ?, 1, 0, 'approve', ?, ?, 0, ?)`, tk.id, tk.doc, tk.assignee, tk.state, tk.id*1000); err != nil {
			t.Fatal(err)
		}
	}
	db := reopen(t, old, path)
	_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: 2, Kind: "k", Detail: "e6"}}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	for doc, want := range map[int64]string{1: "e1 e4 e5", 2: "e2 e3 e6"} {
		events, err := db.DocumentEvents(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			got = append(got, e.Detail)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("document %d: events %v, want %s", doc, got, want)
		}
	}
	if rep, err := db.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 || rep.Events != 6 {
		t.Errorf("chain after migration: %+v %v", rep, err)
	}
	for person, want := range map[flows.PersonID][]int64{"anna": {10, 12}, "boris": {13}} {
		open, err := db.OpenTasksOf(ctx, person)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, ot := range open {
			got = append(got, ot.ID)
			if ot.Due.UnixNano() != ot.ID*1000 {
				t.Errorf("task %d: due %v lost", ot.ID, ot.Due)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("open tasks of %s = %v, want %v", person, got, want)
		}
	}
	if d, err := db.DocumentOfTask(ctx, 11); err != nil || d.ID != 1 {
		t.Errorf("document of the closed task 11: %v, %v", d, err)
	}
}

// TestInboundColumnsMigration: keys stored with their outcome as JSON still
// answer with that outcome after the move to columns.
func TestInboundColumnsMigration(t *testing.T) {
	ctx := context.Background()
	old, path := databaseAt(t, 5)
	for key, outcome := range map[string]string{
		"telegram:1": `{"doc_id":7,"number":"Д-2026-0007","state":"in_approval","task_id":31,"round":2,"version":3}`,
		"web:a:n":    `{}`,
	} {
		if _, err := old.ExecContext(ctx, `INSERT INTO inbound(key, outcome, at) VALUES (?, ?, 1)`, key, outcome); err != nil {
			t.Fatal(err)
		}
	}
	db := reopen(t, old, path)
	for key, want := range map[string]flows.Outcome{
		"telegram:1": {DocID: 7, Number: "Д-2026-0007", State: "in_approval", TaskID: 31, Round: 2, Version: 3, Repeated: true},
		"web:a:n":    {Repeated: true},
	} {
		got, err := db.Write(ctx, key, func(flows.Tx) (flows.Outcome, error) {
			t.Errorf("%s: a known key ran its command again", key)
			return flows.Outcome{}, nil
		})
		if err != nil || got != want {
			t.Errorf("%s: outcome %+v, %v; want %+v", key, got, err, want)
		}
	}
}

// exampleDB opens a SQLite database with the example company's engine
// over it, and returns the file's path for raw SQL beside the writer.
func exampleDB(t *testing.T) (*DB, *flows.Engine, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "viza.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg, err := config.Load("../config/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := cfg.Directory()
	return db, flows.NewEngine(db, Files{Dir: filepath.Join(t.TempDir(), "files")}, flows.SystemClock{}, nil, dir), path
}

// TestReadersBackfill: the migration's Go step makes the readers index of
// documents written before it, from their bodies.
func TestReadersBackfill(t *testing.T) {
	ctx := context.Background()
	_, eng, path := exampleDB(t)
	for i, approvers := range [][]flows.PersonID{{"petrov"}, {"sidorov", "director"}, {"kuznetsova"}} {
		if _, err := eng.Start(ctx, flows.StartCmd{Key: fmt.Sprint(i), Actor: "ivanova", TypeID: "memo", Title: "m", Approvers: approvers,
			File: flows.Upload{Name: "m.pdf", Content: strings.NewReader(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	indexed := func() []string {
		rows, err := raw.QueryContext(ctx, `SELECT person || '@' || doc_id FROM readers ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		return out
	}
	want := indexed()
	if len(want) != 3+4 { // ivanova in each, and the approvers
		t.Fatalf("the writer indexed %v", want)
	}
	if _, err := raw.ExecContext(ctx, `DELETE FROM readers`); err != nil {
		t.Fatal(err)
	}
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := backfillReaders(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := indexed(); !slices.Equal(got, want) {
		t.Errorf("backfilled %v, want %v", got, want)
	}
}

// TestFactsBackfill: the backfill writes analytics' rows of the documents
// made before the tables existed, the same rows the writer writes, once.
func TestFactsBackfill(t *testing.T) {
	ctx := context.Background()
	db, eng, path := exampleDB(t)
	for i, approver := range []flows.PersonID{"petrov", "sidorov", "kuznetsova"} {
		out, err := eng.Start(ctx, flows.StartCmd{Key: fmt.Sprint(i), Actor: "ivanova", TypeID: "memo", Title: "m", Approvers: []flows.PersonID{approver},
			File: flows.Upload{Name: "m.pdf", Content: strings.NewReader(fmt.Sprint(i))}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			d, _ := db.Document(ctx, out.DocID)
			if _, err := eng.Decide(ctx, flows.DecideCmd{Key: "d", Actor: "petrov", TaskID: d.OpenTasks()[0].ID, Action: flows.ActionReject,
				Comment: "нет"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	dump := func() []string {
		var out []string
		for _, q := range []string{`SELECT id || ' ' || doc_id || ' ' || holder || ' ' || state || ' ' || COALESCE(closed_at, 0) || ' ' || COALESCE(work_min, -1) FROM task_facts ORDER BY id`,
			`SELECT doc_id || ' ' || state || ' ' || rounds || ' ' || rejected || ' ' || started_at FROM doc_facts ORDER BY doc_id`} {
			rows, err := raw.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				rows.Scan(&s)
				out = append(out, s)
			}
			rows.Close()
		}
		return out
	}
	want := dump()
	if len(want) != 3+3 || !strings.Contains(strings.Join(want, "\n"), " rejected ") {
		t.Fatalf("the writer wrote %v", want)
	}
	if _, err := raw.ExecContext(ctx, `DELETE FROM task_facts; DELETE FROM doc_facts`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.BackfillFacts(ctx); err != nil || n != 3 {
		t.Fatalf("backfilled %d documents, %v", n, err)
	}
	if got := dump(); !slices.Equal(got, want) {
		t.Errorf("backfilled\n%v\nwant\n%v", got, want)
	}
	// Once: a second call does nothing, even with the rows gone.
	if _, err := raw.ExecContext(ctx, `DELETE FROM task_facts`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.BackfillFacts(ctx); err != nil || n != 0 {
		t.Fatalf("a second backfill took %d documents, %v", n, err)
	}
}
