package webhooks_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/webhooks"
	"github.com/viza-app/viza/storage/storagetest"
)

// senderFor is a sender with the default clients (no redirect followed,
// private destinations checked at dial time) and the given subscriptions.
func senderFor(t *testing.T, subs ...webhooks.Subscription) (*storagetest.Rig, *webhooks.Sender) {
	t.Helper()
	rig := storagetest.NewRig(t, false)
	key, _ := webhooks.ParseSecret(secret)
	for i := range subs {
		subs[i].Secret = key
	}
	s := &webhooks.Sender{Store: rig.DB, Subs: subs, Links: links{}, Clock: rig.Clock, Log: slog.New(slog.DiscardHandler),
		MinBackoff: time.Second, MaxBackoff: time.Minute, Idle: 50 * time.Millisecond}
	if err := s.Subscribe(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rig, s
}

// pendingReason is the last error of the subscription's oldest pending
// delivery.
func pendingReason(t *testing.T, rig *storagetest.Rig, sub string) string {
	t.Helper()
	due, err := rig.DB.DueWebhooksFor(context.Background(), sub, rig.Clock.Now().Add(time.Hour), 10)
	if err != nil || len(due) == 0 {
		t.Fatalf("no pending delivery for %s: %v", sub, err)
	}
	return due[0].LastError
}

// TestRedirectsAreNotFollowed: a receiver answering 307 (re-post the
// signed event there) or 302 (turn it into a GET) gets a failed attempt
// with the reason recorded; where it points receives nothing, and the
// event is not marked delivered.
func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound, http.StatusSeeOther} {
		var elsewhere atomic.Int32
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			elsewhere.Add(1)
			w.WriteHeader(http.StatusOK)
		}))
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, other.URL+"/steal", code)
		}))
		rig, s := senderFor(t, webhooks.Subscription{URL: redirect.URL + "/hook", AllowPrivate: true})
		start(t, rig, "r1", "Перенаправление")
		if n, err := s.Step(context.Background()); err != nil || n != 0 {
			t.Fatalf("%d: sent %d, %v", code, n, err)
		}
		if elsewhere.Load() != 0 {
			t.Fatalf("%d: the redirect was followed", code)
		}
		if reason := pendingReason(t, rig, redirect.URL+"/hook"); !strings.Contains(reason, "redirect") {
			t.Fatalf("%d: reason %q", code, reason)
		}
		other.Close()
		redirect.Close()
	}
}

// TestPrivateDestinationsRefused: without allow_private, a loopback
// receiver — by address or by a name that resolves to it — is refused when
// the connection is made and receives nothing; with it, the event goes.
func TestPrivateDestinationsRefused(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	rig, s := senderFor(t, webhooks.Subscription{URL: srv.URL + "/a"}, webhooks.Subscription{URL: byName + "/b"},
		webhooks.Subscription{URL: srv.URL + "/c", AllowPrivate: true})
	start(t, rig, "p1", "Частный адрес")
	if n, err := s.Step(context.Background()); err != nil || n != 1 || got.Load() != 1 {
		t.Fatalf("sent %d (%v), received %d: want only the allowed one", n, err, got.Load())
	}
	for _, sub := range []string{srv.URL + "/a", byName + "/b"} {
		if reason := pendingReason(t, rig, sub); !strings.Contains(reason, "loopback") || !strings.Contains(reason, "allow_private") {
			t.Fatalf("%s: reason %q", sub, reason)
		}
	}
}

// TestHangingReceiverDelaysNobodyElse: one subscriber's receiver hangs;
// another gets its event at once, not after the first one's timeout.
func TestHangingReceiverDelaysNobodyElse(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	fast := make(chan time.Time, 10)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fast <- time.Now()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ok.Close()
	rig, s := senderFor(t, webhooks.Subscription{URL: hang.URL + "/slow", AllowPrivate: true},
		webhooks.Subscription{URL: ok.URL + "/fast", AllowPrivate: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	began := time.Now()
	start(t, rig, "h1", "Зависший")
	s.Wake()
	select {
	case at := <-fast:
		if d := at.Sub(began); d > 3*time.Second {
			t.Fatalf("the healthy receiver waited %s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the healthy receiver got nothing while the other hung")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSubscriptionTypes: a subscription for some document types gets the
// events of those only.
func TestSubscriptionTypes(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	rig, s := senderFor(t, webhooks.Subscription{URL: srv.URL + "/memos", Types: []string{"memo"}, AllowPrivate: true},
		webhooks.Subscription{URL: srv.URL + "/contracts", Types: []string{"contract"}, AllowPrivate: true})
	start(t, rig, "t1", "Договор")
	for range 5 {
		if _, err := s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if due, _ := rig.DB.DueWebhooksFor(context.Background(), srv.URL+"/memos", rig.Clock.Now().Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("the memo subscription was queued a contract's events: %d", len(due))
	}
	if got.Load() == 0 {
		t.Fatal("the contract subscription got nothing")
	}
}
