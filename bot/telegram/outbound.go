package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// Callback payloads are "<code>:<ref>": a short code for the action and the
// id it acts on. They say what, never who — the sender is from.id.
var actionCodes = map[string]string{
	messages.ActApprove: "ap", messages.ActReject: "rj", messages.ActComment: "cm", messages.ActNewVersion: "nv",
	messages.ActHistory: "hi", messages.ActRead: "rd", messages.ActDone: "dn", messages.ActUploadVersion: "uv",
	messages.ActWithdraw: "wd",
}

func callbackData(code, ref string) string {
	d := code + ":" + ref
	if len(d) > 64 {
		// Telegram refuses longer payloads; refs are short ids, so this is a
		// programming error, caught by tests.
		panic("callback_data over 64 bytes: " + d)
	}
	return d
}

func keyboard(rows [][]messages.Button) models.ReplyMarkup {
	if len(rows) == 0 {
		return nil
	}
	kb := &models.InlineKeyboardMarkup{}
	for _, row := range rows {
		var r []models.InlineKeyboardButton
		for _, b := range row {
			r = append(r, models.InlineKeyboardButton{Text: b.Label, CallbackData: callbackData(actionCodes[b.Action], strconv.FormatInt(b.Ref, 10))})
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, r)
	}
	return kb
}

// buttons builds a one-row keyboard of (label, code, ref) triples.
func buttons(items ...[3]string) models.ReplyMarkup {
	kb := &models.InlineKeyboardMarkup{}
	var row []models.InlineKeyboardButton
	for _, it := range items {
		row = append(row, models.InlineKeyboardButton{Text: it[0], CallbackData: callbackData(it[1], it[2])})
	}
	kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	return kb
}

// taskRef remembers the message that carries a task's buttons, to edit it
// when the task closes.
type taskRef struct {
	Chat    int64  `json:"chat"`
	Msg     int    `json:"msg"`
	Text    string `json:"text"`
	Decided bool   `json:"decided,omitempty"` // already shows the outcome
}

// sendText sends text (split at Telegram's 4,096 characters) and returns
// the last message.
func (c *Channel) sendText(ctx context.Context, p flows.PersonID, chat int64, text string, markup models.ReplyMarkup) (*models.Message, error) {
	var last *models.Message
	parts := split(text, 4000)
	for i, part := range parts {
		if err := c.wait(ctx, chat); err != nil {
			return nil, err
		}
		params := &bot.SendMessageParams{ChatID: chat, Text: part}
		if i == len(parts)-1 {
			params.ReplyMarkup = markup
		}
		m, err := c.bot.SendMessage(ctx, params)
		if err := c.sendErr(p, err); err != nil {
			return nil, err
		}
		last = m
	}
	return last, nil
}

func split(s string, n int) []string {
	r := []rune(s)
	if len(r) <= n {
		return []string{s}
	}
	var out []string
	for len(r) > n {
		cut := n
		for i := n; i > n/2; i-- {
			if r[i] == '\n' {
				cut = i
				break
			}
		}
		out = append(out, string(r[:cut]))
		r = r[cut:]
	}
	return append(out, string(r))
}

// sendVersion sends a version's file, uploading its bytes to Telegram only
// the first time and reusing the file_id afterwards.
func (c *Channel) sendVersion(ctx context.Context, p flows.PersonID, chat int64, v *flows.Version, caption string) error {
	if err := c.wait(ctx, chat); err != nil {
		return err
	}
	key := "file:" + v.SHA256
	params := &bot.SendDocumentParams{ChatID: chat, Caption: caption}
	fileID, cached, err := c.store.StateGet(ctx, Name, key)
	if err != nil {
		return err
	}
	var body io.ReadCloser
	if cached {
		params.Document = &models.InputFileString{Data: fileID}
	} else {
		body, err = c.files.Open(v.SHA256)
		if err != nil {
			return fmt.Errorf("open version %d: %w", v.No, err)
		}
		defer body.Close()
		params.Document = &models.InputFileUpload{Filename: v.FileName, Data: body}
	}
	m, err := c.bot.SendDocument(ctx, params)
	if err := c.sendErr(p, err); err != nil {
		return err
	}
	if !cached && m != nil && m.Document != nil {
		if err := c.store.StatePut(ctx, Name, key, m.Document.FileID); err != nil {
			c.log.Warn("remember file_id", "err", err)
		}
	}
	return nil
}

