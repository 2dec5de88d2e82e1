// Package webhooks tells other systems (1C, Directum, a CRM) what happens
// to documents: it turns the audit log into events (document.started,
// task.assigned, …), queues them per subscriber in storage, and posts them
// signed the Standard Webhooks way — at least once, in order per document,
// retried with backoff for three days, then marked failed for an operator
// to re-send ("viza webhooks retry").
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

// Redact shows a receiver's address without what may be a secret in it
// (a token in the path or the query, as many hook URLs carry): the scheme
// and the host, for logs and errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a webhook address)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Subscription is one receiver and the events it wants.
type Subscription struct {
	URL    string
	Events []string // empty: every event
	// Types are the document types whose events it gets; empty: every
	// type.
	Types  []string
	Secret []byte // the HMAC key: the decoded whsec_ secret
	// AllowPrivate lets it deliver to loopback, link-local and private
	// addresses (a receiver on the same host or network, a test); without
	// it they are refused when the connection is made, DNS answers
	// included.
	AllowPrivate bool
}

// wants reports whether the subscription gets event of a document of
// docType ("": not known yet, only the event is judged).
func (s Subscription) wants(event, docType string) bool {
	return (len(s.Events) == 0 || slices.Contains(s.Events, event)) &&
		(docType == "" || len(s.Types) == 0 || slices.Contains(s.Types, docType))
}

// ParseSecret decodes a Standard Webhooks secret: "whsec_" and base64 of
// the key bytes.
func ParseSecret(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return nil, errors.New(`a webhook secret starts with "whsec_" (whsec_ and base64 of 24 to 64 random bytes)`)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook secret is not base64 after whsec_: %w", err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("webhook secret holds %d bytes: want 24 to 64", len(key))
	}
	return key, nil
}

// Sign returns the webhook-signature header value of a message.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Store is the storage the sender reads events from and queues them in.
type Store interface {
	Head(ctx context.Context) (int64, string, error)
	AuditSince(ctx context.Context, afterID int64, limit int) ([]flows.AuditEvent, error)
	Document(ctx context.Context, id int64) (*flows.Document, error)
	WebhookCursor(ctx context.Context, sub string) (int64, bool, error)
	EnqueueWebhooks(ctx context.Context, sub string, cursor int64, events []storage.WebhookEvent, now time.Time) error
	DueWebhooksFor(ctx context.Context, sub string, now time.Time, limit int) ([]storage.WebhookDelivery, error)
	NextWebhookDueFor(ctx context.Context, sub string) (time.Time, bool, error)
	WebhookSent(ctx context.Context, id int64, now time.Time) error
	WebhookRetry(ctx context.Context, id int64, next time.Time, reason string, now time.Time) error
	WebhookFailed(ctx context.Context, id int64, reason string, now time.Time) error
}

// Links makes the expiring download addresses a result event carries.
type Links interface {
	VersionURL(ctx context.Context, number string, version int, expires time.Time) string
	SheetURL(ctx context.Context, number string, expires time.Time) string
	SignatureURL(ctx context.Context, number string, n int, expires time.Time) string
}

// Sender turns the audit log into events and delivers them.
type Sender struct {
	Store   Store
	Subs    []Subscription
	Links   Links
	LinkTTL time.Duration // default a week
	// Client sends to public addresses, PrivateClient to subscriptions
	// that allow private ones; defaults: 15 s per attempt, no redirect
	// followed, the destination checked when the connection is made.
	Client, PrivateClient *http.Client
	Clock                 flows.Clock
	Log                   *slog.Logger
	// GiveUpAfter is how long an event is retried before it is marked
	// failed; default 72 h.
	GiveUpAfter time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles from the one to the other; defaults 5 s and 1 h.
	MinBackoff, MaxBackoff time.Duration
	Idle                   time.Duration // longest sleep without a wake-up; default 5 s
	// Compare fills a version.added event's changes (nil: sent without).
	Compare compare.Comparer

	once  sync.Once
	waker flows.Waker
}

