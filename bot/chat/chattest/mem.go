// Package chattest is the contract every messenger passes: a table of
// conversation scenarios (start a document, approve, reject with a reason,
// a new version in answer to a card, a double tap, /status, /list, /sheet,
// an unknown person, an oversized file …) written against Env, which each
// channel's test implements over its own fake platform. Mem is an
// in-memory messenger that proves the layer needs nothing from a channel
// but the translation of its wire format.
package chattest

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

// MemName is the in-memory messenger's channel name.
const MemName = "mem"

// Mem is an in-memory messenger. Its users are "u-<person id>" for the
// people of the directory (found through chat.Identifier, as Slack finds
// people by e-mail) and anything else for strangers; a user's private
// conversation is "c-<user>".
type Mem struct {
	caps chat.Caps

	mu      sync.Mutex
	next    int
	convs   map[string][]*MemMsg
	files   map[string][]byte // sent by people, by ref
	fetches int
	answers map[string]string // tap id → the answer's text
}

// MemMsg is one message of a conversation as its reader sees it.
type MemMsg struct {
	ID       string
	From     string // "bot" or the user
	Text     rich.Text
	Buttons  [][]chat.Button
	File     string
	Data     []byte
	Question *chat.Question
	Edits    int
}

var (
	_ chat.Transport  = (*Mem)(nil)
	_ chat.Identifier = (*Mem)(nil)
)

// NewMem makes an in-memory messenger with the given capabilities.
func NewMem(caps chat.Caps) *Mem {
	return &Mem{caps: caps, convs: map[string][]*MemMsg{}, files: map[string][]byte{}, answers: map[string]string{}}
}

// Name implements chat.Transport.
func (m *Mem) Name() string { return MemName }

// Caps implements chat.Transport.
func (m *Mem) Caps() chat.Caps { return m.caps }

// PersonOf implements chat.Identifier.
func (m *Mem) PersonOf(_ context.Context, dir *flows.Directory, user string) (*flows.Person, bool) {
	id, ok := strings.CutPrefix(user, "u-")
	if !ok {
		return nil, false
	}
	return dir.Person(flows.PersonID(id))
}

// UserOf implements chat.Identifier.
func (m *Mem) UserOf(_ context.Context, p *flows.Person) (string, bool) {
	return "u-" + string(p.ID), true
}

// Knows implements chat.Identifier.
func (m *Mem) Knows(*flows.Person) bool { return true }

// Open implements chat.Transport.
func (m *Mem) Open(_ context.Context, user string) (string, error) { return "c-" + user, nil }

func (m *Mem) addLocked(conv string, msg *MemMsg) string {
	m.next++
	msg.ID = strconv.Itoa(m.next)
	m.convs[conv] = append(m.convs[conv], msg)
	return msg.ID
}

func (m *Mem) check(msg chat.Message) error {
	if m.caps.MaxText > 0 && msg.Text.Len() > m.caps.MaxText {
		return flows.Errorf(flows.KindPermanent, "mem_rejected", "text of %d characters", msg.Text.Len())
	}
	n := 0
	for _, row := range msg.Buttons {
		if m.caps.RowButtons > 0 && len(row) > m.caps.RowButtons {
			return flows.Errorf(flows.KindPermanent, "mem_rejected", "row of %d buttons", len(row))
		}
		for _, b := range row {
			if m.caps.MaxAction > 0 && len(b.Action) > m.caps.MaxAction {
				return flows.Errorf(flows.KindPermanent, "mem_rejected", "action %q too long", b.Action)
			}
		}
		n += len(row)
	}
	if m.caps.MsgButtons > 0 && n > m.caps.MsgButtons {
		return flows.Errorf(flows.KindPermanent, "mem_rejected", "%d buttons", n)
	}
	return nil
}

// Send implements chat.Transport, refusing what the capabilities exclude
// as a real platform would.
func (m *Mem) Send(_ context.Context, conv string, msg chat.Message) (string, error) {
	if err := m.check(msg); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addLocked(conv, &MemMsg{From: "bot", Text: msg.Text, Buttons: msg.Buttons}), nil
}

// Edit implements chat.Transport.
func (m *Mem) Edit(_ context.Context, conv, msgID string, msg chat.Message) error {
	if !m.caps.Edit {
		return flows.Errorf(flows.KindPermanent, "mem_rejected", "cannot edit")
	}
	if err := m.check(msg); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, old := range m.convs[conv] {
		if old.ID == msgID && old.From == "bot" {
			old.Text, old.Buttons = msg.Text, msg.Buttons
			old.Edits++
			return nil
		}
	}
	return flows.Errorf(flows.KindPermanent, "mem_rejected", "no message %s in %s", msgID, conv)
}

// SendFile implements chat.Transport.
func (m *Mem) SendFile(_ context.Context, conv string, f chat.File) (string, error) {
	r, err := f.Open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addLocked(conv, &MemMsg{From: "bot", Text: f.Caption, File: f.Name, Data: data}), nil
}

// Ask implements chat.Transport.
func (m *Mem) Ask(_ context.Context, conv string, q chat.Question) (string, error) {
	switch {
	case q.Mode == chat.AskForm && !m.caps.Forms, q.Mode == chat.AskReply && !m.caps.ReplyTo:
		return "", fmt.Errorf("mem: asked by %s without the capability", q.Mode)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	qq := q
	return m.addLocked(conv, &MemMsg{From: "bot", Text: q.Text, Question: &qq}), nil
}

// Answer implements chat.Transport.
func (m *Mem) Answer(_ context.Context, tap *chat.Tap, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, done := m.answers[tap.ID]; done {
		return fmt.Errorf("mem: tap %s answered twice", tap.ID)
	}
	m.answers[tap.ID] = text
	return nil
}

// Fetch implements chat.Transport.
func (m *Mem) Fetch(_ context.Context, f chat.FileRef, max int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetches++
	data, ok := m.files[f.Ref]
	if !ok {
		return nil, flows.Errorf(flows.KindNotFound, "file_not_found", "%s", f.Ref)
	}
	if int64(len(data)) > max {
		return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
	}
	return data, nil
}

// Put keeps a file a person sends and returns its ref.
func (m *Mem) Put(name string, data []byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	ref := fmt.Sprintf("f%d-%s", m.next, name)
	m.files[ref] = data
	return ref
}

// Said records what a person sent in their conversation.
func (m *Mem) Said(conv, user, text, file string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addLocked(conv, &MemMsg{From: user, Text: rich.Plain(text), File: file})
}

// Conv returns copies of a conversation's messages.
func (m *Mem) Conv(conv string) []MemMsg {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MemMsg, 0, len(m.convs[conv]))
	for _, msg := range m.convs[conv] {
		out = append(out, *msg)
	}
	return out
}

// Answered returns the answer given to a tap.
func (m *Mem) Answered(tapID string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.answers[tapID]
	return s, ok
}

// Fetches counts the files downloaded.
func (m *Mem) Fetches() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fetches
}
