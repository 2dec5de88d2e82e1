package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

// TestBatchKeepsCommandsApart queues commands behind a busy leader so that
// they share one transaction, and checks that each one's failure costs only
// itself: a refusal before any write, a refusal after a write (the batch is
// rolled back and the others run again), a panic, and a plain error.
func TestBatchKeepsCommandsApart(t *testing.T) {
	type cmd struct {
		name    string
		key     string
		fn      func(tx flows.Tx) (flows.Outcome, error)
		wantErr string // error code, or "internal", or "" for success
	}
	bump := func(counter string, then error) func(tx flows.Tx) (flows.Outcome, error) {
		return func(tx flows.Tx) (flows.Outcome, error) {
			v, err := tx.NextSequence(counter)
			if err != nil {
				return flows.Outcome{}, err
			}
			return flows.Outcome{Round: int(v)}, then
		}
	}
	refuse := flows.Errorf(flows.KindForbidden, "refused", "no")
	cmds := []cmd{
		{name: "ok before", key: "a", fn: bump("a", nil)},
		{name: "refused before writing", key: "r", fn: func(tx flows.Tx) (flows.Outcome, error) { return flows.Outcome{}, refuse }, wantErr: "refused"},
		{name: "refused after writing", key: "w", fn: bump("w", refuse), wantErr: "refused"},
		{name: "ok between", key: "b", fn: bump("b", nil)},
		{name: "panic after writing", key: "p", fn: func(tx flows.Tx) (flows.Outcome, error) {
			tx.NextSequence("p")
			panic("bug")
		}, wantErr: "internal"},
		{name: "machinery error", key: "e", fn: bump("e", errors.New("disk on fire")), wantErr: "internal"},
		{name: "ok after", key: "c", fn: bump("c", nil)},
	}
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	queued := make([]queuedCmd, len(cmds))
	for i, c := range cmds {
		queued[i] = queuedCmd{key: c.key, fn: c.fn}
	}
	outs, errs, commits := inOneBatch(t, db, queued)
	// Three rollbacks (after writing, panic, error), then one commit of the rest.
	if commits != 2 {
		t.Errorf("commits = %d, want 2 (the leader's own, then the batch)", commits)
	}
	for i, c := range cmds {
		t.Run(c.name, func(t *testing.T) {
			switch {
			case c.wantErr == "" && errs[i] != nil:
				t.Fatalf("err = %v", errs[i])
			case c.wantErr == "internal" && flows.ErrorKind(errs[i]) != flows.KindInternal:
				t.Fatalf("err = %v, want an internal error", errs[i])
			case c.wantErr != "" && c.wantErr != "internal" && flows.ErrorCode(errs[i]) != c.wantErr:
				t.Fatalf("err = %v, want %s", errs[i], c.wantErr)
			}
			// Each counter moved once if its command succeeded, never if it failed.
			want := 1
			if c.wantErr != "" {
				want = 0
			}
			if c.wantErr == "" && outs[i].Round != 1 {
				t.Errorf("outcome round = %d, want 1", outs[i].Round)
			}
			next, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
				v, err := tx.NextSequence(c.key)
				return flows.Outcome{Round: int(v)}, err
			})
			if err != nil || next.Round != want+1 {
				t.Errorf("counter %s next = %d (%v), want %d", c.key, next.Round, err, want+1)
			}
			// A succeeded command's key returns its outcome; a failed one's
			// key was never stored and runs again.
			again, err := db.Write(ctx, c.key, func(tx flows.Tx) (flows.Outcome, error) { return flows.Outcome{Round: -1}, nil })
			if err != nil {
				t.Fatal(err)
			}
			if c.wantErr == "" && (!again.Repeated || again.Round != 1) {
				t.Errorf("repeat of %s = %+v, want the first outcome", c.key, again)
			}
			if c.wantErr != "" && again.Repeated {
				t.Errorf("the key of a failed command was stored")
			}
		})
	}
}

type queuedCmd struct {
	key string
	fn  func(tx flows.Tx) (flows.Outcome, error)
}

