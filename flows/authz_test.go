package flows_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

// snapshot is what must not change when a command is refused.
func (h *harness) snapshot(docID int64) string {
	d := h.doc(docID)
	return fmt.Sprintf("%s|%d|%d|%d|%d|%d", d.State, len(d.Tasks), len(d.Decisions), len(d.Remarks), len(d.Versions), len(h.notes(docID)))
}

func TestAuthorisationRefusesAndChangesNothing(t *testing.T) {
	type cmd func(h *harness, doc, task int64) error
	decide := func(actor, action string) cmd {
		return func(h *harness, _, task int64) error { return h.decideTask(task, actor, action, "текст") }
	}
	tests := []struct {
		name string
		cmd  cmd
		kind flows.Kind
		code string
	}{
		{"initiator approves someone's task", decide("ivanova", flows.ActionApprove), flows.KindForbidden, "not_your_task"},
		{"colleague rejects someone's task", decide("belova", flows.ActionReject), flows.KindForbidden, "not_your_task"},
		{"configured deputy while the person is present", decide("sidorov", flows.ActionApprove), flows.KindForbidden, "not_your_task"},
		{"viewer comments on someone's task", decide("kuznetsova", flows.ActionComment), flows.KindForbidden, "not_your_task"},
		{"unknown person approves", decide("nobody", flows.ActionApprove), flows.KindForbidden, "unknown_person"},
		{"stranger withdraws", func(h *harness, doc, _ int64) error {
			_, err := h.eng.Withdraw(h.ctx, flows.WithdrawCmd{Key: h.key(), Actor: "stranger", DocID: doc})
			return err
		}, flows.KindForbidden, "initiator_only"},
		{"approver withdraws", func(h *harness, doc, _ int64) error {
			_, err := h.eng.Withdraw(h.ctx, flows.WithdrawCmd{Key: h.key(), Actor: "director", DocID: doc})
			return err
		}, flows.KindForbidden, "initiator_only"},
		{"stranger uploads a version", func(h *harness, doc, _ int64) error { return h.upload(doc, "stranger", "x") },
			flows.KindForbidden, "not_participant"},
		{"stranger reassigns a task", func(h *harness, _, task int64) error {
			_, err := h.eng.Reassign(h.ctx, flows.ReassignCmd{Key: h.key(), Actor: "stranger", TaskID: task, To: "belova", Reason: "r"})
			return err
		}, flows.KindForbidden, "not_your_task"},
		{"initiator answers ask for somebody else's doc", func(h *harness, doc, _ int64) error {
			_, err := h.eng.UploadVersion(h.ctx, flows.VersionCmd{Key: h.key(), Actor: "belova", DocID: doc, File: file("z"), Rework: "everyone"})
			return err
		}, flows.KindForbidden, "not_participant"},
		{"someone sets another person's absence", func(h *harness, _, _ int64) error {
			return h.eng.SetAway(h.ctx, flows.AwayCmd{Key: h.key(), Actor: "sidorov", Person: "petrov", Deputy: "sidorov",
				From: h.clock.Now(), To: h.clock.Now().AddDate(0, 0, 1)})
		}, flows.KindForbidden, "not_allowed"},
		{"stranger reads the document", func(h *harness, doc, _ int64) error {
			_, err := h.eng.Document(h.ctx, "stranger", h.doc(doc).Number)
			return err
		}, flows.KindNotFound, "doc_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.start("ivanova", "contract", 10).DocID
			task := h.task(d, "petrov")
			before := h.snapshot(d)
			wantKind(t, tc.cmd(h, d, task), tc.kind, tc.code)
			if after := h.snapshot(d); after != before {
				t.Fatalf("refused command changed the document: %s → %s", before, after)
			}
		})
	}
}

func TestReadAccess(t *testing.T) {
	h := newHarness(t)
	d := h.doc(h.start("ivanova", "contract", 10).DocID)
	for _, p := range []flows.PersonID{"ivanova", "petrov", "sidorov", "director", "kuznetsova"} {
		if _, err := h.eng.Document(h.ctx, p, d.Number); err != nil {
			t.Errorf("%s cannot read: %v", p, err)
		}
	}
	if _, err := h.eng.Document(h.ctx, "belova", "Д-2099-9999"); flows.ErrorCode(err) != "doc_not_found" {
		t.Errorf("missing document: %v", err)
	}
}

