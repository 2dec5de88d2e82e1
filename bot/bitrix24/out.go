package bitrix24

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

// keyboard builds a KEYBOARD: COMMAND buttons firing the hidden button
// command with the opaque action as COMMAND_PARAMS, a NEWLINE between
// rows.
func keyboard(rows [][]chat.Button) []map[string]any {
	var out []map[string]any
	for i, row := range rows {
		if i > 0 {
			out = append(out, map[string]any{"TYPE": "NEWLINE"})
		}
		for _, b := range row {
			btn := map[string]any{"TEXT": b.Label, "COMMAND": buttonCommand, "COMMAND_PARAMS": b.Action, "DISPLAY": "LINE"}
			switch b.Style {
			case chat.StylePrimary:
				btn["BG_COLOR_TOKEN"] = "primary"
			case chat.StyleDanger:
				btn["BG_COLOR_TOKEN"] = "alert"
			default:
				btn["BG_COLOR_TOKEN"] = "secondary"
			}
			out = append(out, btn)
		}
	}
	return out
}

// attach is a request's context line (stage, deadline) as an ATTACH block.
func attach(ctx rich.Text) []map[string]any {
	if ctx.IsZero() {
		return nil
	}
	return []map[string]any{{"ID": 1, "COLOR_TOKEN": "primary", "BLOCKS": []map[string]any{{"MESSAGE": BBCode(ctx)}}}}
}

// Send implements chat.Transport.
func (t *Transport) Send(ctx context.Context, conv string, m chat.Message) (string, error) {
	return t.post(ctx, conv, BBCode(m.Text), keyboard(m.Buttons), attach(m.Context), false)
}

func (t *Transport) post(ctx context.Context, conv, text string, kb, att []map[string]any, system bool) (string, error) {
	if t.mode == "fetch" {
		fields := map[string]any{"message": text, "system": system, "urlPreview": false}
		if len(kb) > 0 {
			fields["keyboard"] = kb
		}
		if len(att) > 0 {
			fields["attach"] = att
		}
		var res struct {
			ID flexID `json:"id"`
		}
		err := t.sends.do(ctx, t.c, BatchCall{Method: "imbot.v2.Chat.Message.send",
			Params: map[string]any{"botId": t.botID, "botToken": t.botToken, "dialogId": conv, "fields": fields}}, &res)
		return string(res.ID), t.apiErr(err)
	}
	params := map[string]any{"BOT_ID": t.botID, "CLIENT_ID": t.clientID, "DIALOG_ID": conv, "MESSAGE": text, "URL_PREVIEW": "N", "SYSTEM": yn(system)}
	if len(kb) > 0 {
		params["KEYBOARD"] = map[string]any{"BUTTONS": kb}
	}
	if len(att) > 0 {
		params["ATTACH"] = att
	}
	var id flexID
	err := t.sends.do(ctx, t.c, BatchCall{Method: "imbot.message.add", Params: params}, &id)
	return string(id), t.apiErr(err)
}

// Edit implements chat.Transport; a message without buttons loses its
// keyboard ("N"). Edits that come together — every copy of a request
// changing after a decision — go out as one batch call.
func (t *Transport) Edit(ctx context.Context, conv, msgID string, m chat.Message) error {
	id, err := strconv.ParseInt(msgID, 10, 64)
	if err != nil {
		return flows.Errorf(flows.KindPermanent, "bitrix24_rejected", "message id %q", msgID)
	}
	var kb any = "N"
	if len(m.Buttons) > 0 {
		kb = keyboard(m.Buttons)
	}
	var att any = "N"
	if a := attach(m.Context); a != nil {
		att = a
	}
	call := BatchCall{Method: "imbot.v2.Chat.Message.update", Params: map[string]any{"botId": t.botID, "botToken": t.botToken, "messageId": id,
		"fields": map[string]any{"message": BBCode(m.Text), "keyboard": kb, "attach": att}}}
	if t.mode != "fetch" {
		if k, ok := kb.([]map[string]any); ok {
			kb = map[string]any{"BUTTONS": k}
		}
		call = BatchCall{Method: "imbot.message.update", Params: map[string]any{"BOT_ID": t.botID, "CLIENT_ID": t.clientID, "MESSAGE_ID": id,
			"MESSAGE": BBCode(m.Text), "KEYBOARD": kb, "ATTACH": att, "URL_PREVIEW": "N"}}
	}
	return t.apiErr(t.edits.do(ctx, t.c, call, nil))
}

