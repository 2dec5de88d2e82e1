package bitrix24_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/bitrix24/b24fake"
	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

func newTransport(t *testing.T, fake *b24fake.Server) *bitrix24.Transport {
	t.Helper()
	c, err := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: fake.Webhook}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := bitrix24.New(context.Background(), bitrix24.Config{EventsURL: "http://127.0.0.1:1/bitrix24/events"}, c, openDB(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestEditsComeTogetherInOneBatch: every copy of a request changing at
// once goes out as one batch call, and each copy loses its keyboard.
func TestEditsComeTogetherInOneBatch(t *testing.T) {
	for _, v2 := range []bool{true, false} {
		t.Run(fmt.Sprint("v2=", v2), func(t *testing.T) {
			var users []b24fake.User
			for i := range 5 {
				users = append(users, b24fake.User{ID: int64(20 + i), Name: fmt.Sprint("U", i)})
			}
			fake := b24fake.New(v2, users...)
			defer fake.Close()
			tr := newTransport(t, fake)
			ctx := context.Background()
			var ids []string
			for _, u := range users {
				id, err := tr.Send(ctx, strconv.FormatInt(u.ID, 10), chat.Message{Text: rich.Plain("Договор"),
					Buttons: [][]chat.Button{{{Label: "Согласовать", Action: "ap:1"}}}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(users))
			for i, u := range users {
				wg.Go(func() {
					errs[i] = tr.Edit(ctx, strconv.FormatInt(u.ID, 10), ids[i], chat.Message{Text: rich.Plain("Договор — согласован")})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("edit %d: %v", i, err)
				}
			}
			if n := len(fake.Calls("batch")); n != 1 {
				t.Fatalf("%d batch calls for five edits at once", n)
			}
			for _, id := range ids {
				n, _ := strconv.ParseInt(id, 10, 64)
				m, _ := fake.Message(n)
				if m.Edits != 1 || len(m.Buttons) != 0 || m.Text != "Договор — согласован" {
					t.Fatalf("message %s: %+v", id, m)
				}
			}
			// A batch refuses one call: only its caller hears of it.
			var bad error
			wg.Go(func() { bad = tr.Edit(ctx, "20", "999999", chat.Message{Text: rich.Plain("x")}) })
			good := tr.Edit(ctx, "21", ids[1], chat.Message{Text: rich.Plain("y")})
			wg.Wait()
			if good != nil || bad == nil {
				t.Fatalf("good %v, bad %v", good, bad)
			}
		})
	}
}

// TestRegistrationIsIdempotent: every start registers the bot and its
// commands, in Russian and English, and a second start adds nothing.
func TestRegistrationIsIdempotent(t *testing.T) {
	for _, v2 := range []bool{true, false} {
		t.Run(fmt.Sprint("v2=", v2), func(t *testing.T) {
			fake := b24fake.New(v2)
			defer fake.Close()
			c, _ := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: fake.Webhook}, slog.New(slog.DiscardHandler))
			db := openDB(t)
			start := func() *bitrix24.Transport {
				tr, err := bitrix24.New(context.Background(), bitrix24.Config{EventsURL: "https://viza.example/bitrix24/events"}, c, db, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.Connect(context.Background()); err != nil {
					t.Fatal(err)
				}
				return tr
			}
			first := start()
			bot, cmds := fake.Registered()
			if want := map[bool]string{true: "fetch", false: "events"}[v2]; first.Mode() != want || bot == 0 {
				t.Fatalf("mode %s, bot %d", first.Mode(), bot)
			}
			for _, n := range append([]string{"vizabtn"}, chat.Commands...) {
				if cmds[n] == 0 {
					t.Errorf("/%s not registered", n)
				}
			}
			method := map[bool]string{true: "imbot.v2.Command.register", false: "imbot.command.register"}[v2]
			calls := fake.Calls(method)
			titled := false
			for _, call := range calls {
				body := fmt.Sprint(call.Params)
				if strings.Contains(body, "status") && !strings.Contains(body, "vizabtn") {
					titled = strings.Contains(body, "Статус документа") && strings.Contains(body, "Document status")
				}
			}
			if !titled {
				t.Error("/status was not registered with its Russian and English titles")
			}
			start()
			if bot2, _ := fake.Registered(); bot2 != bot || len(fake.Calls(method)) != len(calls) {
				t.Fatalf("a second start registered again: bot %d→%d, %d→%d calls", bot, bot2, len(calls), len(fake.Calls(method)))
			}
		})
	}
}

// TestEventsFromAnotherPortalAreRefused: once an installation kept its
// portal's member_id and domain, a classic event carrying the right
// application_token but naming another portal is refused and not stored.
func TestEventsFromAnotherPortalAreRefused(t *testing.T) {
	fake := b24fake.New(false)
	defer fake.Close()
	c, err := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: fake.Webhook}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t)
	tr, err := bitrix24.New(context.Background(), bitrix24.Config{EventsURL: "https://viza.example/bitrix24/events", ApplicationToken: "app-token-1"}, c, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db.StatePut(ctx, bitrix24.Name, "member_id", "member-ours")
	db.StatePut(ctx, bitrix24.Name, "domain", "romashka.bitrix24.ru")
	post := func(member, domain string) int {
		form := url.Values{"event": {"ONIMBOTMESSAGEADD"}, "data[USER][ID]": {"27"}, "data[PARAMS][DIALOG_ID]": {"27"},
			"data[PARAMS][MESSAGE]": {"привет " + member}, "auth[application_token]": {"app-token-1"}, "auth[member_id]": {member}, "auth[domain]": {domain}}
		rec := httptest.NewRecorder()
		tr.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/bitrix24/events", strings.NewReader(form.Encode())))
		return rec.Code
	}
	if code := post("member-theirs", "romashka.bitrix24.ru"); code != http.StatusUnauthorized {
		t.Fatalf("another member_id: %d", code)
	}
	if code := post("member-ours", "evil.bitrix24.ru"); code != http.StatusUnauthorized {
		t.Fatalf("another domain: %d", code)
	}
	if items, _ := db.InboxPending(ctx, bitrix24.Name, 10); len(items) != 0 {
		t.Fatalf("%d refused events were stored", len(items))
	}
	if code := post("member-ours", "romashka.bitrix24.ru"); code != http.StatusOK {
		t.Fatalf("our portal's event: %d", code)
	}
}

// TestProbeAsksThePortal: the probe is server.time, which any user may
// call; a closed portal is a transient failure, not a refusal.
func TestProbeAsksThePortal(t *testing.T) {
	fake := b24fake.New(true)
	tr := newTransport(t, fake)
	if err := tr.Probe(context.Background()); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if n := len(fake.Calls("server.time")); n != 1 {
		t.Fatalf("server.time called %d times", n)
	}
	fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := tr.Probe(ctx); err == nil || flows.ErrorKind(err) != flows.KindTransient {
		t.Fatalf("a closed portal: %v (%s)", err, flows.ErrorKind(err))
	}
}
