package flows_test

import (
	"slices"
	"testing"

	"github.com/viza-app/viza/flows"
)

func (h *harness) route(docID int64, actor string, stage int, person string, remove bool, reason string) (flows.Outcome, error) {
	return h.eng.ChangeRoute(h.ctx, flows.RouteCmd{Key: h.key(), Actor: flows.PersonID(actor), DocID: docID, Stage: stage,
		Person: flows.PersonID(person), Remove: remove, Reason: reason})
}

func lastDecision(d *flows.Document) flows.Decision { return d.Decisions[len(d.Decisions)-1] }

// TestAddApproverToStageUnderWay: the person added gets the request at
// once, and an "all" stage now waits for them too.
func TestAddApproverToStageUnderWay(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "ask", -1).DocID
	h.wantOpen(doc, "petrov", "sidorov")
	out, err := h.route(doc, "ivanova", 0, "kuznetsova", false, "финансы должны видеть")
	h.must(err)
	h.wantOpen(doc, "kuznetsova", "petrov", "sidorov")
	if out.TaskID != h.task(doc, "kuznetsova") {
		t.Fatalf("outcome task %d", out.TaskID)
	}
	d := h.doc(doc)
	dc := lastDecision(d)
	if dc.Kind != flows.DecisionApproverAdded || dc.Actor != "ivanova" || dc.Person != "kuznetsova" || dc.Stage != 0 ||
		dc.Comment != "финансы должны видеть" || dc.TaskID != 0 {
		t.Fatalf("decision %+v", dc)
	}
	if !slices.Contains(d.Stages[0].Approvers, "kuznetsova") {
		t.Fatalf("snapshot %v", d.Stages[0].Approvers)
	}
	if got := h.notesTo(doc, "kuznetsova"); !slices.Equal(got, []string{flows.NoteTaskAssigned}) {
		t.Fatalf("kuznetsova told %v", got)
	}
	// The initiator changed it herself: nobody tells her.
	if slices.Contains(h.notesTo(doc, "ivanova"), flows.NoteRouteChanged) {
		t.Fatal("initiator told of her own change")
	}
	h.must(h.decide(doc, "petrov", flows.ActionApprove, ""))
	h.must(h.decide(doc, "sidorov", flows.ActionApprove, ""))
	h.wantOpen(doc, "kuznetsova")
	h.must(h.decide(doc, "kuznetsova", flows.ActionApprove, ""))
	h.wantOpen(doc, "director")
}

// TestAddApproverToLaterStage: a viewer adds someone to a stage not yet
// reached; they are told now and get the request when it comes; the
// initiator is told who changed her route.
func TestAddApproverToLaterStage(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "ask", -1).DocID
	_, err := h.route(doc, "director", 1, "kuznetsova", false, "сумма выросла")
	h.must(err)
	h.wantOpen(doc, "petrov", "sidorov")
	for _, who := range []string{"kuznetsova", "ivanova"} {
		if got := h.notesTo(doc, who); !slices.Contains(got, flows.NoteRouteChanged) {
			t.Fatalf("%s told %v", who, got)
		}
	}
	for _, n := range h.notes(doc) {
		if n.Kind == flows.NoteRouteChanged && (n.Actor != "director" || n.Person != "kuznetsova" || n.Stage != 2 ||
			n.Decision != flows.DecisionApproverAdded || n.Comment != "сумма выросла") {
			t.Fatalf("notification %+v", n)
		}
	}
	h.must(h.decide(doc, "petrov", flows.ActionApprove, ""))
	h.must(h.decide(doc, "sidorov", flows.ActionApprove, ""))
	h.wantOpen(doc, "director", "kuznetsova")
}