// coalescer gathers calls made at about the same time into one batch:
// the first caller waits a moment for others, then sends them all (50 a
// request) and hands each its own result. Two hundred requests fanned out
// at once are four calls to the portal, not two hundred against its
// bucket of fifty.
type coalescer struct {
	window  time.Duration
	mu      sync.Mutex
	pending []*pendingCall
	flights sync.WaitGroup // batches still being sent (see Transport.Wait)
}

type pendingCall struct {
	call BatchCall
	done chan callResult
}

// callResult is a call's answer as it came: the caller decodes it, so
// that a caller who gave up (its context ended) shares nothing with the
// batch still being sent.
type callResult struct {
	raw json.RawMessage
	err error
}

func (co *coalescer) do(ctx context.Context, c *Client, call BatchCall, out any) error {
	p := &pendingCall{call: call, done: make(chan callResult, 1)}
	co.mu.Lock()
	lead := len(co.pending) == 0
	co.pending = append(co.pending, p)
	co.mu.Unlock()
	if lead {
		// The batch goes out even if the leader's own caller gives up: the
		// others wait for it.
		co.flights.Go(func() { co.flush(context.WithoutCancel(ctx), c) })
	}
	select {
	case res := <-p.done:
		if res.err != nil || out == nil {
			return res.err
		}
		if err := json.Unmarshal(res.raw, out); err != nil {
			return fmt.Errorf("bitrix24: decode %s result: %w", call.Method, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (co *coalescer) flush(ctx context.Context, c *Client) {
	time.Sleep(co.window)
	co.mu.Lock()
	calls := co.pending
	co.pending = nil
	co.mu.Unlock()
	if len(calls) == 1 {
		var raw json.RawMessage
		err := c.Call(ctx, calls[0].call.Method, calls[0].call.Params, &raw)
		calls[0].done <- callResult{raw: raw, err: err}
		return
	}
	batch := make([]BatchCall, len(calls))
	for i, p := range calls {
		batch[i] = p.call
	}
	results, errs, err := c.BatchResults(ctx, batch)
	for i, p := range calls {
		switch {
		case err != nil:
			p.done <- callResult{err: err}
		case errs[i] != nil:
			p.done <- callResult{err: errs[i]}
		default:
			p.done <- callResult{raw: results[i]}
		}
	}
}

// SendFile implements chat.Transport: imbot.v2.File.upload; for classic
// bots the chat's disk folder, an upload, and a commit into the chat.
func (t *Transport) SendFile(ctx context.Context, conv string, f chat.File) (string, error) {
	data, err := f.Bytes()
	if err != nil {
		return "", err
	}
	content := base64.StdEncoding.EncodeToString(data)
	caption := BBCode(f.Caption)
	if t.mode == "fetch" {
		var res struct {
			MessageID json.Number `json:"messageId"`
		}
		err := t.c.Call(ctx, "imbot.v2.File.upload", map[string]any{"botId": t.botID, "botToken": t.botToken, "dialogId": conv,
			"fields": map[string]any{"name": f.Name, "content": content, "message": caption}}, &res)
		return res.MessageID.String(), t.apiErr(err)
	}
	chatID, err := t.chatOf(ctx, conv)
	if err != nil {
		return "", err
	}
	var folder struct {
		ID json.Number `json:"ID"`
	}
	if err := t.c.Call(ctx, "im.disk.folder.get", map[string]any{"CHAT_ID": chatID}, &folder); err != nil {
		return "", t.apiErr(err)
	}
	var file struct {
		ID json.Number `json:"ID"`
	}
	if err := t.c.Call(ctx, "disk.folder.uploadfile", map[string]any{"id": folder.ID, "data": map[string]any{"NAME": f.Name},
		"fileContent": []string{f.Name, content}, "generateUniqueName": true}, &file); err != nil {
		return "", t.apiErr(err)
	}
	err = t.c.Call(ctx, "im.disk.file.commit", map[string]any{"CHAT_ID": chatID, "FILE_ID": []json.Number{file.ID}, "MESSAGE": caption}, nil)
	return "", t.apiErr(err)
}

// noteChat remembers a dialog's chat id seen in an event.
func (t *Transport) noteChat(dialog, chatID string) {
	id, err := strconv.ParseInt(chatID, 10, 64)
	if err != nil || id == 0 {
		return
	}
	t.mu.Lock()
	t.chats[dialog] = id
	t.mu.Unlock()
}

// chatOf finds a dialog's chat id: seen in an event, or asked with
// im.dialog.get.
func (t *Transport) chatOf(ctx context.Context, dialog string) (int64, error) {
	t.mu.Lock()
	id, ok := t.chats[dialog]
	t.mu.Unlock()
	if ok {
		return id, nil
	}
	var res struct {
		ID json.Number `json:"id"`
	}
	if err := t.c.Call(ctx, "im.dialog.get", map[string]any{"DIALOG_ID": dialog}, &res); err != nil {
		return 0, t.apiErr(err)
	}
	id, _ = res.ID.Int64()
	t.noteChat(dialog, res.ID.String())
	return id, nil
}

// Ask implements chat.Transport: the question is a message answered by the
// next one.
func (t *Transport) Ask(ctx context.Context, conv string, q chat.Question) (string, error) {
	_, err := t.Send(ctx, conv, chat.Message{Text: q.Text})
	return "", err
}

// Answer implements chat.Transport: Bitrix24 has no toast for a button, so
// a note goes as a system message (small, grey) in the chat.
func (t *Transport) Answer(ctx context.Context, tap *chat.Tap, text string) error {
	if text == "" {
		return nil
	}
	conv, _, ok := strings.Cut(tap.ID, "|")
	if !ok {
		return nil
	}
	_, err := t.post(ctx, conv, escapeTyped(text), nil, nil, true)
	return err
}

// Fetch implements chat.Transport: a download link from the portal
// (imbot.v2.File.download, or disk.file.get's DOWNLOAD_URL for classic
// bots), then the bytes, at most max.
func (t *Transport) Fetch(ctx context.Context, f chat.FileRef, max int64) ([]byte, error) {
	if f.Size > max {
		return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
	}
	var link string
	if t.mode == "fetch" {
		id, _ := strconv.ParseInt(f.Ref, 10, 64)
		var res struct {
			URL string `json:"downloadUrl"`
		}
		if err := t.c.Call(ctx, "imbot.v2.File.download", map[string]any{"botId": t.botID, "botToken": t.botToken, "fileId": id}, &res); err != nil {
			return nil, t.apiErr(err)
		}
		link = res.URL
	} else {
		var res struct {
			URL string `json:"DOWNLOAD_URL"`
		}
		if err := t.c.Call(ctx, "disk.file.get", map[string]any{"id": f.Ref}, &res); err != nil {
			return nil, t.apiErr(err)
		}
		link = res.URL
	}
	data, err := t.c.Download(ctx, link, max)
	switch {
	case errors.Is(err, errTooBig):
		return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
	case err != nil:
		return nil, t.apiErr(err)
	}
	if sniff := http.DetectContentType(data); strings.HasPrefix(sniff, "text/html") && !strings.Contains(f.MIME, "html") {
		// A sign-in page instead of the file: the link's token was refused.
		return nil, flows.Errorf(flows.KindPermanent, "bitrix24_rejected", "download of %s returned a web page", f.Name)
	}
	return data, nil
}

// Open implements chat.Transport: a person's private dialog with the bot
// is their user id.
func (t *Transport) Open(_ context.Context, user string) (string, error) { return user, nil }

// Counterparties implements chat.CounterpartyFinder with the portal's CRM
// companies whose title contains the query.
func (t *Transport) Counterparties(ctx context.Context, query string, limit int) ([]string, error) {
	var res []struct {
		Title string `json:"TITLE"`
	}
	if err := t.c.Call(ctx, "crm.company.list", map[string]any{"filter": map[string]any{"%TITLE": query},
		"select": []string{"ID", "TITLE"}, "order": map[string]string{"TITLE": "ASC"}}, &res); err != nil {
		return nil, t.apiErr(err)
	}
	var out []string
	for _, c := range res {
		if c.Title != "" && len(out) < limit {
			out = append(out, c.Title)
		}
	}
	return out, nil
}
