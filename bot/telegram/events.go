package telegram

import (
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"

	"github.com/viza-app/viza/bot/chat"
)

// event translates an update into the conversation layer's terms. Only
// private chats and button taps are the bot's business; the rest is
// ignored. The sender is always the update's from.id, which Telegram
// vouches for.
func event(upd *models.Update) (chat.Event, bool) {
	key := "telegram:" + strconv.FormatInt(upd.ID, 10)
	if cq := upd.CallbackQuery; cq != nil {
		ev := chat.Event{Key: key, User: strconv.FormatInt(cq.From.ID, 10), Lang: cq.From.LanguageCode,
			Conv: strconv.FormatInt(cq.From.ID, 10), Tap: &chat.Tap{ID: cq.ID, Action: cq.Data}}
		// A message too old to be accessible arrives with date 0 and only
		// its chat: the tap still counts, without a message to edit.
		if m := cq.Message.Message; m != nil && m.ID != 0 && m.Chat.ID != 0 {
			ev.Conv, ev.Tap.Message, ev.Tap.MessageText = strconv.FormatInt(m.Chat.ID, 10), strconv.Itoa(m.ID), m.Text
		}
		return ev, true
	}
	msg := upd.Message
	if msg == nil || msg.From == nil || msg.Chat.Type != models.ChatTypePrivate {
		return chat.Event{}, false
	}
	ev := chat.Event{Key: key, User: strconv.FormatInt(msg.From.ID, 10), Lang: msg.From.LanguageCode,
		Conv: strconv.FormatInt(msg.Chat.ID, 10), Text: msg.Text}
	if msg.Contact != nil {
		ev.Contact = &chat.Contact{Phone: msg.Contact.PhoneNumber, Own: msg.Contact.UserID == msg.From.ID}
		return ev, true
	}
	if cmd, arg, ok := command(msg.Text); ok {
		ev.Command, ev.Args = cmd, arg
		return ev, true
	}
	if r := msg.ReplyToMessage; r != nil {
		ev.ReplyTo = strconv.Itoa(r.ID)
		if r.From != nil && r.From.IsBot {
			ev.ReplyText = strings.TrimSpace(r.Text + " " + r.Caption)
		}
	}
	if d := msg.Document; d != nil {
		ev.File = &chat.FileRef{Ref: d.FileID, Name: d.FileName, MIME: d.MimeType, Size: d.FileSize}
		ev.Text = msg.Caption
	}
	return ev, true
}

// command extracts "/cmd arg" (also "/cmd@botname arg").
func command(text string) (string, string, bool) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	head, arg, _ := strings.Cut(text, " ")
	head, _, _ = strings.Cut(head[1:], "@")
	return strings.ToLower(head), strings.TrimSpace(arg), true
}
