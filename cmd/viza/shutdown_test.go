package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

// ourGoroutines lists the goroutines running code of the service itself
// (not of a test or a fake platform).
func ourGoroutines() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "github.com/viza-app/viza/") {
			continue
		}
		skip := false
		for _, not := range []string{"_test.go", "tgfake", "slackfake", "b24fake", "smtpfake", "smsfake", "chattest", "webtest", "storagetest"} {
			skip = skip || strings.Contains(g, not)
		}
		if !skip {
			out = append(out, g)
		}
	}
	return out
}

// TestShutdownJoinsEveryLoop: a service busy with a platform (polling,
// deliveries, the inbox) is stopped; once Run has returned and the
// database is closed, not one goroutine of its own is left — nothing can
// write into the data folder after Close.
func TestShutdownJoinsEveryLoop(t *testing.T) {
	before := len(ourGoroutines())
	fake, s := startPolling(t)
	for i := range 5 {
		if _, err := s.m.Engine.Start(context.Background(), flows.StartCmd{Key: "sd:" + string(rune('a'+i)), Actor: chattest.Ivanova, TypeID: "supply",
			Title: "Остановка", File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF")}}); err != nil {
			t.Fatal(err)
		}
	}
	fake.UserText(ivanova, "/my")
	if !tgfake.Until(wait, func() bool { return len(fake.Chat(petrov.ID)) > 0 }) {
		t.Fatal("nothing was delivered")
	}
	s.stop()
	// Run returned and Close is done: what is left must be nothing of
	// ours, at once (a short grace for goroutines that return right after
	// a channel closes).
	var left []string
	deadline := time.Now().Add(2 * time.Second)
	for {
		left = ourGoroutines()
		if len(left) <= before || time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	if len(left) > before {
		t.Fatalf("%d goroutines of the service outlived Close:\n%s", len(left)-before, strings.Join(left, "\n\n"))
	}
}

// TestShutdownJoinsBitrix24Batches: the same with Bitrix24, whose sends
// and edits go out in batches gathered in the background.
func TestShutdownJoinsBitrix24Batches(t *testing.T) {
	before := len(ourGoroutines())
	fake := newB24Fake(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	t.Setenv("VIZA_BITRIX24_WEBHOOK", fake.Webhook)
	t.Setenv("VIZA_BITRIX24_APP_TOKEN", fake.ApplicationToken)
	dir := t.TempDir()
	path := dir + "/viza.yaml"
	if err := os.WriteFile(path, []byte(chattest.Config(dir+"/data", b24Ident, "bitrix24: {mode: fetch, fetch_interval: 20ms, portal_url: \""+fake.URL+"\"}\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMain(ctx, cfg, path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitChannelsUp(t, m)
	for i := range 6 {
		if _, err := m.Engine.Start(ctx, flows.StartCmd{Key: "b:" + string(rune('a'+i)), Actor: chattest.Ivanova, TypeID: "supply",
			Title: "Пакет", File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF")}}); err != nil {
			t.Fatal(err)
		}
	}
	// Stopped while the requests are going out.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m.Close()
	if left := ourGoroutines(); len(left) > before {
		t.Fatalf("%d goroutines of the service outlived Close:\n%s", len(left)-before, strings.Join(left, "\n\n"))
	}
}