// TestRemoveApprover: the removed person's task closes (their card's
// buttons stop working), the stage whose other approvers all decided
// completes, and they stay a reader of the document.
func TestRemoveApprover(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "ask", -1).DocID
	sidorovTask := h.task(doc, "sidorov")
	h.must(h.decide(doc, "petrov", flows.ActionApprove, ""))
	_, err := h.route(doc, "ivanova", 0, "sidorov", true, "в отпуске до конца месяца")
	h.must(err)
	h.wantOpen(doc, "director")
	d := h.doc(doc)
	tk, _ := d.Task(sidorovTask)
	if tk.State != flows.TaskClosed || tk.CloseReason != flows.CloseRemoved {
		t.Fatalf("task %+v", tk)
	}
	if slices.Contains(d.Stages[0].Approvers, "sidorov") {
		t.Fatalf("still on the route: %v", d.Stages[0].Approvers)
	}
	var closed *flows.Notification
	for _, n := range h.notes(doc) {
		if n.Kind == flows.NoteTaskClosed && n.TaskID == sidorovTask {
			closed = &n
		}
	}
	if closed == nil || closed.Reason != flows.CloseRemoved || closed.Actor != "ivanova" || closed.Comment != "в отпуске до конца месяца" {
		t.Fatalf("closing notification %+v", closed)
	}
	wantKind(t, h.decideTask(sidorovTask, "sidorov", flows.ActionApprove, ""), flows.KindConflict, "task_closed")
	if !h.eng.MayRead(d, "sidorov") {
		t.Fatal("a removed approver no longer reads the document")
	}
	if dc := lastDecisionOf(d, flows.DecisionApproverRemoved); dc.Person != "sidorov" || dc.Round != 1 {
		t.Fatalf("decision %+v", dc)
	}
}

func lastDecisionOf(d *flows.Document, kind string) flows.Decision {
	for i := len(d.Decisions) - 1; i >= 0; i-- {
		if d.Decisions[i].Kind == kind {
			return d.Decisions[i]
		}
	}
	return flows.Decision{}
}

// TestRemoveFromLaterStage: someone taken off a stage not reached yet is
// told, and never gets its request.
func TestRemoveFromLaterStage(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "ask", -1).DocID
	h.must(firstErr(h.route(doc, "ivanova", 1, "kuznetsova", false, "нужна подпись финансов")))
	h.must(firstErr(h.route(doc, "petrov", 1, "director", true, "директор передал полномочия")))
	if got := h.notesTo(doc, "director"); !slices.Equal(got, []string{flows.NoteRouteChanged}) {
		t.Fatalf("director told %v", got)
	}
	h.must(h.decide(doc, "petrov", flows.ActionApprove, ""))
	h.must(h.decide(doc, "sidorov", flows.ActionApprove, ""))
	h.wantOpen(doc, "kuznetsova")
	h.must(h.decide(doc, "kuznetsova", flows.ActionApprove, ""))
	h.wantState(doc, flows.StateApproved)
}

func firstErr(_ flows.Outcome, err error) error { return err }

