package slack

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/slack-go/slack"

	"github.com/viza-app/viza/bot/chat"
)

// messageEvent is the part of a message.im event Viza reads.
type messageEvent struct {
	Type     string `json:"type"`
	Subtype  string `json:"subtype"`
	Channel  string `json:"channel"`
	User     string `json:"user"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Tab      string `json:"tab"`
	Files    []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		MIME     string `json:"mimetype"`
		Size     int64  `json:"size"`
		Download string `json:"url_private_download"`
		Private  string `json:"url_private"`
	} `json:"files"`
}

// event translates a stored request into the conversation layer's terms.
// The sender is the user Slack names in the verified request (signed, or
// over the app's own Socket Mode connection), never a value in a button.
func (t *Transport) event(ctx context.Context, st stored) (chat.Event, bool) {
	switch st.Kind {
	case "events_api":
		var env struct {
			Event messageEvent `json:"event"`
		}
		if json.Unmarshal(st.Payload, &env) != nil {
			return chat.Event{}, false
		}
		e := env.Event
		if e.Type == "app_home_opened" {
			return chat.Event{User: e.User, Conv: e.Channel, Home: true}, true
		}
		ev := chat.Event{User: e.User, Conv: e.Channel, Text: unescape(e.Text), Lang: t.locale(ctx, e.User)}
		t.noteDM(e.User, e.Channel)
		if e.ThreadTS != "" && e.ThreadTS != e.TS {
			ev.ReplyTo = e.ThreadTS
		}
		if len(e.Files) > 0 {
			f := e.Files[0]
			ref := f.Download
			if ref == "" {
				ref = f.Private
			}
			ev.File = &chat.FileRef{Ref: ref, Name: f.Name, MIME: f.MIME, Size: f.Size}
			return ev, true
		}
		if name, args, ok := command(ev.Text); ok {
			ev.Command, ev.Args, ev.Text = name, args, ""
		}
		return ev, true
	case "interactive":
		var cb slack.InteractionCallback
		if json.Unmarshal(st.Payload, &cb) != nil {
			return chat.Event{}, false
		}
		user := cb.User.ID
		switch cb.Type {
		case slack.InteractionTypeBlockActions:
			if len(cb.ActionCallback.BlockActions) == 0 {
				return chat.Event{}, false
			}
			a := cb.ActionCallback.BlockActions[0]
			tap := &chat.Tap{Action: a.Value, Trigger: cb.TriggerID, MessageText: cb.Message.Text}
			conv := cb.Container.ChannelID
			if cb.Container.Type == "message" && conv != "" {
				tap.Message = cb.Container.MessageTs
				t.noteDM(user, conv)
			} else {
				// A button on the Home tab: answers go to the person's DM.
				dm, err := t.Open(ctx, user)
				if err != nil {
					t.log.Warn("open the DM of a home tap", "err", err)
					return chat.Event{}, false
				}
				conv = dm
			}
			tap.ID = conv + "|" + user
			return chat.Event{User: user, Conv: conv, Tap: tap, Lang: t.locale(ctx, user)}, true
		case slack.InteractionTypeViewSubmission:
			var meta formMeta
			json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta)
			text := formAnswer(cb)
			return chat.Event{User: user, Conv: meta.Conv, Form: &chat.Form{Question: meta.Question, Text: text}}, true
		}
	case "slash_commands":
		var cmd map[string]string
		if json.Unmarshal(st.Payload, &cmd) != nil {
			return chat.Event{}, false
		}
		user := cmd["user_id"]
		name, args, _ := strings.Cut(strings.TrimSpace(cmd["text"]), " ")
		if name == "" {
			name = "help"
		}
		conv := cmd["channel_id"]
		if cmd["channel_name"] != "directmessage" || !strings.HasPrefix(conv, "D") {
			// Typed in a channel: the answer is for the person alone.
			conv = ephemeralPrefix + conv + ":" + user
		} else {
			t.noteDM(user, conv)
		}
		return chat.Event{User: user, Conv: conv, Command: strings.ToLower(name), Args: args, Lang: t.locale(ctx, user)}, true
	}
	return chat.Event{}, false
}

// ephemeralPrefix marks a conversation that is one person's view of a
// channel: messages go as ephemeral ones, files to the person's DM.
const ephemeralPrefix = "eph:"

// command reads "/cmd args" typed as a message in the DM.
func command(text string) (string, string, bool) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	head, arg, _ := strings.Cut(text[1:], " ")
	if head == "viza" { // "/viza status X" pasted as text
		head, arg, _ = strings.Cut(strings.TrimSpace(arg), " ")
	}
	if head == "" {
		return "", "", false
	}
	return strings.ToLower(head), strings.TrimSpace(arg), true
}

// unescape reads message text as typed: Slack sends &, < and > escaped.
func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}
