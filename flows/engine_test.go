package flows_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

func TestEngineScenarios(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"sequential route with any-stage, skipped finance, director and signature", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 500_000).DocID
			doc := h.doc(d)
			if !doc.Stages[1].Skipped || doc.Stages[1].SkipReason != "condition_false" {
				t.Fatalf("finance stage should be skipped: %+v", doc.Stages[1])
			}
			if doc.Number != "Д-2026-0001" {
				t.Fatalf("number = %s", doc.Number)
			}
			h.wantOpen(d, "petrov", "sidorov")
			h.must(h.decide(d, "sidorov", flows.ActionApprove, ""))
			h.wantOpen(d, "director")
			if got := h.notesTo(d, "petrov"); !slices.Equal(got, []string{flows.NoteTaskAssigned, flows.NoteTaskClosed}) {
				t.Fatalf("petrov's notes = %v", got)
			}
			h.must(h.decide(d, "director", flows.ActionApprove, ""))
			h.wantState(d, flows.StateSigning)
			h.wantOpen(d, "director")
			h.must(h.decide(d, "director", flows.ActionDone, ""))
			h.wantState(d, flows.StateDone)
			got := h.notesTo(d, "ivanova")
			if !slices.Contains(got, flows.NoteApproved) || !slices.Contains(got, flows.NoteDone) {
				t.Fatalf("initiator notes = %v", got)
			}
		}},
		{"conditional stage applies above the amount", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 2_000_000).DocID
			h.must(h.decide(d, "petrov", flows.ActionApprove, ""))
			h.wantOpen(d, "kuznetsova")
		}},
		{"conditional stage applies when the amount is unknown", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", -1).DocID
			if h.doc(d).Stages[1].Skipped {
				t.Fatal("finance skipped without an amount")
			}
		}},
		{"quorum 2 of 3, then all lawyers, then acknowledge by the manager", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "audit", -1).DocID
			h.wantOpen(d, "belova", "chernov", "zaitsev")
			h.must(h.decide(d, "belova", flows.ActionApprove, ""))
			h.wantOpen(d, "chernov", "zaitsev")
			h.must(h.decide(d, "zaitsev", flows.ActionApprove, "ok"))
			h.wantOpen(d, "petrov", "sidorov")
			h.must(h.decide(d, "petrov", flows.ActionApprove, ""))
			h.wantOpen(d, "sidorov")
			h.must(h.decide(d, "sidorov", flows.ActionApprove, ""))
			h.wantState(d, flows.StateSigning) // acknowledge is a post-approval step
			wantKind(t, h.decide(d, "petrov", flows.ActionReject, "no"), flows.KindInvalid, "cannot_reject")
			wantKind(t, h.decide(d, "petrov", flows.ActionApprove, ""), flows.KindInvalid, "wrong_action")
			h.must(h.decide(d, "petrov", flows.ActionAcknowledge, ""))
			h.wantState(d, flows.StateDone)
		}},
		{"ad-hoc sequential and parallel routes", func(t *testing.T, h *harness) {
			seq := h.start("ivanova", "memo", -1, "sidorov", "kuznetsova").DocID
			h.wantOpen(seq, "sidorov")
			h.must(h.decide(seq, "sidorov", flows.ActionApprove, ""))
			h.wantOpen(seq, "kuznetsova")
			h.must(h.decide(seq, "kuznetsova", flows.ActionApprove, ""))
			h.wantState(seq, flows.StateApproved)
			out, err := h.eng.Start(h.ctx, flows.StartCmd{Key: h.key(), Actor: "ivanova", TypeID: "memo", Title: "x", File: file("p"),
				Approvers: []flows.PersonID{"sidorov", "kuznetsova"}, Parallel: true})
			h.must(err)
			h.wantOpen(out.DocID, "sidorov", "kuznetsova")
			_, err = h.tryStart("ivanova", "memo", -1)
			wantKind(t, err, flows.KindInvalid, "approvers_required")
		}},
		{"deputy gets tasks of an absent person and acts for him", func(t *testing.T, h *harness) {
			h.must(h.eng.SetAway(h.ctx, flows.AwayCmd{Key: h.key(), Actor: "petrov", Person: "petrov", Deputy: "sidorov",
				From: h.clock.Now().Add(-time.Hour), To: h.clock.Now().Add(72 * time.Hour)}))
			d := h.start("ivanova", "audit", -1).DocID
			h.must(h.decide(d, "belova", flows.ActionApprove, ""))
			h.must(h.decide(d, "chernov", flows.ActionApprove, ""))
			doc := h.doc(d)
			var deputyTask *flows.Task
			for _, tk := range doc.OpenTasks() {
				if tk.OnBehalfOf == "petrov" {
					deputyTask = tk
				}
			}
			if deputyTask == nil || deputyTask.Assignee != "sidorov" {
				t.Fatalf("no deputy task: %+v", doc.OpenTasks())
			}
			h.must(h.decideTask(deputyTask.ID, "sidorov", flows.ActionApprove, ""))
			doc = h.doc(d)
			last := doc.Decisions[len(doc.Decisions)-1]
			if last.Actor != "sidorov" || last.For != "petrov" {
				t.Fatalf("decision = %+v, want sidorov for petrov", last)
			}
		}},
		{"the configured deputy acts only while the person is away", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "ask", -1).DocID
			tk := h.task(d, "petrov")
			wantKind(t, h.decideTask(tk, "sidorov", flows.ActionApprove, ""), flows.KindForbidden, "not_your_task")
			h.must(h.eng.SetAway(h.ctx, flows.AwayCmd{Key: h.key(), Actor: "petrov", Person: "petrov",
				From: h.clock.Now(), To: h.clock.Now().Add(24 * time.Hour)}))
			h.must(h.decideTask(tk, "sidorov", flows.ActionApprove, ""))
			dc := h.doc(d).Decisions[0]
			if dc.Actor != "sidorov" || dc.For != "petrov" {
				t.Fatalf("decision = %+v", dc)
			}
		}},
		{"reassign hands the task over with a reason", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 10).DocID
			_, err := h.eng.Reassign(h.ctx, flows.ReassignCmd{Key: h.key(), Actor: "sidorov", TaskID: h.task(d, "sidorov"), To: "kuznetsova", Reason: ""})
			wantKind(t, err, flows.KindInvalid, "reason_required")
			out, err := h.eng.Reassign(h.ctx, flows.ReassignCmd{Key: h.key(), Actor: "sidorov", TaskID: h.task(d, "sidorov"), To: "kuznetsova", Reason: "отпуск"})
			h.must(err)
			h.wantOpen(d, "petrov", "kuznetsova")
			tk, _ := h.doc(d).Task(out.TaskID)
			if tk.From != "sidorov" || tk.Reason != "отпуск" {
				t.Fatalf("task = %+v", tk)
			}
			h.must(h.decide(d, "kuznetsova", flows.ActionApprove, ""))
			h.wantOpen(d, "director")
		}},
		{"reject, new version, not_yet_approved keeps earlier approvals", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "audit", -1).DocID // rework: everyone
			_ = d
			c := h.start("ivanova", "ask", -1).DocID // lawyers all, then director
			h.must(h.decide(c, "petrov", flows.ActionApprove, ""))
			h.must(h.decide(c, "sidorov", flows.ActionApprove, ""))
			h.must(h.decide(c, "director", flows.ActionReject, "Нет подписи"))
			h.wantState(c, flows.StateChangesRequested)
			if err := h.upload(c, "ivanova", "исправлено"); flows.ErrorCode(err) != "rework_choice_required" {
				t.Fatalf("ask without a choice: %v", err)
			}
			_, err := h.eng.UploadVersion(h.ctx, flows.VersionCmd{Key: h.key(), Actor: "ivanova", DocID: c, File: file("v2"),
				Reapprove: []flows.PersonID{"petrov"}})
			h.must(err)
			h.wantState(c, flows.StateInApproval)
			h.wantOpen(c, "petrov") // sidorov's approval carried
			h.must(h.decide(c, "petrov", flows.ActionApprove, ""))
			h.wantOpen(c, "director")
			if len(h.doc(c).OpenBlockingRemarks()) != 1 {
				t.Fatal("the director's remark must stay open until he approves")
			}
			h.must(h.decide(c, "director", flows.ActionApprove, ""))
			h.wantState(c, flows.StateApproved)
			if len(h.doc(c).OpenBlockingRemarks()) != 0 {
				t.Fatal("remark not closed by its author's approval")
			}
		}},
		{"rework everyone asks all again", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "audit", -1).DocID
			h.must(h.decide(d, "belova", flows.ActionApprove, ""))
			h.must(h.decide(d, "chernov", flows.ActionApprove, ""))
			h.must(h.decide(d, "petrov", flows.ActionReject, "пункт 5"))
			h.must(h.upload(d, "ivanova", "v2"))
			h.wantOpen(d, "belova", "chernov", "zaitsev")
			if r := h.doc(d).CurrentRound(); r.No != 2 || r.Version != 2 {
				t.Fatalf("round = %+v", r)
			}
		}},
		{"rework not_yet_approved on contract: remark owner must confirm even in an any stage", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 10).DocID
			h.must(h.decide(d, "petrov", flows.ActionReject, "штрафы"))
			h.must(h.upload(d, "ivanova", "убрали штрафы"))
			h.wantOpen(d, "petrov", "sidorov")
			h.must(h.decide(d, "sidorov", flows.ActionApprove, ""))
			h.wantOpen(d, "petrov") // any-stage satisfied, but petrov's remark is open
			h.must(h.decide(d, "petrov", flows.ActionApprove, ""))
			h.wantOpen(d, "director")
		}},
		{"a version mid-round restarts the round and tells everyone", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "audit", -1).DocID
			h.must(h.decide(d, "belova", flows.ActionApprove, ""))
			h.must(h.upload(d, "chernov", "опечатка"))
			h.wantState(d, flows.StateInApproval)
			h.wantOpen(d, "belova", "chernov", "zaitsev") // audit is rework: everyone
			if got := h.notesTo(d, "belova"); !slices.Contains(got, flows.NoteRoundRestarted) {
				t.Fatalf("belova's notes = %v", got)
			}
			if got := h.notesTo(d, "zaitsev"); !slices.Equal(got, []string{flows.NoteTaskAssigned, flows.NoteTaskClosed, flows.NoteRoundRestarted, flows.NoteTaskAssigned}) {
				t.Fatalf("zaitsev's notes = %v", got)
			}
			wantKind(t, h.upload(d, "stranger", "x"), flows.KindForbidden, "not_participant")
		}},
		{"withdraw closes every task", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 10).DocID
			_, err := h.eng.Withdraw(h.ctx, flows.WithdrawCmd{Key: h.key(), Actor: "petrov", DocID: d})
			wantKind(t, err, flows.KindForbidden, "initiator_only")
			_, err = h.eng.Withdraw(h.ctx, flows.WithdrawCmd{Key: h.key(), Actor: "ivanova", DocID: d, Comment: "не нужен"})
			h.must(err)
			h.wantState(d, flows.StateWithdrawn)
			h.wantOpen(d)
			wantKind(t, h.upload(d, "ivanova", "x"), flows.KindConflict, "wrong_state")
		}},
		{"comment is non-blocking and approve with remarks is recorded", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 10).DocID
			h.must(h.decide(d, "petrov", flows.ActionComment, "проверьте реквизиты"))
			h.wantOpen(d, "petrov", "sidorov")
			h.must(h.decide(d, "petrov", flows.ActionApprove, "с замечаниями"))
			doc := h.doc(d)
			if len(doc.Remarks) != 2 || doc.Remarks[0].Blocking || doc.Remarks[1].Blocking {
				t.Fatalf("remarks = %+v", doc.Remarks)
			}
			wantKind(t, h.decideTask(doc.Tasks[0].ID, "petrov", flows.ActionComment, ""), flows.KindConflict, "task_closed")
		}},
		{"reject needs a reason", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 10).DocID
			wantKind(t, h.decide(d, "petrov", flows.ActionReject, "  "), flows.KindInvalid, "reason_required")
			h.wantState(d, flows.StateInApproval)
		}},
		{"sign with a scan stores the scan without a new round", func(t *testing.T, h *harness) {
			d := h.start("ivanova", "contract", 10).DocID
			h.must(h.decide(d, "petrov", flows.ActionApprove, ""))
			h.must(h.decide(d, "director", flows.ActionApprove, ""))
			scan := file("signed scan")
			_, err := h.eng.Decide(h.ctx, flows.DecideCmd{Key: h.key(), Actor: "director", TaskID: h.task(d, "director"), Action: flows.ActionDone, Scan: &scan})
			h.must(err)
			doc := h.doc(d)
			if len(doc.Versions) != 2 || !doc.Versions[1].Scan || doc.CurrentVersion() != 1 || len(doc.Rounds) != 1 {
				t.Fatalf("versions %+v rounds %d", doc.Versions, len(doc.Rounds))
			}
			h.wantState(d, flows.StateDone)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.run(t, h)
			rep, err := h.db.VerifyChain(h.ctx)
			if err != nil || rep.BrokenAt != 0 {
				t.Fatalf("audit chain: %+v %v", rep, err)
			}
		})
	}
}

