// Package health keeps where each outside dependency of the service stands
// — a messenger's platform above all — and supervises a channel's link to
// its platform.
//
// A platform is a dependency that fails: it is unreachable at start, slow,
// gone for an hour, or refuses the credentials. None of that may stop the
// process or another channel. So a channel connects in the background
// (Supervise), reconnecting with backoff and jitter; a permanent refusal
// parks it with one clear log line and a state an administrator sees on
// /readyz and /metrics; and while it is not up, the dispatcher holds its
// deliveries in the outbox instead of spending their attempts (Open).
package health

import (
	"slices"
	"sync"
	"time"

	"github.com/viza-app/viza/bot/secret"
)

// State is where a component stands.
type State string

const (
	// Connecting: not reached yet, or lost; being retried with backoff.
	Connecting State = "connecting"
	// Up: the platform answered and the channel works.
	Up State = "up"
	// Failed: the platform refused for a reason that retrying soon will
	// not change (a bad token, a method it does not have). The channel is
	// parked and tried again rarely.
	Failed State = "failed"
)

// Status is a component's state as it is shown.
type Status struct {
	Name   string    `json:"name"`
	State  State     `json:"state"`
	Reason string    `json:"reason,omitempty"` // secrets masked
	Since  time.Time `json:"since"`
	// Attempts counts the connection attempts since the last success.
	Attempts int `json:"attempts,omitempty"`
}

// Component is one dependency's state. It is safe for concurrent use.
type Component struct {
	name    string
	secrets []string
	now     func() time.Time
	changed func(Status)

	mu     sync.Mutex
	st     Status
	everUp bool
	// recovered is when a probe after trouble last found the platform
	// there: a send failing again soon after is that message's problem
	// (a proxy that drops uploads), not an outage, and is retried and
	// counted as any failure.
	recovered time.Time
	up        chan struct{} // closed while Up; replaced when it goes down
	trouble   chan struct{} // one pending "look again" for the supervisor
}

// Open reports whether the channel may be used now: the dispatcher sends
// its deliveries only while it is.
func (c *Component) Open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.State == Up
}

// Status returns the component's state now.
func (c *Component) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Name is the component's name (the channel's).
func (c *Component) Name() string { return c.name }

// Trouble tells the component that a call to its platform failed in a way
// that may mean the platform is gone (a refused connection, a timeout, a
// 5xx). The component stops taking deliveries until its supervisor has
// reached the platform again.
func (c *Component) Trouble(err error) {
	if c == nil || err == nil {
		return
	}
	c.mu.Lock()
	falseAlarm := !c.recovered.IsZero() && c.now().Sub(c.recovered) < recoveredFor
	c.mu.Unlock()
	if falseAlarm {
		return
	}
	c.set(Connecting, err.Error(), false)
	select {
	case c.trouble <- struct{}{}:
	default:
	}
}

// recoveredFor is how long after a probe found the platform there a
// failed send does not close the gate again.
const recoveredFor = time.Minute

// Retry asks the supervisor to try the platform now rather than at the
// end of its wait (an application was just installed, a configuration
// fixed).
func (c *Component) Retry() {
	if c == nil {
		return
	}
	select {
	case c.trouble <- struct{}{}:
	default:
	}
}

// Fine tells the component that a call to its platform just went through
// (a long poll answered): a channel that lost its platform is up again.
func (c *Component) Fine() {
	if c == nil {
		return
	}
	c.mu.Lock()
	ever := c.everUp
	c.mu.Unlock()
	if ever {
		c.set(Up, "", true)
	}
}

// WaitUp blocks until the component is up or done is closed; it reports
// whether it is up.
func (c *Component) WaitUp(done <-chan struct{}) bool {
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	select {
	case <-up:
		return true
	case <-done:
		return false
	}
}

// set moves the component to state; attempt counts a failed connection
// attempt. It calls the change hook outside the lock.
func (c *Component) set(state State, reason string, success bool) {
	reason = secret.String(reason, c.secrets...)
	c.mu.Lock()
	prev := c.st
	if prev.State == state && prev.Reason == reason && !success {
		c.st.Attempts++
		c.mu.Unlock()
		return
	}
	c.st.State, c.st.Reason = state, reason
	if prev.State != state {
		c.st.Since = c.now()
	}
	switch {
	case state == Up:
		c.st.Attempts = 0
		c.everUp = true
		select {
		case <-c.up:
		default:
			close(c.up)
		}
	default:
		c.st.Attempts++
		select {
		case <-c.up:
			c.up = make(chan struct{}) // closed: it was up; now it is not
		default:
		}
	}
	st, hook := c.st, c.changed
	c.mu.Unlock()
	if hook != nil && prev.State != state {
		hook(st)
	}
}

// Registry holds every component, in the order they were added, for
// /readyz and /metrics.
type Registry struct {
	// Now is the clock statuses are dated by; default time.Now.
	Now func() time.Time
	// Changed is told of every change of state (to wake the dispatcher
	// when a channel comes up).
	Changed func(Status)

	mu    sync.Mutex
	comps []*Component
}

// Add makes a component that starts Connecting. secrets are masked in the
// reasons it shows.
func (r *Registry) Add(name string, secrets ...string) *Component {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	c := &Component{name: name, secrets: slices.DeleteFunc(slices.Clone(secrets), func(s string) bool { return s == "" }),
		now: now, up: make(chan struct{}), trouble: make(chan struct{}, 1)}
	c.st = Status{Name: name, State: Connecting, Since: now()}
	c.changed = func(st Status) {
		if r.Changed != nil {
			r.Changed(st)
		}
	}
	r.mu.Lock()
	r.comps = append(r.comps, c)
	r.mu.Unlock()
	return c
}

// All returns every component's status, in the order they were added.
func (r *Registry) All() []Status {
	r.mu.Lock()
	comps := slices.Clone(r.comps)
	r.mu.Unlock()
	out := make([]Status, 0, len(comps))
	for _, c := range comps {
		out = append(out, c.Status())
	}
	return out
}
