package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

// TestStats: another system reads everyone's figures as openapi.yaml
// declares them; a bad period, another type's key, an unknown type and a
// missing key are refused.
func TestStats(t *testing.T) {
	r := newRig(t, 1000)
	res := r.post("/api/v1/documents", r.keys["write"], "s", contract("Статистика"), "d.pdf", "%PDF stats")
	var s struct{ Number string }
	res.json(t, &s)
	d, err := r.DB.DocumentByNumber(context.Background(), s.Number)
	if err != nil {
		t.Fatal(err)
	}
	r.Clock.Advance(90 * time.Minute)
	tk := d.OpenTasks()[0]
	if _, err := r.Engine.Decide(context.Background(), flows.DecideCmd{Key: "a", Actor: tk.Assignee, TaskID: tk.ID, Action: flows.ActionApprove}); err != nil {
		t.Fatal(err)
	}
	res = r.get("/api/v1/stats?period=week", r.keys["read"])
	var got struct {
		Period   string
		Decision struct {
			Count  int
			Median float64 `json:"median_hours"`
		}
		Stuck []struct {
			Key string
			N   int
		}
	}
	res.json(t, &got)
	if res.StatusCode != http.StatusOK || got.Period != "week" || got.Decision.Count != 1 || got.Decision.Median != 1.5 {
		t.Fatalf("%d %s", res.StatusCode, res.body)
	}
	memoKey := r.newKey("memos", "read", []string{"memo"})
	for _, c := range []struct {
		path, key string
		want      int
	}{
		{"/api/v1/stats?type=contract&period=year", r.keys["read"], http.StatusOK},
		{"/api/v1/stats?period=decade", r.keys["read"], http.StatusBadRequest},
		{"/api/v1/stats", "", http.StatusUnauthorized},
		{"/api/v1/stats", memoKey, http.StatusForbidden},
		{"/api/v1/stats?type=contract", memoKey, http.StatusForbidden},
		{"/api/v1/stats?type=memo", memoKey, http.StatusOK},
		{"/api/v1/stats?type=nothing", r.keys["read"], http.StatusUnprocessableEntity},
	} {
		res := r.get(c.path, c.key)
		if res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.path, res.StatusCode, c.want, res.body)
		} else if c.want >= 400 {
			res.problem(t)
		}
	}
}
