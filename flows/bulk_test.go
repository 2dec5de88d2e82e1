package flows_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/viza-app/viza/flows"
)

// deliverAll runs the dispatcher until every request has reached its
// holder, as the service does.
func (h *harness) deliverAll() {
	h.t.Helper()
	ch := &recorder{name: "chat", fail: func(flows.Notification, int) error { return nil }}
	disp := flows.NewDispatcher(h.db, h.eng.Directory, h.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), ch)
	for range 3 {
		if _, err := disp.Step(h.ctx); err != nil {
			h.t.Fatal(err)
		}
	}
}

func memoTask(h *harness, amount int64) (docID, task int64) {
	out := h.start("ivanova", "memo", amount, "petrov")
	return out.DocID, h.task(out.DocID, "petrov")
}

// TestBulkApprove: each task is its own decision marked as made in bulk;
// the answer is per task; the action repeated approves nothing twice; and
// each rule keeps its task out — a task whose request has not reached the
// person, one with their blocking remark open, a type that forbids bulk,
// an amount over the type's cap, a task already closed.
func TestBulkApprove(t *testing.T) {
	h := newHarness(t)
	var tasks []int64
	var docs []int64
	for range 3 {
		d, tk := memoTask(h, 1000)
		docs, tasks = append(docs, d), append(tasks, tk)
	}
	// Not delivered yet: nothing goes.
	res, err := h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b0", Actor: "petrov", TaskIDs: tasks})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		wantKind(t, r.Err, flows.KindConflict, "bulk_not_seen")
	}
	h.deliverAll()
	res, err = h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b1", Actor: "petrov", TaskIDs: tasks})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.TaskID != tasks[i] {
			t.Fatalf("task %d: %+v", tasks[i], r)
		}
		d := h.doc(docs[i])
		last := d.Decisions[len(d.Decisions)-1]
		if d.State != flows.StateApproved || last.Kind != flows.ActionApprove || !last.Bulk || last.Actor != "petrov" {
			t.Fatalf("document %d: %s, %+v", docs[i], d.State, last)
		}
	}
	// The same action again: the same outcomes, no second decision.
	again, _ := h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b1", Actor: "petrov", TaskIDs: tasks})
	for i, r := range again {
		if r.Err != nil || !r.Outcome.Repeated || len(h.doc(docs[i]).Decisions) != 1 {
			t.Fatalf("repeated: %+v, decisions %+v", r, h.doc(docs[i]).Decisions)
		}
	}
	// Another action on the closed tasks is told they are closed.
	res, _ = h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b2", Actor: "petrov", TaskIDs: tasks[:1]})
	wantKind(t, res[0].Err, flows.KindConflict, "task_closed")

	// Someone else's task is not theirs to approve, in bulk or not.
	d4, t4 := memoTask(h, 1000)
	h.deliverAll()
	res, _ = h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b3", Actor: "sidorov", TaskIDs: []int64{t4}})
	wantKind(t, res[0].Err, flows.KindForbidden, "not_your_task")

	// Their own blocking remark, still open in the next round.
	h.must(h.decideTask(t4, "petrov", flows.ActionReject, "Нет подписи"))
	h.must(h.upload(d4, "ivanova", "Подписано"))
	h.deliverAll()
	res, _ = h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b4", Actor: "petrov", TaskIDs: []int64{h.task(d4, "petrov")}})
	wantKind(t, res[0].Err, flows.KindConflict, "bulk_own_remark")

	// The type's rules.
	memo, _ := h.dir.Type("memo")
	memo.BulkMaxMinor = 500_00
	_, big := memoTask(h, 600) // roubles: 600.00 over a cap of 500.00
	_, small := memoTask(h, 400)
	h.deliverAll()
	res, _ = h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b5", Actor: "petrov", TaskIDs: []int64{big, small}})
	wantKind(t, res[0].Err, flows.KindForbidden, "bulk_over_limit")
	if res[1].Err != nil {
		t.Fatalf("a memo under the cap: %v", res[1].Err)
	}
	memo.NoBulk = true
	_, barred := memoTask(h, 100)
	h.deliverAll()
	res, _ = h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b6", Actor: "petrov", TaskIDs: []int64{barred}})
	wantKind(t, res[0].Err, flows.KindForbidden, "bulk_forbidden")
	// One by one the same task is approved: the rules are bulk's only.
	h.must(h.decideTask(barred, "petrov", flows.ActionApprove, ""))

	if _, err := h.eng.BulkApprove(h.ctx, flows.BulkApproveCmd{Key: "b7", Actor: "petrov"}); flows.ErrorCode(err) != "nothing_selected" {
		t.Fatalf("empty: %v", err)
	}
}
