package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
)

// TestWebDecisionUpdatesTheChatCard approves through the one-tap web page
// and sees the Telegram card lose its buttons and show the outcome.
func TestWebDecisionUpdatesTheChatCard(t *testing.T) {
	fake, s := startPolling(t)
	out, err := s.m.Engine.Start(context.Background(), flows.StartCmd{Key: "w", Actor: "ivanova", TypeID: "supply", Title: "Веб",
		File: flows.Upload{Name: "w.pdf", Content: strings.NewReader("%PDF w")}})
	if err != nil {
		t.Fatal(err)
	}
	card := s.card(petrov.ID, out.Number)
	open, _ := s.m.DB.OpenTasksOfDocument(context.Background(), out.DocID)
	var task int64
	for _, tk := range open {
		if tk.Assignee == "petrov" {
			task = tk.ID
		}
	}
	link, err := s.m.Web.TaskLink(context.Background(), task, "petrov")
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{}
	_, page := webtest.Get(t, c, link)
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"csrf": {webtest.CSRF(t, page)}, "action": {"approve"}}); code != 200 {
		t.Fatalf("web approve = %d", code)
	}
	if !tgfake.Until(wait, func() bool {
		m, _ := fake.Message(card.MessageID)
		// As after a tap on the card itself: the decision's buttons are
		// gone, a remark may still be added while the document is in
		// approval.
		return strings.Contains(m.Text, "Approved by you") && len(m.Buttons()) == 1 && strings.HasPrefix(m.Buttons()[0], "rm:")
	}) {
		m, _ := fake.Message(card.MessageID)
		t.Fatalf("the chat card was not updated: %q %v", m.Text, m.Buttons())
	}
}
