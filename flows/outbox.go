package flows

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Channel delivers notifications to people on one platform.
type Channel interface {
	Name() string
	// Reaches reports whether the person can be reached on this channel.
	Reaches(p *Person) bool
	// Deliver sends one notification. It returns a platform reference (a
	// message id) on success; a *Error of KindTransient to be retried later,
	// or any other error to give up on this delivery.
	Deliver(ctx context.Context, n Notification, p *Person) (ref string, err error)
}

// KindFilter is implemented by channels that carry only some kinds of
// notification (SMS carries the SMS step of the reminder ladder).
type KindFilter interface {
	Accepts(kind string) bool
}

// PersonKindFilter is implemented by channels whose choice depends on the
// person too (SMS carries everything to people on no messenger).
type PersonKindFilter interface {
	AcceptsFor(p *Person, kind string) bool
}

// Delivery is one notification on its way through one channel.
type Delivery struct {
	ID           int64
	Channel      string
	Attempts     int
	Notification Notification
}

// Outbox is the storage side of delivery.
type Outbox interface {
	// FanOut creates one pending delivery per channel that route returns
	// for each notification not yet fanned out, and marks it fanned out.
	FanOut(ctx context.Context, route func(Notification) []string, now time.Time) (int, error)
	// Due returns deliveries whose time has come, leaving out those of
	// the closed channels.
	Due(ctx context.Context, now time.Time, limit int, closed []string) ([]Delivery, error)
	Delivered(ctx context.Context, id int64, ref string, now time.Time) error
	Retry(ctx context.Context, id int64, next time.Time, reason string, now time.Time) error
	// Hold puts a delivery off to next without counting the attempt: its
	// channel lost its platform while sending it.
	Hold(ctx context.Context, id int64, next time.Time, reason string, now time.Time) error
	Failed(ctx context.Context, id int64, reason string, now time.Time) error
	// NextDue returns the earliest pending delivery time outside the
	// closed channels, or false.
	NextDue(ctx context.Context, closed []string) (time.Time, bool, error)
	// Reroute adds deliveries of a notification through more channels.
	Reroute(ctx context.Context, notificationID int64, channels []string, now time.Time) error
}

// Patient is implemented by a channel whose failures are worth retrying
// for longer than the dispatcher's default (a mail server may be down for
// hours, and mail is expected late rather than lost).
type Patient interface {
	MaxAttempts() int
}

// stepChannel is the one channel a ladder step's own kind goes through: an
// SMS step is an SMS, not a second chat reminder.
var stepChannel = map[string]string{NoteReminderSMS: SendSMS, NoteReminderEmail: SendEmail}

type attemptKey struct{}

// Attempt is how many times the dispatcher tried this delivery before the
// one under way (0 the first time), for a channel that degrades a message
// rather than lose it (a chat whose file will not go sends the card with
// a link instead).
func Attempt(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}

// Gated is implemented by a channel whose platform may be out of reach
// (a messenger): while Open reports false the dispatcher leaves its
// deliveries in the outbox, spending none of their attempts, and sends
// them once it opens. A platform's outage is waited out, not counted as
// the message's failure.
type Gated interface {
	Open() bool
}

// Pushes is implemented by a channel that pushes a notification to the
// person (a messenger, SMS, mail) and says false for one that only keeps
// it where the person looks (the web inbox): a person's Notify list
// chooses among the pushing ones.
type Pushes interface {
	Pushes() bool
}

// CodeUnreachable is the error code a channel returns when the person can
// no longer be reached there (a bot blocked by the user): the dispatcher
// then tries the person's other channels.
const CodeUnreachable = "recipient_unreachable"

// Dispatcher moves notifications from the outbox to channels. It keeps no
// state of its own: after a restart it goes on with what storage says is
// pending, and never resends what a channel confirmed.
type Dispatcher struct {
	Outbox      Outbox
	Channels    []Channel
	Directory   func() *Directory
	Clock       Clock
	Log         *slog.Logger
	MaxAttempts int           // default 12
	Idle        time.Duration // longest sleep without a wake-up; default 5 s
	Workers     int           // people served at once; default 32

	waker Waker
}

// Wake asks the dispatcher to look at the outbox now (after a commit).
func (d *Dispatcher) Wake() { d.waker.Wake() }

