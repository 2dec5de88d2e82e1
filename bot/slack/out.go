package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

// sectionMax is what one section block holds.
const sectionMax = 3000

// blocks builds a message's Block Kit: the text in sections, the context
// line small below it, and a row of buttons per actions block.
func blocks(m chat.Message) []slack.Block {
	var out []slack.Block
	for i, part := range m.Text.Split(sectionMax - 200) {
		if part.IsZero() {
			continue
		}
		out = append(out, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, Mrkdwn(part), false, false), nil, nil,
			slack.SectionBlockOptionBlockID(fmt.Sprintf("t%d", i))))
	}
	if !m.Context.IsZero() {
		out = append(out, slack.NewContextBlock("ctx", slack.NewTextBlockObject(slack.MarkdownType, Mrkdwn(m.Context), false, false)))
	}
	for i, row := range m.Buttons {
		var els []slack.BlockElement
		for j, b := range row {
			label := b.Label
			if utf8.RuneCountInString(label) > 75 {
				label = string([]rune(label)[:74]) + "…"
			}
			btn := slack.NewButtonBlockElement(fmt.Sprintf("b%d_%d", i, j), b.Action, slack.NewTextBlockObject(slack.PlainTextType, label, true, false))
			switch b.Style {
			case chat.StylePrimary:
				btn.Style = slack.StylePrimary
			case chat.StyleDanger:
				btn.Style = slack.StyleDanger
			}
			els = append(els, btn)
		}
		out = append(out, slack.NewActionBlock(fmt.Sprintf("r%d", i), els...))
	}
	return out
}

// fallback is the top-level text Slack shows in notifications.
func fallback(t rich.Text) string {
	s := plain(t)
	if line, _, ok := strings.Cut(s, "\n"); ok {
		s = line
	}
	if utf8.RuneCountInString(s) > 300 {
		s = string([]rune(s)[:299]) + "…"
	}
	// Shown as mrkdwn too: what people typed must not ping anyone.
	return escapeTyped(s)
}

// ephemeral splits an ephemeral conversation into channel and user.
func ephemeral(conv string) (channel, user string, ok bool) {
	rest, ok := strings.CutPrefix(conv, ephemeralPrefix)
	if !ok {
		return "", "", false
	}
	channel, user, ok = strings.Cut(rest, ":")
	return channel, user, ok
}

// Send implements chat.Transport.
func (t *Transport) Send(ctx context.Context, conv string, m chat.Message) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(fallback(m.Text), false), slack.MsgOptionBlocks(blocks(m)...)}
	if channel, user, ok := ephemeral(conv); ok {
		var ts string
		err := t.call(ctx, "chat.postEphemeral", channel, func(ctx context.Context) error {
			var err error
			ts, err = t.api.PostEphemeralContext(ctx, channel, user, opts...)
			return err
		})
		return ts, t.apiErr(err)
	}
	var ts string
	err := t.call(ctx, "chat.postMessage", conv, func(ctx context.Context) error {
		var err error
		_, ts, err = t.api.PostMessageContext(ctx, conv, opts...)
		return err
	})
	return ts, t.apiErr(err)
}

// Edit implements chat.Transport with chat.update; a message without
// buttons loses its actions blocks.
func (t *Transport) Edit(ctx context.Context, conv, ts string, m chat.Message) error {
	if _, _, ok := ephemeral(conv); ok {
		_, err := t.Send(ctx, conv, m) // an ephemeral message cannot be changed
		return err
	}
	err := t.call(ctx, "chat.update", conv, func(ctx context.Context) error {
		_, _, _, err := t.api.UpdateMessageContext(ctx, conv, ts, slack.MsgOptionText(fallback(m.Text), false), slack.MsgOptionBlocks(blocks(m)...))
		return err
	})
	return t.apiErr(err)
}

// SendFile implements chat.Transport through the external upload flow
// (files.upload is retired): upload URL, the bytes, completion in the
// conversation with the caption.
func (t *Transport) SendFile(ctx context.Context, conv string, f chat.File) (string, error) {
	if _, user, ok := ephemeral(conv); ok {
		dm, err := t.Open(ctx, user)
		if err != nil {
			return "", err
		}
		conv = dm
	}
	data, err := f.Bytes()
	if err != nil {
		return "", err
	}
	if len(data) == 0 {
		return "", flows.Errorf(flows.KindPermanent, "file_empty", "%s", f.Name)
	}
	var sum *slack.FileSummary
	// The three steps count against files.getUploadURLExternal and
	// files.completeUploadExternal, and post a message in conv.
	err = t.call(ctx, "files.getUploadURLExternal", conv, func(ctx context.Context) error {
		if err := t.limits.wait(ctx, "files.completeUploadExternal", ""); err != nil {
			return err
		}
		var err error
		sum, err = t.api.UploadFileContext(ctx, slack.UploadFileParameters{Reader: bytes.NewReader(data), FileSize: len(data),
			Filename: f.Name, Title: f.Name, Channel: conv, InitialComment: Mrkdwn(f.Caption)})
		return err
	})
	if err != nil {
		return "", t.apiErr(err)
	}
	return sum.ID, nil
}

