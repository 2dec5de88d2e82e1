package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
)

// TestBulkApproveFromTheInbox: the inbox ticks approvals; the form
// approves the ticked ones, each its own decision made in bulk, and says
// per task what came of it: a task whose request has not reached the
// person yet is not approved.
func TestBulkApproveFromTheInbox(t *testing.T) {
	r := newRig(t)
	r.memos(3, "petrov")
	disp := flows.NewDispatcher(r.db, r.eng.Directory, r.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), r.srv)
	if _, err := disp.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Started after the delivery: its request has not reached petrov.
	if _, err := r.eng.Start(context.Background(), flows.StartCmd{Key: "late", Actor: "ivanova", TypeID: "memo", Title: "Поздняя записка",
		Approvers: []flows.PersonID{"petrov"}, File: flows.Upload{Name: "m.pdf", Content: strings.NewReader("late")}}); err != nil {
		t.Fatal(err)
	}
	c := client()
	r.signIn(c, "petrov")
	_, inbox := webtest.Get(t, c, r.http.URL+"/inbox")
	if !strings.Contains(inbox, `action="/inbox/approve"`) || strings.Count(inbox, `name="task"`) != 5 {
		t.Fatalf("the inbox has no approval in bulk:\n%.2000s", inbox)
	}
	tasks, err := r.db.OpenTasksOf(context.Background(), "petrov")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf": {webtest.CSRF(t, inbox)}, "nonce": {"bulk1"}}
	for _, tk := range tasks {
		form.Add("task", itoa(tk.ID))
	}
	code, page := webtest.Post(t, c, r.http.URL+"/inbox/approve", form)
	// The rig's contract and three memos reached petrov; the late one not.
	if code != http.StatusOK || !strings.Contains(page, "Approved: 4") && !strings.Contains(page, "Согласовано: 4") {
		t.Fatalf("%d\n%s", code, page)
	}
	if !strings.Contains(page, "reached you") && !strings.Contains(page, "не дошла") {
		t.Errorf("the refused task does not say why:\n%s", page)
	}
	left, _ := r.db.OpenTasksOf(context.Background(), "petrov")
	bulk := 0
	for _, tk := range tasks {
		d, _ := r.db.DocumentOfTask(context.Background(), tk.ID)
		for _, dc := range d.Decisions {
			if dc.TaskID == tk.ID && dc.Bulk {
				bulk++
			}
		}
	}
	if len(left) != 1 || bulk != 4 {
		t.Fatalf("%d tasks left, %d decisions in bulk", len(left), bulk)
	}
	// Without the form's token nothing is approved.
	if code, _ := webtest.Post(t, c, r.http.URL+"/inbox/approve", url.Values{"task": {itoa(left[0].ID)}}); code != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", code)
	}
}
