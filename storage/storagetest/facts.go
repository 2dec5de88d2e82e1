package storagetest

import (
	"context"
	"fmt"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
)

// SeedFacts writes the facts of n documents started over a year from
// start, three decided tasks each, straight into analytics' tables, for
// benchmarks that need a large history fast.
func SeedFacts(ctx context.Context, db *storage.DB, start time.Time, n int) error {
	people := []flows.PersonID{"petrov", "sidorov", "kuznetsova", "director"}
	step := time.Duration(int64(365*24*time.Hour) / int64(n))
	var tasks []stats.TaskFact
	var docs []stats.DocFact
	for i := range n {
		at := start.Add(time.Duration(i) * step)
		d := stats.DocFact{ID: int64(i + 1), Type: "contract", Initiator: "ivanova", Started: at, Rounds: 1 + i%7/6, Rejected: i%7 == 6,
			State: flows.StateDone}
		t := at
		for s := range 3 {
			took := time.Duration(30+(i*37+s*101)%(60*30)) * time.Minute
			tasks = append(tasks, stats.TaskFact{ID: int64(3*i + s + 1), DocID: d.ID, Type: "contract", Stage: s, Kind: flows.KindApprove,
				Holder: people[(i+s)%4], Actor: people[(i+s)%4], Round: 1, Opened: t, Due: t.Add(8 * time.Hour), Closed: t.Add(took),
				State: flows.TaskApproved})
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
