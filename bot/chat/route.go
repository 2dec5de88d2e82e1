package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
)

// routeOffer is the list of changes the Approvers button offered: each
// button names an item of it by index, never a person or a document, and
// who acts is the tapping person, checked against For.
type routeOffer struct {
	For    flows.PersonID `json:"for"`
	DocID  int64          `json:"doc"`
	Number string         `json:"number"`
	Items  []routeItem    `json:"items"`
}

// routeItem is one change: take Person off Stage, or add someone to it
// (Person empty until they are picked).
type routeItem struct {
	Stage  int            `json:"stage"`
	Person flows.PersonID `json:"person,omitzero"`
	Remove bool           `json:"remove,omitzero"`
}

func routeKey(id string) string { return "route:" + id }

// routeButton is on the status card of those who may change its route.
func (m *Messenger) routeButton(lang string, d *flows.Document, p flows.PersonID) (Button, bool) {
	if !flows.MayChangeRoute(m.Engine.Directory(), d, p) {
		return Button{}, false
	}
	return Button{Label: m.s(lang, "button.route", nil), Action: fmt.Sprintf("ra:%d", d.ID)}, true
}

// onRoute answers the route buttons: "ra" lists the stages that may still
// change with a button per approver who may be taken off and per stage to
// add to; "rr" and "rp" ask the reason for one change; "rn" asks whom to
// add.
func (m *Messenger) onRoute(ctx context.Context, p *flows.Person, lang, conv, code, ref string, tap *Tap) {
	if code == "ra" {
		m.answer(ctx, tap, "")
		id, _ := strconv.ParseInt(ref, 10, 64)
		m.offerRoute(ctx, p, lang, conv, id)
		return
	}
	offerID, index, _ := strings.Cut(ref, ".")
	i, _ := strconv.Atoi(index)
	var offer routeOffer
	if ok, err := m.recall(ctx, routeKey(offerID), &offer); err != nil || !ok || offer.For != p.ID || i < 0 || i >= len(offer.Items) {
		m.answer(ctx, tap, m.s(lang, "chat.route.gone", nil))
		return
	}
	item := offer.Items[i]
	pr := prompt{Action: "route", DocID: offer.DocID, Number: offer.Number, Offer: offerID, Item: i, N: item.Stage + 1}
	switch {
	case code == "rn" && item.Person == "":
		m.answer(ctx, tap, m.s(lang, "chat.answer."+m.askMode(tap, false), nil))
		pr.Action = "route_person"
		m.ask(ctx, p.ID, conv, lang, tap, pr, "chat.route.ask_person")
	case (code == "rr" && item.Remove) || (code == "rp" && !item.Remove && item.Person != ""):
		m.answer(ctx, tap, m.s(lang, "chat.answer."+m.askMode(tap, false), nil))
		m.ask(ctx, p.ID, conv, lang, tap, pr, "chat.route.ask_reason")
	default:
		m.answer(ctx, tap, "")
	}
}

// offerRoute shows the stages whose approvers may still change.
func (m *Messenger) offerRoute(ctx context.Context, p *flows.Person, lang, conv string, docID int64) {
	d, err := m.Store.Document(ctx, docID)
	if err == nil && !m.Engine.MayRead(d, p.ID) {
		err = flows.Errorf(flows.KindNotFound, "doc_not_found", "%s on %d", p.ID, docID)
	}
	if err == nil && !flows.MayChangeRoute(m.Engine.Directory(), d, p.ID) {
		err = flows.Errorf(flows.KindForbidden, "route_change_forbidden", "%s on %s", p.ID, d.Number)
		if d.Initiator == p.ID || m.Engine.Directory().IsViewer(p.ID) {
			m.text(ctx, p.ID, conv, m.t(lang, "chat.route.none", map[string]any{"Number": d.Number}))
			return
		}
	}
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	offer := routeOffer{For: p.ID, DocID: d.ID, Number: d.Number}
	r := m.renderer()
	l, err := locales.For(lang)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	lines := []rich.Text{m.t(lang, "chat.route.header", map[string]any{"Number": d.Number})}
	var removes, adds []Button
	for _, i := range flows.ChangeableStages(d) {
		s := d.Stages[i]
		n, _ := d.StagePosition(i)
		var names []string
		for _, a := range s.Approvers {
			names = append(names, r.Name(a))
			if flows.Removable(d, i, a) == "" {
				offer.Items = append(offer.Items, routeItem{Stage: i, Person: a, Remove: true})
				removes = append(removes, Button{Label: m.s(lang, "button.route_remove", map[string]any{"Name": r.Name(a), "N": n}),
					Action: fmt.Sprintf("rr:%%s.%d", len(offer.Items)-1)})
			}
		}
		lines = append(lines, m.t(lang, "chat.route.stage", map[string]any{"N": n, "Name": messages.StageName(l, s, lang),
			"People": strings.Join(names, ", ")}))
		offer.Items = append(offer.Items, routeItem{Stage: i})
		adds = append(adds, Button{Label: m.s(lang, "button.route_add", map[string]any{"N": n}), Action: fmt.Sprintf("rn:%%s.%d", len(offer.Items)-1)})
	}
	if len(offer.Items) == 0 {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.route.none", map[string]any{"Number": d.Number}))
		return
	}
	id := m.saveRouteOffer(ctx, "", offer)
	var rows [][]Button
	for _, b := range append(removes, adds...) {
		b.Action = fmt.Sprintf(b.Action, id)
		rows = append(rows, []Button{b})
	}
	m.reply(ctx, p.ID, conv, Message{Text: rich.Join(lines, "\n"), Buttons: rows})
}

