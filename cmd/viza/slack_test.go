package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/bot/slack"
	"github.com/viza-app/viza/bot/slack/slackfake"
	"github.com/viza-app/viza/flows"
)

// The suite's people on Slack. ivanova and petrov are named in viza.yaml;
// the others are found by the e-mail of their Slack profile.
var (
	slackUsers = map[flows.PersonID]slackfake.User{
		chattest.Ivanova:    {ID: "U0IVANOVA", Name: "ivanova", Email: "ivanova@romashka.example", Locale: "ru-RU"},
		chattest.Petrov:     {ID: "U0PETROV", Name: "petrov", Email: "petrov@romashka.example", Locale: "en-US"},
		chattest.Sidorov:    {ID: "U0SIDOROV", Name: "sidorov", Email: "SIDOROV@romashka.example", Locale: "ru-RU"},
		chattest.Kuznetsova: {ID: "U0KUZNETSOVA", Name: "kuznetsova", Email: "kuznetsova@romashka.example", Locale: "ru-RU"},
		chattest.Director:   {ID: "U0DIRECTOR", Name: "director", Email: "director@romashka.example", Locale: "ru-RU"},
		chattest.Volkov:     {ID: "U0VOLKOV", Name: "volkov", Email: "volkov@romashka.example", Locale: "ru-RU"},
	}
	mallory = slackfake.User{ID: "U0MALLORY", Name: "mallory", Email: "mallory@evil.example", Locale: "ru-RU"}
)

func newSlackFake(t *testing.T) *slackfake.Server {
	var users []slackfake.User
	for _, u := range slackUsers {
		users = append(users, u)
	}
	fake := slackfake.New(append(users, mallory)...)
	t.Cleanup(fake.Close)
	return fake
}

// startSlack starts Main on the suite's company with Slack in mode.
func startSlack(t *testing.T, fake *slackfake.Server, mode string, extraChannel string, ident func(flows.PersonID) string) *Main {
	t.Setenv("VIZA_SLACK_BOT_TOKEN", fake.BotToken)
	t.Setenv("VIZA_SLACK_APP_TOKEN", fake.AppToken)
	t.Setenv("VIZA_SLACK_SIGNING_SECRET", fake.SigningSecret)
	if ident == nil {
		ident = func(p flows.PersonID) string {
			if p == chattest.Ivanova || p == chattest.Petrov {
				return "slack: " + slackUsers[p].ID
			}
			return ""
		}
	}
	m := startSuiteService(t, ident, fmt.Sprintf("slack: {mode: %s, api_url: %q}\n", mode, fake.URL)+extraChannel)
	if mode == "http" {
		fake.HTTPMode("http://" + m.Listener.Addr().String())
	} else if !until(func() bool { return fake.Connections() > 0 }) {
		t.Fatal("no Socket Mode connection")
	}
	return m
}