// Deliver implements flows.Channel.
func (c *Channel) Deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	chat, ok := c.chatOf(p)
	if !ok {
		return "", flows.Errorf(flows.KindPermanent, flows.CodeUnreachable, "%s has no Telegram chat", p.ID)
	}
	lang := c.lang(p.ID)
	m, err := c.renderer().Notification(n, lang)
	if err != nil {
		return "", err
	}
	progress := fmt.Sprintf("sent:%d:", n.ID)
	switch n.Kind {
	case flows.NoteTaskAssigned:
		// The file first, then the card with the buttons; a retry after a
		// failure in between does not send the file twice.
		if err := c.once(ctx, progress+"file", func() error { return c.sendNotificationVersion(ctx, p.ID, chat, n, lang, false) }); err != nil {
			return "", err
		}
		msg, err := c.sendText(ctx, p.ID, chat, m.Text, keyboard(m.Buttons))
		if err != nil {
			return "", err
		}
		c.remember(ctx, fmt.Sprintf("task:%d", n.TaskID), taskRef{Chat: chat, Msg: msg.ID, Text: m.Text})
		c.remember(ctx, fmt.Sprintf("card:%d:%d", chat, msg.ID), n.DocID)
		return strconv.Itoa(msg.ID), nil
	case flows.NoteTaskClosed:
		var ref taskRef
		if ok, err := c.recall(ctx, fmt.Sprintf("task:%d", n.TaskID), &ref); err != nil {
			return "", err
		} else if ok && n.Reason == flows.CloseDecided {
			// Decided elsewhere (the web page, a deputy's chat): the card
			// shows the outcome; decided here, it already does.
			if !ref.Decided {
				c.editOutcomeAt(ctx, p, lang, ref, n.Decision, n.At)
			}
			return strconv.Itoa(ref.Msg), nil
		} else if ok {
			text := ref.Text + "\n\n" + c.t(lang, "tg.outcome", map[string]any{"Mark": "⏹", "What": m.Text, "At": ""})
			if err := c.edit(ctx, p.ID, ref.Chat, ref.Msg, strings.TrimSpace(text), nil); err != nil {
				return "", err
			}
			return strconv.Itoa(ref.Msg), nil
		}
	case flows.NoteApproved:
		msg, err := c.sendText(ctx, p.ID, chat, m.Text, nil)
		if err != nil {
			return "", err
		}
		if err := c.once(ctx, progress+"file", func() error { return c.sendNotificationVersion(ctx, p.ID, chat, n, lang, true) }); err != nil {
			return "", err
		}
		// The approval sheet comes with the final approval.
		if err := c.once(ctx, progress+"sheet", func() error {
			d, err := c.store.Document(ctx, n.DocID)
			if err != nil {
				return err
			}
			return c.sendSheet(ctx, p.ID, chat, d, lang)
		}); err != nil {
			return "", err
		}
		return strconv.Itoa(msg.ID), nil
	case flows.NoteChangesRequested:
		msg, err := c.sendText(ctx, p.ID, chat, m.Text, keyboard(m.Buttons))
		if err != nil {
			return "", err
		}
		c.remember(ctx, fmt.Sprintf("card:%d:%d", chat, msg.ID), n.DocID)
		return strconv.Itoa(msg.ID), nil
	}
	msg, err := c.sendText(ctx, p.ID, chat, m.Text, keyboard(m.Buttons))
	if err != nil {
		return "", err
	}
	if n.Kind == flows.NoteReminder {
		// The reminder carries the task's buttons: it becomes the message
		// that a decision edits.
		c.remember(ctx, fmt.Sprintf("task:%d", n.TaskID), taskRef{Chat: chat, Msg: msg.ID, Text: m.Text})
		c.remember(ctx, fmt.Sprintf("card:%d:%d", chat, msg.ID), n.DocID)
	}
	return strconv.Itoa(msg.ID), nil
}

func (c *Channel) sendNotificationVersion(ctx context.Context, p flows.PersonID, chat int64, n flows.Notification, lang string, final bool) error {
	d, err := c.store.Document(ctx, n.DocID)
	if err != nil {
		return err
	}
	v, ok := d.Version(n.Version)
	if !ok {
		return nil
	}
	key := "tg.version_caption"
	if final {
		key = "tg.final_version"
	}
	return c.sendVersion(ctx, p, chat, v, c.t(lang, key, map[string]any{"Number": n.Number, "Version": v.No}))
}

// once runs a step of a delivery unless an earlier attempt completed it.
func (c *Channel) once(ctx context.Context, key string, step func() error) error {
	if _, done, err := c.store.StateGet(ctx, Name, key); err != nil || done {
		return err
	}
	if err := step(); err != nil {
		return err
	}
	return c.store.StatePut(ctx, Name, key, "1")
}

func (c *Channel) remember(ctx context.Context, key string, v any) {
	b, _ := json.Marshal(v)
	if err := c.store.StatePut(ctx, Name, key, string(b)); err != nil {
		c.log.Warn("remember message", "key", key, "err", err)
	}
}

func (c *Channel) recall(ctx context.Context, key string, v any) (bool, error) {
	s, ok, err := c.store.StateGet(ctx, Name, key)
	if err != nil || !ok {
		return false, err
	}
	return true, json.Unmarshal([]byte(s), v)
}

func (c *Channel) edit(ctx context.Context, p flows.PersonID, chat int64, msg int, text string, markup models.ReplyMarkup) error {
	if err := c.wait(ctx, chat); err != nil {
		return err
	}
	_, err := c.bot.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: chat, MessageID: msg, Text: text, ReplyMarkup: markup})
	return c.sendErr(p, err)
}
