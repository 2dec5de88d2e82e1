package slack

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"
)

// FuzzClassify: whatever Slack (or anyone who got past the signature)
// sends — events, interactions, slash commands — is stored under a key or
// acknowledged and dropped, never a panic; a kept request always has a key.
func FuzzClassify(f *testing.F) {
	for _, s := range []struct{ kind, payload string }{
		{"events_api", `{"event_id":"Ev1","event":{"type":"message","channel_type":"im","user":"U1","text":"hi","channel":"D1","ts":"1.1"}}`},
		{"events_api", `{"event_id":"Ev2","event":{"type":"app_home_opened","tab":"home","user":"U1"}}`},
		{"interactive", `{"type":"block_actions","user":{"id":"U1"},"container":{"type":"message","channel_id":"D1","message_ts":"1.2"},"actions":[{"action_id":"a","value":"ap:1","action_ts":"1.3"}]}`},
		{"interactive", `{"type":"view_submission","user":{"id":"U1"},"view":{"id":"V1","private_metadata":"{\"c\":\"D1\",\"q\":\"x\"}","state":{"values":{"answer":{"text":{"type":"plain_text_input","value":""}}}}}}`},
		{"slash_commands", `{"trigger_id":"t1","user_id":"U1","channel_id":"C1","channel_name":"general","text":"status Д-1"}`},
	} {
		f.Add(s.kind, []byte(s.payload))
	}
	tr := &Transport{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, kind string, payload []byte) {
		key, _, keep := tr.classify(kind, json.RawMessage(payload))
		if keep && key == "" {
			t.Fatalf("kept without a key: %s %s", kind, payload)
		}
	})
}
