package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/bot/slack/slackfake"
	"github.com/viza-app/viza/flows"
)

// slackMessage is the message ts in user's DM as it stands now.
func slackMessage(fake *slackfake.Server, user, ts string) (slackfake.Message, bool) {
	for _, m := range fake.Messages(fake.DM(user), user) {
		if m.TS == ts {
			return m, true
		}
	}
	return slackfake.Message{}, false
}

// TestSlackModalRejectionUpdatesTheCard: Reject → a reason in the modal →
// submit leaves the request card without its buttons and showing the
// outcome, every time (the race that left it live in two runs of three is
// repeated here many times), in both modes.
func TestSlackModalRejectionUpdatesTheCard(t *testing.T) {
	for _, mode := range []string{"socket", "http"} {
		t.Run(mode, func(t *testing.T) {
			fake := newSlackFake(t)
			m := startSlack(t, fake, mode, "", nil)
			petrov := slackUsers[chattest.Petrov].ID
			for i := range 6 {
				out := suiteStart(t, m, fmt.Sprintf("Модальное %d", i))
				card, _ := slackCard(t, fake, petrov, out.Number)
				rj, _ := card.Button("rj:")
				before := len(fake.OpenViews(petrov))
				fake.UserTap(petrov, card, rj)
				var modal slackfake.View
				if !until(func() bool {
					views := fake.OpenViews(petrov)
					if len(views) > before {
						modal = views[len(views)-1]
					}
					return len(views) > before
				}) {
					t.Fatal("Reject opened no modal")
				}
				fake.Submit(petrov, modal, fmt.Sprintf("Причина %d", i))
				if !until(func() bool {
					msg, ok := slackMessage(fake, petrov, card.TS)
					return ok && len(msg.Buttons) == 0 && strings.Contains(msg.Text, "Rejected by you")
				}) {
					msg, _ := slackMessage(fake, petrov, card.TS)
					t.Fatalf("round %d: after the modal's rejection the card reads %q with %+v", i, msg.Text, msg.Buttons)
				}
			}
		})
	}
}

// TestSlackFinishedDocumentKeepsNoButton: once a document is approved, the
// Slack card its approver decided keeps no button, Add remark included.
func TestSlackFinishedDocumentKeepsNoButton(t *testing.T) {
	fake := newSlackFake(t)
	m := startSlack(t, fake, "socket", "", nil)
	petrov := slackUsers[chattest.Petrov].ID
	out := suiteStart(t, m, "Готовый")
	card, ap := slackCard(t, fake, petrov, out.Number)
	fake.UserTap(petrov, card, ap)
	if !until(func() bool {
		msg, _ := slackMessage(fake, petrov, card.TS)
		_, remark := msg.Button("rm:")
		return remark && len(msg.Buttons) == 1
	}) {
		msg, _ := slackMessage(fake, petrov, card.TS)
		t.Fatalf("after approving, the card offers %+v", msg.Buttons)
	}
	decide := func(p flows.PersonID) {
		t.Helper()
		d, err := m.DB.DocumentByNumber(context.Background(), out.Number)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range d.OpenTasks() {
			if tk.Assignee == p {
				if _, err := m.Engine.Decide(context.Background(), flows.DecideCmd{Key: "d:" + string(p), Actor: p, TaskID: tk.ID, Action: flows.ActionApprove}); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatalf("%s has no open task", p)
	}
	decide(chattest.Sidorov)
	decide(chattest.Kuznetsova)
	if !until(func() bool {
		msg, _ := slackMessage(fake, petrov, card.TS)
		return len(msg.Buttons) == 0 && strings.Contains(msg.Text, "Approved by you")
	}) {
		msg, _ := slackMessage(fake, petrov, card.TS)
		t.Fatalf("the approved document's card still offers %+v: %q", msg.Buttons, msg.Text)
	}
}