func TestRemarkOnDocument(t *testing.T) {
	h := newHarness(t)
	d := h.start("ivanova", "contract", 10).DocID
	_, err := h.eng.Remark(h.ctx, flows.RemarkCmd{Key: h.key(), Actor: "stranger", DocID: d, Text: "x"})
	wantKind(t, err, flows.KindForbidden, "not_participant")
	_, err = h.eng.Remark(h.ctx, flows.RemarkCmd{Key: h.key(), Actor: "petrov", DocID: d, Text: "  "})
	wantKind(t, err, flows.KindInvalid, "text_required")
	_, err = h.eng.Remark(h.ctx, flows.RemarkCmd{Key: h.key(), Actor: "ivanova", DocID: d, Text: "приложение 2 будет позже"})
	h.must(err)
	if got := h.notesTo(d, "petrov"); !slices.Equal(got, []string{flows.NoteTaskAssigned, flows.NoteRemark}) {
		t.Fatalf("petrov's notes = %v", got)
	}
	doc := h.doc(d)
	if len(doc.Remarks) != 1 || doc.Remarks[0].Blocking || doc.Remarks[0].Author != "ivanova" {
		t.Fatalf("remarks = %+v", doc.Remarks)
	}
	// Four stages in the route, finance skipped below its threshold: "of 3".
	n := flows.TaskNotification(doc, doc.OpenTasks()[0])
	if n.Kind != flows.NoteTaskAssigned || n.TaskID != doc.OpenTasks()[0].ID || n.StageCount != 3 || n.Number != doc.Number {
		t.Fatalf("task notification = %+v", n)
	}
}

