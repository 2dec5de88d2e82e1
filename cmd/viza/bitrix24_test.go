package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/bitrix24/b24fake"
	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/flows"
)

// The suite's people on the portal.
var b24Users = map[flows.PersonID]b24fake.User{
	chattest.Ivanova:    {ID: 11, Name: "Анна", LastName: "Иванова", Email: "ivanova@romashka.example", Phone: "+79001112233", Language: "ru"},
	chattest.Petrov:     {ID: 12, Name: "Пётр", LastName: "Петров", Email: "petrov@romashka.example", Language: "en"},
	chattest.Sidorov:    {ID: 13, Name: "Сидор", LastName: "Сидоров", Email: "sidorov@romashka.example", Language: "ru"},
	chattest.Kuznetsova: {ID: 14, Name: "Ксения", LastName: "Кузнецова", Language: "ru"},
	chattest.Director:   {ID: 15, Name: "Дмитрий", LastName: "Орлов", Language: "ru"},
	chattest.Volkov:     {ID: 16, Name: "Василий", LastName: "Волков", Language: "ru"},
}

const b24Stranger = 99

func newB24Fake(t *testing.T, v2 bool) *b24fake.Server {
	var users []b24fake.User
	for _, u := range b24Users {
		users = append(users, u)
	}
	fake := b24fake.New(v2, append(users, b24fake.User{ID: b24Stranger, Name: "Мэлори", Language: "ru"})...)
	t.Cleanup(fake.Close)
	return fake
}

func b24Ident(p flows.PersonID) string { return fmt.Sprint("bitrix24: ", b24Users[p].ID) }

// startB24 starts Main on the suite's company with Bitrix24 (the mode is
// the portal's: fetch where the fake has Chatbots 2.0, events where it has
// only classic imbot); fields are more keys of the bitrix24 section
// (", registry_list: {…}"), extra more sections.
func startB24(t *testing.T, fake *b24fake.Server, fields, extra string, ident func(flows.PersonID) string) *Main {
	t.Setenv("VIZA_BITRIX24_WEBHOOK", fake.Webhook)
	t.Setenv("VIZA_BITRIX24_APP_TOKEN", fake.ApplicationToken)
	if ident == nil {
		ident = b24Ident
	}
	return startSuiteService(t, ident, fmt.Sprintf("bitrix24: {mode: auto, fetch_interval: 20ms, portal_url: %q%s}\n", fake.URL, fields)+extra)
}

type b24Env struct {
	t    *testing.T
	m    *Main
	fake *b24fake.Server
}

func newB24Env(v2 bool) func(t *testing.T) chattest.Env { return newB24EnvWith(v2, false) }

// newB24EnvWith is the suite's portal; minimal sends only what the
// documentation promises (see b24fake.Server.Minimal).
func newB24EnvWith(v2, minimal bool) func(t *testing.T) chattest.Env {
	return func(t *testing.T) chattest.Env {
		fake := newB24Fake(t, v2)
		fake.Minimal = minimal
		m := startB24(t, fake, "", "", nil)
		want := map[bool]string{true: "fetch", false: "events"}[v2]
		if m.b24Wire.Mode() != want {
			t.Fatalf("mode %s, want %s", m.b24Wire.Mode(), want)
		}
		return &b24Env{t: t, m: m, fake: fake}
	}
}

func b24UserID(s string) int64 { id, _ := strconv.ParseInt(s, 10, 64); return id }

func (e *b24Env) Caps() chat.Caps                   { return e.m.b24Wire.Caps() }
func (e *b24Env) Stranger() string                  { return strconv.Itoa(b24Stranger) }
func (e *b24Env) User(p flows.PersonID) string      { return strconv.FormatInt(b24Users[p].ID, 10) }
func (e *b24Env) Fetches() int                      { return e.fake.Downloads() }
func (e *b24Env) Engine() *flows.Engine             { return e.m.Engine }
func (e *b24Env) Document(n string) *flows.Document { return suiteDocument(e.t, e.m, n) }

