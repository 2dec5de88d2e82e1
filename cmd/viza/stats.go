package main

import (
	"context"
	"time"

	"github.com/viza-app/viza/stats"
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
	// The year's day tallies made now, not by the first manager to ask.
	if m.Stats == nil {
		return
	}
	from, to := stats.Year.Span(m.Clock.Now())
	if _, err := m.Stats.All(ctx, stats.Query{From: from, To: to}, "ru"); err != nil && ctx.Err() == nil {
		m.Log.Warn("analytics warm-up", "err", err)
	}
}
