package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
)

// say sends msg to conv within the platform's limits: a text over the
// limit goes as several messages (the buttons on the last), buttons are
// reflowed to the row width and paged beyond the per-message limit. It
// returns the id of the message that carries the buttons.
func (m *Messenger) say(ctx context.Context, p flows.PersonID, conv string, msg Message) (string, error) {
	msg.Buttons = m.fit(ctx, conv, msg.Text, msg.Buttons)
	parts := []rich.Text{msg.Text}
	if m.caps.MaxText > 0 {
		parts = msg.Text.Split(m.caps.MaxText)
	}
	var id string
	for i, part := range parts {
		one := Message{Text: part}
		if i == len(parts)-1 {
			one.Buttons, one.ShareContact, one.ClearContact = msg.Buttons, msg.ShareContact, msg.ClearContact
		}
		var err error
		if id, err = m.wire.Send(ctx, conv, one); err != nil {
			return "", m.sendFailed(p, err)
		}
	}
	return id, nil
}

// reply is say for answers to what a person did: a failure is logged, not
// returned, since it must not stop the handling of the event.
func (m *Messenger) reply(ctx context.Context, p flows.PersonID, conv string, msg Message) string {
	id, err := m.say(ctx, p, conv, msg)
	if err != nil {
		m.log.Warn("reply failed", "person", p, "err", err)
	}
	return id
}

// text is reply for a message without buttons.
func (m *Messenger) text(ctx context.Context, p flows.PersonID, conv string, t rich.Text) string {
	return m.reply(ctx, p, conv, Message{Text: t})
}

// replyErr tells the person why what they asked for did not happen.
func (m *Messenger) replyErr(ctx context.Context, p flows.PersonID, conv, lang string, err error) {
	m.logCommandErr(p, err)
	m.text(ctx, p, conv, rich.Plain(messages.Error(err, lang)))
}

func (m *Messenger) logCommandErr(p flows.PersonID, err error) {
	if flows.ErrorKind(err) == flows.KindInternal {
		m.log.Error("command failed", "person", p, "err", err)
	} else {
		m.log.Info("command refused", "person", p, "err", err)
	}
}

// edit changes an earlier message; where messages cannot be edited the
// change goes as a new message instead.
func (m *Messenger) edit(ctx context.Context, p flows.PersonID, conv, msgID string, msg Message) error {
	if !m.caps.Edit || msgID == "" {
		_, err := m.say(ctx, p, conv, msg)
		return err
	}
	msg.Buttons = m.fit(ctx, conv, msg.Text, msg.Buttons)
	return m.sendFailed(p, m.wire.Edit(ctx, conv, msgID, msg))
}

// withOutcome is a message after something happened to it: the whole text
// and the outcome line where the message is edited, the header line and
// the outcome where a new message says it.
func (m *Messenger) withOutcome(original rich.Text, line rich.Text) rich.Text {
	if !m.caps.Edit {
		head, _ := splitFirstLine(original)
		return rich.Concat(head, rich.Plain("\n"), line)
	}
	return rich.Concat(original.TrimSpace(), rich.Plain("\n\n"), line)
}

func splitFirstLine(t rich.Text) (rich.Text, bool) {
	var out rich.Text
	for _, s := range t.Spans {
		if i := strings.IndexByte(s.Text, '\n'); i >= 0 {
			s.Text = s.Text[:i]
			out = rich.Concat(out, rich.Text{Spans: []rich.Span{s}})
			return out, true
		}
		out = rich.Concat(out, rich.Text{Spans: []rich.Span{s}})
	}
	return out, false
}

// fit encodes the buttons' actions for the platform, reflows rows that are
// too wide and, past the per-message limit, keeps the buttons in SQLite
// and shows them a page at a time.
func (m *Messenger) fit(ctx context.Context, conv string, text rich.Text, rows [][]Button) [][]Button {
	count := 0
	for _, row := range rows {
		count += len(row)
	}
	if count == 0 {
		return nil
	}
	if m.caps.MsgButtons > 0 && count > m.caps.MsgButtons {
		return m.page(ctx, conv, text, rows, 0)
	}
	return m.encode(ctx, m.reflow(rows))
}

