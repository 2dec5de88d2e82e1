// Package slack is Viza's Slack transport, built on
// github.com/slack-go/slack. It only translates: Events API events,
// interactions and the /viza slash command — from Socket Mode or signed
// HTTP requests — into the conversation layer's events (bot/chat), and the
// layer's messages into Block Kit: rich text as mrkdwn with what people
// typed neutralised, buttons as actions blocks, questions as modals, files
// through the external upload flow, the App Home as a published view.
//
// Every event is stored in the inbox SQLite shares with the other channels
// before Slack is told it arrived, and handled once: a crash after the
// acknowledgement loses nothing acknowledged, a redelivery changes nothing.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/bot/secret"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

// Name is the channel's name in deliveries and identities.
const Name = "slack"

// Store is what the transport keeps: the inbox, the DM channels and the
// people looked up by e-mail.
type Store interface {
	InboxPut(ctx context.Context, channel string, items []storage.InboxItem) ([]string, error)
	InboxPending(ctx context.Context, channel string, limit int) ([]storage.InboxItem, error)
	InboxDone(ctx context.Context, channel, id string) error
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
}

// Config is the channel's part of viza.yaml plus the secrets.
type Config struct {
	Mode          string // socket (default) | http
	BotToken      string
	AppToken      string // socket mode
	SigningSecret string // http mode
	APIURL        string // the Web API base; default https://slack.com/api/
	MaxFile       int64  // the largest file taken in; default 20 MB
	// PerChannel is the gap between messages in one conversation (Slack:
	// about one a second); Workspace messages a second across them.
	PerChannel time.Duration
	Workspace  rate.Limit
	// Tiers overrides the calls a minute allowed per method.
	Tiers map[string]int
}

// Transport implements chat.Transport, chat.Identifier and
// chat.HomeTransport for Slack.
type Transport struct {
	cfg   Config
	api   *slack.Client
	store Store
	log   *slog.Logger
	inbox *chat.Inbox
	m     *chat.Messenger

	limits    *limits
	homeDirty chan string
	// Health is where the channel stands (nil in tests without one).
	Health *health.Component

	mu  sync.Mutex
	dms map[string]string // user → DM channel
	// team and enterprise are the app's own, from auth.test: people are
	// matched by e-mail only among them, and events from elsewhere dropped.
	team, enterprise string
}

var (
	_ chat.Transport     = (*Transport)(nil)
	_ chat.Identifier    = (*Transport)(nil)
	_ chat.HomeTransport = (*Transport)(nil)
)

// New prepares the transport without calling Slack: Connect does that, in
// the background, so that an unreachable Slack never holds up the service.
func New(ctx context.Context, cfg Config, store Store, log *slog.Logger) (*Transport, error) {
	if cfg.Mode == "" {
		cfg.Mode = "socket"
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://slack.com/api/"
	}
	if cfg.APIURL[len(cfg.APIURL)-1] != '/' {
		cfg.APIURL += "/" // slack-go appends method names to it as they are
	}
	if cfg.MaxFile == 0 {
		cfg.MaxFile = 20 << 20
	}
	if cfg.PerChannel == 0 {
		cfg.PerChannel = time.Second
	}
	if cfg.Workspace == 0 {
		cfg.Workspace = 5
	}
	secrets := []string{cfg.BotToken, cfg.AppToken, cfg.SigningSecret}
	httpc := &secret.Client{HTTP: &http.Client{Timeout: 30 * time.Second}, Secrets: secrets}
	opts := []slack.Option{slack.OptionAPIURL(cfg.APIURL), slack.OptionHTTPClient(httpc)}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	t := &Transport{cfg: cfg, api: slack.New(cfg.BotToken, opts...), store: store, log: log.With("channel", Name),
		limits: newLimits(cfg), homeDirty: make(chan string, 1024), dms: map[string]string{}}
	t.inbox = &chat.Inbox{Store: store, Channel: Name, Log: t.log, Event: t.inboxEvent}
	// The team learnt at the last start, so that events are checked
	// before this start's auth.test answers.
	if v, ok, err := store.StateGet(ctx, Name, "team"); err == nil && ok {
		t.team, t.enterprise, _ = strings.Cut(v, "/")
	}
	return t, nil
}

// Connect checks the bot token with auth.test and learns the app's team
// and enterprise; repeated until it succeeds (a refused token is a
// permanent error).
func (t *Transport) Connect(ctx context.Context) error { return t.Probe(ctx) }

