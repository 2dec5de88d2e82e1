package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

func TestMigrateTwice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "viza.db")
	for i := range 2 {
		db, err := storage.Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteFailureRollsBackOnlyThatCommand(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	_, err := db.Write(ctx, "k1", func(tx flows.Tx) (flows.Outcome, error) {
		if _, err := tx.NextSequence("x"); err != nil {
			return flows.Outcome{}, err
		}
		return flows.Outcome{}, flows.Errorf(flows.KindInvalid, "nope", "refused")
	})
	if flows.ErrorCode(err) != "nope" {
		t.Fatalf("err = %v", err)
	}
	var got int64
	_, err = db.Write(ctx, "k1", func(tx flows.Tx) (flows.Outcome, error) {
		v, err := tx.NextSequence("x")
		got = v
		return flows.Outcome{Round: int(v)}, err
	})
	if err != nil || got != 1 {
		t.Fatalf("the failed command must leave no trace and no key: got %d, %v", got, err)
	}
}

// recordEvents saves two documents and records events on them in the
// order given (one document id per event, 1 or 2).
func recordEvents(t *testing.T, db *storage.DB, docOfEvent ...int) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	for i := range 2 {
		d := &flows.Document{Number: fmt.Sprint("N-", i), TypeID: "t", Title: "x", Initiator: "a", State: flows.StateInApproval}
		if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) { return flows.Outcome{}, tx.SaveDocument(d) }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	for i, doc := range docOfEvent {
		_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: ids[doc-1], Kind: "k", Detail: strings.Repeat("x", i)}}, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func TestAuditChainDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		column string
		value  any
		reason string
	}{
		{"content", "detail", "forged", "content"},
		{"document link", "doc_prev", 0, "doc_link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := storagetest.Open(t)
			ctx := context.Background()
			recordEvents(t, db, 1, 2, 1, 2)
			rep, err := db.VerifyChain(ctx)
			if err != nil || rep.BrokenAt != 0 || rep.Events != 4 {
				t.Fatalf("intact chain: %+v %v", rep, err)
			}
			if err := storage.TamperForTest(db, 3, tc.column, tc.value); err != nil {
				t.Fatal(err)
			}
			rep, err = db.VerifyChain(ctx)
			if err != nil || rep.BrokenAt != 3 || rep.Reason != tc.reason {
				t.Fatalf("tampered chain: %+v %v", rep, err)
			}
		})
	}
}

// A document's history is read through its own links, not an index; events
// of two documents interleave in the chain.
func TestDocumentEventsFollowTheDocumentsLinks(t *testing.T) {
	db, _ := storagetest.Open(t)
	ids := recordEvents(t, db, 1, 2, 2, 1, 1, 2)
	for i, want := range []string{",xxx,xxxx", "x,xx,xxxxx"} {
		events, err := db.DocumentEvents(context.Background(), ids[i])
		if err != nil {
			t.Fatal(err)
		}
		var details []string
		for _, e := range events {
			if e.DocID != ids[i] {
				t.Errorf("document %d got an event of %d", ids[i], e.DocID)
			}
			details = append(details, e.Detail)
		}
		if got := strings.Join(details, ","); got != want {
			t.Errorf("document %d: events %q, want %q", ids[i], got, want)
		}
	}
}

func TestBackupWhileRunning(t *testing.T) {
	storagetest.SQLiteOnly(t) // PostgreSQL is backed up by its own tools (pg_dump)
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: 1, Kind: "k"}}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := db.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	cp, err := storage.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	rep, err := cp.VerifyChain(ctx)
	if err != nil || rep.Events != 1 || rep.BrokenAt != 0 {
		t.Fatalf("backup chain: %+v %v", rep, err)
	}
	if err := db.Backup(ctx, out); err == nil {
		t.Fatal("backup must not overwrite an existing file")
	}
}

