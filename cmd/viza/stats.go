package main

import (
	"context"
	"time"
)

// worktime is the measure of working time of the calendar in force.
func (m *Main) worktime() func(from, to time.Time) time.Duration {
	m.mu.Lock()
	c := m.Calendar
	m.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.WorkingBetween
}

// backfillFacts writes, once per database, analytics' rows of the
// documents made before this version. A failure leaves the figures short,
// not the service.
func (m *Main) backfillFacts(ctx context.Context) {
	if n, err := m.DB.BackfillFacts(ctx); err != nil && ctx.Err() == nil {
		m.Log.Error("analytics backfill", "err", err)
	} else if n > 0 {
		m.Log.Info("analytics backfilled", "documents", n)
	}
}