// Probe is auth.test: whether Slack is there and still takes the token.
func (t *Transport) Probe(ctx context.Context) error {
	var res *slack.AuthTestResponse
	if err := t.call(ctx, "auth.test", "", func(ctx context.Context) error {
		var err error
		res, err = t.api.AuthTestContext(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("slack: auth.test: %w", t.apiErr(err))
	}
	t.mu.Lock()
	changed := res.TeamID != t.team || res.EnterpriseID != t.enterprise
	t.team, t.enterprise = res.TeamID, res.EnterpriseID
	t.mu.Unlock()
	if changed {
		if err := t.store.StatePut(ctx, Name, "team", res.TeamID+"/"+res.EnterpriseID); err != nil {
			t.log.Warn("keep the app's team", "err", err)
		}
	}
	return nil
}

// ours reports whether a team (and enterprise) is the app's own; before
// the app's team is known, every team is.
func (t *Transport) ours(team, enterprise string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.team == "" {
		return true
	}
	return team == t.team || (t.enterprise != "" && enterprise == t.enterprise)
}

func (t *Transport) redact(err error) error {
	return secret.Redact(err, t.cfg.BotToken, t.cfg.AppToken, t.cfg.SigningSecret)
}

// Name implements chat.Transport.
func (t *Transport) Name() string { return Name }

// Caps implements chat.Transport. A section holds 3,000 characters; an
// actions block 25 buttons and a message 50 blocks; action values 2,000
// bytes. Buttons open modals (Forms); a file in a request's thread answers
// it, but a text question is asked in a modal or for the next message.
func (t *Transport) Caps() chat.Caps {
	return chat.Caps{RowButtons: 5, MsgButtons: 40, MaxText: 12000, MaxAction: 2000, MaxFile: t.cfg.MaxFile,
		Edit: true, Forms: true, Dialect: "slack-mrkdwn", Command: "/viza "}
}

// Run handles stored events in order until ctx ends, and in Socket Mode
// receives them; in HTTP mode Handler receives them.
func (t *Transport) Run(ctx context.Context, m *chat.Messenger) error {
	t.m = m
	// The group returns only when every loop has, so nothing of this
	// transport still writes after the service closes its database.
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return t.inbox.Run(ctx, m) })
	g.Go(func() error { return t.homeLoop(ctx) })
	if t.cfg.Mode == "socket" {
		g.Go(func() error { return t.socketLoop(ctx) })
	}
	return g.Wait()
}

// Wake makes the processor look at the inbox now.
func (t *Transport) Wake() { t.inbox.Wake() }

// stored is one inbox item: what kind of request, and its payload as it
// came.
type stored struct {
	Kind    string          `json:"kind"` // events_api | interactive | slash_commands
	Payload json.RawMessage `json:"payload"`
}

// inboxEvent translates a stored request.
func (t *Transport) inboxEvent(ctx context.Context, it storage.InboxItem) (chat.Event, bool) {
	var st stored
	if err := json.Unmarshal(it.Payload, &st); err != nil {
		t.log.Error("undecodable event dropped", "event", it.ID, "err", err)
		return chat.Event{}, false
	}
	ev, ok := t.event(ctx, st)
	ev.Key = "slack:" + it.ID
	return ev, ok
}

// keep stores an event under its dedup key; false when it had been seen.
func (t *Transport) keep(ctx context.Context, key string, st stored) (bool, error) {
	b, _ := json.Marshal(st)
	fresh, err := t.store.InboxPut(ctx, Name, []storage.InboxItem{{ID: key, Payload: b}})
	if err != nil {
		return false, err
	}
	t.Wake()
	return len(fresh) == 1, nil
}

// apiErr maps a Web API error: 429 and 5xx → transient; a person the app
// cannot write to → unreachable; anything else → permanent.
func (t *Transport) apiErr(err error) error {
	if err == nil {
		return nil
	}
	err = t.redact(err)
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return &flows.Error{Kind: flows.KindTransient, Code: "rate_limited", Err: err, RetryAfter: rl.RetryAfter}
	case errors.As(err, &sc) && sc.Code >= 500:
		return &flows.Error{Kind: flows.KindTransient, Code: "slack_unavailable", Err: err}
	case errors.As(err, &se):
		switch se.Err {
		case "channel_not_found", "user_not_found", "user_disabled", "cannot_dm_bot", "not_in_channel", "is_archived":
			return &flows.Error{Kind: flows.KindPermanent, Code: flows.CodeUnreachable, Err: err}
		}
		return &flows.Error{Kind: flows.KindPermanent, Code: "slack_rejected", Err: err}
	}
	var fe *flows.Error
	if errors.As(err, &fe) {
		return err
	}
	return &flows.Error{Kind: flows.KindTransient, Code: "slack_unavailable", Err: err}
}