// inOneBatch queues commands, in order, behind a leader held busy, so that
// they run in one batch; it returns their answers and how many commits the
// leader's command and the batch took.
func inOneBatch(t *testing.T, db *storage.DB, cmds []queuedCmd) ([]flows.Outcome, []error, int) {
	t.Helper()
	ctx := context.Background()
	release, leading := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			close(leading)
			<-release
			return flows.Outcome{}, nil
		})
	}()
	<-leading
	var once sync.Once
	releaseLeader := func() { once.Do(func() { close(release) }) }
	defer releaseLeader() // also when waiting fails, or Close would wait forever
	errs := make([]error, len(cmds))
	outs := make([]flows.Outcome, len(cmds))
	for i, c := range cmds {
		// Queued one by one, so the batch runs them in this order.
		waitFor(t, func() bool { return storage.QueuedForTest(db) == i })
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = db.Write(ctx, c.key, c.fn)
		}()
	}
	waitFor(t, func() bool { return storage.QueuedForTest(db) == len(cmds) })
	commitsBefore := storage.CommitsForTest(db)
	releaseLeader()
	wg.Wait()
	return outs, errs, storage.CommitsForTest(db) - commitsBefore
}

// TestBatchKeysAndNotifications: a batch looks its keys up together and
// inserts its notifications together; a key stored before the batch, or
// earlier in it, answers with its first outcome without running its
// command, and a refused command's notifications are not kept.
func TestBatchKeysAndNotifications(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	if _, err := db.Write(ctx, "old", func(flows.Tx) (flows.Outcome, error) { return flows.Outcome{Round: 7}, nil }); err != nil {
		t.Fatal(err)
	}
	notify := func(kind string, out flows.Outcome, then error) func(tx flows.Tx) (flows.Outcome, error) {
		return func(tx flows.Tx) (flows.Outcome, error) {
			if err := tx.Record(nil, []flows.Notification{{To: "anna", Kind: kind}}); err != nil {
				return flows.Outcome{}, err
			}
			return out, then
		}
	}
	mustNotRun := func(tx flows.Tx) (flows.Outcome, error) {
		t.Error("a command with a known key ran")
		return flows.Outcome{}, nil
	}
	outs, errs, commits := inOneBatch(t, db, []queuedCmd{
		{key: "old", fn: mustNotRun},
		{key: "new", fn: notify("first", flows.Outcome{Round: 1}, nil)},
		{key: "new", fn: mustNotRun},
		{key: "refused", fn: notify("refused", flows.Outcome{}, flows.Errorf(flows.KindConflict, "taken", "no"))},
		{key: "", fn: notify("second", flows.Outcome{Round: 2}, nil)},
	})
	if commits != 2 {
		t.Errorf("commits = %d, want 2 (the leader's own, then the batch)", commits)
	}
	want := []struct {
		out  flows.Outcome
		code string
	}{
		{flows.Outcome{Round: 7, Repeated: true}, ""},
		{flows.Outcome{Round: 1}, ""},
		{flows.Outcome{Round: 1, Repeated: true}, ""},
		{flows.Outcome{}, "taken"},
		{flows.Outcome{Round: 2}, ""},
	}
	for i, w := range want {
		code := ""
		if errs[i] != nil {
			code = flows.ErrorCode(errs[i])
		}
		if outs[i] != w.out || code != w.code {
			t.Errorf("command %d: %+v, %v; want %+v, %q", i, outs[i], errs[i], w.out, w.code)
		}
	}
	notes, err := db.Notifications(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, n := range notes {
		kinds = append(kinds, n.Kind)
	}
	if fmt.Sprint(kinds) != "[first second]" {
		t.Errorf("notifications %v, want [first second]", kinds)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLeaderHandsOver checks that callers arriving while another leads are
// all answered and none waits forever, under many goroutines.
func TestLeaderHandsOver(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	const n = 64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if _, err := db.Write(ctx, fmt.Sprint(i, "-", j), func(tx flows.Tx) (flows.Outcome, error) {
					_, err := tx.NextSequence("all")
					return flows.Outcome{}, err
				}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	out, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		v, err := tx.NextSequence("all")
		return flows.Outcome{Round: int(v)}, err
	})
	if err != nil || out.Round != n*20+1 {
		t.Fatalf("counter = %d (%v), want %d", out.Round, err, n*20+1)
	}
	if c := storage.CommitsForTest(db); c >= n*20 {
		t.Errorf("%d commits for %d commands: nothing was grouped", c, n*20)
	}
}

// TestWriterPanicFreesTheRole makes the writer itself panic after a commit
// (the commit hook is the writer's, not a command's) and checks that the
// panic reaches the leader's caller while later writes still go through.
func TestWriterPanicFreesTheRole(t *testing.T) {
	ctx := context.Background()
	// Not storagetest.Open: if the role stays taken, Close would wait for
	// ever and the failure would show only as a test timeout.
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "viza.db"))
	if err != nil {
		t.Fatal(err)
	}
	var hooked sync.Once
	db.OnCommit(func() { hooked.Do(func() { panic("hook bug") }) })
	bump := func(tx flows.Tx) (flows.Outcome, error) {
		v, err := tx.NextSequence("n")
		return flows.Outcome{Round: int(v)}, err
	}
	func() {
		defer func() {
			if p := recover(); p != "hook bug" {
				t.Errorf("recovered %v, want the hook's panic", p)
			}
		}()
		db.Write(ctx, "", bump)
	}()
	done := make(chan flows.Outcome)
	go func() {
		out, err := db.Write(ctx, "", bump)
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	select {
	case out := <-done:
		// The first command was committed before the hook ran.
		if out.Round != 2 {
			t.Errorf("counter = %d, want 2", out.Round)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write after the writer panicked never returned")
	}
}

// TestBatchDefersDocumentRows: commands of one batch on the same document
// see each other's saves (by id and by number), their events link up, a
// refused command's save is dropped, and the row ends as the last
// successful command left it.
func TestBatchDefersDocumentRows(t *testing.T) {
	db, _ := storagetest.Open(t)
	ctx := context.Background()
	d := &flows.Document{Number: "N-1", TypeID: "t", Title: "v0", Initiator: "a", State: flows.StateInApproval}
	if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		if err := tx.SaveDocument(d); err != nil {
			return flows.Outcome{}, err
		}
		return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: d.ID, Kind: "started"}}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	retitle := func(load func(flows.Tx) (*flows.Document, error), from, to string, then error) func(flows.Tx) (flows.Outcome, error) {
		return func(tx flows.Tx) (flows.Outcome, error) {
			doc, err := load(tx)
			if err != nil {
				return flows.Outcome{}, err
			}
			if doc.Title != from {
				return flows.Outcome{}, fmt.Errorf("loaded title %q, want %q", doc.Title, from)
			}
			doc.Title = to
			if to == "approved" {
				doc.State = flows.StateApproved
			}
			if err := tx.SaveDocument(doc); err != nil {
				return flows.Outcome{}, err
			}
			return flows.Outcome{}, then
		}
	}
	byID := func(tx flows.Tx) (*flows.Document, error) { return tx.Document(d.ID) }
	byNumber := func(tx flows.Tx) (*flows.Document, error) { return tx.DocumentByNumber("N-1") }
	event := func(kind string) func(flows.Tx) (flows.Outcome, error) {
		return func(tx flows.Tx) (flows.Outcome, error) {
			return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: d.ID, Kind: kind}, {DocID: d.ID, Kind: kind + "+"}}, nil)
		}
	}
	_, errs, commits := inOneBatch(t, db, []queuedCmd{
		{fn: retitle(byID, "v0", "v1", nil)},
		{fn: event("e1")},
		{fn: retitle(byNumber, "v1", "refused", flows.Errorf(flows.KindConflict, "no", "no"))},
		{fn: retitle(byNumber, "v1", "v2", nil)},
		{fn: event("e2")},
		{fn: retitle(byID, "v2", "approved", nil)},
	})
	if commits != 2 {
		t.Errorf("commits = %d, want 2", commits)
	}
	for i, err := range errs {
		if (i == 2) != (err != nil) {
			t.Errorf("command %d: %v", i, err)
		}
	}
	got, err := db.Document(ctx, d.ID)
	if err != nil || got.Title != "approved" || got.State != flows.StateApproved {
		t.Fatalf("row after the batch: %+v, %v", got, err)
	}
	raw := storage.RawForTest(t, db)
	var state string
	if err := raw.QueryRowContext(ctx, `SELECT state FROM documents WHERE id = ?`, d.ID).Scan(&state); err != nil || state != flows.StateApproved {
		t.Errorf("state column after the batch: %q, %v", state, err)
	}
	events, err := db.DocumentEvents(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if fmt.Sprint(kinds) != "[started e1 e1+ e2 e2+]" {
		t.Errorf("events %v", kinds)
	}
	if rep, err := db.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
		t.Errorf("chain: %+v %v", rep, err)
	}
}
