package storage_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

// replicas opens the same database n times, as n processes would.
func replicas(t *testing.T, n int) []*storage.DB {
	t.Helper()
	loc := storagetest.NewLocation(t)
	var dbs []*storage.DB
	for range n {
		db, _ := storagetest.OpenAt(t, loc)
		dbs = append(dbs, db)
	}
	return dbs
}

func onlyOnPostgres(t *testing.T) {
	t.Helper()
	if !storagetest.Postgres() {
		t.Skip("replicas share a database only on PostgreSQL")
	}
}

// queueNotes records n notifications through db and fans them out to one
// channel.
func queueNotes(t *testing.T, db *storage.DB, n int, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			return flows.Outcome{}, tx.Record(nil, []flows.Notification{{Kind: "k", To: flows.PersonID(fmt.Sprint("p", i)), At: now}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for {
		k, err := db.FanOut(ctx, func(flows.Notification) []string { return []string{"telegram"} }, now)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			return
		}
	}
}

// Two replicas send due deliveries at the same time: each delivery goes to
// exactly one of them. A replica's claims outlive any time it takes, and
// die with it.
func TestDueDeliveriesAreClaimedOnce(t *testing.T) {
	onlyOnPostgres(t)
	dbs := replicas(t, 2)
	ctx := context.Background()
	now := time.Now()
	const notes = 300
	queueNotes(t, dbs[0], notes/2, now)
	queueNotes(t, dbs[1], notes/2, now) // both fan out; the unique key keeps one delivery each
	var mu sync.Mutex
	got := map[int64]int{}
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(func() {
			for range notes { // marked ones leave the due list; a bug that kept them would loop, not hang
				due, err := db.Due(ctx, now, 7, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(due) == 0 {
					return
				}
				for _, d := range due {
					mu.Lock()
					got[d.ID]++
					mu.Unlock()
					if err := db.Delivered(ctx, d.ID, "", now); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if len(got) != notes {
		t.Fatalf("%d deliveries sent, want %d", len(got), notes)
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("delivery %d sent %d times", id, n)
		}
	}

	// Replica 0 claims a queue and is slow with it: replica 1 waits, an
	// hour later too. Replica 0 dies: replica 1 takes the whole queue.
	queueNotes(t, dbs[0], 20, now)
	if due, err := dbs[0].Due(ctx, now, 100, nil); err != nil || len(due) != 20 {
		t.Fatalf("replica 0 claimed %d, %v", len(due), err)
	}
	if due, err := dbs[1].Due(ctx, now.Add(time.Hour), 100, nil); err != nil || len(due) != 0 {
		t.Fatalf("replica 1 took %d deliveries replica 0 is sending, %v", len(due), err)
	}
	if err := dbs[0].Close(); err != nil {
		t.Fatal(err)
	}
	if due, err := dbs[1].Due(ctx, now, 100, nil); err != nil || len(due) != 20 {
		t.Fatalf("after replica 0 died replica 1 took %d of 20, %v", len(due), err)
	}
}

// One replica leads at a time; when it goes, another takes over.
func TestOneReplicaLeads(t *testing.T) {
	onlyOnPostgres(t)
	storage.SetLeaderPoll(t, 50*time.Millisecond)
	dbs := replicas(t, 3)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var leading, most, turns atomic.Int32
	took := make(chan int, 10)
	ctxs := make([]context.CancelFunc, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i] = cancel
		wg.Go(func() {
			err := db.Lead(ctx, log, func(lctx context.Context) error {
				n := leading.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				turns.Add(1)
				took <- i
				<-lctx.Done()
				leading.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	defer func() {
		for _, c := range ctxs {
			c()
		}
		wg.Wait()
	}()
	seen := map[int]bool{}
	for range len(dbs) {
		select {
		case i := <-took:
			if seen[i] {
				t.Fatalf("replica %d led twice", i)
			}
			seen[i] = true
			time.Sleep(200 * time.Millisecond) // the others keep trying meanwhile
			ctxs[i]()                          // the leader stops; another must take over
		case <-time.After(10 * time.Second):
			t.Fatalf("nobody took over after %d turns", turns.Load())
		}
	}
	if most.Load() != 1 {
		t.Fatalf("%d replicas led at once", most.Load())
	}
}

// Secrets made on first use (link keys, registration nonces) are kept
// once: replicas starting together all read the first one's.
func TestStateKeepKeepsTheFirst(t *testing.T) {
	ctx := context.Background()
	db, _ := storagetest.Open(t)
	if v, err := db.StateKeep(ctx, "api", "link-key", "first"); err != nil || v != "first" {
		t.Fatalf("first keep: %q, %v", v, err)
	}
	if v, err := db.StateKeep(ctx, "api", "link-key", "second"); err != nil || v != "first" {
		t.Fatalf("second keep: %q, %v", v, err)
	}
	if !storagetest.Postgres() {
		return
	}
	dbs := replicas(t, 4)
	got := make([]string, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			v, err := db.StateKeep(ctx, "bitrix24", "nonce", fmt.Sprint("replica ", i))
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] || v == "" {
			t.Fatalf("replicas keep %q", got)
		}
	}
}

// The server cuts the writer's connection (a restart, a failover): the
// write in flight may fail, the next ones go through on a new connection,
// and the chain stays whole.
func TestWriterReconnects(t *testing.T) {
	onlyOnPostgres(t)
	ctx := context.Background()
	db, _ := storagetest.Open(t)
	ids := recordEvents(t, db, 1)
	pid, err := storage.WriterPIDForTest(db)
	if err != nil {
		t.Fatal(err)
	}
	var killed bool
	if err := storage.RawForTest(t, db).QueryRowContext(ctx, `SELECT pg_terminate_backend(?)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the writer's backend: %v %v", killed, err)
	}
	record := func() error {
		_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: ids[0], Kind: "after"}}, nil)
		})
		return err
	}
	failed := 0
	for record() != nil {
		if failed++; failed > 1 {
			t.Fatal("the writer did not come back")
		}
	}
	if err := record(); err != nil {
		t.Fatal(err)
	}
	if rep, err := db.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
		t.Fatalf("chain after the reconnect: %+v %v", rep, err)
	}
}

// A replica hears what another commits and stores in its inbox, at once.
func TestReplicasHearEachOther(t *testing.T) {
	onlyOnPostgres(t)
	dbs := replicas(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- dbs[1].ListenPeers(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(e string) { heard <- e })
	}()
	wantHeard := func(want string, act func()) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			act()
			select {
			case e := <-heard:
				if e == want {
					return
				}
			case <-time.After(200 * time.Millisecond): // LISTEN may not be in place yet: act again
				continue
			case <-deadline:
				t.Fatalf("did not hear %q", want)
			}
		}
	}
	wantHeard(storage.PeerInbox("telegram"), func() {
		if _, err := dbs[0].InboxPut(ctx, "telegram", []storage.InboxItem{{ID: fmt.Sprint(time.Now().UnixNano()), Payload: []byte("{}")}}); err != nil {
			t.Fatal(err)
		}
	})
	wantHeard(storage.PeerCommit, func() {
		if err := dbs[0].StatePut(ctx, "web", "k", fmt.Sprint(time.Now().UnixNano())); err != nil {
			t.Fatal(err)
		}
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A replica keeps the documents it committed (see beginShared); once another
// replica changed one, the first must read it again, not write over the
// change from what it kept.
func TestKeptDocumentsYieldToOtherReplicas(t *testing.T) {
	onlyOnPostgres(t)
	dbs := replicas(t, 2)
	ctx := context.Background()
	save := func(db *storage.DB, id int64, edit func(d *flows.Document)) *flows.Document {
		t.Helper()
		var saved *flows.Document
		_, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			d := &flows.Document{Number: "N-1", TypeID: "t", Title: "t", Initiator: "a", State: flows.StateInApproval}
			if id != 0 {
				var err error
				if d, err = tx.Document(id); err != nil {
					return flows.Outcome{}, err
				}
			}
			edit(d)
			saved = d
			return flows.Outcome{}, tx.SaveDocument(d)
		})
		if err != nil {
			t.Fatal(err)
		}
		return saved
	}
	d := save(dbs[0], 0, func(d *flows.Document) { d.Title = "A" }) // replica 0 keeps it
	save(dbs[1], d.ID, func(d *flows.Document) { d.Counterparty = "от реплики 1" })
	save(dbs[0], d.ID, func(d *flows.Document) { d.Title = "A2" })
	got, err := dbs[1].Document(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "A2" || got.Counterparty != "от реплики 1" {
		t.Fatalf("after both replicas: title %q, counterparty %q", got.Title, got.Counterparty)
	}
}

// TestFrozenLeaderIsReplaced: a leader that stops renewing its lease
// without dying — frozen: a paused VM, a stalled disk — keeps its
// connection, yet another replica takes over once the lease lapses; and
// the frozen one, woken, is fenced (its jobs see flows.Fenced) and steps
// down instead of doing a leader's work beside the new one.
func TestFrozenLeaderIsReplaced(t *testing.T) {
	onlyOnPostgres(t)
	storage.SetLeaderPoll(t, 50*time.Millisecond)
	storage.SetLeaseTTL(t, 800*time.Millisecond)
	dbs := replicas(t, 2)
	log := slog.New(slog.DiscardHandler)
	var frozen atomic.Bool
	unfreeze := make(chan struct{})
	storage.SetLeaseRenewHook(t, func() {
		if frozen.Load() {
			<-unfreeze
		}
	})
	type turn struct {
		i      int
		ctx    context.Context
		began  time.Time
		fenced chan time.Time
	}
	took := make(chan turn, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			db.Lead(ctx, log, func(lctx context.Context) error {
				tr := turn{i: i, ctx: lctx, began: time.Now(), fenced: make(chan time.Time, 1)}
				took <- tr
				for lctx.Err() == nil {
					if flows.Fenced(lctx) {
						tr.fenced <- time.Now()
						<-lctx.Done()
						break
					}
					select {
					case <-lctx.Done():
					case <-time.After(5 * time.Millisecond):
					}
				}
				return nil
			})
		})
	}
	defer func() { cancel(); wg.Wait() }()
	var first turn
	select {
	case first = <-took:
	case <-time.After(10 * time.Second):
		t.Fatal("nobody leads")
	}
	frozen.Store(true)
	froze := time.Now()
	var second turn
	select {
	case second = <-took:
	case <-time.After(10 * time.Second):
		t.Fatal("the frozen leader was never replaced")
	}
	if second.i == first.i {
		t.Fatal("the frozen leader led again")
	}
	if d := second.began.Sub(froze); d > 3*time.Second {
		t.Fatalf("replaced after %s", d)
	}
	// Fenced before the new leader began: the two never worked at once.
	select {
	case at := <-first.fenced:
		if at.After(second.began) {
			t.Fatalf("the old leader was fenced %s after the new one began", at.Sub(second.began))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the frozen leader's jobs were never fenced")
	}
	frozen.Store(false)
	close(unfreeze)
	select {
	case <-first.ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the woken leader did not step down")
	}
	if second.ctx.Err() != nil {
		t.Fatal("the new leader was stopped")
	}
}
