package flows_test

import (
	"flag"
	"os"
	"testing"

	"github.com/viza-app/viza/flows"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestStateDiagramGolden makes every change to the state machine show up in
// review as a diff of testdata/states.mmd.
func TestStateDiagramGolden(t *testing.T) {
	got, err := flows.Diagram()
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/states.mmd"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./flows -update)", err)
	}
	if got != string(want) {
		t.Fatalf("state diagram changed:\n%s\nwant:\n%s", got, want)
	}
}

func TestInvariantCheckerCatchesBrokenDocuments(t *testing.T) {
	broken := []*flows.Document{
		{State: flows.StateApproved, Remarks: []flows.Remark{{Blocking: true}}, Rounds: []flows.Round{{Outcome: "approved"}}},
		{State: flows.StateInApproval, Rounds: []flows.Round{{No: 1}, {No: 2}}},
		{State: flows.StateInApproval, Rounds: []flows.Round{{No: 1}}, Stages: []flows.Stage{{Skipped: true}},
			Tasks: []flows.Task{{ID: 1, Round: 1, State: flows.TaskOpen}}},
		{State: flows.StateInApproval, Rounds: []flows.Round{{No: 1}}, Stages: []flows.Stage{{}},
			Decisions: []flows.Decision{{TaskID: 1, Kind: "approve"}, {TaskID: 1, Kind: "reject"}}},
	}
	for i, d := range broken {
		if bad := checkInvariants(d); len(bad) == 0 {
			t.Errorf("document %d: broken but passed", i)
		}
	}
}

func TestStagePosition(t *testing.T) {
	d := &flows.Document{Stages: []flows.Stage{{Index: 0}, {Index: 1, Skipped: true}, {Index: 2}, {Index: 3}}}
	for _, tc := range []struct{ i, n, count int }{{0, 1, 3}, {1, 0, 3}, {2, 2, 3}, {3, 3, 3}} {
		if n, count := d.StagePosition(tc.i); n != tc.n || count != tc.count {
			t.Errorf("stage %d = %d of %d, want %d of %d", tc.i, n, count, tc.n, tc.count)
		}
	}
}
