package flows

import (
	"context"
	"sync"
	"time"
)

// Waker lets a background loop (the dispatcher, the reminder scheduler, the
// webhook sender, a register mirror) sleep until its next piece of work is
// due or until a commit wakes it, whichever comes first. The zero value is
// ready to use; wake-ups while the loop is busy are kept as one.
type Waker struct {
	once sync.Once
	ch   chan struct{}
}

func (w *Waker) init() { w.once.Do(func() { w.ch = make(chan struct{}, 1) }) }

// Wake asks the loop to look again now.
func (w *Waker) Wake() {
	w.init()
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Sleep waits d or a wake-up; it reports false when ctx has ended.
func (w *Waker) Sleep(ctx context.Context, d time.Duration) bool {
	w.init()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.ch:
	case <-t.C:
	}
	return true
}

// NextWait is how long a loop sleeps: until next when there is one
// (ok), at least 10 ms, and idle at most.
func NextWait(now, next time.Time, ok bool, idle time.Duration) time.Duration {
	if !ok {
		return idle
	}
	return min(max(next.Sub(now), 10*time.Millisecond), idle)
}

type fenceKey struct{}

// WithFence gives the jobs under ctx a fence: valid reports whether they
// may still do what only one process may do (the leader's lease holds).
func WithFence(ctx context.Context, valid func() bool) context.Context {
	return context.WithValue(ctx, fenceKey{}, valid)
}

// Fenced reports whether ctx's fence says its leader's work must stop now
// — before the context's end reaches the job. Without a fence, never.
func Fenced(ctx context.Context) bool {
	valid, ok := ctx.Value(fenceKey{}).(func() bool)
	return ok && !valid()
}
