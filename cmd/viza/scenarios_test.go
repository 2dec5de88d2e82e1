package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/bot/telegram"
	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

// startSuiteService starts Main on the scenario suite's company with the
// channel section and extra wires given.
func startSuiteService(t *testing.T, ident func(flows.PersonID) string, channel string, extra ...Wire) *Main {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "viza.yaml")
	if err := os.WriteFile(path, []byte(chattest.Config(filepath.Join(dir, "data"), ident, channel)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMain(ctx, cfg, path, log, extra...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		m.Close()
	})
	waitChannelsUp(t, m)
	return m
}

// waitChannelsUp waits for every channel to have reached its fake
// platform: the service connects in the background.
func waitChannelsUp(t testing.TB, m *Main) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Wait)
	defer cancel()
	if err := m.ChannelsUp(ctx); err != nil {
		t.Fatalf("channels not up: %v", err)
	}
}

func suiteDocument(t *testing.T, m *Main, number string) *flows.Document {
	d, err := m.DB.DocumentByNumber(context.Background(), number)
	if err != nil {
		return nil
	}
	return d
}

// memEnv is the scenario suite over the in-memory messenger: nothing but
// events in and messages out, so whatever passes here is the conversation
// layer's own doing.
type memEnv struct {
	t    *testing.T
	m    *Main
	mem  *chattest.Mem
	ms   *chat.Messenger
	keys atomic.Int64
}

func newMemEnv(caps chat.Caps) func(t *testing.T) chattest.Env {
	return func(t *testing.T) chattest.Env {
		mem := chattest.NewMem(caps)
		m := startSuiteService(t, func(flows.PersonID) string { return "" }, "", Wire{Transport: mem})
		return &memEnv{t: t, m: m, mem: mem, ms: m.Messengers[chattest.MemName]}
	}
}

func (e *memEnv) key() string                       { return fmt.Sprint("mem:", e.keys.Add(1)) }
func (e *memEnv) conv(user string) string           { return "c-" + user }
func (e *memEnv) Caps() chat.Caps                   { return e.mem.Caps() }
func (e *memEnv) Stranger() string                  { return "x-mallory" }
func (e *memEnv) User(p flows.PersonID) string      { return "u-" + string(p) }
func (e *memEnv) Fetches() int                      { return e.mem.Fetches() }
func (e *memEnv) Engine() *flows.Engine             { return e.m.Engine }
func (e *memEnv) Document(n string) *flows.Document { return suiteDocument(e.t, e.m, n) }

func (e *memEnv) handle(ev chat.Event) {
	ev.Key = e.key()
	e.ms.Handle(context.Background(), ev)
}

func (e *memEnv) Text(user, text string) {
	e.mem.Said(e.conv(user), user, text, "")
	e.handle(chat.Event{Conv: e.conv(user), User: user, Text: text})
}

func (e *memEnv) Command(user, name, args string) {
	e.mem.Said(e.conv(user), user, "/"+name+" "+args, "")
	e.handle(chat.Event{Conv: e.conv(user), User: user, Command: name, Args: args})
}

func (e *memEnv) fileRef(f chattest.File) *chat.FileRef {
	size := f.Size
	if size == 0 {
		size = int64(len(f.Data))
	}
	return &chat.FileRef{Ref: e.mem.Put(f.Name, f.Data), Name: f.Name, MIME: f.MIME, Size: size}
}

func (e *memEnv) Upload(user string, f chattest.File) {
	e.mem.Said(e.conv(user), user, f.Caption, f.Name)
	e.handle(chat.Event{Conv: e.conv(user), User: user, Text: f.Caption, File: e.fileRef(f)})
}

func (e *memEnv) ReplyFile(user string, to chattest.Msg, f chattest.File) {
	if !e.mem.Caps().ReplyTo {
		// Without replies the message's own button asks for the file.
		b, ok := to.Button("uv:")
		if !ok {
			e.t.Fatalf("message %s has no Upload button: %+v", to.ID, to.Buttons)
		}
		e.Tap(user, to, b.Action)
		e.Upload(user, f)
		return
	}
	e.mem.Said(e.conv(user), user, f.Caption, f.Name)
	e.handle(chat.Event{Conv: e.conv(user), User: user, Text: f.Caption, File: e.fileRef(f), ReplyTo: to.ID, ReplyText: to.Text})
}

func (e *memEnv) Tap(user string, on chattest.Msg, action string) string {
	id := e.key()
	tap := &chat.Tap{ID: id, Action: action, Message: on.ID, MessageText: on.Text}
	if e.mem.Caps().Forms {
		tap.Trigger = "trigger-" + id
	}
	e.handle(chat.Event{Conv: e.conv(user), User: user, Tap: tap})
	ans, ok := e.mem.Answered(id)
	if !ok {
		e.t.Fatalf("tap %s on %s was never answered", action, on.ID)
	}
	return ans
}

func (e *memEnv) Answer(user string, q chattest.Msg, text string) {
	var asked *chat.Question
	for _, m := range e.mem.Conv(e.conv(user)) {
		if m.ID == q.ID {
			asked = m.Question
		}
	}
	if asked == nil {
		e.t.Fatalf("message %s is no question", q.ID)
	}
	e.mem.Said(e.conv(user), user, text, "")
	ev := chat.Event{Conv: e.conv(user), User: user, Text: text}
	switch asked.Mode {
	case chat.AskReply:
		ev.ReplyTo, ev.ReplyText = q.ID, q.Text
	case chat.AskForm:
		ev.Text, ev.Form = "", &chat.Form{Question: asked.ID, Text: text}
	}
	e.handle(ev)
}

