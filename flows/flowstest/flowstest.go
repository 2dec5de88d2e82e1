// Package flowstest has helpers for tests of the core and its adapters: a
// clock the test moves by hand.
package flowstest

import (
	"sync"
	"time"
)

// Clock is a manual clock; the zero value starts at 2026-11-30 10:00 MSK, a
// Monday morning.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Start is the default start time.
var Start = time.Date(2026, 11, 30, 10, 0, 0, 0, time.FixedZone("MSK", 3*3600))

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now implements flows.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Start
	}
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.Now()
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
