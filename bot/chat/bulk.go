package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
)

// bulkOffer is an approval in bulk offered in /my: the tasks it would
// approve, for whom. The button names only the offer; who acts is the
// tapping person, checked against For.
type bulkOffer struct {
	For   flows.PersonID `json:"for"`
	Tasks []int64        `json:"tasks"`
}

func bulkKey(id string) string { return "bulk:" + id }

// offerBulk follows /my's cards with "Approve all N" when two or more of
// them are approvals.
func (m *Messenger) offerBulk(ctx context.Context, p *flows.Person, lang, conv string, tasks []int64) {
	if len(tasks) < 2 {
		return
	}
	if len(tasks) > flows.MaxBulk {
		tasks = tasks[:flows.MaxBulk]
	}
	b := make([]byte, 6)
	rand.Read(b)
	id := hex.EncodeToString(b)
	m.remember(ctx, bulkKey(id), bulkOffer{For: p.ID, Tasks: tasks})
	m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.bulk.offer", map[string]any{"N": len(tasks)}),
		Buttons: [][]Button{{{Label: m.s(lang, "button.bulk_approve", map[string]any{"N": len(tasks)}), Action: "ba:" + id}}}})
}

// onBulk answers the offer's button ("ba") with the list it would approve
// and a confirmation, and the confirmation ("bc") by approving.
func (m *Messenger) onBulk(ctx context.Context, ev *Event, p *flows.Person, lang, conv, code, id string, tap *Tap) {
	var offer bulkOffer
	if ok, err := m.recall(ctx, bulkKey(id), &offer); err != nil || !ok || offer.For != p.ID {
		m.answer(ctx, tap, m.s(lang, "chat.bulk.gone", nil))
		return
	}
	if code == "ba" {
		m.answer(ctx, tap, "")
		lines := []rich.Text{m.t(lang, "chat.bulk.confirm", map[string]any{"N": len(offer.Tasks)})}
		for _, tid := range offer.Tasks {
			if d, err := m.Store.DocumentOfTask(ctx, tid); err == nil {
				lines = append(lines, m.t(lang, "chat.doc_line", map[string]any{"Number": d.Number, "Title": d.Title, "State": ""}))
			}
		}
		m.reply(ctx, p.ID, conv, Message{Text: rich.Join(lines, "\n"), Buttons: [][]Button{{
			{Label: m.s(lang, "button.bulk_confirm", map[string]any{"N": len(offer.Tasks)}), Action: "bc:" + id, Style: StylePrimary}}}})
		return
	}
	m.answer(ctx, tap, m.s(lang, "chat.answer.done", nil))
	res, err := m.Engine.BulkApprove(ctx, flows.BulkApproveCmd{Key: ev.Key, Actor: p.ID, TaskIDs: offer.Tasks})
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	m.forget(ctx, bulkKey(id))
	approved := 0
	var refused []rich.Text
	for _, r := range res {
		if r.Err == nil {
			approved++
			continue
		}
		number := fmt.Sprint(r.TaskID)
		if d, err := m.Store.DocumentOfTask(ctx, r.TaskID); err == nil {
			number = d.Number
		}
		refused = append(refused, m.t(lang, "chat.bulk.refused_line", map[string]any{"Number": number, "Why": messages.Error(r.Err, lang)}))
	}
	lines := append([]rich.Text{m.t(lang, "chat.bulk.done", map[string]any{"N": approved})}, refused...)
	m.text(ctx, p.ID, conv, rich.Join(lines, "\n"))
}
