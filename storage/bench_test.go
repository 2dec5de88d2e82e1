package storage_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/viza-app/viza/storage"
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