func TestDocumentsByCounterpartyFoldsCyrillicCase(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	for i, cp := range []string{"ООО «Бумага»", "АО Металл", ""} {
		d := &flows.Document{Number: "N-" + string(rune('1'+i)), TypeID: "t", Title: "x", Counterparty: cp, Initiator: "a", State: flows.StateInApproval}
		if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) { return flows.Outcome{}, tx.SaveDocument(d) }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.DocumentsByCounterparty(ctx, "бумаг", 5)
	if err != nil || len(got) != 1 || got[0].Counterparty != "ООО «Бумага»" {
		t.Fatalf("found %+v, %v", got, err)
	}
	if got, _ := db.DocumentsByCounterparty(ctx, "нефть", 5); len(got) != 0 {
		t.Fatalf("found %d for a missing name", len(got))
	}
	if got, _ := db.DocumentsByCounterparty(ctx, "x", 5); len(got) != 0 {
		t.Fatalf("a title word found %d counterparties", len(got))
	}
}

// Bodies are stored compressed; rows written before that keep their JSON
// as TEXT, still read, and are compressed when next saved. A damaged body
// is an error, not a panic.
func TestDocumentBodies(t *testing.T) {
	storagetest.SQLiteOnly(t) // SQLite's column types; PostgreSQL's body is always bytea
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	raw := storage.RawForTest(t, db)
	typeOf := func(id int64) string {
		t.Helper()
		var typ string
		if err := raw.QueryRowContext(ctx, `SELECT typeof(body) FROM documents WHERE id = ?`, id).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		return typ
	}

	saved := &flows.Document{Number: "N-1", TypeID: "t", Title: "Поставка бумаги", Initiator: "a", State: flows.StateInApproval}
	if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) { return flows.Outcome{}, tx.SaveDocument(saved) }); err != nil {
		t.Fatal(err)
	}
	if typ := typeOf(saved.ID); typ != "blob" {
		t.Errorf("new body stored as %s", typ)
	}
	if got, err := db.Document(ctx, saved.ID); err != nil || got.Title != saved.Title {
		t.Errorf("read back: %+v, %v", got, err)
	}

	if _, err := raw.ExecContext(ctx, `INSERT INTO documents(id, number, type, title, initiator, state, created_at, updated_at, body)
		VALUES (50, 'N-50', 't', 'old', 'a', 'in_approval', 0, 0, '{"number":"N-50","title":"Старый договор","state":"in_approval"}')`); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Document(ctx, 50); err != nil || got.Title != "Старый договор" {
		t.Fatalf("legacy body: %+v, %v", got, err)
	}
	_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		d, err := tx.Document(50)
		if err != nil {
			return flows.Outcome{}, err
		}
		d.Counterparty = "ООО «Бумага»"
		return flows.Outcome{}, tx.SaveDocument(d)
	})
	if err != nil {
		t.Fatal(err)
	}
	if typ := typeOf(50); typ != "blob" {
		t.Errorf("legacy body saved again as %s", typ)
	}
	if got, err := db.Document(ctx, 50); err != nil || got.Title != "Старый договор" || got.Counterparty != "ООО «Бумага»" {
		t.Errorf("legacy body after save: %+v, %v", got, err)
	}

	if _, err := raw.ExecContext(ctx, `INSERT INTO documents(id, number, type, title, initiator, state, created_at, updated_at, body)
		VALUES (51, 'N-51', 't', 'x', 'a', 'in_approval', 0, 0, x'ff00ff00')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Document(ctx, 51); err == nil {
		t.Error("a damaged body read without error")
	}
}

// The writer numbers audit events itself. An event appended behind its
// back fails the batch that collides with it, and only that one: the
// writer then reads the log's end again.
func TestWriterRecoversFromAForeignAuditEvent(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	ids := recordEvents(t, db, 1)
	record := func() error {
		_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: ids[0], Kind: "k"}}, nil)
		})
		return err
	}
	raw := storage.RawForTest(t, db)
	if _, err := raw.ExecContext(ctx, `INSERT INTO audit(id, doc_id, at, kind, prev_hash, hash) SELECT MAX(id) + 1, ?, 0, 'foreign', '', 'x' FROM audit`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if storagetest.Postgres() {
		// Replicas append to the log, so the writer reads its end in every
		// transaction: nothing collides.
		if err := record(); err != nil {
			t.Fatalf("after a foreign event: %v", err)
		}
		return
	}
	if err := record(); err == nil {
		t.Fatal("an event numbered like the foreign one was stored")
	}
	if err := record(); err != nil {
		t.Fatalf("after the collision: %v", err)
	}
}

// AllDocuments keeps what it decoded; it must still show every change, and
// what it returns is the caller's to change.
func TestAllDocumentsSeesChangesAndHandsOutCopies(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	save := func(d *flows.Document) {
		t.Helper()
		if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) { return flows.Outcome{}, tx.SaveDocument(d) }); err != nil {
			t.Fatal(err)
		}
	}
	titles := func() string {
		t.Helper()
		docs, err := db.AllDocuments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range docs {
			out = append(out, d.Title)
		}
		return strings.Join(out, ",")
	}
	a := &flows.Document{Number: "N-A", TypeID: "t", Title: "a1", Initiator: "x", State: flows.StateInApproval}
	b := &flows.Document{Number: "N-B", TypeID: "t", Title: "b1", Initiator: "x", State: flows.StateInApproval}
	save(a)
	save(b)
	if got := titles(); got != "b1,a1" {
		t.Fatalf("first read: %s", got)
	}
	docs, _ := db.AllDocuments(ctx)
	docs[1].Title = "changed by a caller"
	if got := titles(); got != "b1,a1" {
		t.Fatalf("a caller's change leaked: %s", got)
	}
	a2 := *a
	a2.Title = "a2"
	save(&a2)
	save(&flows.Document{Number: "N-C", TypeID: "t", Title: "c1", Initiator: "x", State: flows.StateInApproval})
	if got := titles(); got != "c1,b1,a2" {
		t.Fatalf("after an update and an insert: %s", got)
	}
}

// TestDocumentsChangedSince: a reader keeping the last document's
// (updated_at, id) sees each write once, in the order written, an update
// of an old document included, and the query uses the index.
func TestDocumentsChangedSince(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	save := func(d *flows.Document) {
		t.Helper()
		if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) { return flows.Outcome{}, tx.SaveDocument(d) }); err != nil {
			t.Fatal(err)
		}
	}
	var at, id int64
	next := func(limit int) string {
		t.Helper()
		changed, err := db.DocumentsChangedSince(ctx, at, id, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range changed {
			out = append(out, c.Doc.Title)
			at, id = c.UpdatedAt, c.Doc.ID
		}
		return strings.Join(out, ",")
	}
	a := &flows.Document{Number: "N-A", TypeID: "t", Title: "a1", Initiator: "x", State: flows.StateInApproval}
	save(a)
	save(&flows.Document{Number: "N-B", TypeID: "t", Title: "b1", Initiator: "x", State: flows.StateInApproval})
	save(&flows.Document{Number: "N-C", TypeID: "t", Title: "c1", Initiator: "x", State: flows.StateInApproval})
	if got := next(2); got != "a1,b1" {
		t.Fatalf("first page: %q", got)
	}
	if got := next(2); got != "c1" {
		t.Fatalf("second page: %q", got)
	}
	if got := next(2); got != "" {
		t.Fatalf("nothing changed, yet: %q", got)
	}
	a2 := *a
	a2.Title = "a2"
	save(&a2)
	if got := next(10); got != "a2" {
		t.Fatalf("after an update: %q", got)
	}
	if storagetest.Postgres() {
		return // the plan below is SQLite's
	}
	var plan string
	row := db.ReaderForTest().QueryRowContext(ctx, `EXPLAIN QUERY PLAN SELECT id, updated_at, body FROM documents
		WHERE updated_at > 1 OR (updated_at = 1 AND id > 1) ORDER BY updated_at, id LIMIT 10`)
	var a1, a3 int
	if err := row.Scan(&a1, &a3, new(int), &plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "documents_updated") {
		t.Fatalf("the query does not use the index: %s", plan)
	}
}

// TestVerifyFromCheckpoint: a full run leaves a checkpoint; a run from it
// checks only what came after — an edit there is found, one before it is
// left to the full run — and tells its progress; a checkpoint moved by
// hand is refused when the chain is keyed.
func TestVerifyFromCheckpoint(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	if _, err := db.Verify(ctx, storage.VerifyOptions{SinceCheckpoint: true}); !errors.Is(err, storage.ErrNoCheckpoint) {
		t.Fatalf("no checkpoint yet: %v", err)
	}
	if _, _, err := db.UseAuditKey(ctx, []byte(strings.Repeat("k", 32)), storage.SealIfEmpty); err != nil {
		t.Fatal(err)
	}
	recordEvents(t, db, 1, 2, 1, 2)
	if rep, err := db.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 || rep.Events != 4 {
		t.Fatalf("full run: %+v %v", rep, err)
	}
	// Events 5–7 come after the checkpoint at 4.
	for _, doc := range []int64{1, 2, 1} {
		if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: doc, Kind: "k2"}}, nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	var told []int64
	rep, err := db.Verify(ctx, storage.VerifyOptions{SinceCheckpoint: true, ProgressEvery: 2,
		Progress: func(done, total int64) { told = append(told, done, total) }})
	if err != nil || rep.BrokenAt != 0 || rep.From != 4 || rep.Events != 3 {
		t.Fatalf("run from the checkpoint: %+v %v", rep, err)
	}
	if !slices.Equal(told, []int64{6, 7}) {
		t.Errorf("progress told %v, want [6 7]", told)
	}
	if again, err := db.Verify(ctx, storage.VerifyOptions{SinceCheckpoint: true}); err != nil || again.From != 7 || again.Events != 0 {
		t.Fatalf("nothing new: %+v %v", again, err)
	}
	// An edit before the checkpoint: the short run cannot see it, the full
	// one does.
	if err := storage.TamperForTest(db, 2, "detail", "forged"); err != nil {
		t.Fatal(err)
	}
	if rep, _ := db.Verify(ctx, storage.VerifyOptions{SinceCheckpoint: true}); rep.BrokenAt != 0 {
		t.Fatalf("the short run went before its checkpoint: %+v", rep)
	}
	if rep, _ := db.VerifyChain(ctx); rep.BrokenAt != 2 || rep.Reason != "content" {
		t.Fatalf("full run after an old edit: %+v", rep)
	}
	// An edit after a checkpoint is found from it.
	if err := storage.TamperForTest(db, 2, "detail", strings.Repeat("x", 1)); err != nil { // restored as written
		t.Fatal(err)
	}
	if rep, err := db.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
		t.Fatalf("restored: %+v %v", rep, err)
	}
	if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: 2, Kind: "k3"}}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := storage.TamperForTest(db, 8, "detail", "forged"); err != nil {
		t.Fatal(err)
	}
	if rep, _ := db.Verify(ctx, storage.VerifyOptions{SinceCheckpoint: true}); rep.BrokenAt != 8 || rep.Reason != "content" {
		t.Fatalf("an edit after the checkpoint: %+v", rep)
	}
	// A checkpoint moved forward by hand is refused.
	raw, _, _ := db.StateGet(ctx, "audit", "checkpoint")
	if err := db.StatePut(ctx, "audit", "checkpoint", strings.Replace(raw, `"id":7`, `"id":8`, 1)); err != nil {
		t.Fatal(err)
	}
	if rep, _ := db.Verify(ctx, storage.VerifyOptions{SinceCheckpoint: true}); rep.Reason != "checkpoint" {
		t.Fatalf("a forged checkpoint: %+v", rep)
	}
}
