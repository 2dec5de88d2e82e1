package chat

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
)

// How long a card waits for a comparison, and how long /diff does. A
// card never waits longer: without the line it says the comparison is
// being prepared, and goes.
const (
	CardCompareWait = 3 * time.Second
	chatCompareWait = 30 * time.Second
)

// changesLine is a request card's "what changed" line for the version it
// asks about, against the version before it; none for a first version.
func (m *Messenger) changesLine(ctx context.Context, n flows.Notification, lang string) rich.Text {
	if m.Compare == nil || n.Version < 2 {
		return rich.Text{}
	}
	d, err := m.Store.Document(ctx, n.DocID)
	if err != nil {
		m.log.Warn("read the document for its changes", "doc", n.Number, "err", err)
		return rich.Text{}
	}
	wait := m.CompareWait
	if wait == 0 {
		wait = CardCompareWait
	}
	c, ok, err := compare.ForCard(ctx, m.Compare, d, n.Version, wait, m.Clock.Now())
	if err != nil {
		m.log.Warn("compare versions for a card", "doc", n.Number, "err", err)
	}
	if !ok {
		return rich.Text{}
	}
	return messages.Changes(c, d.Number, lang, messages.ChangeLimits{Changes: messages.CardChanges.Changes,
		Runes: messages.CardChanges.Runes, Command: m.caps.Command})
}

// showDiff answers /diff NUMBER [FROM TO] and the "What changed" button:
// the places that changed, in the chat.
func (m *Messenger) showDiff(ctx context.Context, p *flows.Person, lang, conv string, d *flows.Document, args []string) {
	if m.Compare == nil {
		return
	}
	to := 0
	for _, v := range d.Versions {
		if !v.Scan && v.No > to {
			to = v.No
		}
	}
	from := compare.Previous(d, to)
	if len(args) == 2 {
		a, err1 := strconv.Atoi(args[0])
		b, err2 := strconv.Atoi(args[1])
		if err1 != nil || err2 != nil || a == b {
			m.text(ctx, p.ID, conv, m.t(lang, "diff.usage", nil))
			return
		}
		from, to = min(a, b), max(a, b)
	}
	if from == 0 {
		m.text(ctx, p.ID, conv, m.t(lang, "diff.one_version", map[string]any{"Number": d.Number}))
		return
	}
	wctx, cancel := context.WithTimeout(ctx, chatCompareWait)
	defer cancel()
	c, err := m.Compare.Between(wctx, d, from, to, compare.DefaultOptions)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	head := m.t(lang, "diff.header", map[string]any{"Type": messages.Localized(d.TypeName, lang),
		"Number": d.Number, "Title": d.Title, "From": from, "To": to})
	body := messages.Changes(c, d.Number, lang, messages.ChangeLimits{Changes: messages.ChatChanges.Changes,
		Runes: messages.ChatChanges.Runes, Command: m.caps.Command})
	m.text(ctx, p.ID, conv, rich.Concat(head, rich.Plain("\n"), body))
}

// onDiff is the /diff command.
func (m *Messenger) onDiff(ctx context.Context, p *flows.Person, lang, conv, arg string) {
	fields := strings.Fields(arg)
	if len(fields) != 1 && len(fields) != 3 {
		m.text(ctx, p.ID, conv, m.t(lang, "diff.usage", nil))
		return
	}
	d, err := m.Engine.Document(ctx, p.ID, fields[0])
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	m.showDiff(ctx, p, lang, conv, d, fields[1:])
}

// diffButton is the "What changed" button of a round-2+ card.
func (m *Messenger) diffButton(lang string, docID int64) Button {
	return Button{Label: m.s(lang, "button.diff", nil), Action: fmt.Sprintf("df:%d", docID)}
}
