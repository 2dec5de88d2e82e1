package flows_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// checkInvariants returns what is impossible about d, if anything.
func checkInvariants(d *flows.Document) []string {
	var bad []string
	switch d.State {
	case flows.StateApproved, flows.StateSigning, flows.StateDone:
		if n := len(d.OpenBlockingRemarks()); n > 0 {
			bad = append(bad, fmt.Sprintf("%s with %d open blocking remarks", d.State, n))
		}
	}
	openRounds := 0
	for _, r := range d.Rounds {
		if r.Outcome == "" {
			openRounds++
		}
	}
	if openRounds > 1 {
		bad = append(bad, fmt.Sprintf("%d open rounds", openRounds))
	}
	if (d.State == flows.StateInApproval || d.State == flows.StateSigning) != (openRounds == 1) {
		bad = append(bad, fmt.Sprintf("state %s with %d open rounds", d.State, openRounds))
	}
	decided := map[int64]int{}
	for _, dc := range d.Decisions {
		switch dc.Kind {
		case flows.ActionApprove, flows.ActionReject, flows.ActionAcknowledge, flows.ActionDone:
			decided[dc.TaskID]++
			if decided[dc.TaskID] > 1 {
				bad = append(bad, fmt.Sprintf("task %d decided twice", dc.TaskID))
			}
		}
	}
	cur := d.CurrentRound()
	for _, t := range d.Tasks {
		if d.Stages[t.Stage].Skipped {
			bad = append(bad, fmt.Sprintf("task %d in skipped stage %d", t.ID, t.Stage))
		}
		if t.State == flows.TaskOpen && (cur == nil || t.Round != cur.No || cur.Outcome != "") {
			bad = append(bad, fmt.Sprintf("open task %d outside the open round", t.ID))
		}
		if t.State == flows.TaskOpen && d.IsFinal() {
			bad = append(bad, fmt.Sprintf("open task %d in final state %s", t.ID, d.State))
		}
	}
	return bad
}

func TestPropertyRandomCommandsKeepInvariants(t *testing.T) {
	seeds := 12
	steps := 150
	if testing.Short() {
		seeds, steps = 4, 30
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			h := newHarness(t)
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			var people []flows.PersonID
			for _, p := range h.dir.People {
				people = append(people, p.ID)
			}
			var docs []int64
			var log []string
			types := []string{"contract", "audit", "ask", "memo"}
			for step := range steps {
				if len(docs) == 0 || rng.IntN(8) == 0 {
					typ := types[rng.IntN(len(types))]
					actor := people[rng.IntN(len(people))]
					amount := []int64{-1, 10, 5_000_000}[rng.IntN(3)]
					var approvers []flows.PersonID
					if typ == "memo" {
						approvers = []flows.PersonID{people[rng.IntN(len(people))], people[rng.IntN(len(people))]}
					}
					out, err := h.tryStart(string(actor), typ, amount, approvers...)
					log = append(log, fmt.Sprintf("%d start %s by %s: %v", step, typ, actor, err))
					if flows.ErrorKind(err) == flows.KindInternal {
						t.Fatalf("internal error: %v\n%s", err, strings.Join(log, "\n"))
					}
					if err == nil {
						docs = append(docs, out.DocID)
					}
					continue
				}
				docID := docs[rng.IntN(len(docs))]
				d := h.doc(docID)
				actor := people[rng.IntN(len(people))]
				var task int64
				if open := d.OpenTasks(); len(open) > 0 && rng.IntN(10) < 8 {
					tk := open[rng.IntN(len(open))]
					task = tk.ID
					if rng.IntN(10) < 8 {
						actor = tk.Assignee
					}
				} else if len(d.Tasks) > 0 {
					tk := d.Tasks[rng.IntN(len(d.Tasks))]
					task = tk.ID
					if rng.IntN(10) < 7 {
						actor = tk.Assignee
					}
				}
				var err error
				what := ""
				switch rng.IntN(20) {
				case 0, 1, 2, 10, 11, 12, 13, 14, 15, 16:
					what = "approve"
					err = h.decideTask(task, string(actor), flows.ActionApprove, "")
				case 3:
					what = "reject"
					err = h.decideTask(task, string(actor), flows.ActionReject, "нет")
				case 4:
					what = "comment"
					err = h.decideTask(task, string(actor), flows.ActionComment, "к сведению")
				case 5, 17, 18:
					what = "ack/done"
					err = h.decideTask(task, string(actor), []string{flows.ActionAcknowledge, flows.ActionDone}[rng.IntN(2)], "")
				case 6:
					what = "upload"
					if rng.IntN(2) == 0 {
						actor = d.Initiator
					}
					_, err = h.eng.UploadVersion(h.ctx, flows.VersionCmd{Key: h.key(), Actor: actor, DocID: docID, File: file(h.key()),
						Rework: []string{"", "everyone", "not_yet_approved"}[rng.IntN(3)]})
				case 7:
					what = "withdraw"
					if rng.IntN(3) > 0 {
						actor = d.Initiator
					}
					_, err = h.eng.Withdraw(h.ctx, flows.WithdrawCmd{Key: h.key(), Actor: actor, DocID: docID})
				case 8:
					what = "reassign"
					_, err = h.eng.Reassign(h.ctx, flows.ReassignCmd{Key: h.key(), Actor: actor, TaskID: task,
						To: people[rng.IntN(len(people))], Reason: "занят"})
				case 9, 19:
					what = "away"
					err = h.eng.SetAway(h.ctx, flows.AwayCmd{Key: h.key(), Actor: actor, Person: actor,
						Deputy: people[rng.IntN(len(people))], From: h.clock.Now(), To: h.clock.Now().AddDate(0, 0, 1)})
				}
				log = append(log, fmt.Sprintf("%d %s doc %d task %d by %s: %v", step, what, docID, task, actor, err))
				if flows.ErrorKind(err) == flows.KindInternal {
					t.Fatalf("internal error: %v\n%s", err, strings.Join(log, "\n"))
				}
				if bad := checkInvariants(h.doc(docID)); len(bad) > 0 {
					t.Fatalf("impossible state %v after:\n%s", bad, strings.Join(log, "\n"))
				}
				h.clock.Advance(17 * 60e9)
			}
			rep, err := h.db.VerifyChain(h.ctx)
			if err != nil || rep.BrokenAt != 0 {
				t.Fatalf("audit chain: %+v %v", rep, err)
			}
			ok := 0
			for _, l := range log {
				if strings.HasSuffix(l, "<nil>") {
					ok++
				}
			}
			states := map[string]int{}
			for _, id := range docs {
				states[h.doc(id).State]++
			}
			t.Logf("%d of %d commands applied; states %v", ok, len(log), states)
		})
	}
}
