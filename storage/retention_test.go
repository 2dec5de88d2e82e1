package storage_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

type fakeChannel struct {
	name string
	fail bool
}

func (c fakeChannel) Name() string                 { return c.name }
func (c fakeChannel) Reaches(p *flows.Person) bool { return !c.fail || p.ID == "sidorov" }
func (c fakeChannel) Deliver(context.Context, flows.Notification, *flows.Person) (string, error) {
	if c.fail {
		return "", errors.New("refused for good")
	}
	return "ok", nil
}

// TestCompact: past its retention, what was delivered goes with its
// notification, and chat leftovers and processed updates go; what failed,
// what waits, what a person or a task needs, the documents and the audit
// chain stay — and the counters /metrics reads do not change.
func TestCompact(t *testing.T) {
	r := storagetest.NewRig(t, false)
	ctx := context.Background()
	for i := range 3 {
		if _, err := r.Engine.Start(ctx, flows.StartCmd{Key: string(rune('a' + i)), Actor: "ivanova", TypeID: "contract", Title: "Договор",
			File: flows.Upload{Name: "d.pdf", Content: strings.NewReader("%PDF " + string(rune('a'+i)))}}); err != nil {
			t.Fatal(err)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	disp := flows.NewDispatcher(r.DB, r.Engine.Directory, r.Clock, quiet, fakeChannel{name: "okc"}, fakeChannel{name: "badc", fail: true})
	if _, err := disp.Step(ctx); err != nil {
		t.Fatal(err)
	}
	// One more, left waiting: never fanned out.
	if _, err := r.Engine.Start(ctx, flows.StartCmd{Key: "late", Actor: "ivanova", TypeID: "contract", Title: "Поздний",
		File: flows.Upload{Name: "d.pdf", Content: strings.NewReader("%PDF late")}}); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"card:c-1:17", "{}"}, {"prompt:c-1:", "{}"}, {"link:u1", "sidorov"}, {"task:5", "{}"}, {"act:@ab", "ap:5"}} {
		if err := r.DB.StatePut(ctx, "telegram", kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.DB.InboxPut(ctx, "telegram", []storage.InboxItem{{ID: "1", Payload: []byte("{}")}, {ID: "2", Payload: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	if err := r.DB.InboxDone(ctx, "telegram", "1"); err != nil {
		t.Fatal(err)
	}
	before, _ := r.DB.OutboxStats(ctx)
	statsBefore, _ := r.DB.Stats(ctx)
	if before.Sent == 0 || before.Failed == 0 {
		t.Fatalf("outbox before = %+v", before)
	}
	failedBefore, _ := r.DB.FailedDeliveries(ctx, 1, "badc")

	// Nothing is old yet.
	keep := storage.Retention{Notifications: 30 * 24 * time.Hour, Dialogues: 90 * 24 * time.Hour}
	if c, err := r.DB.Compact(ctx, keep, time.Now()); err != nil || c != (storage.Compacted{}) {
		t.Fatalf("fresh compaction = %+v, %v", c, err)
	}
	c, err := r.DB.Compact(ctx, keep, time.Now().Add(100*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Deliveries != int64(before.Sent) || c.Notifications == 0 || c.States != 3 || c.Inbound != 1 {
		t.Errorf("compacted %+v (sent before: %d)", c, before.Sent)
	}
	after, _ := r.DB.OutboxStats(ctx)
	if after.Sent != before.Sent || after.Failed != before.Failed {
		t.Errorf("outbox after = %+v, before %+v", after, before)
	}
	if failed, _ := r.DB.FailedDeliveries(ctx, 1, "badc"); len(failed) != len(failedBefore) || len(failed) == 0 {
		t.Errorf("failed deliveries %d → %d", len(failedBefore), len(failed))
	}
	if st, _ := r.DB.Stats(ctx); st.Deliveries[[2]string{"okc", "sent"}] != statsBefore.Deliveries[[2]string{"okc", "sent"}] {
		t.Errorf("sent counter %v → %v", statsBefore.Deliveries, st.Deliveries)
	}
	// The late document's notifications were never fanned out: still news.
	if _, err := disp.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.DB.OutboxStats(ctx); st.Sent <= after.Sent {
		t.Errorf("the late notifications were lost: %+v", st)
	}
	for key, want := range map[string]bool{"card:c-1:17": false, "prompt:c-1:": false, "act:@ab": false, "link:u1": true, "task:5": true} {
		if _, ok, _ := r.DB.StateGet(ctx, "telegram", key); ok != want {
			t.Errorf("%s kept = %v, want %v", key, ok, want)
		}
	}
	if pending, _ := r.DB.InboxPending(ctx, "telegram", 10); len(pending) != 1 {
		t.Errorf("unprocessed updates = %d, want 1", len(pending))
	}
	if rep, err := r.DB.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
		t.Errorf("chain after compaction: %+v %v", rep, err)
	}
	if n, err := r.DB.CountDocuments(ctx, storage.DocQuery{}); err != nil || n != 4 {
		t.Errorf("documents after compaction: %d %v", n, err)
	}
}
