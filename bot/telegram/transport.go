package telegram

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

func chatID(conv string) (int64, error) {
	id, err := strconv.ParseInt(conv, 10, 64)
	if err != nil {
		return 0, flows.Errorf(flows.KindPermanent, flows.CodeUnreachable, "telegram chat %q is not a number", conv)
	}
	return id, nil
}

// Open implements chat.Transport: a private chat's id is the user's id.
func (t *Transport) Open(_ context.Context, user string) (string, error) {
	if _, err := chatID(user); err != nil {
		return "", err
	}
	return user, nil
}

// markup turns the layer's buttons (or its phone request) into Telegram's
// reply_markup. A button with a page opens it as the Mini App at miniApp.
func markup(m chat.Message, miniApp string) models.ReplyMarkup {
	switch {
	case len(m.Buttons) > 0:
		kb := &models.InlineKeyboardMarkup{}
		for _, row := range m.Buttons {
			var r []models.InlineKeyboardButton
			for _, b := range row {
				if b.WebApp != "" {
					if miniApp != "" {
						r = append(r, models.InlineKeyboardButton{Text: b.Label,
							WebApp: &models.WebAppInfo{URL: miniApp + "?next=" + url.QueryEscape(b.WebApp)}})
					}
					continue
				}
				r = append(r, models.InlineKeyboardButton{Text: b.Label, CallbackData: b.Action})
			}
			kb.InlineKeyboard = append(kb.InlineKeyboard, r)
		}
		return kb
	case m.ShareContact != "":
		return &models.ReplyKeyboardMarkup{Keyboard: [][]models.KeyboardButton{{{Text: m.ShareContact, RequestContact: true}}},
			ResizeKeyboard: true, OneTimeKeyboard: true}
	case m.ClearContact:
		return &models.ReplyKeyboardRemove{RemoveKeyboard: true}
	}
	return nil
}

// Send implements chat.Transport.
func (t *Transport) Send(ctx context.Context, conv string, m chat.Message) (string, error) {
	chat, err := chatID(conv)
	if err != nil {
		return "", err
	}
	if err := t.wait(ctx, chat); err != nil {
		return "", err
	}
	sent, err := t.bot.SendMessage(ctx, &bot.SendMessageParams{ChatID: chat, Text: HTML(m.Text), ParseMode: models.ParseModeHTML,
		ReplyMarkup: markup(m, t.miniApp())})
	if err := t.sendErr(err); err != nil {
		return "", err
	}
	return strconv.Itoa(sent.ID), nil
}

// Edit implements chat.Transport; a message edited without buttons loses
// its keyboard.
func (t *Transport) Edit(ctx context.Context, conv, msgID string, m chat.Message) error {
	chat, err := chatID(conv)
	if err != nil {
		return err
	}
	id, err := strconv.Atoi(msgID)
	if err != nil {
		return flows.Errorf(flows.KindPermanent, "telegram_rejected", "message id %q", msgID)
	}
	if err := t.wait(ctx, chat); err != nil {
		return err
	}
	params := &bot.EditMessageTextParams{ChatID: chat, MessageID: id, Text: HTML(m.Text), ParseMode: models.ParseModeHTML}
	if len(m.Buttons) > 0 {
		params.ReplyMarkup = markup(m, t.miniApp())
	}
	_, err = t.bot.EditMessageText(ctx, params)
	return t.sendErr(err)
}

// Ask implements chat.Transport: ForceReply opens the reply field, and the
// answer comes back replying to this message.
func (t *Transport) Ask(ctx context.Context, conv string, q chat.Question) (string, error) {
	msg := chat.Message{Text: q.Text}
	if q.Mode != chat.AskReply {
		return t.Send(ctx, conv, msg)
	}
	chat, err := chatID(conv)
	if err != nil {
		return "", err
	}
	if err := t.wait(ctx, chat); err != nil {
		return "", err
	}
	sent, err := t.bot.SendMessage(ctx, &bot.SendMessageParams{ChatID: chat, Text: HTML(q.Text), ParseMode: models.ParseModeHTML,
		ReplyMarkup: &models.ForceReply{ForceReply: true, Selective: true}})
	if err := t.sendErr(err); err != nil {
		return "", err
	}
	return strconv.Itoa(sent.ID), nil
}

