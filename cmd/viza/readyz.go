package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/viza-app/viza/bot/health"
)

// readyz says where the service stands, component by component: the
// database, then each channel (up, connecting, failed with the reason,
// secrets masked). It answers 503 only when the database does not answer:
// a platform's outage is that channel's state, and a load balancer that
// took the replica out for it would take the web pages and the connector
// with it. JSON when asked for (Accept: application/json or ?format=json).
func (m *Main) readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		db := health.Status{Name: "database", State: health.Up}
		code := http.StatusOK
		if err := m.DB.Ping(r.Context()); err != nil {
			db.State, db.Reason, code = health.Failed, err.Error(), http.StatusServiceUnavailable
		}
		all := append([]health.Status{db}, m.Health.All()...)
		if st, ok := m.sealStatus(); ok {
			all = append(all, st)
		}
		if st, ok := m.verifierStatus(); ok {
			all = append(all, st)
		}
		if st, ok := m.dssStatus(); ok {
			all = append(all, st)
		}
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(map[string]any{"ready": code == http.StatusOK, "components": all})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		if code == http.StatusOK {
			fmt.Fprintln(w, "ready")
		} else {
			fmt.Fprintln(w, "not ready")
		}
		for _, st := range all {
			line := st.Name + " " + string(st.State)
			if !st.Since.IsZero() && st.State != health.Up {
				line += fmt.Sprintf(" for %s", time.Since(st.Since).Round(time.Second))
			}
			if st.Reason != "" {
				line += ": " + st.Reason
			}
			fmt.Fprintln(w, line)
		}
	})
}

// ChannelsUp waits until every channel's platform answered, or ctx ends.
// The service never waits for it; a test does, before it talks to a fake.
func (m *Main) ChannelsUp(ctx context.Context) error {
	for _, l := range m.links {
		if !l.comp.WaitUp(ctx.Done()) {
			return fmt.Errorf("%s is %s: %s", l.comp.Name(), l.comp.Status().State, l.comp.Status().Reason)
		}
	}
	return nil
}