// saveRouteOffer stores an offer under id, or under a new one when id is "".
func (m *Messenger) saveRouteOffer(ctx context.Context, id string, offer routeOffer) string {
	if id == "" {
		// Short: a poor messenger's button carries 16 bytes ("rr:" + id
		// + "." + index); the offer is checked against the person anyway.
		b := make([]byte, 4)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	m.remember(ctx, routeKey(id), offer)
	return id
}

// answerRoute takes the answer to a route question: a name to look up
// among the people who may be added, or the reason that makes the change.
func (m *Messenger) answerRoute(ctx context.Context, ev *Event, p *flows.Person, lang, conv string, pr prompt, text string) error {
	var offer routeOffer
	if ok, err := m.recall(ctx, routeKey(pr.Offer), &offer); err != nil || !ok || offer.For != p.ID || pr.Item < 0 || pr.Item >= len(offer.Items) {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.route.gone", nil))
		return nil
	}
	item := offer.Items[pr.Item]
	if pr.Action == "route_person" {
		m.offerPeople(ctx, p, lang, conv, pr.Offer, offer, item.Stage, text)
		return nil
	}
	_, err := m.Engine.ChangeRoute(ctx, flows.RouteCmd{Key: ev.Key, Actor: p.ID, DocID: offer.DocID, Stage: item.Stage,
		Person: item.Person, Remove: item.Remove, Reason: text})
	if err != nil {
		return err
	}
	m.forget(ctx, routeKey(pr.Offer)) // the list is out of date now
	key := "chat.route.added"
	if item.Remove {
		key = "chat.route.removed"
	}
	m.text(ctx, p.ID, conv, m.t(lang, key, map[string]any{"Name": m.renderer().Name(item.Person), "N": pr.N, "Number": offer.Number}))
	return nil
}

// offerPeople lists the people whose name holds what was typed and who
// are not on the stage yet, as buttons.
func (m *Messenger) offerPeople(ctx context.Context, p *flows.Person, lang, conv, offerID string, offer routeOffer, stage int, typed string) {
	d, err := m.Store.Document(ctx, offer.DocID)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(typed))
	var rows [][]Button
	for _, person := range m.Engine.Directory().People {
		if q == "" || stage >= len(d.Stages) || slices.Contains(d.Stages[stage].Approvers, person.ID) {
			continue
		}
		if !strings.Contains(strings.ToLower(person.Name), q) && !strings.Contains(string(person.ID), q) {
			continue
		}
		label := person.Name
		if person.Title != "" {
			label += " — " + person.Title
		}
		offer.Items = append(offer.Items, routeItem{Stage: stage, Person: person.ID})
		rows = append(rows, []Button{{Label: label, Action: fmt.Sprintf("rp:%s.%d", offerID, len(offer.Items)-1)}})
		if len(rows) == 10 {
			break
		}
	}
	if len(rows) == 0 {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.nobody_found", map[string]any{"Text": typed}))
		return
	}
	m.saveRouteOffer(ctx, offerID, offer)
	m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.route.pick", nil), Buttons: rows})
}
