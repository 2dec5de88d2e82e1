package bitrix24

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// TestFilesWhereverThePortalPutsThem: a file of a message is found
// under every key portals are seen to use — the documentation names none
// — with ids as numbers (fetch mode) or strings (webhook mode); a name or
// size the event leaves out is asked of the portal's disk before the file
// policy would refuse an unnamed file; a classic event with only
// FILE_ID[] keeps its file.
func TestFilesWhereverThePortalPutsThem(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		json.NewDecoder(r.Body).Decode(&p)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/disk.file.get") && fmt.Sprint(p["id"]) == "77" {
			io.WriteString(w, `{"result":{"ID":"77","NAME":"Договор.docx","SIZE":"2048","DOWNLOAD_URL":"https://x/y"}}`)
			return
		}
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"ERROR_NOT_FOUND","error_description":"no"}`)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{Webhook: srv.URL + "/rest/1/key123456/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &Transport{c: c, log: slog.New(slog.DiscardHandler), chats: map[string]int64{}}
	v2 := func(message string, extra string) stored {
		return stored{Kind: "v2", Type: "ONIMBOTV2MESSAGEADD",
			Data: json.RawMessage(`{"message":` + message + `,"user":{"id":"27"},"chat":{"dialogId":"27"}` + extra + `}`)}
	}
	for _, tc := range []struct {
		name string
		st   stored
	}{
		{"FILE_ID numbers, files keyed by id (fetch)", v2(`{"id":1,"params":{"FILE_ID":[77]}}`, `,"files":{"77":{"id":77,"name":"Договор.docx","size":2048}}`)},
		{"FILE_ID strings, nothing else (webhook minimum)", v2(`{"id":"1","params":{"FILE_ID":["77"]}}`, ``)},
		{"params.FILES keyed by id", v2(`{"id":1,"params":{"FILES":{"77":{"id":"77","name":"Договор.docx","size":"2048"}}}}`, ``)},
		{"params.files list", v2(`{"id":1,"params":{"files":[{"id":77,"name":"Договор.docx","size":2048}]}}`, ``)},
		{"params.fileId single", v2(`{"id":1,"params":{"fileId":"77"}}`, ``)},
		{"message.files", v2(`{"id":1,"params":{},"files":[{"id":"77","name":"Договор.docx"}]}`, ``)},
		{"data.files only", v2(`{"id":1}`, `,"files":[{"id":77,"name":"Договор.docx","size":2048}]`)},
		{"classic FILE_ID[] only", stored{Kind: "v1", Form: url.Values{"event": {"ONIMBOTMESSAGEADD"}, "data[USER][ID]": {"27"},
			"data[PARAMS][DIALOG_ID]": {"27"}, "data[PARAMS][FILE_ID][]": {"77"}}.Encode()}},
		{"classic FILES", stored{Kind: "v1", Form: url.Values{"event": {"ONIMBOTMESSAGEADD"}, "data[USER][ID]": {"27"},
			"data[PARAMS][DIALOG_ID]": {"27"}, "data[PARAMS][FILES][77][id]": {"77"}, "data[PARAMS][FILES][77][name]": {"Договор.docx"},
			"data[PARAMS][FILES][77][size]": {"2048"}, "data[PARAMS][FILES][77][extension]": {"docx"}}.Encode()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := tr.event(context.Background(), tc.st)
			if !ok || ev.File == nil {
				t.Fatalf("no file: %+v %v", ev, ok)
			}
			f := ev.File
			if f.Ref != "77" || f.Name != "Договор.docx" || f.Size != 2048 || !strings.Contains(f.MIME, "wordprocessingml") {
				t.Fatalf("file %+v", f)
			}
		})
	}
}
