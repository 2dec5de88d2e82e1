package storagetest

import (
	"context"
	"fmt"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
)

// SeedPeople is how many approvers SeedFacts spreads tasks over, as a
// company of a couple of thousand has.
const SeedPeople = 200

// SeedTypes are the document types SeedFacts starts.
var SeedTypes = []string{"contract", "memo", "invoice", "supplement"}

// SeedFacts writes the facts of n documents started over a year from
// start, three tasks each (one in seven rejected, one in eleven decided by
// a deputy), over SeedPeople approvers and SeedTypes, straight into
// analytics' tables, for benchmarks and tests that need a large history
// fast. The initiator is "ivanova".
func SeedFacts(ctx context.Context, db *storage.DB, start time.Time, n int) error {
	person := func(i int) flows.PersonID { return flows.PersonID(fmt.Sprintf("p%03d", i%SeedPeople)) }
	step := time.Duration(int64(365*24*time.Hour) / int64(n))
	var tasks []stats.TaskFact
	var docs []stats.DocFact
	for i := range n {
		at := start.Add(time.Duration(i) * step)
		typ := SeedTypes[i%len(SeedTypes)]
		d := stats.DocFact{ID: int64(i + 1), Type: typ, Initiator: "ivanova", Started: at, Rounds: 1 + i%7/6, Rejected: i%7 == 6,
			State: flows.StateDone}
		t := at
		for s := range 3 {
			took := time.Duration(30+(i*37+s*101)%(60*30)) * time.Minute
			f := stats.TaskFact{ID: int64(3*i + s + 1), DocID: d.ID, Type: typ, Stage: s, Kind: flows.KindApprove,
				Holder: person(i*7 + s*13), Actor: person(i*7 + s*13), Round: 1, Opened: t, Due: t.Add(8 * time.Hour), Closed: t.Add(took),
				State: flows.TaskApproved}
			if i%7 == 6 && s == 0 {
				f.State = flows.TaskRejected
			}
			if i%11 == 10 {
				f.Actor = person(i*7 + s*13 + 1)
			}
			tasks = append(tasks, f)
			t = t.Add(took)
		}
		d.Approved, d.Done = t, t
		docs = append(docs, d)
	}
	if err := db.InsertFacts(ctx, tasks, docs); err != nil {
		return fmt.Errorf("seed facts: %w", err)
	}
	return nil
}
