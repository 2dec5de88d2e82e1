package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

// The layer's state, per transport, in SQLite (channel_state):
//
//	dialog:<conv>         a document being started, step by step
//	prompt:<conv>:<ref>   a question waiting for its answer (ref: the question's message, a form's id, or "" for the next message)
//	task:<id>             the message that carries a task's buttons
//	card:<conv>:<msg>     the document a message is about, and its rich text
//	pages:<conv>:<msg>    a message's buttons beyond the platform's limit
//	sent:<note>:<step>    the steps of a delivery already done
//	live:<doc>:<conv>     messages of a document whose buttons come off when it is finished
//	link:<user>, conv:<person>, inactive:<person>, lang:<person>, act:<hash>

// ID is a platform id kept as text. It also reads the JSON numbers that
// Telegram's ids were stored as before the layer was shared.
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (id *ID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*id = ID(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*id = ID(s)
	return nil
}

// taskRef remembers the message that carries a task's buttons, to show the
// outcome on it when the task closes, and the earlier copies of it (the
// first request, a reminder, a /my answer) that must show it too.
type taskRef struct {
	Conv ID     `json:"chat"`
	Msg  ID     `json:"msg"`
	Rich string `json:"rich,omitempty"`
	Text string `json:"text,omitempty"` // plain text, kept by earlier versions
	// Shown: the outcome is on the main message and every copy. Set only
	// once the edits went through, so that the task's closing
	// notification, delivered from the outbox after any crash, makes
	// them otherwise.
	Shown  bool     `json:"shown,omitempty"`
	Copies []msgRef `json:"copies,omitempty"`
}

// msgRef is one message and its rich text.
type msgRef struct {
	Conv ID     `json:"chat"`
	Msg  ID     `json:"msg"`
	Rich string `json:"rich,omitempty"`
}

// maxCopies bounds the copies of a request kept per task: a daily reminder
// for months would otherwise grow the row without end.
const maxCopies = 10

// withMain makes conv/msg the task's main message; the one before becomes
// a copy.
func (r taskRef) withMain(conv, msg string, text rich.Text) taskRef {
	if r.Msg != "" && !(string(r.Conv) == conv && string(r.Msg) == msg) {
		r.Copies = append(r.Copies, msgRef{Conv: r.Conv, Msg: r.Msg, Rich: r.text().Markup()})
		if len(r.Copies) > maxCopies {
			r.Copies = r.Copies[len(r.Copies)-maxCopies:]
		}
	}
	r.Conv, r.Msg, r.Rich, r.Text = ID(conv), ID(msg), text.Markup(), ""
	return r
}

func (c msgRef) text() rich.Text {
	t, err := rich.Parse(c.Rich)
	if err != nil {
		return rich.Text{}
	}
	return t
}

func (r taskRef) text() rich.Text {
	if r.Rich != "" {
		if t, err := rich.Parse(r.Rich); err == nil {
			return t
		}
	}
	return rich.Plain(r.Text)
}

// cardRef is the document a message is about, and what it says.
type cardRef struct {
	Doc  int64  `json:"doc"`
	Rich string `json:"rich,omitempty"`
}

// UnmarshalJSON reads a cardRef, or the bare document id earlier versions
// kept.
func (c *cardRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		id, err := strconv.ParseInt(string(b), 10, 64)
		c.Doc = id
		return err
	}
	type plain cardRef
	return json.Unmarshal(b, (*plain)(c))
}

func (c cardRef) text() (rich.Text, bool) {
	if c.Rich == "" {
		return rich.Text{}, false
	}
	t, err := rich.Parse(c.Rich)
	return t, err == nil
}

func (m *Messenger) remember(ctx context.Context, key string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = m.Store.StatePut(ctx, m.name, key, string(b))
	}
	if err != nil {
		m.log.Warn("remember", "key", key, "err", err)
	}
}

func (m *Messenger) recall(ctx context.Context, key string, v any) (bool, error) {
	s, ok, err := m.Store.StateGet(ctx, m.name, key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return false, fmt.Errorf("state %s: %w", key, err)
	}
	return true, nil
}

