package flows_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

func (h *harness) fireDue() int {
	h.t.Helper()
	n, err := flows.NewScheduler(h.eng, h.db, slog.New(slog.NewTextHandler(io.Discard, nil))).Step(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func tasksOf(d *flows.Document, stage int) []flows.Task {
	var out []flows.Task
	for _, t := range d.Tasks {
		if t.Stage == stage {
			out = append(out, t)
		}
	}
	return out
}

// TestDecisionOnTimeout: a stage's on_timeout decides a task whose
// deadline passed by its timeout — once, from the durable schedule — and
// the record says it was the rule, never a person.
func TestDecisionOnTimeout(t *testing.T) {
	hour := flows.WorkDuration{Minutes: 60}
	cases := []struct {
		name    string
		timeout flows.Timeout
		amount  int64 // roubles
		check   func(t *testing.T, h *harness, d *flows.Document)
	}{
		{"skip drops both lawyers and the stage goes on", flows.Timeout{On: flows.OnTimeoutSkip, After: hour}, 10,
			func(t *testing.T, h *harness, d *flows.Document) {
				for _, tk := range tasksOf(d, 0) {
					if tk.State != flows.TaskClosed || tk.CloseReason != flows.CloseTimedOut {
						t.Fatalf("lawyer's task %+v", tk)
					}
				}
				if len(d.Decisions) != 0 {
					t.Fatalf("decisions %+v", d.Decisions)
				}
				h.wantOpen(d.ID, "director")
			}},
		{"approve on timeout, for the holder, by nobody", flows.Timeout{On: flows.OnTimeoutApprove, After: hour, MaxMinor: 100_000_00}, 10,
			func(t *testing.T, h *harness, d *flows.Document) {
				if len(d.Decisions) != 1 {
					t.Fatalf("decisions %+v", d.Decisions)
				}
				dc := d.Decisions[0]
				if dc.Kind != flows.ActionApprove || !dc.Timeout || dc.Actor != "" || (dc.For != "petrov" && dc.For != "sidorov") {
					t.Fatalf("decision %+v", dc)
				}
				h.wantOpen(d.ID, "director")
				var said bool
				for _, n := range h.notes(d.ID) {
					said = said || (n.Kind == flows.NoteDecision && n.Reason == flows.CloseTimedOut && n.Actor == "")
				}
				if !said {
					t.Fatal("the initiator was not told it was decided on timeout")
				}
			}},
		{"over the amount: escalated, not approved", flows.Timeout{On: flows.OnTimeoutApprove, After: hour, MaxMinor: 100_000_00}, 200000,
			func(t *testing.T, h *harness, d *flows.Document) {
				if len(d.Decisions) != 0 {
					t.Fatalf("decisions %+v", d.Decisions)
				}
				h.wantOpen(d.ID, "petrov", "sidorov")
				escalations := 0
				for _, n := range h.notes(d.ID) {
					if n.Kind == flows.NoteEscalation {
						escalations++
					}
				}
				if escalations == 0 {
					t.Fatal("nobody was told")
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			contract, _ := h.dir.Type("contract")
			contract.Route[0].Timeout = c.timeout
			d := h.start("ivanova", "contract", c.amount).DocID
			h.clock.Advance(8*time.Hour + 30*time.Minute) // past the deadline, not past the timeout
			h.fireDue()
			h.wantOpen(d, "petrov", "sidorov")
			h.clock.Advance(time.Hour)
			h.fireDue()
			c.check(t, h, h.doc(d))
			// Exactly once: firing again, or after a restart (a new
			// scheduler on the same database), changes nothing.
			before := len(h.doc(d).Decisions)
			h.clock.Advance(time.Minute)
			h.fireDue()
			if after := len(h.doc(d).Decisions); after != before {
				t.Fatalf("decisions %d, then %d", before, after)
			}
		})
	}
}

// TestOnTimeoutNeverApprovesAnObjection: the holder's blocking remark
// open, approval on timeout escalates instead.
func TestOnTimeoutNeverApprovesAnObjection(t *testing.T) {
	h := newHarness(t)
	contract, _ := h.dir.Type("contract")
	contract.Route[0].Timeout = flows.Timeout{On: flows.OnTimeoutApprove, After: flows.WorkDuration{Minutes: 60}, MaxMinor: 100_000_00}
	contract.Route[0].Mode = flows.Mode{Kind: "all"}
	d := h.start("ivanova", "contract", 10).DocID
	h.must(h.decide(d, "petrov", flows.ActionReject, "Нет печати"))
	h.must(h.upload(d, "ivanova", "Печать есть"))
	h.clock.Advance(10 * time.Hour)
	h.fireDue()
	doc := h.doc(d)
	for _, dc := range doc.Decisions {
		if dc.Timeout && dc.For == "petrov" {
			t.Fatalf("petrov's objection was approved on timeout: %+v", dc)
		}
	}
	if len(doc.OpenBlockingRemarks()) != 1 {
		t.Fatalf("remarks %+v", doc.Remarks)
	}
}
