package health

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/viza-app/viza/flows"
)

// Link is how a supervisor reaches one platform.
type Link struct {
	// Connect is the handshake with the platform (check the token,
	// register the bot and its commands, set the webhook). It is repeated
	// after every failure, so it must be idempotent.
	Connect func(ctx context.Context) error
	// Probe asks an already connected platform whether it is still there
	// (after a send failed); nil: Connect again.
	Probe func(ctx context.Context) error
	// Parked renders the one line logged when the platform refuses for
	// good, in the company's language; reason has its secrets masked.
	Parked func(reason string) string
	Log    *slog.Logger

	// Min and Max bound the backoff between attempts (default 1 s and
	// 2 min); Park is how long a refused channel waits before it asks
	// again (default 15 min); Timeout bounds one attempt (default 30 s).
	Min, Max, Park, Timeout time.Duration
}

func (l *Link) defaults() {
	if l.Min == 0 {
		l.Min = time.Second
	}
	if l.Max == 0 {
		l.Max = 2 * time.Minute
	}
	if l.Park == 0 {
		l.Park = 15 * time.Minute
	}
	if l.Timeout == 0 {
		l.Timeout = 30 * time.Second
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
	if l.Probe == nil {
		l.Probe = l.Connect
	}
}

// Permanent reports whether a platform's refusal will not change by
// retrying soon: the platform said so (a bad token, a method it lacks),
// as the transport classified it.
func Permanent(err error) bool { return flows.ErrorKind(err) == flows.KindPermanent }

// Supervise keeps c connected to its platform until ctx ends: it connects
// in the background with backoff and jitter, parks the channel on a
// permanent refusal and asks again after Park, and after Trouble probes
// until the platform answers. It returns when ctx ends, never with an
// error: a platform's failure is the channel's state, not the process's.
func (c *Component) Supervise(ctx context.Context, l Link) {
	l.defaults()
	log := l.Log.With("channel", c.name)
	connected := false
	for attempt := 0; ctx.Err() == nil; {
		call := l.Connect
		if connected {
			call = l.Probe
		}
		actx, cancel := context.WithTimeout(ctx, l.Timeout)
		err := call(actx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if c.Status().State != Up || attempt > 0 {
				log.Info("channel up", "after_attempts", attempt+1)
			}
			if connected {
				c.mu.Lock()
				c.recovered = c.now()
				c.mu.Unlock()
			}
			c.set(Up, "", true)
			connected, attempt = true, 0
			// Up: wait until a send reports trouble.
			select {
			case <-ctx.Done():
				return
			case <-c.trouble:
			}
			continue
		}
		was := c.Status()
		wait := backoff(attempt, l.Min, l.Max)
		if Permanent(err) {
			c.set(Failed, err.Error(), false)
			st := c.Status()
			if was.State != Failed || was.Reason != st.Reason {
				msg := st.Reason
				if l.Parked != nil {
					msg = l.Parked(st.Reason)
				}
				log.Error(msg, "state", Failed, "reason", st.Reason, "retry_in", l.Park)
			}
			wait = l.Park
		} else {
			c.set(Connecting, err.Error(), false)
			st := c.Status()
			// Said when it starts and then now and again, not at every try.
			if was.State != Connecting || was.Reason != st.Reason || attempt%10 == 0 {
				log.Warn("channel cannot reach its platform; trying again", "state", Connecting, "reason", st.Reason,
					"attempt", attempt+1, "wait", wait.Round(time.Millisecond))
			}
		}
		attempt++
		if !c.pause(ctx, wait) {
			return
		}
	}
}

// pause waits d, or less when Retry asks to look now; it reports whether
// ctx is still alive.
func (c *Component) pause(ctx context.Context, d time.Duration) bool { return wait(ctx, d, c.trouble) }

// backoff doubles from min up to max, with up to a quarter of jitter
// either way, so that replicas and channels do not knock in step.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min << uint(attempt)
	if d <= 0 || d > max {
		d = max
	}
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

// wait waits d, or until wake (nil: never) says to go on; it reports
// whether ctx is still alive. Keep waits without wake: a trouble signal is
// the supervisor's to take.
func wait(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// Keep runs a channel's intake (its poll loop, its socket) once the
// channel is up, and again after it fails: a failure is reported as
// trouble, so the supervisor reaches the platform again before the intake
// restarts. It returns when ctx ends.
func (c *Component) Keep(ctx context.Context, log *slog.Logger, run func(ctx context.Context) error) {
	for attempt := 0; ; attempt++ {
		if !c.WaitUp(ctx.Done()) {
			return
		}
		err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			return
		}
		log.Warn("channel intake stopped; restarting once the platform answers", "channel", c.name, "err", err)
		c.Trouble(err)
		if !wait(ctx, backoff(min(attempt, 6), time.Second, time.Minute), nil) {
			return
		}
	}
}
