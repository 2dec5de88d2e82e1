package stats_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
)

// sampleTally is a tally of two types with every part filled.
func sampleTally() *stats.Tally {
	t := stats.NewTally()
	for i, c := range []stats.ClosedTask{
		{Type: "contract", Stage: 0, Actor: "petrov", Holder: "petrov", State: flows.TaskApproved, Minutes: 90, Reminders: 2},
		{Type: "contract", Stage: 0, Actor: "petrov", Holder: "sidorov", State: flows.TaskApproved, Minutes: 600, Late: true, Escalations: 1},
		{Type: "contract", Stage: 1, Actor: "kuznetsova", Holder: "kuznetsova", State: flows.TaskRejected, Minutes: 7000},
		{Type: "memo", Stage: 0, Actor: "petrov", Holder: "petrov", State: flows.TaskApproved, Minutes: 45},
		{Type: "memo", Stage: 0, Actor: "petrov", Holder: "petrov", State: flows.TaskApproved, Minutes: 30, Reason: flows.CloseTimedOut},
	} {
		c.Minutes += i
		t.AddTask(c)
	}
	t.AddDoc(stats.StartedDoc{Type: "contract", Month: "2026-11", Rounds: 2, Rejected: true, ApprovedMin: 900, DoneMin: 1000})
	t.AddDoc(stats.StartedDoc{Type: "memo", Month: "2026-12", Rounds: 1, ApprovedMin: -1, DoneMin: -1})
	return t
}

// TestTallyEncoding: a tally read back is the tally written, whole or of
// one type; adding two is adding their parts; the same tally encodes to
// the same bytes.
func TestTallyEncoding(t *testing.T) {
	b := sampleTally().Encode()
	if !bytes.Equal(b, sampleTally().Encode()) {
		t.Fatal("the same tally encodes differently")
	}
	got := stats.NewTally()
	if err := got.AddEncoded(b, ""); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleTally()) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got.Types["contract"], sampleTally().Types["contract"])
	}
	memo := stats.NewTally()
	if err := memo.AddEncoded(b, "memo"); err != nil {
		t.Fatal(err)
	}
	if len(memo.Types) != 1 || !reflect.DeepEqual(memo.Types["memo"], sampleTally().Types["memo"]) {
		t.Fatalf("memo only: %+v", memo.Types)
	}
	if err := got.AddEncoded(b, ""); err != nil {
		t.Fatal(err)
	}
	c := got.Types["contract"]
	if c.Stages[0].N != 4 || c.Stages[0].Reminders != 4 || c.Stages[0].Escalated != 2 || c.Stages[0].Late != 2 ||
		c.RejStage[1] != 2 || c.Rework.Docs != 2 || c.Rework.Rounds != 4 || c.Cycle["2026-11"].Approved.N != 2 ||
		!c.For["petrov"]["sidorov"] {
		t.Fatalf("twice: %+v", c)
	}
	// Figures come out the same however the tally travelled.
	if r1, r2 := stats.Compute(stats.Facts{Tally: sampleTally()}, stats.Options{}),
		stats.Compute(stats.Facts{Tally: readBack(t, b)}, stats.Options{}); !reflect.DeepEqual(r1, r2) {
		t.Fatalf("%+v\n%+v", r1, r2)
	}
}

func readBack(t *testing.T, b []byte) *stats.Tally {
	t.Helper()
	out := stats.NewTally()
	if err := out.AddEncoded(b, ""); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTenthsOf: exact to a tenth of an hour up to ten hours, then to the
// hour, then to ten hours.
func TestTenthsOf(t *testing.T) {
	for _, c := range []struct{ minutes, tenths int }{
		{0, 0}, {5, 0}, {6, 1}, {594, 99}, {600, 100}, {659, 100}, {660, 110}, {5999, 990}, {6000, 1000}, {6659, 1100}, {60000, 10000},
	} {
		if got := stats.TenthsOf(c.minutes); got != c.tenths {
			t.Errorf("TenthsOf(%d) = %d, want %d", c.minutes, got, c.tenths)
		}
	}
}

// TestMalformedTally: a tally cut short, grown or garbled is an error,
// never a panic or a long loop.
func TestMalformedTally(t *testing.T) {
	b := sampleTally().Encode()
	cases := map[string][]byte{
		"empty":        {},
		"other format": {9},
		"trailing":     append(append([]byte{}, b...), 0),
		"huge count":   {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"garbage":      []byte("not a tally at all"),
	}
	for i := 1; i < len(b); i += max(1, len(b)/40) {
		cases["cut at "+string(rune('0'+i%10))+string(rune('a'+i/10%26))] = b[:i]
	}
	for name, c := range cases {
		if err := stats.NewTally().AddEncoded(c, ""); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzAddEncoded(f *testing.F) {
	f.Add(sampleTally().Encode())
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		tl := stats.NewTally()
		if err := tl.AddEncoded(b, ""); err != nil {
			return
		}
		// What reads without error computes figures without panicking.
		stats.Compute(stats.Facts{Tally: tl}, stats.Options{})
	})
}