// TestRouteChangeRefusals: every rule that keeps a change out.
func TestRouteChangeRefusals(t *testing.T) {
	h := newHarness(t)
	running := h.start("ivanova", "ask", -1).DocID
	decided := h.start("ivanova", "ask", -1).DocID
	h.must(h.decide(decided, "petrov", flows.ActionApprove, ""))
	rejected := h.start("ivanova", "ask", -1).DocID
	h.must(h.decide(rejected, "petrov", flows.ActionReject, "нет приложения"))
	approved := h.start("ivanova", "memo", 10, "petrov").DocID
	h.must(h.decide(approved, "petrov", flows.ActionApprove, ""))
	contract := h.start("ivanova", "contract", 10).DocID // finance skipped under a million
	h.must(h.decide(contract, "petrov", flows.ActionApprove, ""))

	cases := []struct {
		name   string
		doc    int64
		actor  string
		stage  int
		person string
		remove bool
		reason string
		kind   flows.Kind
		code   string
	}{
		{"no reason", running, "ivanova", 1, "kuznetsova", false, "  ", flows.KindInvalid, "reason_required"},
		{"not in the directory", running, "nobody", 1, "kuznetsova", false, "r", flows.KindForbidden, "unknown_person"},
		{"an approver is not the initiator", running, "sidorov", 1, "kuznetsova", false, "r", flows.KindForbidden, "route_change_forbidden"},
		{"adding a stranger to the directory", running, "ivanova", 1, "ghost", false, "r", flows.KindInvalid, "unknown_person"},
		{"no such stage", running, "ivanova", 7, "kuznetsova", false, "r", flows.KindInvalid, "bad_stage"},
		{"already on the stage", running, "ivanova", 0, "petrov", false, "r", flows.KindConflict, "already_on_stage"},
		{"not on the stage", running, "ivanova", 1, "petrov", true, "r", flows.KindNotFound, "not_on_stage"},
		{"the last approver", running, "ivanova", 1, "director", true, "r", flows.KindConflict, "last_approver"},
		{"decided in this round", decided, "ivanova", 0, "petrov", true, "r", flows.KindConflict, "already_decided"},
		{"their blocking remark is open", rejected, "ivanova", 0, "petrov", true, "r", flows.KindConflict, "removed_has_remark"},
		{"a stage already passed", contract, "ivanova", 0, "kuznetsova", false, "r", flows.KindConflict, "stage_passed"},
		{"a skipped stage", contract, "ivanova", 1, "petrov", false, "r", flows.KindConflict, "stage_passed"},
		{"the approval is over", approved, "ivanova", 0, "sidorov", false, "r", flows.KindConflict, "wrong_state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(h.doc(c.doc).Decisions)
			_, err := h.route(c.doc, c.actor, c.stage, c.person, c.remove, c.reason)
			wantKind(t, err, c.kind, c.code)
			if after := len(h.doc(c.doc).Decisions); after != before {
				t.Fatalf("decisions %d → %d after a refusal", before, after)
			}
		})
	}
}

// TestRouteChangeWhileChangesRequested: back with its initiator, the
// route may change anywhere; the next round runs the new route.
func TestRouteChangeWhileChangesRequested(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "ask", -1).DocID
	h.must(h.decide(doc, "sidorov", flows.ActionReject, "не тот контрагент"))
	h.wantState(doc, flows.StateChangesRequested)
	h.must(firstErr(h.route(doc, "ivanova", 0, "kuznetsova", false, "пусть посмотрит финдир")))
	if _, err := h.eng.UploadVersion(h.ctx, flows.VersionCmd{Key: h.key(), Actor: "ivanova", DocID: doc, File: file("v2"),
		Rework: flows.ReworkEveryone}); err != nil {
		t.Fatal(err)
	}
	h.wantOpen(doc, "kuznetsova", "petrov", "sidorov")
}

// TestRouteChangeOnce: the same command repeated changes nothing twice.
func TestRouteChangeOnce(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "ask", -1).DocID
	cmd := flows.RouteCmd{Key: "route-1", Actor: "ivanova", DocID: doc, Stage: 1, Person: "kuznetsova", Reason: "r"}
	if _, err := h.eng.ChangeRoute(h.ctx, cmd); err != nil {
		t.Fatal(err)
	}
	out, err := h.eng.ChangeRoute(h.ctx, cmd)
	if err != nil || !out.Repeated {
		t.Fatalf("repeat: %+v %v", out, err)
	}
	n := 0
	for _, dc := range h.doc(doc).Decisions {
		if dc.Kind == flows.DecisionApproverAdded {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d additions recorded", n)
	}
}

// TestRouteChangeAudited: the change is in the audit chain and becomes
// the connector's route.changed event.
func TestRouteChangeAudited(t *testing.T) {
	h := newHarness(t)
	doc := h.start("ivanova", "ask", -1).DocID
	h.must(firstErr(h.route(doc, "ivanova", 1, "kuznetsova", false, "причина")))
	evs, err := h.db.DocumentEvents(h.ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range evs {
		if e.Kind == flows.DecisionApproverAdded {
			found = e.Actor == "ivanova" && e.Detail == "stage 2: kuznetsova: причина" &&
				slices.Equal(flows.IntegrationEventsOf(e), []string{flows.EventRouteChanged})
		}
	}
	if !found {
		t.Fatalf("no audited change in %+v", evs)
	}
}