func (m *Messenger) encode(ctx context.Context, rows [][]Button) [][]Button {
	out := make([][]Button, 0, len(rows))
	for _, row := range rows {
		r := make([]Button, len(row))
		for i, b := range row {
			b.Action = m.action(ctx, b.Action)
			r[i] = b
		}
		out = append(out, r)
	}
	return out
}

func (m *Messenger) reflow(rows [][]Button) [][]Button {
	w := m.caps.RowButtons
	if w <= 0 {
		return rows
	}
	var out [][]Button
	for _, row := range rows {
		for len(row) > w {
			out, row = append(out, row[:w]), row[w:]
		}
		if len(row) > 0 {
			out = append(out, row)
		}
	}
	return out
}

// pageSet is a message's buttons kept for paging.
type pageSet struct {
	Buttons []Button `json:"b"`
}

// page returns page n of rows, with Back and More buttons, storing the
// whole set under an id made from its content.
func (m *Messenger) page(ctx context.Context, conv string, text rich.Text, rows [][]Button, n int) [][]Button {
	var all []Button
	for _, row := range rows {
		all = append(all, row...)
	}
	b, _ := json.Marshal(pageSet{Buttons: all})
	sum := sha256.Sum256(append([]byte(conv+"\x00"+text.Markup()+"\x00"), b...))
	set := hex.EncodeToString(sum[:])[:12]
	m.remember(ctx, "pages:"+set, pageSet{Buttons: all})
	return m.pageOf(ctx, set, all, n)
}

func (m *Messenger) pageOf(ctx context.Context, set string, all []Button, n int) [][]Button {
	size := max(1, m.caps.MsgButtons-2)
	pages := (len(all) + size - 1) / size
	n = min(max(n, 0), pages-1)
	shown := all[n*size : min(len(all), (n+1)*size)]
	rows := m.reflow([][]Button{shown})
	var nav []Button
	lang := m.Engine.Directory().Language
	if n > 0 {
		nav = append(nav, Button{Label: m.s(lang, "chat.page_back", nil), Action: fmt.Sprintf("pg:%s:%d", set, n-1)})
	}
	if n < pages-1 {
		nav = append(nav, Button{Label: m.s(lang, "chat.page", nil), Action: fmt.Sprintf("pg:%s:%d", set, n+1)})
	}
	if len(nav) > 0 {
		rows = append(rows, nav)
	}
	return m.encode(ctx, rows)
}

// turnPage shows another page of a message's buttons.
func (m *Messenger) turnPage(ctx context.Context, p flows.PersonID, conv, msgID, ref string, text rich.Text) {
	set, nStr, _ := strings.Cut(ref, ":")
	n, _ := strconv.Atoi(nStr)
	var ps pageSet
	if ok, err := m.recall(ctx, "pages:"+set, &ps); err != nil || !ok {
		return
	}
	rows := m.pageOf(ctx, set, ps.Buttons, n)
	if m.caps.Edit && msgID != "" {
		if err := m.sendFailed(p, m.wire.Edit(ctx, conv, msgID, Message{Text: text, Buttons: rows})); err != nil {
			m.log.Warn("turn page", "err", err)
		}
		return
	}
	if _, err := m.wire.Send(ctx, conv, Message{Text: text, Buttons: rows}); err != nil {
		m.log.Warn("turn page", "err", m.sendFailed(p, err))
	}
}

