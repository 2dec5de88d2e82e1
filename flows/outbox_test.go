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

// quietRecorder keeps notifications where the person looks (the web
// inbox): a person's notify list does not choose it.
type quietRecorder struct{ recorder }

func (*quietRecorder) Pushes() bool { return false }

// patientRecorder asks for more attempts than the dispatcher's default.
type patientRecorder struct{ recorder }

func (*patientRecorder) MaxAttempts() int { return 40 }

func TestDispatcherRoutesByNotifyListAndLadderStep(t *testing.T) {
	h := newHarness(t)
	petrov, _ := h.eng.Directory().Person("petrov")
	petrov.Notify = []string{"email"}
	t.Cleanup(func() { petrov.Notify = nil })
	tg := &recorder{name: "telegram"}
	mail := &recorder{name: "email"}
	sms := &recorder{name: "sms"}
	web := &quietRecorder{recorder{name: "web"}}
	disp := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), tg, mail, sms, web)
	h.start("ivanova", "contract", 10) // task_assigned to petrov and sidorov
	if err := h.eng.Announce(h.ctx, "test:step", []flows.Notification{
		{Kind: flows.NoteReminderEmail, To: "sidorov"}, {Kind: flows.NoteReminderSMS, To: "sidorov"}}); err != nil {
		t.Fatal(err)
	}
	// Announced again with the same key, nothing more is queued.
	if err := h.eng.Announce(h.ctx, "test:step", []flows.Notification{{Kind: flows.NoteReminderEmail, To: "sidorov"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := disp.Step(h.ctx); err != nil {
		t.Fatal(err)
	}
	got := func(r *recorder) map[string]int {
		r.mu.Lock()
		defer r.mu.Unlock()
		m := map[string]int{}
		for _, n := range r.got {
			m[string(n.To)+":"+n.Kind]++
		}
		return m
	}
	tests := []struct {
		channel *recorder
		key     string
		want    int
	}{
		{tg, "petrov:task_assigned", 0}, // notify: [email]
		{sms, "petrov:task_assigned", 0},
		{mail, "petrov:task_assigned", 1},
		{&web.recorder, "petrov:task_assigned", 1}, // the web inbox is not chosen by notify
		{tg, "sidorov:task_assigned", 1},           // no list: every channel
		{mail, "sidorov:task_assigned", 1},
		{mail, "sidorov:reminder_email", 1}, // a ladder step goes by its own channel only
		{tg, "sidorov:reminder_email", 0},
		{&web.recorder, "sidorov:reminder_email", 0},
		{sms, "sidorov:reminder_email", 0},
		{sms, "sidorov:reminder_sms", 1},
		{tg, "sidorov:reminder_sms", 0},
		{mail, "sidorov:reminder_sms", 0},
	}
	for _, tc := range tests {
		if n := got(tc.channel)[tc.key]; n != tc.want {
			t.Errorf("%s got %s %d times, want %d", tc.channel.name, tc.key, n, tc.want)
		}
	}
}

func TestDispatcherRetriesAPatientChannelLonger(t *testing.T) {
	for _, patient := range []bool{false, true} {
		h := newHarness(t)
		failing := func(n flows.Notification, attempt int) error {
			if attempt <= 20 {
				return &flows.Error{Kind: flows.KindTransient, Code: "smtp_unavailable"}
			}
			return nil
		}
		var ch flows.Channel
		var rec *recorder
		if patient {
			p := &patientRecorder{recorder{name: "email", fail: failing}}
			ch, rec = p, &p.recorder
		} else {
			rec = &recorder{name: "email", fail: failing}
			ch = rec
		}
		disp := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), ch)
		h.start("ivanova", "contract", 10)
		for range 30 {
			if _, err := disp.Step(h.ctx); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(11 * time.Minute)
		}
		want := 0
		if patient {
			want = 2 // both approvers' requests, on the 21st attempt
		}
		if rec.count() != want {
			t.Errorf("patient %v: delivered %d, want %d", patient, rec.count(), want)
		}
	}
}

// gatedRecorder is a channel whose platform can be out of reach: closed,
// and a send that fails while it closes the gate (the platform went away
// mid-send).
type gatedRecorder struct {
	recorder
	open bool
}

func (g *gatedRecorder) Open() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

func (g *gatedRecorder) setOpen(v bool) {
	g.mu.Lock()
	g.open = v
	g.mu.Unlock()
}

// TestDispatcherHoldsDeliveriesOfAClosedChannel: while a channel's
// platform is out of reach its deliveries are neither attempted nor
// spent — a day of outage loses nothing — and the other channels go on;
// a send that finds the platform gone is held without counting; once the
// gate opens, everything waiting is delivered.
func TestDispatcherHoldsDeliveriesOfAClosedChannel(t *testing.T) {
	h := newHarness(t)
	h.start("ivanova", "contract", 10) // two task_assigned: petrov, sidorov
	down := &gatedRecorder{recorder: recorder{name: "chat"}}
	other := &recorder{name: "mail"}
	disp := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, slog.New(slog.DiscardHandler), down, other)
	disp.MaxAttempts = 3
	for range 10 {
		if _, err := disp.Step(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Hour)
	}
	if down.count() != 0 || len(down.tries) != 0 {
		t.Fatalf("a closed channel was tried: %v", down.tries)
	}
	if other.count() != 2 {
		t.Fatalf("the other channel delivered %d, want 2", other.count())
	}
	if next, ok, err := h.db.NextDue(h.ctx, []string{"chat"}); err != nil || ok {
		t.Fatalf("NextDue outside the closed channel = %v %v %v, want nothing", next, ok, err)
	}
	// Open, but the platform goes away during the first send: held, not
	// spent, however many times it happens.
	down.setOpen(true)
	down.fail = func(n flows.Notification, attempt int) error {
		if attempt <= 5 {
			down.open = false // the platform is gone (the lock is held by Deliver)
			return &flows.Error{Kind: flows.KindTransient, Code: "chat_unavailable"}
		}
		return nil
	}
	for range 5 {
		down.setOpen(true)
		if _, err := disp.Step(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
	}
	down.setOpen(true)
	for range 3 {
		if _, err := disp.Step(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
	}
	if down.count() != 2 {
		t.Fatalf("after the outage the channel delivered %d, want 2 (tries %v)", down.count(), down.tries)
	}
	st, err := h.db.OutboxStats(h.ctx)
	if err != nil || st.Failed != 0 || st.Pending != 0 {
		t.Fatalf("outbox %+v %v: nothing may fail or wait after the outage", st, err)
	}
}
