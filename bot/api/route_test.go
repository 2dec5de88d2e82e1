package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// TestApproversThroughTheConnector: another system adds an approver and
// takes one off, in the initiator's name with the integration recorded;
// a retry is answered again without a second change; every refusal is the
// documented problem, validated against openapi.yaml like every answer.
func TestApproversThroughTheConnector(t *testing.T) {
	r := newRig(t, 1000)
	res := r.post("/api/v1/documents", r.keys["write"], "s", contract("Маршрут"), "d.pdf", "%PDF route")
	var s struct{ Number string }
	res.json(t, &s)
	doc := "/api/v1/documents/" + esc(s.Number)
	send := func(path, key, idem, body string) response {
		req := r.request(http.MethodPost, path, key, strings.NewReader(body), "application/json")
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		return r.do(req)
	}
	write := r.keys["write"]
	// The contract's route: 1 legal (petrov, sidorov; any), 2 finance
	// (skipped under a million), 3 director, 4 signature.
	cases := []struct {
		name, path, key, idem, body string
		status                      int
		code                        string
	}{
		{"add to a later stage", doc + "/approvers", write, "a1", `{"stage":3,"person":"kuznetsova","reason":"сумма выросла"}`, http.StatusOK, ""},
		{"the same request again", doc + "/approvers", write, "a1", `{"stage":3,"person":"kuznetsova","reason":"сумма выросла"}`, http.StatusOK, ""},
		{"the key reused for another request", doc + "/approvers", write, "a1", `{"stage":3,"person":"sidorov","reason":"x"}`, http.StatusUnprocessableEntity, ""},
		{"take off an undecided approver", doc + "/approvers/remove", write, "r1", `{"stage":1,"person":"sidorov","reason":"в отпуске"}`, http.StatusOK, ""},
		{"the stage's last approver", doc + "/approvers/remove", write, "r2", `{"stage":1,"person":"petrov","reason":"x"}`, http.StatusConflict, "last_approver"},
		{"someone not on the stage", doc + "/approvers/remove", write, "r3", `{"stage":1,"person":"director","reason":"x"}`, http.StatusNotFound, "not_on_stage"},
		{"a skipped stage", doc + "/approvers", write, "a2", `{"stage":2,"person":"sidorov","reason":"x"}`, http.StatusConflict, "stage_passed"},
		{"already on the stage", doc + "/approvers", write, "a3", `{"stage":3,"person":"director","reason":"x"}`, http.StatusConflict, "already_on_stage"},
		{"no reason", doc + "/approvers", write, "a4", `{"stage":3,"person":"sidorov","reason":""}`, http.StatusUnprocessableEntity, "reason_required"},
		{"an unknown person", doc + "/approvers", write, "a5", `{"stage":3,"person":"ghost","reason":"x"}`, http.StatusUnprocessableEntity, "unknown_person"},
		{"no stage", doc + "/approvers", write, "a6", `{"person":"sidorov","reason":"x"}`, http.StatusBadRequest, "bad_request"},
		{"not JSON", doc + "/approvers/remove", write, "r4", `stage=1`, http.StatusBadRequest, "bad_request"},
		{"without Idempotency-Key", doc + "/approvers", write, "", `{"stage":3,"person":"sidorov","reason":"x"}`, http.StatusBadRequest, ""},
		{"without a key", doc + "/approvers", "", "a7", `{"stage":3,"person":"sidorov","reason":"x"}`, http.StatusUnauthorized, ""},
		{"without a key, remove", doc + "/approvers/remove", "", "r5", `{"stage":1,"person":"petrov","reason":"x"}`, http.StatusUnauthorized, ""},
		{"a read key", doc + "/approvers", r.keys["read"], "a8", `{"stage":3,"person":"sidorov","reason":"x"}`, http.StatusForbidden, ""},
		{"a read key, remove", doc + "/approvers/remove", r.keys["read"], "r6", `{"stage":1,"person":"petrov","reason":"x"}`, http.StatusForbidden, ""},
		{"an unknown number", "/api/v1/documents/" + esc("НЕТ-1") + "/approvers", write, "a9", `{"stage":3,"person":"sidorov","reason":"x"}`, http.StatusNotFound, ""},
		{"over the size", doc + "/approvers", write, "a10", `{"stage":3,"person":"sidorov","reason":"` + strings.Repeat("я", 40<<10) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"over the size, remove", doc + "/approvers/remove", write, "r7", `{"stage":1,"person":"petrov","reason":"` + strings.Repeat("я", 40<<10) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"a reason over its length", doc + "/approvers/remove", write, "r8", `{"stage":1,"person":"petrov","reason":"` + strings.Repeat("я", flows.MaxComment+1) + `"}`, http.StatusUnprocessableEntity, "too_long"},
	}
	for _, c := range cases {
		res := send(c.path, c.key, c.idem, c.body)
		if res.StatusCode != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, res.StatusCode, c.status, res.body)
			continue
		}
		if c.status >= 400 {
			if p := res.problem(t); c.code != "" && p.Code != c.code {
				t.Errorf("%s: code %q, want %q", c.name, p.Code, c.code)
			}
		}
	}
	d, err := r.DB.DocumentByNumber(context.Background(), s.Number)
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, dc := range d.Decisions {
		if flows.IsRouteChange(dc.Kind) {
			changes = append(changes, dc.Kind+" "+string(dc.Person))
		}
	}
	if strings.Join(changes, ",") != "approver_added kuznetsova,approver_removed sidorov" {
		t.Fatalf("recorded changes %v", changes)
	}
	evs, err := r.DB.DocumentEvents(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if flows.IsRouteChange(e.Kind) && (!strings.HasPrefix(string(e.Actor), "integration:") || e.For != d.Initiator) {
			t.Errorf("the audit does not name the integration acting for the initiator: %+v", e)
		}
	}
	// A removed approver in the 409 of someone who has decided.
	if _, err := r.Engine.Decide(context.Background(), flows.DecideCmd{Key: "ap", Actor: "petrov", TaskID: d.OpenTasks()[0].ID,
		Action: flows.ActionApprove}); err != nil {
		t.Fatal(err)
	}
	if res := send(doc+"/approvers", write, "a11", `{"stage":1,"person":"sidorov","reason":"x"}`); res.StatusCode != http.StatusConflict ||
		res.problem(t).Code != "stage_passed" {
		t.Errorf("a stage behind: %d %s", res.StatusCode, res.body)
	}
}
