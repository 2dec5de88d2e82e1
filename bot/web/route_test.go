package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
)

// TestChangeApproversOnTheDocumentPage: the initiator finds the route
// form on the document page — a reason-taking "take off" per approver who
// may go, why not for the others, and an "add" form — and each change is
// the engine's audited command; an approver of the document sees no form
// and is refused if they post anyway.
func TestChangeApproversOnTheDocumentPage(t *testing.T) {
	r := newRig(t)
	number := r.document().Number
	docURL := r.http.URL + "/doc/" + url.PathEscape(number)
	c := client()
	r.signIn(c, "ivanova")
	_, page := webtest.Get(t, c, docURL)
	if !strings.Contains(page, `id="route-change"`) || strings.Count(page, `name="action" value="remove"`) != 2 ||
		!strings.Contains(page, `name="action" value="add"`) {
		t.Fatalf("no route form for the initiator:\n%s", page[strings.Index(page, "</style>"):])
	}
	csrf := webtest.CSRF(t, page)
	post := func(c *http.Client, nonce string, form url.Values) (int, string) {
		form.Set("csrf", csrf)
		form.Set("nonce", nonce)
		return webtest.Post(t, c, docURL+"/route", form)
	}
	if code, _ := post(c, "rm1", url.Values{"action": {"remove"}, "stage": {"0"}, "person": {"sidorov"}, "reason": {"в отпуске <b>"}}); code != http.StatusSeeOther {
		t.Fatalf("remove: %d", code)
	}
	_, after := webtest.Get(t, c, docURL+"?done=route")
	if !strings.Contains(after, "Маршрут изменён") {
		t.Fatalf("no confirmation:\n%s", after[strings.Index(after, "<main>"):])
	}
	d := r.document()
	if dc := d.Decisions[len(d.Decisions)-1]; dc.Kind != flows.DecisionApproverRemoved || dc.Person != "sidorov" || dc.Comment != "в отпуске <b>" {
		t.Fatalf("decision %+v", dc)
	}
	if !strings.Contains(after, "в отпуске &lt;b&gt;") {
		t.Errorf("the page does not show the reason escaped:\n%.3000s", after)
	}
	// Petrov is the stage's last approver now: the page says why he stays.
	if strings.Count(after, `name="action" value="remove"`) != 0 || !strings.Contains(after, "единственный согласующий") {
		t.Errorf("petrov still offered to be taken off:\n%.3000s", after)
	}
	cases := []struct {
		name string
		form url.Values
		code int
	}{
		{"the last approver", url.Values{"action": {"remove"}, "stage": {"0"}, "person": {"petrov"}, "reason": {"r"}}, http.StatusConflict},
		{"no reason", url.Values{"action": {"add"}, "stage": {"2"}, "person": {"kuznetsova"}, "reason": {" "}}, http.StatusBadRequest},
		{"a stage that is not a number", url.Values{"action": {"add"}, "stage": {"x"}, "person": {"kuznetsova"}, "reason": {"r"}}, http.StatusBadRequest},
		{"an unknown action", url.Values{"action": {"swap"}, "stage": {"2"}, "person": {"kuznetsova"}, "reason": {"r"}}, http.StatusBadRequest},
	}
	for i, tc := range cases {
		if code, body := post(c, "bad"+itoa(int64(i)), tc.form); code != tc.code {
			t.Errorf("%s: %d, want %d\n%.500s", tc.name, code, tc.code, body)
		}
	}
	if code, _ := post(c, "add1", url.Values{"action": {"add"}, "stage": {"2"}, "person": {"kuznetsova"}, "reason": {"сумма"}}); code != http.StatusSeeOther {
		t.Fatalf("add: %d", code)
	}
	if !containsID(r.document().Stages[2].Approvers, "kuznetsova") {
		t.Fatalf("kuznetsova not on the director's stage: %v", r.document().Stages[2].Approvers)
	}
	// Without the form's token, nothing changes.
	if code, _ := webtest.Post(t, c, docURL+"/route", url.Values{"action": {"add"}, "stage": {"2"}, "person": {"belova"}, "reason": {"r"}}); code != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", code)
	}

	// An approver who is no viewer (sidorov, a reader still after being
	// taken off) sees no form and may not post one.
	p := client()
	r.signIn(p, "sidorov")
	_, theirs := webtest.Get(t, p, docURL)
	if strings.Contains(theirs, `id="route-change"`) {
		t.Fatal("an approver is offered to change the route")
	}
	form := url.Values{"csrf": {webtest.CSRF(t, theirs)}, "nonce": {"p1"}, "action": {"add"}, "stage": {"2"}, "person": {"belova"}, "reason": {"r"}}
	if code, _ := webtest.Post(t, p, docURL+"/route", form); code != http.StatusForbidden {
		t.Fatalf("an approver changed the route: %d", code)
	}
}

func containsID(list []flows.PersonID, id flows.PersonID) bool {
	for _, p := range list {
		if p == id {
			return true
		}
	}
	return false
}
