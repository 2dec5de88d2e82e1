package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/flows"
)

// TestVersionDiff: the connector tells what a version changed, its answers
// validated against openapi.yaml like every other.
func TestVersionDiff(t *testing.T) {
	r := newRig(t, 1000)
	r.api.Compare = &compare.Service{Store: r.DB, Files: r.Files}
	res := r.post("/api/v1/documents", r.keys["write"], "s", contract("Поставка"), "d.docx", string(extracttest.Contract("100 000", false)))
	var s struct{ Number string }
	res.json(t, &s)
	d, _ := r.DB.DocumentByNumber(context.Background(), s.Number)
	task := d.OpenTasks()[0]
	if _, err := r.Engine.Decide(context.Background(), flows.DecideCmd{Key: "rej", Actor: task.Assignee, TaskID: task.ID,
		Action: flows.ActionReject, Comment: "Цена"}); err != nil {
		t.Fatal(err)
	}
	doc := "/api/v1/documents/" + esc(s.Number)
	if res = r.post(doc+"/versions", r.keys["write"], "v2", nil, "d2.docx", string(extracttest.Contract("120 000", true))); res.StatusCode != http.StatusCreated {
		t.Fatalf("v2: %d %s", res.StatusCode, res.body)
	}
	for _, path := range []string{doc + "/versions/2/diff", doc + "/versions/2/diff?from=1"} {
		res = r.get(path, r.keys["read"])
		var c compare.Comparison
		res.json(t, &c)
		if res.StatusCode != http.StatusOK || c.Status != compare.StatusOK || c.From != 1 || c.To != 2 || len(c.Changes) == 0 ||
			c.Changes[0].Old != "100 000" || c.Changes[0].New != "120 000" || c.Revisions != 2 {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.body)
		}
	}
	cases := []struct {
		path string
		key  string
		want int
	}{
		{doc + "/versions/1/diff", r.keys["read"], http.StatusNotFound}, // nothing before version 1
		{doc + "/versions/3/diff", r.keys["read"], http.StatusNotFound},
		{doc + "/versions/2/diff?from=7", r.keys["read"], http.StatusNotFound},
		{doc + "/versions/2/diff?from=2", r.keys["read"], http.StatusBadRequest},
		{doc + "/versions/2/diff", "", http.StatusUnauthorized},
		{doc + "/versions/2/diff", r.newKey("memos only", "read", []string{"memo"}), http.StatusForbidden},
	}
	for _, c := range cases {
		res = r.get(c.path, c.key)
		if res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.path, res.StatusCode, c.want, res.body)
		}
	}
}