// Answer implements chat.Transport: Telegram shows a spinner on the button
// until the callback query is answered, with at most 200 characters.
func (t *Transport) Answer(ctx context.Context, tap *chat.Tap, text string) error {
	if r := []rune(text); len(r) > 200 {
		text = string(r[:199]) + "…"
	}
	_, err := t.bot.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: tap.ID, Text: text})
	return t.sendErr(err)
}

// SendFile implements chat.Transport. A version's bytes go to Telegram
// once; afterwards its file_id is sent.
func (t *Transport) SendFile(ctx context.Context, conv string, f chat.File) (string, error) {
	chat, err := chatID(conv)
	if err != nil {
		return "", err
	}
	if err := t.wait(ctx, chat); err != nil {
		return "", err
	}
	params := &bot.SendDocumentParams{ChatID: chat, Caption: HTML(f.Caption), ParseMode: models.ParseModeHTML}
	cacheKey, fileID, cached := "", "", false
	if f.SHA256 != "" {
		cacheKey = "file:" + f.SHA256
		if fileID, cached, err = t.store.StateGet(ctx, Name, cacheKey); err != nil {
			return "", err
		}
	}
	if cached {
		params.Document = &models.InputFileString{Data: fileID}
	} else {
		body, err := f.Open()
		if err != nil {
			return "", fmt.Errorf("open %s: %w", f.Name, err)
		}
		defer body.Close()
		// The library checks the reader with reflect's IsNil, which panics
		// on a reader that is not a pointer (io.NopCloser's is a struct).
		params.Document = &models.InputFileUpload{Filename: f.Name, Data: &reader{body}}
	}
	sent, err := t.bot.SendDocument(ctx, params)
	if err := t.sendErr(err); err != nil {
		return "", err
	}
	if !cached && cacheKey != "" && sent.Document != nil {
		if err := t.store.StatePut(ctx, Name, cacheKey, sent.Document.FileID); err != nil {
			t.log.Warn("remember file_id", "err", err)
		}
	}
	return strconv.Itoa(sent.ID), nil
}

// Fetch implements chat.Transport through getFile and the file link.
func (t *Transport) Fetch(ctx context.Context, f chat.FileRef, max int64) ([]byte, error) {
	max = min(max, MaxDownload)
	file, err := t.bot.GetFile(ctx, &bot.GetFileParams{FileID: f.Ref})
	if err != nil {
		if strings.Contains(err.Error(), "file is too big") {
			return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
		}
		return nil, t.sendErr(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.bot.FileDownloadLink(file), nil)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", f.Name, t.redact(err))
	}
	resp, err := t.client().Do(req)
	if err != nil {
		return nil, &flows.Error{Kind: flows.KindTransient, Code: "telegram_unavailable", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, flows.Errorf(flows.KindTransient, "telegram_unavailable", "download %s: HTTP %d", f.Name, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", f.Name, t.redact(err))
	}
	if int64(len(data)) > max {
		return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
	}
	return data, nil
}

// registerCommands fills the command menu, in the company's language by
// default and in each language for its speakers.
func (t *Transport) registerCommands(ctx context.Context) error {
	for _, lang := range []string{"", "ru", "en"} {
		l := lang
		if l == "" {
			l = t.lang
		}
		var cmds []models.BotCommand
		for _, n := range chat.Commands {
			cmds = append(cmds, models.BotCommand{Command: n, Description: messages.Say(l, "cmd."+n, nil).String()})
		}
		if _, err := t.bot.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: cmds, LanguageCode: lang}); err != nil {
			return t.redact(err)
		}
	}
	return nil
}

type reader struct{ io.Reader }
