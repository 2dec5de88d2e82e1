package main

import (
	"context"
	"fmt"
	"time"

	"github.com/viza-app/viza/storage"
)

// compactEvery is how often bookkeeping past its retention is removed.
const compactEvery = time.Hour

// retention reads the configuration's retention periods (validated with
// it).
func (m *Main) retention() (storage.Retention, error) {
	n, err := time.ParseDuration(m.Config.Retention.Notifications)
	if err != nil {
		return storage.Retention{}, fmt.Errorf("retention.notifications: %w", err)
	}
	d, err := time.ParseDuration(m.Config.Retention.Dialogues)
	if err != nil {
		return storage.Retention{}, fmt.Errorf("retention.dialogues: %w", err)
	}
	return storage.Retention{Notifications: n, Dialogues: d}, nil
}

// compactLoop removes delivered notifications and chat leftovers past
// their retention, a minute after start and then hourly, so that the
// database grows with documents, not with their bookkeeping.
func (m *Main) compactLoop(ctx context.Context) error {
	r, err := m.retention()
	if err != nil {
		return err
	}
	wait := time.Minute
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = compactEvery
		start := time.Now()
		c, err := m.DB.Compact(ctx, r, m.Clock.Now())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.Log.Error("compaction", "err", err)
			continue
		}
		if c != (storage.Compacted{}) {
			m.Log.Info("compacted", "deliveries", c.Deliveries, "notifications", c.Notifications, "chat_states", c.States,
				"inbound", c.Inbound, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}
