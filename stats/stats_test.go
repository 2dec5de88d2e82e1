package stats_test

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// seeded runs a known history through the engine and the real storage
// (SQLite, or PostgreSQL under VIZA_TEST_POSTGRES_URL in make test), the
// clock moved by hand, and returns the facts of it:
//
//	memo 1: petrov approves after 2 h
//	memo 2: petrov approves after 4 h
//	memo 3: petrov rejects after 6 h; version 2; petrov approves after 1 h
//	memo 4: to sidorov, away: his deputy petrov approves for him after 3 h
//	memo 5: to kuznetsova, still open 10 h later
func seeded(t *testing.T) (stats.Source, stats.Query, time.Time) {
	t.Helper()
	rig := storagetest.NewRig(t, false)
	ctx := context.Background()
	eng, clock := rig.Engine, rig.Clock
	from := clock.Now()
	n := 0
	key := func() string { n++; return "k" + string(rune('a'+n)) }
	start := func(approver flows.PersonID) flows.Outcome {
		out, err := eng.Start(ctx, flows.StartCmd{Key: key(), Actor: "ivanova", TypeID: "memo", Title: "Записка",
			Approvers: []flows.PersonID{approver}, File: flows.Upload{Name: "m.pdf", Content: strings.NewReader(key())}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	decide := func(doc int64, actor flows.PersonID, action string, after time.Duration) {
		clock.Advance(after)
		d, err := rig.DB.Document(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Decide(ctx, flows.DecideCmd{Key: key(), Actor: actor, TaskID: d.OpenTasks()[0].ID, Action: action,
			Comment: "причина"}); err != nil {
			t.Fatal(err)
		}
	}
	decide(start("petrov").DocID, "petrov", flows.ActionApprove, 2*time.Hour)
	decide(start("petrov").DocID, "petrov", flows.ActionApprove, 4*time.Hour)
	third := start("petrov").DocID
	decide(third, "petrov", flows.ActionReject, 6*time.Hour)
	if _, err := eng.UploadVersion(ctx, flows.VersionCmd{Key: key(), Actor: "ivanova", DocID: third,
		File: flows.Upload{Name: "m2.pdf", Content: strings.NewReader("v2")}}); err != nil {
		t.Fatal(err)
	}
	decide(third, "petrov", flows.ActionApprove, time.Hour)
	if err := eng.SetAway(ctx, flows.AwayCmd{Key: key(), Actor: "sidorov", Person: "sidorov", Deputy: "petrov", From: clock.Now(),
		To: clock.Now().Add(72 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	decide(start("sidorov").DocID, "petrov", flows.ActionApprove, 3*time.Hour)
	start("kuznetsova")
	clock.Advance(10 * time.Hour)
	return rig.DB, stats.Query{From: from, To: clock.Now().Add(time.Second), Zone: rig.Dir.Location}, clock.Now()
}

// TestKnownHistory: the figures of a seeded history are the ones worked
// out by hand, and stay as the golden file says.
func TestKnownHistory(t *testing.T) {
	src, q, now := seeded(t)
	facts := func(q stats.Query) stats.Facts {
		f, err := src.Facts(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	r := stats.Compute(facts(q), stats.Options{Now: now})
	// The backfill of an older database, run on this one, takes every
	// document and changes no figure: the writer's rows stay.
	if n, err := src.(*storage.DB).BackfillFacts(context.Background()); err != nil || n != 5 {
		t.Fatalf("backfill took %d documents, %v", n, err)
	}
	if again := stats.Compute(facts(q), stats.Options{Now: now}); !reflect.DeepEqual(again, r) {
		t.Fatalf("the backfill changed the figures:\n%+v\n%+v", again, r)
	}
	// Petrov decided in 2, 4, 6, 1 and 3 hours: median 3, p90 (nearest
	// rank, the 5th of 5) 6; the deputy's decision counts for him, "for"
	// sidorov.
	if r.Decision.Count != 5 || r.Decision.Median != 3 || r.Decision.P90 != 6 {
		t.Errorf("decision %+v", r.Decision)
	}
	if len(r.ByPerson) != 1 || r.ByPerson[0].Key != "petrov" || r.ByPerson[0].Median != 3 ||
		len(r.ByPerson[0].For) != 1 || r.ByPerson[0].For[0] != "sidorov" {
		t.Errorf("by person %+v", r.ByPerson)
	}
	// Five memos, one of them two rounds: 1.2 rounds each; one in five
	// rejected, at the first stage, by petrov.
	if r.Rework.Docs != 5 || r.Rework.Rounds != 1.2 || r.Rework.RejectedShare != 0.2 ||
		len(r.Rework.ByPerson) != 1 || r.Rework.ByPerson[0].Key != "petrov" || r.Rework.ByPerson[0].N != 1 {
		t.Errorf("rework %+v", r.Rework)
	}
	// Approved after 2, 4, 7 (6 + 1) and 3 hours: median 3.5, p90 7.
	if len(r.Cycle) != 1 || r.Cycle[0].Approved.Count != 4 || r.Cycle[0].Approved.Median != 3.5 || r.Cycle[0].Approved.P90 != 7 {
		t.Errorf("cycle %+v", r.Cycle)
	}
	// Kuznetsova's memo has waited 10 hours.
	if r.Stuck[1].Key != "8-24h" || r.Stuck[1].N != 1 || len(r.Oldest) != 1 || r.Oldest[0].Holder != "kuznetsova" || r.Oldest[0].Hours != 10 {
		t.Errorf("stuck %+v, oldest %+v", r.Stuck, r.Oldest)
	}
	// Kuznetsova, who sees her own figures only, sees none of petrov's
	// decisions nor the documents ivanova started: only her waiting task.
	q.People = []flows.PersonID{"kuznetsova"}
	mine := stats.Compute(facts(q), stats.Options{Now: now})
	if mine.Decision.Count != 0 || mine.Rework.Docs != 0 || len(mine.Oldest) != 1 {
		t.Errorf("kuznetsova's own figures %+v", mine)
	}
	for i := range r.Oldest {
		// Ids and instants depend on the backend and the day: the golden
		// file keeps what the figures say.
		r.Oldest[i].TaskFact = stats.TaskFact{Holder: r.Oldest[i].Holder, Actor: r.Oldest[i].Actor, Type: r.Oldest[i].Type}
	}
	golden(t, "report.json", r)
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
		t.Errorf("%s differs:\n%s", name, got)
	}
}

// TestSpread: the median and the 90th percentile, by nearest rank, over
// groups of alike times.
func TestSpread(t *testing.T) {
	cases := []struct {
		tenths      map[int]int // tenths of an hour → how many
		median, p90 float64
	}{
		{map[int]int{50: 1}, 5, 5},
		{map[int]int{10: 1, 20: 1}, 1.5, 2},
		{map[int]int{30: 1, 10: 1, 20: 1}, 2, 3},
		{map[int]int{10: 1, 20: 1, 30: 1, 40: 1, 50: 1, 60: 1, 70: 1, 80: 1, 90: 1, 100: 1}, 5.5, 9},
		{map[int]int{10: 5, 20: 4, 100: 2}, 2, 10},
		{map[int]int{15: 9, 95: 1}, 1.5, 1.5},
	}
	for _, c := range cases {
		f := stats.Facts{Tally: stats.NewTally()}
		late, n := 0, 0
		for v, k := range c.tenths {
			for range k {
				f.Tally.AddTask(stats.ClosedTask{Type: "memo", Actor: "p", Holder: "p", State: flows.TaskApproved, Minutes: v * 6, Late: v > 40})
			}
			n += k
			if v > 40 {
				late += k
			}
		}
		s := stats.Compute(f, stats.Options{}).Decision
		if s.Median != c.median || s.P90 != c.p90 || s.Late != late || s.Count != n {
			t.Errorf("%v: %+v, want median %v p90 %v late %d", c.tenths, s, c.median, c.p90, late)
		}
	}
}

// TestTimeoutIsNobodys: a task approved on timeout is no person's
// decision: it is not in anyone's time to a decision.
func TestTimeoutIsNobodys(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := &flows.Document{ID: 1, TypeID: "memo", Tasks: []flows.Task{
		{ID: 1, Stage: 0, Kind: flows.KindApprove, Assignee: "petrov", State: flows.TaskApproved, OpenedAt: at, ClosedAt: at.Add(time.Hour)},
		{ID: 2, Stage: 0, Kind: flows.KindApprove, Assignee: "sidorov", State: flows.TaskApproved, OpenedAt: at, ClosedAt: at.Add(9 * time.Hour)}},
		Decisions: []flows.Decision{{TaskID: 1, Kind: flows.ActionApprove, Actor: "petrov"},
			{TaskID: 2, Kind: flows.ActionApprove, For: "sidorov", Timeout: true}}}
	person, _ := stats.TaskFactOf(d, d.Tasks[0])
	rule, _ := stats.TaskFactOf(d, d.Tasks[1])
	if !person.Decided() || rule.Decided() || rule.Reason != flows.CloseTimedOut {
		t.Fatalf("person %+v, rule %+v", person, rule)
	}
}

// TestStuckHoursAddUp: the hours an open task has waited, measured along
// the tasks in order, are each the hours from its opening to now (working
// time of a 09–18 weekday calendar, walked hour by hour here).
func TestStuckHoursAddUp(t *testing.T) {
	working := func(from, to time.Time) time.Duration {
		var d time.Duration
		for at := from; at.Before(to); {
			next := at.Truncate(time.Hour).Add(time.Hour)
			if next.After(to) {
				next = to
			}
			if wd := at.Weekday(); wd != time.Saturday && wd != time.Sunday && at.Hour() >= 9 && at.Hour() < 18 {
				d += next.Sub(at)
			}
			at = next
		}
		return d
	}
	now := time.Date(2026, 12, 4, 15, 20, 0, 0, time.UTC)
	var open []stats.TaskFact
	for i, ago := range []time.Duration{3 * time.Hour, 400 * time.Hour, 0, 29 * time.Minute, 400 * time.Hour, 2000 * time.Hour, 47 * time.Hour} {
		open = append(open, stats.TaskFact{ID: int64(i + 1), Type: "memo", Holder: "p", Actor: "p", State: flows.TaskOpen, Opened: now.Add(-ago)})
	}
	r := stats.Compute(stats.Facts{Tally: stats.NewTally(), Open: open}, stats.Options{Now: now, Worktime: working})
	if len(r.Oldest) != len(open) {
		t.Fatalf("%d of %d open tasks listed", len(r.Oldest), len(open))
	}
	for _, w := range r.Oldest {
		want := math.Round(working(w.Opened, now).Hours()*100) / 100
		if w.Hours != want {
			t.Errorf("task %d opened %s: %v hours, want %v", w.ID, w.Opened, w.Hours, want)
		}
	}
}
