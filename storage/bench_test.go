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