// prompt is a question waiting for its answer.
type prompt struct {
	Action string    `json:"action"` // reject | comment | remark | version | route | route_person
	TaskID int64     `json:"task,omitzero"`
	DocID  int64     `json:"doc"`
	Number string    `json:"number"`
	Mode   string    `json:"mode,omitzero"`
	At     time.Time `json:"at,omitzero"`
	// Offer and Item name a route change offered by the Approvers button;
	// N is its stage's number as people read it.
	Offer string `json:"offer,omitzero"`
	Item  int    `json:"item,omitzero"`
	N     int    `json:"n,omitzero"`
}

// nextAnswerTTL bounds how long a question answered by "the next message"
// waits: later messages are about something else.
const nextAnswerTTL = time.Hour

// ask puts a question and remembers what its answer is for. textID is the
// catalogue entry of the question asked in a message.
func (m *Messenger) ask(ctx context.Context, p flows.PersonID, conv, lang string, tap *Tap, pr prompt, textID string) {
	data := map[string]any{"Number": pr.Number, "N": pr.N}
	q := Question{Mode: AskNext, File: pr.Action == "version"}
	switch {
	case !q.File && m.caps.Forms && tap != nil && tap.Trigger != "":
		q.Mode = AskForm
	case m.caps.ReplyTo:
		q.Mode = AskReply
	}
	switch q.Mode {
	case AskReply:
		q.Text = m.t(lang, textID, data)
	case AskNext:
		q.Text = m.t(lang, textID+".next", data)
	case AskForm:
		q.Tap = tap
		q.ID = strconv.FormatInt(m.Clock.Now().UnixNano(), 36)
		q.Title = m.s(lang, "chat.form."+pr.Action+".title", data)
		q.Label = m.s(lang, "chat.form."+pr.Action+".label", data)
		q.Submit, q.Close = m.s(lang, "chat.form.submit", nil), m.s(lang, "chat.form.cancel", nil)
		q.Text = rich.Plain(q.Label)
	}
	q.Lang = lang
	if q.Mode == AskForm {
		q.Required = messages.Error(flows.Errorf(flows.KindInvalid, map[bool]string{true: "reason_required", false: "text_required"}[pr.Action == "reject"], ""), lang)
	}
	pr.Mode, pr.At = q.Mode, m.Clock.Now()
	id, err := m.wire.Ask(ctx, conv, q)
	if err != nil && q.Mode == AskForm {
		// A form that could not open (its trigger expired): the question
		// goes in the conversation, answered by the next message.
		m.log.Info("form did not open; asking in the conversation", "person", p, "err", err)
		q = Question{Mode: AskNext, Text: m.t(lang, textID+".next", data), Lang: lang}
		pr.Mode = AskNext
		id, err = m.wire.Ask(ctx, conv, q)
	}
	if err != nil {
		m.log.Warn("ask failed", "person", p, "err", m.sendFailed(p, err))
		return
	}
	ref := ""
	switch q.Mode {
	case AskReply:
		ref = id
	case AskForm:
		ref = "form:" + q.ID
	}
	m.remember(ctx, promptKey(conv, ref), pr)
}

// pendingPrompt finds the question an event answers: the one its message
// replies to, the form it submits, or one asked for the next message.
func (m *Messenger) pendingPrompt(ctx context.Context, ev *Event) (prompt, string, bool) {
	var keys []string
	switch {
	case ev.Form != nil:
		keys = []string{promptKey(ev.Conv, "form:"+ev.Form.Question)}
	case ev.ReplyTo != "":
		keys = []string{promptKey(ev.Conv, ev.ReplyTo), promptKey(ev.Conv, "")}
	default:
		keys = []string{promptKey(ev.Conv, "")}
	}
	for _, k := range keys {
		var pr prompt
		if ok, err := m.recall(ctx, k, &pr); err != nil || !ok {
			continue
		}
		if pr.Mode == AskNext && m.Clock.Now().Sub(pr.At) > nextAnswerTTL {
			m.forget(ctx, k)
			continue
		}
		return pr, k, true
	}
	return prompt{}, "", false
}
