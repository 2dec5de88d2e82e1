package bitrix24_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/bitrix24/b24fake"
	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/messages/rich"
)

// fanOut sends one request card to each of n users at once, as the
// dispatcher's workers do when a route opens for many approvers, and
// returns how long it took and how many HTTP requests reached the portal.
func fanOut(tb testing.TB, v2 bool, n int) (time.Duration, int, *b24fake.Server) {
	tb.Helper()
	var users []b24fake.User
	for i := range n {
		users = append(users, b24fake.User{ID: int64(1000 + i), Name: fmt.Sprint("U", i)})
	}
	fake := b24fake.New(v2, users...)
	tb.Cleanup(fake.Close)
	c, err := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: fake.Webhook}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := bitrix24.New(context.Background(), bitrix24.Config{EventsURL: "https://viza.example/bitrix24/events"}, c, openDB(tb), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	if err := tr.Connect(context.Background()); err != nil {
		tb.Fatal(err)
	}
	before := len(fake.Calls(""))
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	ids := make([]string, n)
	for i, u := range users {
		wg.Go(func() {
			ids[i], errs[i] = tr.Send(context.Background(), strconv.FormatInt(u.ID, 10), chat.Message{Text: rich.Plain(fmt.Sprint("Договор ", i)),
				Buttons: [][]chat.Button{{{Label: "Согласовать", Action: "ap:" + strconv.Itoa(i)}, {Label: "Отклонить", Action: "rj:" + strconv.Itoa(i)}}}})
		})
	}
	wg.Wait()
	took := time.Since(start)
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("send %d: %v", i, err)
		}
		if ids[i] == "" || seen[ids[i]] {
			tb.Fatalf("send %d got message id %q", i, ids[i])
		}
		seen[ids[i]] = true
	}
	for i, u := range users {
		msgs := fake.Dialog(u.ID)
		if len(msgs) != 1 || msgs[0].Text != fmt.Sprint("Договор ", i) || len(msgs[0].Buttons) != 2 {
			tb.Fatalf("user %d's dialog: %+v", i, msgs)
		}
	}
	return took, len(fake.Calls("")) - before, fake
}

// TestFanOutGoesThroughBatch: 200 request cards at once reach the portal
// as a handful of batch calls, each card in its person's dialog with its
// keyboard and its own message id, and the portal's bucket (2 a second,
// 50 at once, as documented) refuses none of them.
func TestFanOutGoesThroughBatch(t *testing.T) {
	for _, v2 := range []bool{true, false} {
		t.Run(fmt.Sprint("v2=", v2), func(t *testing.T) {
			_, requests, fake := fanOut(t, v2, 200)
			if requests > 20 {
				t.Fatalf("200 cards took %d requests", requests)
			}
			if fake.Limited() != 0 {
				t.Fatalf("the portal refused %d calls", fake.Limited())
			}
		})
	}
}

// BenchmarkFanOut200: 200 approval requests at once (cards; the files go
// one by one, paced by the client's bucket): time, portal requests and
// QUERY_LIMIT_EXCEEDED answers.
func BenchmarkFanOut200(b *testing.B) {
	for range b.N {
		took, requests, fake := fanOut(b, true, 200)
		b.ReportMetric(float64(took.Milliseconds()), "ms/fanout")
		b.ReportMetric(float64(requests), "requests/fanout")
		b.ReportMetric(float64(fake.Limited()), "503s/fanout")
	}
}

// TestRestartAssumesTheBucketDrained: a client started right after another
// made fifty calls (the portal's whole burst) paces its first calls at the
// documented rate instead of spending a burst the portal no longer has,
// and is refused nothing; one started long after has its burst again.
func TestRestartAssumesTheBucketDrained(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"})
	defer fake.Close()
	db := openDB(t)
	first, err := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: fake.Webhook}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Remember(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 48 {
		wg.Go(func() { first.Call(context.Background(), "server.time", map[string]any{}, nil) })
	}
	wg.Wait()
	// Killed and started again at once.
	second, _ := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: fake.Webhook}, slog.New(slog.DiscardHandler))
	if err := second.Remember(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		wg.Go(func() {
			if err := second.Call(context.Background(), "server.time", map[string]any{}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := fake.Limited(); n != 0 {
		t.Fatalf("after the restart the portal refused %d calls", n)
	}
}
