package flows

import (
	"context"
	"fmt"
	"sync"
)

// MaxBulk is the most tasks one approval in bulk takes.
const MaxBulk = 100

// BulkApproveCmd approves several of a person's tasks in one action: each
// is its own decision, marked as made in bulk.
type BulkApproveCmd struct {
	Key     string
	Actor   PersonID
	TaskIDs []int64
}

// BulkResult is what came of one task of an approval in bulk: its
// outcome, or why it was not approved (Err: task_closed,
// bulk_forbidden…).
type BulkResult struct {
	TaskID  int64
	Outcome Outcome
	Err     error
}

// BulkApprove approves each task as its own command, all at once: the
// writer commits them together (group commit), and a task that may not be
// approved in bulk does not hold back the others. Each task's command has
// its own idempotency key, so the action repeated approves nothing twice.
func (e *Engine) BulkApprove(ctx context.Context, c BulkApproveCmd) ([]BulkResult, error) {
	if len(c.TaskIDs) == 0 {
		return nil, Errorf(KindInvalid, "nothing_selected", "no task")
	}
	if len(c.TaskIDs) > MaxBulk {
		return nil, Errorf(KindInvalid, "too_many", "%d tasks over %d", len(c.TaskIDs), MaxBulk)
	}
	out := make([]BulkResult, len(c.TaskIDs))
	var wg sync.WaitGroup
	for i, id := range c.TaskIDs {
		wg.Go(func() {
			o, err := e.Decide(ctx, DecideCmd{Key: fmt.Sprintf("%s:%d", c.Key, id), Actor: c.Actor, TaskID: id,
				Action: ActionApprove, Bulk: true})
			out[i] = BulkResult{TaskID: id, Outcome: o, Err: err}
		})
	}
	wg.Wait()
	return out, nil
}

// mayBulk holds an approval in bulk to its rules: only an approval, never
// of a type that forbids it or over the type's amount, never while the
// person has a blocking remark open on the document, and never of a
// version whose request has not reached them.
func (o *op) mayBulk(c DecideCmd, t *Task, forWhom PersonID) error {
	d := o.d
	if c.Action != ActionApprove || t.Kind != KindApprove {
		return Errorf(KindInvalid, "bulk_only_approve", "%s on a %s task in bulk", c.Action, t.Kind)
	}
	if dt, ok := o.dir.Type(d.TypeID); ok {
		if dt.NoBulk {
			return Errorf(KindForbidden, "bulk_forbidden", "type %s", d.TypeID)
		}
		if dt.BulkMaxMinor > 0 && d.HasAmount && d.AmountMinor > dt.BulkMaxMinor {
			return Errorf(KindForbidden, "bulk_over_limit", "%d over %d", d.AmountMinor, dt.BulkMaxMinor)
		}
	}
	for _, r := range d.OpenBlockingRemarks() {
		if r.Author == c.Actor || r.Owner == c.Actor || (forWhom != "" && r.Owner == forWhom) {
			return Errorf(KindConflict, "bulk_own_remark", "remark %d open", r.ID)
		}
	}
	sent, err := o.tx.RequestDelivered(d.ID, t.ID)
	if err != nil {
		return err
	}
	if !sent {
		return Errorf(KindConflict, "bulk_not_seen", "the request of task %d has not reached %s", t.ID, t.Assignee)
	}
	return nil
}
