package slack

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"
)

// tiers are Slack's calls a minute per method and workspace for the
// methods used (docs.slack.dev/apis/web-api/rate-limits); chat.postMessage
// is limited per channel and across the workspace instead.
var tiers = map[string]int{
	"conversations.open": 50, "users.info": 100, "users.lookupByEmail": 50, "views.open": 100, "views.publish": 100,
	"files.getUploadURLExternal": 100, "files.completeUploadExternal": 100, "chat.update": 50, "chat.postEphemeral": 100,
	"auth.test": 100,
}

// limits paces calls to stay under Slack's limits instead of hitting them:
// a token bucket per method tier, one gap per channel, and a workspace
// rate for messages.
type limits struct {
	gap       time.Duration
	workspace *rate.Limiter
	methods   map[string]*rate.Limiter

	mu   sync.Mutex
	next map[string]time.Time // channel → when the next message may go
}

func newLimits(cfg Config) *limits {
	// The workspace's messages go at 95% of its rate: requests that leave
	// evenly spaced may reach Slack closer together, and Slack counts them
	// as they arrive.
	l := &limits{gap: cfg.PerChannel, workspace: rate.NewLimiter(cfg.Workspace*0.95, 1), methods: map[string]*rate.Limiter{},
		next: map[string]time.Time{}}
	for m, perMinute := range tiers {
		if v, ok := cfg.Tiers[m]; ok {
			perMinute = v
		}
		// Slack counts a method's calls over a minute. A bucket that holds
		// a burst and refills at the minute's allowance less that burst
		// never passes the allowance in any minute, and keeps 95% of it.
		burst := max(1, perMinute/20)
		l.methods[m] = rate.NewLimiter(rate.Limit(float64(max(1, perMinute-burst))/60), burst)
	}
	return l
}

func (l *limits) wait(ctx context.Context, method, channel string) error {
	if lim, ok := l.methods[method]; ok {
		if err := lim.Wait(ctx); err != nil {
			return err
		}
	}
	if method == "chat.postMessage" {
		if err := l.workspace.Wait(ctx); err != nil {
			return err
		}
	}
	if channel == "" {
		return nil
	}
	for {
		l.mu.Lock()
		now := time.Now()
		at := l.next[channel]
		if !now.Before(at) {
			l.next[channel] = now.Add(l.gap + l.gap/20)
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		t := time.NewTimer(at.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// call runs one Web API call within the limits. A 429 waits the
// Retry-After Slack gave and tries again, as long as ctx lasts: a storm of
// them delays what is sent, it never drops it.
func (t *Transport) call(ctx context.Context, method, channel string, fn func(context.Context) error) error {
	for {
		if err := t.limits.wait(ctx, method, channel); err != nil {
			return err
		}
		err := fn(ctx)
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			return err
		}
		wait := max(rl.RetryAfter, time.Second)
		t.log.Info("slack asked to slow down", "method", method, "wait", wait)
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return err
		case <-tm.C:
		}
	}
}