func (d *Dispatcher) init() {
	if d.MaxAttempts == 0 {
		d.MaxAttempts = 12
	}
	if d.Idle == 0 {
		d.Idle = 5 * time.Second
	}
	if d.Workers == 0 {
		d.Workers = 32
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
}

// NewDispatcher prepares a dispatcher; Run starts it.
func NewDispatcher(out Outbox, dir func() *Directory, clock Clock, log *slog.Logger, channels ...Channel) *Dispatcher {
	d := &Dispatcher{Outbox: out, Channels: channels, Directory: dir, Clock: clock, Log: log}
	d.init()
	return d
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	for {
		if _, err := d.Step(ctx); err != nil && ctx.Err() == nil {
			d.Log.Error("outbox step", "err", err)
		}
		next, ok, err := d.Outbox.NextDue(ctx, d.closed())
		if !d.waker.Sleep(ctx, NextWait(d.Clock.Now(), next, ok && err == nil, d.Idle)) {
			return nil
		}
	}
}

func (d *Dispatcher) route(n Notification) []string {
	p, ok := d.Directory().Person(n.To)
	if !ok {
		return nil
	}
	var names []string
	only, stepKind := stepChannel[n.Kind]
	for _, c := range d.Channels {
		if stepKind && c.Name() != only {
			continue
		}
		if !stepKind && len(p.Notify) > 0 && pushes(c) && !slices.Contains(p.Notify, c.Name()) {
			continue
		}
		if a, ok := c.(PersonKindFilter); ok {
			if !a.AcceptsFor(p, n.Kind) {
				continue
			}
		} else if a, ok := c.(KindFilter); ok && !a.Accepts(n.Kind) {
			continue
		}
		if c.Reaches(p) {
			names = append(names, c.Name())
		}
	}
	if len(names) == 0 {
		d.Log.Warn("no channel reaches person", "person", n.To, "doc", n.Number, "kind", n.Kind)
	}
	return names
}

func pushes(c Channel) bool {
	if p, ok := c.(Pushes); ok {
		return p.Pushes()
	}
	return true
}

// Step fans out new notifications and attempts every due delivery once.
// It returns how many deliveries it attempted.
func (d *Dispatcher) Step(ctx context.Context) (int, error) {
	d.init()
	now := d.Clock.Now()
	if _, err := d.Outbox.FanOut(ctx, d.route, now); err != nil {
		return 0, err
	}
	due, err := d.Outbox.Due(ctx, now, 200, d.closed())
	if err != nil {
		return 0, err
	}
	// One queue per person and channel keeps each person's messages in
	// order; queues run side by side, so one slow chat (a platform's
	// per-chat limit) does not hold up everyone else's.
	var order []string
	queues := map[string][]Delivery{}
	for _, dl := range due {
		k := dl.Channel + "\x00" + string(dl.Notification.To)
		if _, ok := queues[k]; !ok {
			order = append(order, k)
		}
		queues[k] = append(queues[k], dl)
	}
	sem := make(chan struct{}, d.Workers)
	errs := make(chan error, len(order))
	var wg sync.WaitGroup
	for _, k := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(q []Delivery) {
			defer func() { <-sem; wg.Done() }()
			for _, dl := range q {
				if err := d.deliver(ctx, dl); err != nil {
					errs <- err
					return
				}
			}
		}(queues[k])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return len(due), err
	}
	return len(due), nil
}

// closed names the channels whose platform is out of reach now.
func (d *Dispatcher) closed() []string {
	var out []string
	for _, c := range d.Channels {
		if g, ok := c.(Gated); ok && !g.Open() {
			out = append(out, c.Name())
		}
	}
	return out
}

func (d *Dispatcher) channel(name string) Channel {
	for _, c := range d.Channels {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func (d *Dispatcher) deliver(ctx context.Context, dl Delivery) error {
	n := dl.Notification
	log := d.Log.With("channel", dl.Channel, "person", n.To, "doc", n.Number, "kind", n.Kind, "delivery", dl.ID)
	c := d.channel(dl.Channel)
	p, ok := d.Directory().Person(n.To)
	if c == nil || !ok {
		log.Warn("delivery has no channel or person any more")
		return d.Outbox.Failed(ctx, dl.ID, "channel or person gone", d.Clock.Now())
	}
	ref, err := c.Deliver(context.WithValue(ctx, attemptKey{}, dl.Attempts), n, p)
	now := d.Clock.Now()
	// What the channel did must be recorded even when shutdown has begun:
	// a confirmed send left pending would be sent again after restart.
	rec := context.WithoutCancel(ctx)
	if err == nil {
		return d.Outbox.Delivered(rec, dl.ID, ref, now)
	}
	if ctx.Err() != nil {
		return nil // shutting down: it stays pending and goes after restart
	}
	var e *Error
	transient := errors.As(err, &e) && e.Kind == KindTransient
	if g, ok := c.(Gated); ok && transient && !g.Open() {
		// The send showed the platform gone: the delivery waits for the
		// channel to come back, keeping its attempts.
		log.Info("delivery held until the channel is back", "err", err)
		return d.Outbox.Hold(rec, dl.ID, now.Add(backoff(0)), err.Error(), now)
	}
	maxAttempts := d.MaxAttempts
	if p, ok := c.(Patient); ok {
		maxAttempts = max(maxAttempts, p.MaxAttempts())
	}
	if transient && dl.Attempts+1 < maxAttempts {
		// A platform's retry-after is exact; our own backoff is for
		// failures that say nothing about when to come back.
		wait := backoff(dl.Attempts)
		if e.RetryAfter > 0 {
			wait = e.RetryAfter
		}
		log.Info("delivery will be retried", "err", err, "attempt", dl.Attempts+1, "wait", wait)
		return d.Outbox.Retry(rec, dl.ID, now.Add(wait), err.Error(), now)
	}
	log.Error("delivery failed", "err", err, "attempt", dl.Attempts+1)
	if ferr := d.Outbox.Failed(rec, dl.ID, err.Error(), now); ferr != nil {
		return ferr
	}
	if ErrorCode(err) == CodeUnreachable {
		var others []string
		for _, name := range d.route(n) {
			if name != dl.Channel {
				others = append(others, name)
			}
		}
		if len(others) > 0 {
			log.Info("rerouting to the person's other channels", "channels", others)
			return d.Outbox.Reroute(rec, n.ID, others, now)
		}
	}
	return nil
}

// backoff doubles from 2 s up to 10 min.
func backoff(attempts int) time.Duration {
	w := 2 * time.Second << min(attempts, 9)
	return min(w, 10*time.Minute)
}
