package webhooks_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// TestRouteChangedEvent: an approver added and one taken off each become
// a route.changed event saying who, whom, which stage and why — with the
// integration named when one acted — as openapi.yaml declares it.
func TestRouteChangedEvent(t *testing.T) {
	rig, s, rc := newSender(t, func(int) string { return "ok" })
	ctx := context.Background()
	out, err := rig.Engine.Start(ctx, flows.StartCmd{Key: "s", Actor: "ivanova", TypeID: "contract", Title: "Договор", AmountMinor: 100,
		HasAmount: true, File: flows.Upload{Name: "d.pdf", Content: strings.NewReader("%PDF d")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []flows.RouteCmd{
		{Key: "a", Actor: "ivanova", DocID: out.DocID, Stage: 2, Person: "kuznetsova", Reason: "сумма: выросла"},
		{Key: "r", Actor: "ivanova", DocID: out.DocID, Stage: 0, Person: "sidorov", Remove: true, Reason: "в отпуске",
			Origin: flows.Origin{Via: "1c"}},
	} {
		if _, err := rig.Engine.ChangeRoute(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conformsToSpec(t, rc)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var got []string
	for _, ev := range rc.got {
		if ev.Type != flows.EventRouteChanged {
			continue
		}
		r := ev.Data.Route
		if r == nil {
			t.Fatalf("route.changed without its change: %+v", ev)
		}
		got = append(got, r.Change+" "+r.Person+" "+itoa(r.Stage)+" "+r.Actor+" "+r.For+" "+r.Reason)
	}
	want := []string{"added kuznetsova 3 ivanova  сумма: выросла", "removed sidorov 1 integration:1c ivanova в отпуске"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("route events\n got %q\nwant %q", got, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
