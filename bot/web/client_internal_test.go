package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/viza-app/viza/storage/storagetest"
)

func TestClientAddr(t *testing.T) {
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.5:4000", nil, "203.0.113.5"},
		{"203.0.113.5:4000", []string{"10.0.0.1"}, "203.0.113.5"}, // not from a local proxy: the header is the client's own
		{"127.0.0.1:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"[::1]:4000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"}, // the proxy appends; what came before is the client's
		{"127.0.0.1:4000", []string{"1.2.3.4", "198.51.100.8"}, "198.51.100.8"},
		{"127.0.0.1:4000", []string{"not-an-ip"}, "127.0.0.1"},
		{"127.0.0.1:4000", nil, "127.0.0.1"},
	}
	for _, tc := range tests {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(r); got != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// TestUploadsPerClient: one client's uploads under way at once are
// bounded; the next is refused until one finishes, and another client is
// not held up.
func TestUploadsPerClient(t *testing.T) {
	rig := storagetest.NewRig(t, false)
	s := &Server{Engine: rig.Engine, Store: rig.DB, Files: rig.Files, Clock: rig.Clock, Log: slog.New(slog.DiscardHandler)}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	h := s.fewUploads(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	post := func(addr string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/start", nil)
		r.RemoteAddr = addr
		h(w, r)
		return w
	}
	done := make(chan int, 3)
	for range uploadsPerClient {
		go func() { done <- post("198.51.100.7:4000").Code }()
		<-entered
	}
	if code := post("198.51.100.7:4001").Code; code != http.StatusTooManyRequests {
		t.Fatalf("a third upload at once = %d, want 429", code)
	}
	go func() { done <- post("203.0.113.9:4000").Code }()
	<-entered // another client goes through
	close(release)
	for range uploadsPerClient + 1 {
		<-done
	}
	go func() { done <- post("198.51.100.7:4002").Code }()
	<-entered
	if code := <-done; code != http.StatusOK {
		t.Fatalf("after the others finished = %d", code)
	}
}
