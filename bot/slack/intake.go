package slack

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// formMeta is what a modal carries in private_metadata: the conversation
// and question it answers, and what to say when it comes back empty.
type formMeta struct {
	Conv     string `json:"c"`
	Question string `json:"q"`
	Required string `json:"r,omitempty"`
}

// answerBlock and answerAction name the modal's text field.
const (
	answerBlock  = "answer"
	answerAction = "text"
	formCallback = "viza_answer"
)

// intake decides what to do with one request from Slack: store it under
// its dedup key (a repeat is stored once), or refuse it there and then (an
// empty modal). It returns the acknowledgement's payload, and false when
// nothing could be stored: then Slack must not be told it arrived.
func (t *Transport) intake(ctx context.Context, kind string, payload json.RawMessage) (any, bool) {
	key, ack, keep := t.classify(kind, payload)
	if !keep {
		return ack, true
	}
	if team, ent := teamOf(kind, payload); !t.ours(team, ent) {
		// Signed with our secret yet from another workspace (a shared
		// channel, an app installed twice): not ours to act on.
		t.log.Warn("slack request from another team dropped", "team", team, "enterprise", ent, "key", key)
		return nil, true
	}
	fresh, err := t.keep(ctx, key, stored{Kind: kind, Payload: payload})
	if err != nil {
		t.log.Error("store slack request", "key", key, "err", err)
		return nil, false
	}
	if !fresh {
		t.log.Info("slack request seen before; applied once", "key", key)
	}
	return ack, true
}

// classify finds a request's dedup key — Events API by event_id, a button
// by its action_ts and message, a modal by its view, a slash command by
// its trigger — and whether it is worth keeping at all.
func (t *Transport) classify(kind string, payload json.RawMessage) (key string, ack any, keep bool) {
	switch kind {
	case "events_api":
		var env struct {
			EventID string `json:"event_id"`
			Event   struct {
				Type    string `json:"type"`
				Subtype string `json:"subtype"`
				BotID   string `json:"bot_id"`
				Channel string `json:"channel_type"`
				Tab     string `json:"tab"`
			} `json:"event"`
		}
		if json.Unmarshal(payload, &env) != nil || env.EventID == "" {
			return "", nil, false
		}
		e := env.Event
		switch {
		case e.Type == "message" && e.Channel == "im" && e.BotID == "" && (e.Subtype == "" || e.Subtype == "file_share"):
		case e.Type == "app_home_opened" && e.Tab == "home":
		default:
			return "", nil, false // not the bot's business: acknowledged, not kept
		}
		return "ev:" + env.EventID, nil, true
	case "interactive":
		var cb slack.InteractionCallback
		if err := json.Unmarshal(payload, &cb); err != nil {
			t.log.Warn("undecodable interaction", "err", err)
			return "", nil, false
		}
		switch cb.Type {
		case slack.InteractionTypeBlockActions:
			if len(cb.ActionCallback.BlockActions) == 0 {
				return "", nil, false
			}
			a := cb.ActionCallback.BlockActions[0]
			return "act:" + a.ActionTs + ":" + cb.Container.ChannelID + ":" + cb.Container.MessageTs + cb.Container.ViewID, nil, true
		case slack.InteractionTypeViewSubmission:
			if cb.View.ID == "" || cb.View.State == nil {
				return "", nil, false // no modal of ours: nothing to keep
			}
			var meta formMeta
			json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta)
			if strings.TrimSpace(formAnswer(cb)) == "" {
				// Refused at once, in the modal, as Slack asks: the person
				// fixes it without losing what the modal says.
				return "", map[string]any{"response_action": "errors", "errors": map[string]string{answerBlock: meta.Required}}, false
			}
			return "view:" + cb.View.ID, nil, true
		}
		return "", nil, false
	case "slash_commands":
		var cmd map[string]string
		if json.Unmarshal(payload, &cmd) != nil || cmd["trigger_id"] == "" {
			return "", nil, false
		}
		return "cmd:" + cmd["trigger_id"], nil, true
	}
	return "", nil, false
}