// TestTextsOverTheirLimitsAreRefused: every command that takes a text
// refuses one over its limit with too_long, and records nothing; one at
// the limit is taken.
func TestTextsOverTheirLimitsAreRefused(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "contract", 10).DocID
	long := func(n int) string { return strings.Repeat("ж", n) }
	task := h.task(doc, "petrov")
	before := len(h.doc(doc).Decisions)
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"title", func() error {
			_, err := h.eng.Start(h.ctx, flows.StartCmd{Key: h.key(), Actor: "ivanova", TypeID: "contract", Title: long(flows.MaxTitle + 1),
				File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF")}})
			return err
		}},
		{"counterparty", func() error {
			_, err := h.eng.Start(h.ctx, flows.StartCmd{Key: h.key(), Actor: "ivanova", TypeID: "contract", Title: "Т",
				Counterparty: long(flows.MaxCounterparty + 1), File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF")}})
			return err
		}},
		{"external id", func() error {
			_, err := h.eng.Start(h.ctx, flows.StartCmd{Key: h.key(), Actor: "ivanova", TypeID: "contract", Title: "Т",
				ExternalID: long(flows.MaxExternalID + 1), File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF")}})
			return err
		}},
		{"reason", func() error { return h.decideTask(task, "petrov", flows.ActionReject, long(flows.MaxComment+1)) }},
		{"comment", func() error { return h.decideTask(task, "petrov", flows.ActionComment, long(flows.MaxComment+1)) }},
		{"remark", func() error {
			_, err := h.eng.Remark(h.ctx, flows.RemarkCmd{Key: h.key(), Actor: "petrov", DocID: doc, Text: long(flows.MaxComment + 1)})
			return err
		}},
		{"withdrawal", func() error {
			_, err := h.eng.Withdraw(h.ctx, flows.WithdrawCmd{Key: h.key(), Actor: "ivanova", DocID: doc, Comment: long(flows.MaxComment + 1)})
			return err
		}},
	} {
		if err := tc.run(); flows.ErrorCode(err) != flows.CodeTooLong || flows.ErrorKind(err) != flows.KindInvalid {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if d := h.doc(doc); len(d.Decisions) != before || d.State != flows.StateInApproval {
		t.Fatalf("a refused text changed the document: %d decisions, %s", len(d.Decisions), d.State)
	}
	if err := h.decideTask(task, "petrov", flows.ActionReject, long(flows.MaxComment)); err != nil {
		t.Fatalf("a reason at the limit: %v", err)
	}
}
