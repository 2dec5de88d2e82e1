package health_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/flows"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func fast(l health.Link) health.Link {
	l.Min, l.Max, l.Park, l.Timeout = time.Millisecond, 4*time.Millisecond, time.Hour, time.Second
	return l
}

// TestSupervisorConnectsInTheBackground: a platform that refuses
// connections is retried with backoff, says so (the secret in its error
// masked), and once it answers the component is up and open.
func TestSupervisorConnectsInTheBackground(t *testing.T) {
	reg := &health.Registry{}
	var ups atomic.Int32
	reg.Changed = func(st health.Status) {
		if st.State == health.Up {
			ups.Add(1)
		}
	}
	c := reg.Add("telegram", "123456:SECRET-TOKEN")
	var calls atomic.Int32
	logs := &logBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Supervise(ctx, fast(health.Link{Log: slog.New(slog.NewTextHandler(logs, nil)), Connect: func(context.Context) error {
			if calls.Add(1) <= 3 {
				return errors.New("dial https://api.example/bot123456:SECRET-TOKEN/getMe: connection refused")
			}
			return nil
		}}))
	}()
	until(t, "up", c.Open)
	if st := c.Status(); st.State != health.Up || st.Attempts != 0 || calls.Load() != 4 {
		t.Fatalf("status %+v after %d calls", st, calls.Load())
	}
	if ups.Load() != 1 {
		t.Fatalf("the change hook saw %d ups", ups.Load())
	}
	if strings.Contains(logs.String(), "SECRET-TOKEN") || !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("logs: %s", logs.String())
	}
	cancel()
	<-done
}

// TestSupervisorParksARefusal: a permanent refusal parks the channel with
// one error line however often it is asked again, and Retry asks again at
// once instead of after the park.
func TestSupervisorParksARefusal(t *testing.T) {
	reg := &health.Registry{}
	c := reg.Add("slack")
	var calls atomic.Int32
	var refuse atomic.Bool
	refuse.Store(true)
	logs := &logBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Supervise(ctx, fast(health.Link{Log: slog.New(slog.NewTextHandler(logs, nil)),
		Parked: func(reason string) string { return "канал приостановлен: " + reason },
		Connect: func(context.Context) error {
			calls.Add(1)
			if refuse.Load() {
				return &flows.Error{Kind: flows.KindPermanent, Code: "slack_rejected", Detail: "invalid_auth"}
			}
			return nil
		}}))
	until(t, "failed", func() bool { return c.Status().State == health.Failed })
	for range 3 {
		n := calls.Load()
		c.Retry()
		until(t, "another try", func() bool { return calls.Load() > n })
	}
	if got := strings.Count(logs.String(), "канал приостановлен"); got != 1 {
		t.Fatalf("the parked line was logged %d times:\n%s", got, logs.String())
	}
	if c.Open() || !strings.Contains(c.Status().Reason, "invalid_auth") {
		t.Fatalf("status %+v", c.Status())
	}
	refuse.Store(false)
	c.Retry()
	until(t, "up after the fix", c.Open)
}

// TestTroubleProbesUntilThePlatformAnswers: a send that finds the
// platform gone closes the gate at once; the supervisor probes (not a
// full connect) until it answers, and opens it again.
func TestTroubleProbesUntilThePlatformAnswers(t *testing.T) {
	reg := &health.Registry{}
	c := reg.Add("bitrix24")
	var connects, probes atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Supervise(ctx, fast(health.Link{Log: slog.New(slog.DiscardHandler),
		Connect: func(context.Context) error { connects.Add(1); return nil },
		Probe: func(context.Context) error {
			if probes.Add(1) < 3 {
				return errors.New("503 Service Unavailable")
			}
			return nil
		}}))
	until(t, "up", c.Open)
	c.Trouble(errors.New("read: connection reset by peer"))
	if c.Open() {
		t.Fatal("the gate stayed open after trouble")
	}
	until(t, "up again", c.Open)
	if connects.Load() != 1 || probes.Load() != 3 {
		t.Fatalf("connects %d, probes %d", connects.Load(), probes.Load())
	}
}

// TestKeepRestartsAFailedIntake: an intake loop that fails is reported as
// trouble and started again once the platform answers; it never starts
// before the channel is up.
func TestKeepRestartsAFailedIntake(t *testing.T) {
	reg := &health.Registry{}
	c := reg.Add("telegram")
	var runs atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		c.Keep(ctx, slog.New(slog.DiscardHandler), func(ctx context.Context) error {
			if runs.Add(1) == 1 {
				return errors.New("setWebhook: bad gateway")
			}
			<-ctx.Done()
			return nil
		})
	}()
	if c.WaitUp(closedChan()) || runs.Load() != 0 {
		t.Fatal("the intake ran before the channel was up")
	}
	go c.Supervise(ctx, fast(health.Link{Log: slog.New(slog.DiscardHandler), Connect: func(context.Context) error { return nil }}))
	until(t, "the intake started again", func() bool { return runs.Load() == 2 })
	cancel()
	<-kept
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// TestTroubleRightAfterRecoveryIsNotAnOutage: a send failing again within
// a minute of a probe that found the platform there does not close the
// gate: that message fails on its own (and is counted as such), the
// channel stays open for everyone else's.
func TestTroubleRightAfterRecoveryIsNotAnOutage(t *testing.T) {
	reg := &health.Registry{}
	c := reg.Add("telegram")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Supervise(ctx, fast(health.Link{Log: slog.New(slog.DiscardHandler), Connect: func(context.Context) error { return nil }}))
	until(t, "up", c.Open)
	c.Trouble(errors.New("EOF"))
	until(t, "up after the probe", c.Open)
	c.Trouble(errors.New("EOF"))
	if !c.Open() {
		t.Fatal("a failure right after recovery closed the gate again")
	}
}
