package chat_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage/storagetest"
)

// slowComparer takes as long as its caller lets it, and counts the waits.
type slowComparer struct{ calls atomic.Int32 }

func (s *slowComparer) Between(ctx context.Context, _ *flows.Document, from, to int, _ compare.Options) (compare.Comparison, error) {
	s.calls.Add(1)
	<-ctx.Done()
	return compare.Comparison{From: from, To: to, Status: compare.StatusPending}, nil
}

// TestSlowComparisonNeverHoldsTheCard: when the texts are slow to read,
// the round-2 card goes after the bounded wait, saying the comparison is
// being prepared; cards sent after that wait do not wait again.
func TestSlowComparisonNeverHoldsTheCard(t *testing.T) {
	rig := storagetest.NewRig(t, false)
	mem := chattest.NewMem(chat.Caps{Edit: true, ReplyTo: true})
	slow := &slowComparer{}
	c := &chat.Conversation{Engine: rig.Engine, Store: rig.DB, Files: rig.Files, Clock: rig.Clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Compare: slow, CompareWait: 300 * time.Millisecond}
	m, err := chat.New(context.Background(), c, mem)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := start(t, rig, "Поставка")
	if _, err := rig.Engine.UploadVersion(ctx, flows.VersionCmd{Key: "v2", Actor: "ivanova", DocID: out.DocID,
		File: flows.Upload{Name: "b.pdf", Content: strings.NewReader("%PDF b")}}); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	deliver(t, m, rig, out.DocID)
	first := time.Since(begin)
	if first < 250*time.Millisecond || first > 3*time.Second {
		t.Fatalf("the first card took %s; the wait is 300 ms", first)
	}
	msgs := mem.Conv("c-u-petrov")
	if len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1].Text.String(), "/diff") {
		t.Fatalf("the card does not say the comparison is coming: %+v", msgs)
	}
	// Later than the wait after the upload: the next card waits no more
	// than it takes to read a comparison already made.
	rig.Clock.Advance(time.Second)
	begin = time.Now()
	deliver(t, m, rig, out.DocID)
	if again := time.Since(begin); again > 280*time.Millisecond {
		t.Errorf("a card sent after the wait waited %s", again)
	}
	if n := slow.calls.Load(); n != 2 {
		t.Errorf("%d comparisons asked", n)
	}
}

// TestBulkOfferIsTheOfferersOnly: the confirmation's payload names the
// offer; who approves is the person tapping, and only the person it was
// made for may use it.
func TestBulkOfferIsTheOfferersOnly(t *testing.T) {
	m, mem, rig := messenger(t, chat.Caps{Edit: true, ReplyTo: true})
	ctx := context.Background()
	for _, title := range []string{"Первый", "Второй"} {
		start(t, rig, title)
	}
	// Through the outbox, as the service delivers: a request counts as
	// seen once its delivery is recorded.
	disp := flows.NewDispatcher(rig.DB, rig.Engine.Directory, rig.Clock, slog.New(slog.DiscardHandler), m)
	for range 2 {
		if _, err := disp.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m.Handle(ctx, chat.Event{Key: "my", Conv: "c-u-petrov", User: "u-petrov", Command: "my"})
	var offer string
	for _, msg := range mem.Conv("c-u-petrov") {
		for _, row := range msg.Buttons {
			for _, b := range row {
				if strings.HasPrefix(b.Action, "ba:") {
					offer = strings.TrimPrefix(b.Action, "ba:")
				}
			}
		}
	}
	if offer == "" {
		t.Fatal("/my offered no approval in bulk")
	}
	m.Handle(ctx, chat.Event{Key: "steal", Conv: "c-u-sidorov", User: "u-sidorov", Tap: &chat.Tap{ID: "x", Action: "bc:" + offer}})
	tasks, _ := rig.DB.OpenTasksOf(ctx, "petrov")
	if len(tasks) != 2 {
		t.Fatalf("someone else's tap approved: %d left", len(tasks))
	}
	m.Handle(ctx, chat.Event{Key: "mine", Conv: "c-u-petrov", User: "u-petrov", Tap: &chat.Tap{ID: "y", Action: "bc:" + offer}})
	if tasks, _ := rig.DB.OpenTasksOf(ctx, "petrov"); len(tasks) != 0 {
		t.Fatalf("the offer's own tap left %d", len(tasks))
	}
}
