package flows_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

// recorder is a channel that records deliveries and fails as told.
type recorder struct {
	name  string
	reach func(*flows.Person) bool
	mu    sync.Mutex
	got   []flows.Notification
	fail  func(n flows.Notification, attempt int) error
	tries map[int64]int
}

func (r *recorder) Name() string                 { return r.name }
func (r *recorder) Reaches(p *flows.Person) bool { return r.reach == nil || r.reach(p) }
func (r *recorder) Deliver(_ context.Context, n flows.Notification, _ *flows.Person) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tries == nil {
		r.tries = map[int64]int{}
	}
	r.tries[n.ID]++
	if r.fail != nil {
		if err := r.fail(n, r.tries[n.ID]); err != nil {
			return "", err
		}
	}
	r.got = append(r.got, n)
	return "ref", nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func TestDispatcherRetriesTransientAndRecordsPermanent(t *testing.T) {
	h := newHarness(t)
	d := h.start("ivanova", "contract", 10).DocID // two task_assigned: petrov, sidorov
	ch := &recorder{name: "chat", fail: func(n flows.Notification, attempt int) error {
		switch {
		case n.To == "petrov" && attempt == 1:
			return &flows.Error{Kind: flows.KindTransient, Code: "rate_limited", RetryAfter: 30 * time.Second}
		case n.To == "sidorov":
			return errors.New("chat not found")
		}
		return nil
	}}
	disp := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), ch)
	if _, err := disp.Step(h.ctx); err != nil {
		t.Fatal(err)
	}
	if ch.count() != 0 {
		t.Fatalf("delivered %d, want 0 on the first pass", ch.count())
	}
	if _, err := disp.Step(h.ctx); err != nil {
		t.Fatal(err)
	}
	if ch.count() != 0 {
		t.Fatal("retried before retry_after")
	}
	h.clock.Advance(31 * time.Second)
	if _, err := disp.Step(h.ctx); err != nil {
		t.Fatal(err)
	}
	if ch.count() != 1 || ch.got[0].To != "petrov" || ch.got[0].DocID != d {
		t.Fatalf("got %+v", ch.got)
	}
	h.clock.Advance(time.Hour)
	if n, err := disp.Step(h.ctx); err != nil || n != 0 {
		t.Fatalf("after success and permanent failure nothing is due: %d, %v", n, err)
	}
	st, err := h.db.OutboxStats(h.ctx)
	if err != nil || st.Sent != 1 || st.Failed != 1 || st.Pending != 0 {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

func TestDispatcherAfterRestartSendsPendingNeverResendsConfirmed(t *testing.T) {
	h := newHarness(t)
	h.start("ivanova", "contract", 10)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	first := &recorder{name: "chat", fail: func(n flows.Notification, _ int) error {
		if n.To == "sidorov" {
			return context.Canceled // the process is going down mid-send
		}
		return nil
	}}
	ctx, cancel := context.WithCancel(h.ctx)
	disp := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, quiet, first)
	first.fail = func(n flows.Notification, _ int) error {
		if n.To == "sidorov" {
			cancel()
			return context.Canceled
		}
		return nil
	}
	disp.Step(ctx)
	if first.count() != 1 {
		t.Fatalf("first run delivered %d", first.count())
	}
	second := &recorder{name: "chat"}
	disp2 := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, quiet, second)
	if _, err := disp2.Step(h.ctx); err != nil {
		t.Fatal(err)
	}
	if second.count() != 1 || second.got[0].To != "sidorov" {
		t.Fatalf("after restart got %+v, want only sidorov's", second.got)
	}
}

func TestDispatcherOneDeliveryPerLinkedChannel(t *testing.T) {
	h := newHarness(t)
	h.start("ivanova", "audit", -1)
	tg := &recorder{name: "telegram", reach: func(p *flows.Person) bool { return p.ID == "belova" }}
	web := &recorder{name: "web"}
	disp := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), tg, web)
	if _, err := disp.Step(h.ctx); err != nil {
		t.Fatal(err)
	}
	if tg.count() != 1 || web.count() != 3 {
		t.Fatalf("telegram %d, web %d; want 1 and 3", tg.count(), web.count())
	}
}