// Ask implements chat.Transport: a modal opened from the tap's trigger
// (within its three seconds), else a message answered by the next one.
func (t *Transport) Ask(ctx context.Context, conv string, q chat.Question) (string, error) {
	if q.Mode != chat.AskForm || q.Tap == nil || q.Tap.Trigger == "" {
		return t.Send(ctx, conv, chat.Message{Text: q.Text})
	}
	meta, _ := json.Marshal(formMeta{Conv: conv, Question: q.ID, Required: q.Required})
	input := slack.NewPlainTextInputBlockElement(nil, answerAction)
	input.Multiline = true
	block := slack.NewInputBlock(answerBlock, slack.NewTextBlockObject(slack.PlainTextType, clip(q.Label, 2000), false, false), nil, input)
	view := slack.ModalViewRequest{Type: slack.VTModal, CallbackID: formCallback, PrivateMetadata: string(meta),
		Title:  slack.NewTextBlockObject(slack.PlainTextType, clip(q.Title, 24), false, false),
		Submit: slack.NewTextBlockObject(slack.PlainTextType, clip(q.Submit, 24), false, false),
		Close:  slack.NewTextBlockObject(slack.PlainTextType, clip(q.Close, 24), false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{block}}}
	err := t.call(ctx, "views.open", "", func(ctx context.Context) error {
		_, err := t.api.OpenViewContext(ctx, q.Tap.Trigger, view)
		return err
	})
	if err != nil {
		// The trigger lasts three seconds; past them the question is asked
		// in the conversation instead, and its answer comes as a message.
		t.log.Warn("views.open failed; asking in the conversation", "err", t.redact(err))
		return "", t.apiErr(err)
	}
	return "", nil
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Answer implements chat.Transport: Slack has no toast for a button, so a
// note goes as an ephemeral message to the person who pressed.
func (t *Transport) Answer(ctx context.Context, tap *chat.Tap, text string) error {
	if text == "" {
		return nil
	}
	channel, user, ok := strings.Cut(tap.ID, "|")
	if !ok {
		return nil
	}
	err := t.call(ctx, "chat.postEphemeral", channel, func(ctx context.Context) error {
		_, err := t.api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(escapeTyped(text), false))
		return err
	})
	return t.apiErr(err)
}

// limitWriter stops a download past its limit.
type limitWriter struct {
	buf bytes.Buffer
	max int64
}

var errTooBig = fmt.Errorf("file over the limit")

func (w *limitWriter) Write(p []byte) (int, error) {
	if int64(w.buf.Len()+len(p)) > w.max {
		return 0, errTooBig
	}
	return w.buf.Write(p)
}

// Fetch implements chat.Transport: url_private with the bot token. A file
// the token cannot read comes back as the sign-in page, which the library
// reports; HTML where the file is not HTML is refused too.
func (t *Transport) Fetch(ctx context.Context, f chat.FileRef, max int64) ([]byte, error) {
	if !t.fileHost(f.Ref) {
		// The library sends the bot token with the download: a link to
		// another host, however it came, would hand the token over.
		t.log.Warn("file link outside Slack's file hosts refused", "host", hostOf(f.Ref))
		return nil, flows.Errorf(flows.KindPermanent, "slack_rejected", "file link outside Slack's hosts: %s", hostOf(f.Ref))
	}
	w := &limitWriter{max: max}
	err := t.call(ctx, "files.download", "", func(ctx context.Context) error { return t.api.GetFileContext(ctx, f.Ref, w) })
	switch {
	case err == errTooBig || strings.Contains(fmt.Sprint(err), errTooBig.Error()):
		return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
	case err != nil:
		return nil, t.apiErr(err)
	}
	if sniff := http.DetectContentType(w.buf.Bytes()); strings.HasPrefix(sniff, "text/html") && !strings.Contains(f.MIME, "html") {
		return nil, flows.Errorf(flows.KindPermanent, "slack_rejected", "download of %s returned a web page", f.Name)
	}
	return w.buf.Bytes(), nil
}

// fileHost reports whether a url_private may be fetched with the bot
// token: Slack's own file hosts (files.slack.com and the other *.slack.com
// hosts, GovSlack's *.slack-gov.com) over HTTPS, or the host of the Web
// API Viza is configured with (an enterprise proxy, a test's fake).
func (t *Transport) fileHost(link string) bool {
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		return false
	}
	if api, err := url.Parse(t.cfg.APIURL); err == nil && api.Host == u.Host && api.Scheme == u.Scheme {
		return true
	}
	h := strings.ToLower(u.Hostname())
	return u.Scheme == "https" && (h == "slack.com" || strings.HasSuffix(h, ".slack.com") || strings.HasSuffix(h, ".slack-gov.com"))
}

func hostOf(link string) string {
	if u, err := url.Parse(link); err == nil {
		return u.Host
	}
	return "?"
}

// Open implements chat.Transport with conversations.open, kept.
func (t *Transport) Open(ctx context.Context, user string) (string, error) {
	t.mu.Lock()
	dm, ok := t.dms[user]
	t.mu.Unlock()
	if ok {
		return dm, nil
	}
	if v, ok, err := t.store.StateGet(ctx, Name, "dm:"+user); err == nil && ok {
		t.noteDM(user, v)
		return v, nil
	}
	var ch *slack.Channel
	err := t.call(ctx, "conversations.open", "", func(ctx context.Context) error {
		var err error
		ch, _, _, err = t.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
		return err
	})
	if err != nil {
		return "", t.apiErr(err)
	}
	t.noteDM(user, ch.ID)
	if err := t.store.StatePut(ctx, Name, "dm:"+user, ch.ID); err != nil {
		t.log.Warn("keep DM channel", "err", err)
	}
	return ch.ID, nil
}

// noteDM remembers a user's DM channel seen in an event.
func (t *Transport) noteDM(user, channel string) {
	if user == "" || !strings.HasPrefix(channel, "D") {
		return
	}
	t.mu.Lock()
	t.dms[user] = channel
	t.mu.Unlock()
}