func TestIdempotentCommandAppliesOnce(t *testing.T) {
	h := newHarness(t)
	d := h.start("ivanova", "audit", -1).DocID
	task := h.task(d, "belova")
	cmd := flows.DecideCmd{Key: "telegram:update:42", Actor: "belova", TaskID: task, Action: flows.ActionApprove}
	first, err := h.eng.Decide(h.ctx, cmd)
	h.must(err)
	again, err := h.eng.Decide(h.ctx, cmd)
	h.must(err)
	if !again.Repeated {
		t.Fatalf("repeat not marked: %+v", again)
	}
	if again.Repeated = false; again != first {
		t.Fatalf("repeat = %+v, first = %+v", again, first)
	}
	if n := len(h.doc(d).Decisions); n != 1 {
		t.Fatalf("%d decisions, want 1", n)
	}
}

func TestIdempotentUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	d := h.start("ivanova", "audit", -1).DocID
	task := h.task(d, "belova")
	var wg sync.WaitGroup
	outs := make([]flows.Outcome, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = h.eng.Decide(h.ctx, flows.DecideCmd{Key: "k-same", Actor: "belova", TaskID: task, Action: flows.ActionApprove})
		}()
	}
	wg.Wait()
	repeated := 0
	for i := range 50 {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if outs[i].Repeated {
			repeated++
		}
		outs[i].Repeated = false
		if !reflect.DeepEqual(outs[i], outs[0]) {
			t.Fatalf("outcome %d = %+v, want %+v", i, outs[i], outs[0])
		}
	}
	if repeated != 49 {
		t.Fatalf("%d repeated, want 49", repeated)
	}
	if n := len(h.doc(d).Decisions); n != 1 {
		t.Fatalf("%d decisions, want 1", n)
	}
}

func TestSimultaneousApproversBothRecordedStageAdvancesOnce(t *testing.T) {
	h := newHarness(t)
	d := h.start("ivanova", "audit", -1).DocID // quorum 2 of 3 auditors
	tasks := map[string]int64{"belova": h.task(d, "belova"), "chernov": h.task(d, "chernov"), "zaitsev": h.task(d, "zaitsev")}
	var wg sync.WaitGroup
	errs := map[string]error{}
	var mu sync.Mutex
	for who, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := h.decideTask(task, who, flows.ActionApprove, "")
			mu.Lock()
			errs[who] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for who, err := range errs {
		switch {
		case err == nil:
			ok++
		case flows.ErrorCode(err) == "task_closed":
			conflicts++ // the third came after the quorum closed the stage
		default:
			t.Fatalf("%s: %v", who, err)
		}
	}
	if ok != 2 || conflicts != 1 {
		t.Fatalf("%d recorded, %d conflicts; want 2 and 1", ok, conflicts)
	}
	doc := h.doc(d)
	completed := 0
	events, err := h.db.DocumentEvents(h.ctx, d)
	h.must(err)
	for _, e := range events {
		if e.Kind == "stage_completed" {
			completed++
		}
	}
	if completed != 1 || doc.CurrentRound().Stage != 1 {
		t.Fatalf("stage completed %d times, round at stage %d", completed, doc.CurrentRound().Stage)
	}
	h.wantOpen(d, "petrov", "sidorov")
}

// TestManagerReadsWhatTheDigestNames: a manager who is neither a viewer
// nor on the route may read a document while one of their people holds
// its task open — the digest and the escalations name it to them — and
// not once that task is closed.
func TestManagerReadsWhatTheDigestNames(t *testing.T) {
	people := []*flows.Person{
		{ID: "boss", Name: "Начальник"},
		{ID: "worker", Name: "Исполнитель", Manager: "boss"},
		{ID: "author", Name: "Автор"},
	}
	dir := flows.NewDirectory("Ромашка", "ru", time.UTC, nil, people, nil)
	d := &flows.Document{Initiator: "author", State: flows.StateInApproval,
		Tasks: []flows.Task{{ID: 1, Assignee: "worker", State: flows.TaskOpen}}}
	if !flows.MayRead(dir, d, "boss") {
		t.Fatal("the manager of an approver holding the task cannot read it")
	}
	if flows.MayRead(dir, d, "stranger") || flows.MayRead(dir, d, "") {
		t.Fatal("a stranger reads it")
	}
	d.Tasks[0].State = flows.TaskApproved
	if flows.MayRead(dir, d, "boss") {
		t.Fatal("the manager still reads it after the task closed")
	}
}
