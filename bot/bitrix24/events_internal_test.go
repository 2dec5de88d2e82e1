package bitrix24

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"testing"
)

// TestEventsFromGroupChatsAreIgnored: the bot answers in a person's own
// dialog only; a mention in a group chat must not become that person's
// conversation, where requests and sheets would go.
func TestEventsFromGroupChatsAreIgnored(t *testing.T) {
	tr := &Transport{log: slog.New(slog.DiscardHandler), chats: map[string]int64{}}
	private := url.Values{"event": {"ONIMBOTMESSAGEADD"}, "data[USER][ID]": {"27"}, "data[PARAMS][DIALOG_ID]": {"27"},
		"data[PARAMS][MESSAGE]": {"Д-2026-0042"}}
	group := url.Values{"event": {"ONIMBOTMESSAGEADD"}, "data[USER][ID]": {"27"}, "data[PARAMS][DIALOG_ID]": {"chat5"},
		"data[PARAMS][MESSAGE]": {"[USER=1]Viza[/USER] Д-2026-0042"}}
	if ev, ok := tr.event(context.Background(), stored{Kind: "v1", Form: private.Encode()}); !ok || ev.Conv != "27" || ev.Text != "Д-2026-0042" {
		t.Fatalf("private: %+v %v", ev, ok)
	}
	if ev, ok := tr.event(context.Background(), stored{Kind: "v1", Form: group.Encode()}); ok {
		t.Fatalf("a group chat's event was taken: %+v", ev)
	}
	v2 := func(dialog string) stored {
		data, _ := json.Marshal(map[string]any{"message": map[string]any{"id": 1, "text": "/status"}, "chat": map[string]any{"dialogId": dialog},
			"user": map[string]any{"id": 27}, "command": map[string]any{"command": "/status", "params": "Д-1", "context": "textarea"}})
		return stored{Kind: "v2", Type: "ONIMBOTV2COMMANDADD", Data: data}
	}
	if ev, ok := tr.event(context.Background(), v2("27")); !ok || ev.Command != "status" || ev.Args != "Д-1" {
		t.Fatalf("private command: %+v %v", ev, ok)
	}
	if _, ok := tr.event(context.Background(), v2("chat5")); ok {
		t.Fatal("a group chat's command was taken")
	}
}

// FuzzEvent: whatever a portal (or anyone) posts or a fetch returns, the
// translation neither panics nor takes an event without a sender.
func FuzzEvent(f *testing.F) {
	f.Add("v1", "event=ONIMCOMMANDADD&data[USER][ID]=27&data[PARAMS][DIALOG_ID]=27&data[COMMAND][5][COMMAND]=vizabtn&data[COMMAND][5][COMMAND_PARAMS]=ap:1&data[COMMAND][5][MESSAGE_ID]=9")
	f.Add("v1", "event=ONIMBOTMESSAGEADD&data[USER][ID]=27&data[PARAMS][FILES][7][id]=7&data[PARAMS][FILES][7][name]=a.pdf&data[PARAMS][FILES][7][size]=x")
	f.Add("ONIMBOTV2MESSAGEADD", `{"message":{"id":1,"text":"hi","params":{"FILE_ID":[3]}},"files":{"3":{"id":3,"name":"a.pdf","size":5}},"user":{"id":27}}`)
	f.Add("ONIMBOTV2COMMANDADD", `{"command":{"command":"/vizabtn","params":"rj:2","context":"keyboard"},"message":{"id":4},"user":{"id":27}}`)
	tr := &Transport{log: slog.New(slog.DiscardHandler), chats: map[string]int64{}}
	f.Fuzz(func(t *testing.T, kind, payload string) {
		st := stored{Kind: "v2", Type: kind, Data: json.RawMessage(payload)}
		if kind == "v1" {
			st = stored{Kind: "v1", Form: payload}
			if q, err := url.ParseQuery(payload); err == nil {
				eventKey(q)
			}
		}
		if !json.Valid(st.Data) && st.Kind == "v2" {
			st.Data = nil
		}
		if ev, ok := tr.event(context.Background(), st); ok && (ev.User == "" || ev.User == "0" || ev.Conv != ev.User) {
			t.Fatalf("an event without its sender's own dialog: %+v", ev)
		}
	})
}