func until(cond func() bool) bool {
	deadline := time.Now().Add(chattest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// slackEnv is the scenario suite over the fake Slack.
type slackEnv struct {
	t    *testing.T
	m    *Main
	fake *slackfake.Server
}

func newSlackEnv(mode string) func(t *testing.T) chattest.Env {
	return func(t *testing.T) chattest.Env {
		fake := newSlackFake(t)
		return &slackEnv{t: t, m: startSlack(t, fake, mode, "", nil), fake: fake}
	}
}

func (e *slackEnv) Caps() chat.Caps                   { return e.m.slWire.Caps() }
func (e *slackEnv) Stranger() string                  { return mallory.ID }
func (e *slackEnv) User(p flows.PersonID) string      { return slackUsers[p].ID }
func (e *slackEnv) Fetches() int                      { return e.fake.Downloads() }
func (e *slackEnv) Engine() *flows.Engine             { return e.m.Engine }
func (e *slackEnv) Document(n string) *flows.Document { return suiteDocument(e.t, e.m, n) }

// settle waits for Slack's acknowledgement and for the inbox to be
// handled.
func (e *slackEnv) settle(d slackfake.Delivery) {
	e.t.Helper()
	if _, ok := e.fake.Response(d, chattest.Wait); !ok {
		e.t.Fatalf("Slack got no acknowledgement for %+v", d)
	}
	if !until(func() bool {
		items, err := e.m.DB.InboxPending(context.Background(), slack.Name, 1)
		return err == nil && len(items) == 0
	}) {
		e.t.Fatal("the inbox was not handled")
	}
}

func (e *slackEnv) Text(user, text string) { e.settle(e.fake.UserText(user, text)) }
func (e *slackEnv) Command(user, name, args string) {
	e.settle(e.fake.UserCommand(user, "", strings.TrimSpace(name+" "+args)))
}

func (e *slackEnv) Upload(user string, f chattest.File) {
	e.settle(e.fake.UserFile(user, f.Name, f.MIME, f.Data, f.Caption, "", f.Size))
}

func (e *slackEnv) ReplyFile(user string, to chattest.Msg, f chattest.File) {
	_, ts, _ := strings.Cut(to.ID, "|")
	e.settle(e.fake.UserFile(user, f.Name, f.MIME, f.Data, f.Caption, ts, f.Size))
}

func (e *slackEnv) message(id string) slackfake.Message {
	channel, ts, _ := strings.Cut(id, "|")
	for _, m := range e.fake.Messages(channel, "") {
		if m.TS == ts {
			return m
		}
	}
	return slackfake.Message{Channel: channel, TS: ts}
}

func (e *slackEnv) Tap(user string, on chattest.Msg, action string) string {
	e.t.Helper()
	msg := e.message(on.ID)
	btn, ok := msg.Button(action)
	if !ok || btn.Value != action {
		btn = slackfake.Button{ActionID: "forged", BlockID: "r0", Label: "x", Value: action}
	}
	dm := e.fake.DM(user)
	before := len(e.fake.Messages(dm, user))
	e.settle(e.fake.UserTap(user, msg, btn))
	// A note for the tap comes as an ephemeral message to who pressed.
	for _, m := range e.fake.Messages(msg.Channel, user)[min(before, len(e.fake.Messages(msg.Channel, user))):] {
		if m.Ephemeral == user {
			return m.Text
		}
	}
	return ""
}

func (e *slackEnv) Answer(user string, q chattest.Msg, text string) {
	e.t.Helper()
	if id, ok := strings.CutPrefix(q.ID, "view|"); ok {
		for _, v := range e.fake.OpenViews(user) {
			if v.ID == id {
				e.settle(e.fake.Submit(user, v, text))
				return
			}
		}
		e.t.Fatalf("no open modal %s", id)
	}
	e.Text(user, text)
}

func (e *slackEnv) Messages(user string) []chattest.Msg {
	dm := e.fake.DM(user)
	var out []chattest.Msg
	for _, m := range e.fake.Messages(dm, user) {
		if m.User != slackfake.BotUser {
			continue
		}
		msg := chattest.Msg{ID: m.Channel + "|" + m.TS, Text: m.Text}
		if m.Context != "" {
			msg.Text += "\n" + m.Context
		}
		if m.File != nil {
			msg.File, msg.Data = m.File.Name, m.File.Data
			msg.Text = strings.TrimSpace(m.Text)
		}
		for _, b := range m.Buttons {
			msg.Buttons = append(msg.Buttons, chat.Button{Label: b.Label, Action: b.Value, Style: b.Style})
		}
		out = append(out, msg)
	}
	for _, v := range e.fake.OpenViews(user) {
		out = append(out, chattest.Msg{ID: "view|" + v.ID, Text: v.Title + "\n" + v.Text, Question: true})
	}
	return out
}

// TestSlackScenarios runs the conversation suite over the fake Slack, in
// Socket Mode and in HTTP mode.
func TestSlackScenarios(t *testing.T) {
	t.Run("socket", func(t *testing.T) { chattest.Run(t, newSlackEnv("socket")) })
	t.Run("http", func(t *testing.T) { chattest.Run(t, newSlackEnv("http")) })
}