func (m *Messenger) forget(ctx context.Context, key string) {
	if err := m.Store.StatePut(ctx, m.name, key, ""); err != nil {
		m.log.Warn("forget", "key", key, "err", err)
	}
}

// once runs a step of a delivery unless an earlier attempt completed it.
func (m *Messenger) once(ctx context.Context, key string, step func() error) error {
	if _, done, err := m.Store.StateGet(ctx, m.name, key); err != nil || done {
		return err
	}
	if err := step(); err != nil {
		return err
	}
	return m.Store.StatePut(ctx, m.name, key, "1")
}

// rememberCard records a request sent for a task: the task's main message
// from now on, and what the message is about.
func (m *Messenger) rememberCard(ctx context.Context, task int64, conv, msgID string, doc int64, text rich.Text) {
	var ref taskRef
	if _, err := m.recall(ctx, taskKey(task), &ref); err != nil {
		m.log.Warn("recall task message", "task", task, "err", err)
	}
	ref = ref.withMain(conv, msgID, text)
	ref.Shown = false
	m.remember(ctx, taskKey(task), ref)
	m.remember(ctx, cardKey(conv, msgID), cardRef{Doc: doc, Rich: text.Markup()})
}

// markShown records that a task's outcome is on all its messages.
func (m *Messenger) markShown(ctx context.Context, task int64) {
	m.refMu.Lock()
	defer m.refMu.Unlock()
	var ref taskRef
	if ok, err := m.recall(ctx, taskKey(task), &ref); err != nil || !ok {
		return
	}
	ref.Shown = true
	m.remember(ctx, taskKey(task), ref)
}

// markLive records a message about a document that keeps buttons after
// its tasks closed (Add remark on a decided card, Upload and Withdraw on
// a returned document, a status card's Remind): they come off when the
// document is finished (see retire).
func (m *Messenger) markLive(ctx context.Context, doc int64, conv, msg string, text rich.Text) {
	if msg == "" || !m.caps.Edit {
		return
	}
	m.refMu.Lock()
	defer m.refMu.Unlock()
	var live []msgRef
	if _, err := m.recall(ctx, liveKey(doc, conv), &live); err != nil {
		m.log.Warn("recall live messages", "doc", doc, "err", err)
	}
	for _, l := range live {
		if string(l.Msg) == msg {
			return
		}
	}
	live = append(live, msgRef{Conv: ID(conv), Msg: ID(msg), Rich: text.Markup()})
	if len(live) > 4*maxCopies {
		live = live[len(live)-4*maxCopies:]
	}
	m.remember(ctx, liveKey(doc, conv), live)
}

// retire takes the buttons off every message about a finished document
// in conv: none may still offer to act on it. Idempotent: an edit that
// changes nothing is no error, and the list is forgotten only when every
// edit went through.
func (m *Messenger) retire(ctx context.Context, p flows.PersonID, conv string, doc int64) error {
	var live []msgRef
	if ok, err := m.recall(ctx, liveKey(doc, conv), &live); err != nil || !ok {
		return err
	}
	for _, l := range live {
		if err := m.edit(ctx, p, string(l.Conv), string(l.Msg), Message{Text: l.text()}); err != nil && flows.ErrorKind(err) == flows.KindTransient {
			return err
		} else if err != nil {
			m.log.Warn("take the buttons off a finished document's message", "doc", doc, "err", err)
		}
	}
	m.forget(ctx, liveKey(doc, conv))
	return nil
}

func taskKey(id int64) string { return "task:" + strconv.FormatInt(id, 10) }
func liveKey(doc int64, conv string) string {
	return "live:" + strconv.FormatInt(doc, 10) + ":" + conv
}
func cardKey(conv, msg string) string   { return "card:" + conv + ":" + msg }
func promptKey(conv, ref string) string { return "prompt:" + conv + ":" + ref }
func dialogKey(conv string) string      { return "dialog:" + conv }
