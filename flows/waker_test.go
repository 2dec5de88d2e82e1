package flows

import (
	"context"
	"testing"
	"time"
)

func TestNextWait(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		next time.Time
		ok   bool
		want time.Duration
	}{
		{time.Time{}, false, time.Minute},
		{now.Add(20 * time.Second), true, 20 * time.Second},
		{now.Add(time.Hour), true, time.Minute},
		{now.Add(-time.Hour), true, 10 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := NextWait(now, tc.next, tc.ok, time.Minute); got != tc.want {
			t.Errorf("NextWait(%v, %v) = %v, want %v", tc.next, tc.ok, got, tc.want)
		}
	}
}

// TestWaker: a wake-up given while the loop is busy ends its next sleep at
// once; several count as one; an ended context ends the sleep with false.
func TestWaker(t *testing.T) {
	var w Waker
	w.Wake()
	w.Wake()
	start := time.Now()
	if !w.Sleep(context.Background(), time.Hour) || time.Since(start) > time.Second {
		t.Fatal("a pending wake-up did not end the sleep")
	}
	go func() { w.Wake() }()
	if !w.Sleep(context.Background(), time.Hour) {
		t.Fatal("woken, yet told the context ended")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if w.Sleep(ctx, time.Hour) {
		t.Fatal("an ended context did not end the sleep")
	}
	if !w.Sleep(context.Background(), time.Millisecond) {
		t.Fatal("a short sleep ended badly")
	}
}