func (s *Sender) init() {
	s.once.Do(func() {
		if s.LinkTTL == 0 {
			s.LinkTTL = 7 * 24 * time.Hour
		}
		if s.Client == nil {
			s.Client = NewClient(false)
		}
		if s.PrivateClient == nil {
			s.PrivateClient = NewClient(true)
		}
		if s.GiveUpAfter == 0 {
			s.GiveUpAfter = 72 * time.Hour
		}
		if s.MinBackoff == 0 {
			s.MinBackoff = 5 * time.Second
		}
		if s.MaxBackoff == 0 {
			s.MaxBackoff = time.Hour
		}
		if s.Idle == 0 {
			s.Idle = 5 * time.Second
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
	})
}

// Subscribe registers the subscriptions seen for the first time, at the
// audit log's head. Call it before the service takes requests: a new
// subscription then gets every event from its first start on, none from
// before.
func (s *Sender) Subscribe(ctx context.Context) error {
	s.init()
	for _, sub := range s.Subs {
		if _, ok, err := s.Store.WebhookCursor(ctx, sub.URL); err != nil {
			return err
		} else if !ok {
			if err := s.fanOut(ctx, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// Wake asks the sender to look for new events now (after a commit).
func (s *Sender) Wake() { s.waker.Wake() }

// Run delivers until ctx ends. Each subscription is served by a loop of
// its own: a receiver that hangs holds up its own events (in order, per
// document), never another subscriber's. Run returns when every loop has.
func (s *Sender) Run(ctx context.Context) error {
	s.init()
	var wg sync.WaitGroup
	wakers := make([]flows.Waker, len(s.Subs))
	for i, sub := range s.Subs {
		wg.Go(func() { s.runSub(ctx, sub, &wakers[i]) })
	}
	defer wg.Wait()
	for {
		for _, sub := range s.Subs {
			if err := s.fanOut(ctx, sub); err != nil && ctx.Err() == nil {
				s.Log.Error("webhook fan-out", "url", Redact(sub.URL), "err", err)
			}
		}
		for i := range wakers {
			wakers[i].Wake()
		}
		if !s.waker.Sleep(ctx, s.Idle) {
			return nil
		}
	}
}

// runSub delivers one subscription's queue until ctx ends.
func (s *Sender) runSub(ctx context.Context, sub Subscription, w *flows.Waker) {
	for {
		sent, err := s.stepSub(ctx, sub)
		if err != nil && ctx.Err() == nil {
			s.Log.Error("webhook step", "url", Redact(sub.URL), "err", err)
		}
		// After a delivery, the next event of its document may be due now.
		wait := time.Duration(0)
		if sent == 0 {
			next, ok, err := s.Store.NextWebhookDueFor(ctx, sub.URL)
			wait = flows.NextWait(s.Clock.Now(), next, ok && err == nil, s.Idle)
		}
		if !w.Sleep(ctx, wait) {
			return
		}
	}
}

// Step queues new events and attempts every due delivery once, every
// subscription side by side; it returns how many were accepted.
func (s *Sender) Step(ctx context.Context) (int, error) {
	s.init()
	for _, sub := range s.Subs {
		if err := s.fanOut(ctx, sub); err != nil {
			return 0, err
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sent := 0
	var firstErr error
	for _, sub := range s.Subs {
		wg.Go(func() {
			n, err := s.stepSub(ctx, sub)
			mu.Lock()
			defer mu.Unlock()
			sent += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	return sent, firstErr
}

// stepSub attempts every due delivery of one subscription once.
func (s *Sender) stepSub(ctx context.Context, sub Subscription) (int, error) {
	due, err := s.Store.DueWebhooksFor(ctx, sub.URL, s.Clock.Now(), 100)
	if err != nil {
		return 0, err
	}
	// Each due delivery heads its document's queue, so they may all go at
	// once; a few at a time spare a slow receiver.
	var mu sync.Mutex
	sent := 0
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, d := range due {
		if flows.Fenced(ctx) {
			break // no longer the leader: the one that is sends them
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok, err := s.deliver(ctx, d)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				sent++
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return sent, firstErr
}

// fanOut queues a subscription's events since its cursor. A subscription
// seen for the first time starts at the log's head: it is told what
// happens from now on, not the company's history.
func (s *Sender) fanOut(ctx context.Context, sub Subscription) error {
	cursor, ok, err := s.Store.WebhookCursor(ctx, sub.URL)
	if err != nil {
		return err
	}
	if !ok {
		head, _, err := s.Store.Head(ctx)
		if err != nil {
			return err
		}
		s.Log.Info("webhook subscription starts", "url", Redact(sub.URL), "after_event", head)
		return s.Store.EnqueueWebhooks(ctx, sub.URL, head, nil, s.Clock.Now())
	}
	for {
		events, err := s.Store.AuditSince(ctx, cursor, 500)
		if err != nil || len(events) == 0 {
			return err
		}
		docs := map[int64]*flows.Document{}
		var queue []storage.WebhookEvent
		for _, e := range events {
			for _, typ := range flows.IntegrationEventsOf(e) {
				if !sub.wants(typ, "") {
					continue
				}
				d := docs[e.DocID]
				if d == nil {
					if d, err = s.Store.Document(ctx, e.DocID); err != nil {
						return fmt.Errorf("document %d of event %d: %w", e.DocID, e.ID, err)
					}
					docs[e.DocID] = d
				}
				if !sub.wants(typ, d.TypeID) {
					continue // a type the subscription (or its key) may not see
				}
				payload, err := json.Marshal(newEvent(typ, e, d))
				if err != nil {
					return fmt.Errorf("encode event %d: %w", e.ID, err)
				}
				queue = append(queue, storage.WebhookEvent{EventID: e.ID, Type: typ, DocID: e.DocID, Payload: string(payload)})
			}
		}
		cursor = events[len(events)-1].ID
		if err := s.Store.EnqueueWebhooks(ctx, sub.URL, cursor, queue, s.Clock.Now()); err != nil {
			return err
		}
	}
}

// MessageID is the webhook-id of an event: the same on every attempt, so
// that a receiver drops a repeat.
func MessageID(eventID int64, typ string) string {
	return "viza_" + strconv.FormatInt(eventID, 10) + "_" + typ
}

func (s *Sender) subscription(url string) (Subscription, bool) {
	for _, sub := range s.Subs {
		if sub.URL == url {
			return sub, true
		}
	}
	return Subscription{}, false
}

// deliver makes one attempt and records its result.
func (s *Sender) deliver(ctx context.Context, d storage.WebhookDelivery) (bool, error) {
	log := s.Log.With("url", Redact(d.Subscription), "type", d.Type, "event", d.EventID, "attempt", d.Attempts+1)
	// The result of an attempt is recorded even when shutdown has begun: a
	// delivery the receiver took and left pending would go again.
	rec := context.WithoutCancel(ctx)
	sub, ok := s.subscription(d.Subscription)
	if !ok {
		// Unsubscribed in the config since: the queue is not delivered
		// anywhere else, and waits for the subscription to come back.
		return false, s.Store.WebhookRetry(rec, d.ID, s.Clock.Now().Add(s.MaxBackoff), "no such subscription in the config", s.Clock.Now())
	}
	body, err := s.body(ctx, d)
	if err != nil {
		log.Error("webhook payload unreadable", "err", err)
		return false, s.Store.WebhookFailed(rec, d.ID, err.Error(), s.Clock.Now())
	}
	status, err := s.post(ctx, sub, MessageID(d.EventID, d.Type), body)
	now := s.Clock.Now()
	if err == nil && status >= 200 && status < 300 {
		return true, s.Store.WebhookSent(rec, d.ID, now)
	}
	if ctx.Err() != nil {
		return false, nil // shutting down: it stays pending
	}
	reason := fmt.Sprintf("HTTP %d", status)
	var uerr *url.Error
	switch {
	case errors.As(err, &uerr):
		// The client's error quotes the whole address; it is stored and
		// logged, so it loses what may be a secret.
		reason = uerr.Op + " " + Redact(uerr.URL) + ": " + uerr.Err.Error()
	case err != nil:
		reason = err.Error()
	}
	// 410 Gone is the receiver saying it wants no more of these.
	if status == http.StatusGone || now.Sub(d.CreatedAt) >= s.GiveUpAfter {
		log.Error("webhook failed for good", "reason", reason, "since", d.CreatedAt)
		return false, s.Store.WebhookFailed(rec, d.ID, reason, now)
	}
	wait := s.backoff(d.Attempts)
	log.Info("webhook will be retried", "reason", reason, "wait", wait)
	return false, s.Store.WebhookRetry(rec, d.ID, now.Add(wait), reason, now)
}

// backoff doubles from MinBackoff to MaxBackoff, with a tenth of jitter so
// that the retries of many documents do not arrive in step.
func (s *Sender) backoff(attempts int) time.Duration {
	w := s.MinBackoff << min(attempts, 30)
	if w <= 0 || w > s.MaxBackoff {
		w = s.MaxBackoff
	}
	return w + time.Duration(rand.Int64N(int64(w/10)+1))
}

func (s *Sender) post(ctx context.Context, sub Subscription, id string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := s.Clock.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Viza-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(sub.Secret, id, ts, body))
	client := s.Client
	if sub.AllowPrivate {
		client = s.PrivateClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Never followed: a 307 would re-post the signed event wherever it
		// points, a 302 turn it into a GET without it. The attempt failed.
		return resp.StatusCode, fmt.Errorf("HTTP %d: redirect to %s not followed", resp.StatusCode, Redact(resp.Header.Get("Location")))
	}
	return resp.StatusCode, nil
}