// settle waits until the portal's event reached the bot (answered 200, or
// fetched and confirmed) and the inbox is handled.
func (e *b24Env) settle(p b24fake.Posted) {
	e.t.Helper()
	if p.URL != "" && p.Status != 200 {
		e.t.Fatalf("the event was answered %d", p.Status)
	}
	if !until(func() bool { return e.fake.Pending() == 0 }) {
		e.t.Fatal("the bot did not fetch its events")
	}
	b24InboxHandled(e.t, e.m)
}

func b24InboxHandled(t *testing.T, m *Main) {
	t.Helper()
	if !until(func() bool {
		items, err := m.DB.InboxPending(context.Background(), bitrix24.Name, 1)
		return err == nil && len(items) == 0
	}) {
		t.Fatal("the Bitrix24 inbox was not handled")
	}
}

func (e *b24Env) Text(user, text string) { e.settle(e.fake.UserText(b24UserID(user), text)) }
func (e *b24Env) Command(user, name, args string) {
	e.settle(e.fake.UserCommand(b24UserID(user), name, args))
}
func (e *b24Env) Upload(user string, f chattest.File) {
	e.settle(e.fake.UserFile(b24UserID(user), f.Name, f.Data, f.Caption, f.Size))
}

func (e *b24Env) ReplyFile(user string, to chattest.Msg, f chattest.File) {
	// No replies in bot events: the message's own button asks for the file.
	b, ok := to.Button("uv:")
	if !ok {
		e.t.Fatalf("message %s has no Upload button: %+v", to.ID, to.Buttons)
	}
	e.Tap(user, to, b.Action)
	e.Upload(user, f)
}

func (e *b24Env) Tap(user string, on chattest.Msg, action string) string {
	e.t.Helper()
	id, _ := strconv.ParseInt(on.ID, 10, 64)
	btn := b24fake.Button{Command: "vizabtn", Params: action}
	if msg, ok := e.fake.Message(id); ok {
		for _, b := range msg.Buttons {
			if b.Params == action {
				btn = b
			}
		}
	}
	before := len(e.fake.Dialog(b24UserID(user)))
	e.settle(e.fake.UserTap(b24UserID(user), id, btn))
	for _, m := range e.fake.Dialog(b24UserID(user))[before:] {
		if m.FromBot && m.System {
			return plainBB(m.Text)
		}
	}
	return ""
}

func (e *b24Env) Answer(user string, q chattest.Msg, text string) { e.Text(user, text) }

var bbTag = regexp.MustCompile(`\[/?(B|I|CODE|URL)(=[^\]]*)?\]`)

// plainBB is BB-code as a person reads it.
func plainBB(s string) string { return strings.ReplaceAll(bbTag.ReplaceAllString(s, ""), "\u200b", "") }

func (e *b24Env) Messages(user string) []chattest.Msg {
	var out []chattest.Msg
	for _, m := range e.fake.Dialog(b24UserID(user)) {
		if !m.FromBot {
			continue
		}
		msg := chattest.Msg{ID: strconv.FormatInt(m.ID, 10), Text: plainBB(m.Text), Question: chattest.NextQuestion(plainBB(m.Text))}
		if m.Attach != "" {
			msg.Text += "\n" + plainBB(m.Attach)
		}
		if m.File != nil {
			msg.File, msg.Data = m.File.Name, m.File.Data
		}
		for _, b := range m.Buttons {
			msg.Buttons = append(msg.Buttons, chat.Button{Label: b.Text, Action: b.Params})
		}
		out = append(out, msg)
	}
	return out
}

// TestBitrix24Scenarios runs the conversation suite over the fake portal:
// with Chatbots 2.0 (fetch) and with classic imbot events.
func TestBitrix24Scenarios(t *testing.T) {
	t.Run("fetch", func(t *testing.T) { chattest.Run(t, newB24Env(true)) })
	t.Run("events", func(t *testing.T) { chattest.Run(t, newB24Env(false)) })
	// The documented minimum: files by id only, every scalar a string.
	t.Run("fetch-minimal", func(t *testing.T) { chattest.Run(t, newB24EnvWith(true, true)) })
	t.Run("events-minimal", func(t *testing.T) { chattest.Run(t, newB24EnvWith(false, true)) })
}