// teamOf reads which workspace (and enterprise) a request came from.
func teamOf(kind string, payload json.RawMessage) (team, enterprise string) {
	switch kind {
	case "events_api":
		var env struct {
			Team       string `json:"team_id"`
			Enterprise string `json:"enterprise_id"`
		}
		json.Unmarshal(payload, &env)
		return env.Team, env.Enterprise
	case "interactive":
		var cb struct {
			Team struct {
				ID         string `json:"id"`
				Enterprise string `json:"enterprise_id"`
			} `json:"team"`
			Enterprise *struct {
				ID string `json:"id"`
			} `json:"enterprise"`
		}
		json.Unmarshal(payload, &cb)
		ent := cb.Team.Enterprise
		if cb.Enterprise != nil && cb.Enterprise.ID != "" {
			ent = cb.Enterprise.ID
		}
		return cb.Team.ID, ent
	case "slash_commands":
		var cmd map[string]string
		json.Unmarshal(payload, &cmd)
		return cmd["team_id"], cmd["enterprise_id"]
	}
	return "", ""
}

// formAnswer is the text typed into a modal's field, "" when there is
// none.
func formAnswer(cb slack.InteractionCallback) string {
	if cb.View.State == nil {
		return ""
	}
	return cb.View.State.Values[answerBlock][answerAction].Value
}

// socketLoop receives requests over Socket Mode, reconnecting when Slack
// asks to or the connection drops, and acknowledges each once stored.
func (t *Transport) socketLoop(ctx context.Context) error {
	client := socketmode.New(t.api, socketmode.OptionLog(log.New(io.Discard, "", 0)))
	connected := make(chan struct{})
	defer func() { <-connected }()
	go func() {
		defer close(connected)
		for backoff := time.Second; ctx.Err() == nil; backoff = min(backoff*2, time.Minute) {
			if err := client.RunContext(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("socket mode connection failed; reconnecting", "err", t.redact(err), "wait", backoff)
				sleep(ctx, backoff)
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case evt := <-client.Events:
			switch evt.Type {
			case socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand:
				req := evt.Request
				if req == nil {
					continue
				}
				ack, ok := t.intake(ctx, string(req.Type), req.Payload)
				if !ok {
					continue // not stored: unacknowledged, Slack sends it again
				}
				if err := client.AckCtx(ctx, req.EnvelopeID, ack); err != nil {
					t.log.Warn("acknowledge envelope", "err", err)
				}
			case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeErrorBadMessage:
				detail := ""
				switch d := evt.Data.(type) {
				case *slack.ConnectionErrorEvent:
					detail = t.redact(d.ErrorObj).Error()
				case *socketmode.ErrorBadMessage:
					detail = d.Cause.Error()
				}
				t.log.Warn("socket mode", "event", string(evt.Type), "err", detail)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// Handler receives Slack's HTTP requests (HTTP mode) under /slack/: events,
// interactivity and the slash command. Each is verified with the signing
// secret over the raw body before anything is parsed, stored, and only
// then answered — within Slack's three seconds, the work done after.
func (t *Transport) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/events", t.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		var head struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
		}
		if json.Unmarshal(body, &head) != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if head.Type == "url_verification" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, head.Challenge)
			return
		}
		t.answer(w, "events_api", body)
	}))
	mux.HandleFunc("POST /slack/interactivity", t.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("payload") == "" {
			http.Error(w, "bad interaction", http.StatusBadRequest)
			return
		}
		t.answer(w, "interactive", json.RawMessage(form.Get("payload")))
	}))
	mux.HandleFunc("POST /slack/commands", t.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad command", http.StatusBadRequest)
			return
		}
		flat := map[string]string{}
		for k := range form {
			flat[k] = form.Get(k)
		}
		js, _ := json.Marshal(flat)
		t.answer(w, "slash_commands", js)
	}))
	return mux
}

func (t *Transport) answer(w http.ResponseWriter, kind string, payload json.RawMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	ack, ok := t.intake(ctx, kind, payload)
	if !ok {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if ack == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ack)
}

// verified checks Slack's signature over the raw body (and a timestamp
// within five minutes) before the handler sees anything.
func (t *Transport) verified(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		v, err := slack.NewSecretsVerifier(r.Header, t.cfg.SigningSecret)
		if err == nil {
			if _, err = v.Write(body); err == nil {
				err = v.Ensure()
			}
		}
		if err != nil || t.cfg.SigningSecret == "" {
			t.log.Warn("slack request refused: bad signature", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
			t.log.Info("slack redelivery", "attempt", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
		}
		h(w, r, body)
	}
}