func (e *memEnv) Messages(user string) []chattest.Msg {
	var out []chattest.Msg
	for _, m := range e.mem.Conv(e.conv(user)) {
		if m.From != "bot" {
			continue
		}
		msg := chattest.Msg{ID: m.ID, Text: m.Text.String(), File: m.File, Data: m.Data, Question: m.Question != nil}
		for _, row := range m.Buttons {
			msg.Buttons = append(msg.Buttons, row...)
		}
		out = append(out, msg)
	}
	return out
}

// TestMemScenarios runs the suite over the in-memory messenger twice: as
// capable as Telegram (edits, replies, forms), and as poor as a messenger
// can be (no edits, no replies, no forms, short texts, few buttons, short
// action ids, 5 MB files), where the layer must degrade and still carry
// every conversation.
func TestMemScenarios(t *testing.T) {
	t.Run("rich", func(t *testing.T) {
		chattest.Run(t, newMemEnv(chat.Caps{Edit: true, ReplyTo: true, Forms: true, MaxText: 4000, RowButtons: 5, Dialect: "plain"}))
	})
	t.Run("poor", func(t *testing.T) {
		chattest.Run(t, newMemEnv(chat.Caps{MaxText: 600, RowButtons: 2, MsgButtons: 4, MaxAction: 16, MaxFile: 5 << 20, Dialect: "plain"}))
	})
}

// tgEnv is the scenario suite over the fake Bot API, through the real
// Telegram transport and client library.
type tgEnv struct {
	t    *testing.T
	m    *Main
	fake *tgfake.Server
}

var suiteTelegramIDs = map[flows.PersonID]int64{chattest.Ivanova: 111111111, chattest.Petrov: 222222222, chattest.Sidorov: 333333333,
	chattest.Kuznetsova: 444444444, chattest.Director: 555555555, chattest.Volkov: 666666666}

func newTelegramEnv(t *testing.T) chattest.Env {
	fake := tgfake.New("123456:TEST-token")
	t.Cleanup(fake.Close)
	t.Setenv("VIZA_TEST_TG_TOKEN", fake.Token)
	m := startSuiteService(t, func(p flows.PersonID) string { return fmt.Sprint("telegram: ", suiteTelegramIDs[p]) },
		"telegram: {token_env: VIZA_TEST_TG_TOKEN, api_url: \""+fake.URL+"\"}\n")
	return &tgEnv{t: t, m: m, fake: fake}
}

func (e *tgEnv) user(s string) tgfake.User {
	id, _ := strconv.ParseInt(s, 10, 64)
	return tgfake.User{ID: id, FirstName: "U" + s, Language: "ru"}
}

func (e *tgEnv) Caps() chat.Caps  { return (&telegram.Transport{}).Caps() }
func (e *tgEnv) Stranger() string { return "999000999" }
func (e *tgEnv) User(p flows.PersonID) string {
	return strconv.FormatInt(suiteTelegramIDs[p], 10)
}
func (e *tgEnv) Fetches() int                      { return len(e.fake.Calls("getFile")) }
func (e *tgEnv) Engine() *flows.Engine             { return e.m.Engine }
func (e *tgEnv) Document(n string) *flows.Document { return suiteDocument(e.t, e.m, n) }
func (e *tgEnv) Text(user, text string)            { e.fake.UserText(e.user(user), text) }
func (e *tgEnv) Command(user, name, args string) {
	e.fake.UserText(e.user(user), strings.TrimSpace("/"+name+" "+args))
}

func (e *tgEnv) Upload(user string, f chattest.File) {
	e.fake.UserDocument(e.user(user), f.Name, f.MIME, f.Data, f.Caption, 0, f.Size)
}

func (e *tgEnv) ReplyFile(user string, to chattest.Msg, f chattest.File) {
	id, _ := strconv.ParseInt(to.ID, 10, 64)
	e.fake.UserDocument(e.user(user), f.Name, f.MIME, f.Data, f.Caption, id, f.Size)
}

func (e *tgEnv) Tap(user string, on chattest.Msg, action string) string {
	id, _ := strconv.ParseInt(on.ID, 10, 64)
	_, cb := e.fake.UserTap(e.user(user), id, action)
	if !tgfake.Until(chattest.Wait, func() bool { return e.fake.Answered(cb) }) {
		e.t.Fatalf("callback %s (%s) never answered", cb, action)
	}
	return lastAnswer(e.fake, cb)
}

func (e *tgEnv) Answer(user string, q chattest.Msg, text string) {
	id, _ := strconv.ParseInt(q.ID, 10, 64)
	e.fake.UserReply(e.user(user), id, text)
}

func (e *tgEnv) Messages(user string) []chattest.Msg {
	chatID, _ := strconv.ParseInt(user, 10, 64)
	var out []chattest.Msg
	for _, m := range e.fake.Chat(chatID) {
		msg := chattest.Msg{ID: strconv.FormatInt(m.MessageID, 10), Text: m.Text, File: m.FileName}
		if m.FileID != "" {
			msg.Data, _ = e.fake.FileContent(m.FileID)
		}
		var mk struct {
			InlineKeyboard [][]struct {
				Text string `json:"text"`
				Data string `json:"callback_data"`
			} `json:"inline_keyboard"`
			ForceReply bool `json:"force_reply"`
		}
		json.Unmarshal([]byte(m.Markup), &mk)
		for _, row := range mk.InlineKeyboard {
			for _, b := range row {
				msg.Buttons = append(msg.Buttons, chat.Button{Label: b.Text, Action: b.Data})
			}
		}
		msg.Question = mk.ForceReply
		out = append(out, msg)
	}
	return out
}

// TestTelegramScenarios runs the conversation suite over the fake Bot API.
func TestTelegramScenarios(t *testing.T) { chattest.Run(t, newTelegramEnv) }
