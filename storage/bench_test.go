package storage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

// BenchmarkDueReminders finds the due reminders among those of 1,000,000
// open tasks (4,000,000 pending steps).
func BenchmarkDueReminders(b *testing.B) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(b.TempDir(), "viza.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	if err := storage.SeedOpenTasks(db, 1_000_000, 200, now.UnixNano()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		due, err := db.DueReminders(ctx, now, 500)
		if err != nil {
			b.Fatal(err)
		}
		if len(due) != 200 {
			b.Fatalf("%d due, want 200", len(due))
		}
	}
}

// BenchmarkAllDocuments reads 2,000 documents the way the dashboard does on
// every view; after the first read, only changed documents are decoded.
func BenchmarkAllDocuments(b *testing.B) {
	ctx := context.Background()
	rig := storagetest.NewRig(b, false)
	for i := range 2000 {
		if _, err := rig.Engine.Start(ctx, flows.StartCmd{Key: fmt.Sprint("s", i), Actor: "ivanova", TypeID: "memo", Title: "bench",
			Approvers: []flows.PersonID{"petrov", "sidorov"}, Parallel: true,
			File: flows.Upload{Name: "m.txt", Content: strings.NewReader(fmt.Sprint("doc ", i))}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		docs, err := rig.DB.AllDocuments(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(docs) != 2000 {
			b.Fatalf("%d documents, want 2000", len(docs))
		}
	}
}

// BenchmarkDashboardFilters reads one dashboard page of 50 under each of
// its filters from a register of 3,000 documents (make scale measures the
// same views at 100,000 through the web).
func BenchmarkDashboardFilters(b *testing.B) {
	ctx := context.Background()
	rig := storagetest.NewRig(b, false)
	start := rig.Clock.Now()
	for i := range 3000 {
		if _, err := rig.Engine.Start(ctx, flows.StartCmd{Key: fmt.Sprint("s", i), Actor: "ivanova", TypeID: "memo", Title: fmt.Sprint("Записка ", i),
			AmountMinor: int64(i%500) * 100_000_00, HasAmount: true, Approvers: []flows.PersonID{[]flows.PersonID{"petrov", "sidorov", "director"}[i%3]},
			File: flows.Upload{Name: "m.txt", Content: strings.NewReader(fmt.Sprint("doc ", i))}}); err != nil {
			b.Fatal(err)
		}
		rig.Clock.Advance(10 * time.Minute)
	}
	min, max := int64(9*100_000_00), int64(10*100_000_00)
	for _, bc := range []struct {
		name string
		q    storage.DocQuery
	}{
		{"all", storage.DocQuery{}},
		{"approver", storage.DocQuery{Approver: "petrov"}},
		{"amount", storage.DocQuery{AmountMin: &min, AmountMax: &max}},
		{"one_day", storage.DocQuery{StartedFrom: start.Add(24 * time.Hour), StartedBefore: start.Add(48 * time.Hour)}},
		{"all_days", storage.DocQuery{StartedFrom: start}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := bc.q
			q.Limit = 50
			for b.Loop() {
				page, err := rig.DB.DocumentPage(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(page) == 0 {
					b.Fatal("empty page")
				}
			}
		})
	}
}
