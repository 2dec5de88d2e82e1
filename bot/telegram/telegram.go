// Package telegram is Viza's Telegram transport, built on
// github.com/go-telegram/bot. It only translates: updates into the
// conversation layer's events (bot/chat), the layer's messages into Bot
// API calls — rich text as Telegram HTML, buttons as inline keyboards,
// questions as ForceReply — and keeps to Telegram's flood limits.
//
// Updates are stored in SQLite before Telegram is told they were received
// (our own getUpdates loop and webhook handler: the library's would confirm
// first), then handled one by one in the order they came.
package telegram

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

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/storage"
)

// Name is the channel's name in deliveries and identities.
const Name = "telegram"

// MaxDownload is Telegram's limit for files a bot may download.
const MaxDownload = 20 << 20

// Store is what the transport keeps: the inbox of updates and the
// file_ids of versions already uploaded.
type Store interface {
	InboxPut(ctx context.Context, channel string, items []storage.InboxItem) ([]string, error)
	InboxPending(ctx context.Context, channel string, limit int) ([]storage.InboxItem, error)
	InboxDone(ctx context.Context, channel, id string) error
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
}

// Config is the channel's part of viza.yaml plus the secrets.
type Config struct {
	Token         string
	APIURL        string
	Mode          string // polling | webhook
	WebhookURL    string
	WebhookSecret string
	PollTimeout   time.Duration // long-poll wait; default 50 s
	PerChat       time.Duration // minimum gap between messages in one chat; default 1 s
	// MiniAppURL is Viza's pages as a Telegram Mini App (https only, as
	// Telegram requires): the bot's menu button opens it. "" keeps the
	// menu of commands.
	MiniAppURL string
	Global     rate.Limit // messages per second overall; default 25
}

// Transport implements chat.Transport for Telegram.
type Transport struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	bot    *bot.Bot
	httpc  *http.Client
	global *rate.Limiter
	inbox  *chat.Inbox
	lang   string // the company's language, for the command menu's default
	// Health is where the channel stands: the poll loop says when the
	// Bot API stops or starts answering. nil in tests without one.
	Health *health.Component

	mu         sync.Mutex
	nextInChat map[int64]time.Time
}

var _ chat.Transport = (*Transport)(nil)

// New prepares the transport without calling the Bot API: Connect does
// that, in the background, so that an unreachable Telegram never holds up
// the service. lang is the company's language, the one the command menu
// shows by default.
func New(ctx context.Context, cfg Config, store Store, lang string, log *slog.Logger) (*Transport, error) {
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = 50 * time.Second
	}
	if cfg.PerChat == 0 {
		cfg.PerChat = time.Second
	}
	if cfg.Global == 0 {
		cfg.Global = 25
	}
	t := &Transport{cfg: cfg, store: store, log: log.With("channel", Name), lang: lang,
		httpc: &http.Client{Timeout: cfg.PollTimeout + 15*time.Second}, global: rate.NewLimiter(cfg.Global, 1),
		nextInChat: map[int64]time.Time{}}
	t.inbox = &chat.Inbox{Store: store, Channel: Name, Log: t.log, Event: t.inboxEvent}
	opts := []bot.Option{bot.WithServerURL(cfg.APIURL), bot.WithNotAsyncHandlers(), bot.WithSkipGetMe(),
		bot.WithHTTPClient(cfg.PollTimeout, t.httpc), bot.WithErrorsHandler(func(err error) { t.log.Warn("telegram library", "err", redact(err, cfg.Token)) })}
	b, err := bot.New(cfg.Token, opts...)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", redact(err, cfg.Token))
	}
	t.bot = b
	return t, nil
}

// Connect is the handshake with the Bot API, repeated until it succeeds:
// getMe checks the token (a refused one is a permanent error), then the
// webhook is set (webhook mode) or removed (polling), then the command
// menu is filled. Every step is idempotent.
func (t *Transport) Connect(ctx context.Context) error {
	if err := t.Probe(ctx); err != nil {
		return err
	}
	if t.cfg.Mode == "webhook" {
		if _, err := t.bot.SetWebhook(ctx, &bot.SetWebhookParams{URL: t.cfg.WebhookURL, SecretToken: t.cfg.WebhookSecret,
			AllowedUpdates: []string{"message", "callback_query"}}); err != nil {
			return fmt.Errorf("telegram: setWebhook: %w", t.sendErr(err))
		}
	} else if _, err := t.bot.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); err != nil {
		return fmt.Errorf("telegram: deleteWebhook: %w", t.sendErr(err))
	}
	if err := t.registerCommands(ctx); err != nil {
		t.log.Warn("setMyCommands failed; commands still work", "err", t.redact(err))
	}
	if err := t.setMenuButton(ctx); err != nil {
		t.log.Warn("setChatMenuButton failed; the Mini App opens from cards only", "err", t.redact(err))
	}
	return nil
}

// setMenuButton makes the bot's menu button open Viza's pages as a Mini
// App, in the company's language, for every chat with the bot.
func (t *Transport) setMenuButton(ctx context.Context) error {
	if t.miniApp() == "" {
		return nil
	}
	_, err := t.bot.SetChatMenuButton(ctx, &bot.SetChatMenuButtonParams{MenuButton: models.MenuButtonWebApp{
		Type: models.MenuButtonTypeWebApp, Text: messages.Say(t.lang, "telegram.menu_button", nil).String(),
		WebApp: models.WebAppInfo{URL: t.miniApp()}}})
	if err != nil {
		return fmt.Errorf("telegram: setChatMenuButton: %w", t.sendErr(err))
	}
	return nil
}

// Probe asks the Bot API who the bot is (getMe): whether Telegram is there
// and still takes the token.
func (t *Transport) Probe(ctx context.Context) error {
	if _, err := t.bot.GetMe(ctx); err != nil {
		return fmt.Errorf("telegram: getMe: %w", t.sendErr(err))
	}
	return nil
}

// Name implements chat.Transport.
func (t *Transport) Name() string { return Name }

// Caps implements chat.Transport.
func (t *Transport) Caps() chat.Caps {
	// 4,096 characters a message; 4,000 leaves room for what splitting
	// cannot see. 64 bytes of callback_data a button.
	return chat.Caps{RowButtons: 8, MsgButtons: 100, MaxText: 4000, MaxAction: 64, MaxFile: MaxDownload,
		Edit: true, ReplyTo: true, Contacts: true, Dialect: "telegram-html", Command: "/", MiniApp: t.miniApp() != ""}
}

// miniApp is the Mini App's address, "" unless it can be one (HTTPS).
func (t *Transport) miniApp() string {
	if strings.HasPrefix(t.cfg.MiniAppURL, "https://") {
		return t.cfg.MiniAppURL
	}
	return ""
}

// Run receives updates (polling or webhook) and hands them to m until ctx
// ends.
func (t *Transport) Run(ctx context.Context, m *chat.Messenger) error {
	// The group returns only when every loop has, so nothing of this
	// transport still writes after the service closes its database.
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return t.inbox.Run(ctx, m) })
	if t.cfg.Mode != "webhook" {
		g.Go(func() error { return t.pollLoop(ctx) })
	}
	return g.Wait()
}

// Wake makes the processor look at the inbox now.
func (t *Transport) Wake() { t.inbox.Wake() }

// inboxEvent translates a stored update.
func (t *Transport) inboxEvent(_ context.Context, it storage.InboxItem) (chat.Event, bool) {
	var upd models.Update
	if err := json.Unmarshal(it.Payload, &upd); err != nil {
		t.log.Error("undecodable update dropped", "update", it.ID, "err", err)
		return chat.Event{}, false
	}
	return event(&upd)
}

// sendErr maps a Bot API error: 429 → transient with retry_after; 403 →
// the person blocked the bot; "message is not modified" → nil.
func (t *Transport) sendErr(err error) error {
	if err == nil {
		return nil
	}
	err = redact(err, t.cfg.Token)
	var tooMany *bot.TooManyRequestsError
	switch {
	case errors.As(err, &tooMany):
		return &flows.Error{Kind: flows.KindTransient, Code: "rate_limited", Err: err, RetryAfter: time.Duration(tooMany.RetryAfter) * time.Second}
	case errors.Is(err, bot.ErrorForbidden):
		return &flows.Error{Kind: flows.KindPermanent, Code: flows.CodeUnreachable, Err: err}
	case isNotModified(err):
		return nil
	case errors.Is(err, bot.ErrorBadRequest), errors.Is(err, bot.ErrorUnauthorized), errors.Is(err, bot.ErrorNotFound):
		return &flows.Error{Kind: flows.KindPermanent, Code: "telegram_rejected", Err: err}
	}
	return &flows.Error{Kind: flows.KindTransient, Code: "telegram_unavailable", Err: err}
}

// wait applies the flood limits before a message to chat: Global per
// second overall and one message per PerChat in a chat. The chat's gap is
// counted from when the message really goes (after the global wait), which
// is when Telegram counts it too.
func (t *Transport) wait(ctx context.Context, chat int64) error {
	gap := t.cfg.PerChat + t.cfg.PerChat/20 // a little over: Telegram measures after network jitter
	for {
		t.mu.Lock()
		early := t.nextInChat[chat].Sub(time.Now())
		t.mu.Unlock()
		if early > 0 {
			tm := time.NewTimer(early)
			select {
			case <-ctx.Done():
				tm.Stop()
				return ctx.Err()
			case <-tm.C:
			}
		}
		if err := t.global.Wait(ctx); err != nil {
			return err
		}
		t.mu.Lock()
		now := time.Now()
		if !now.Before(t.nextInChat[chat]) {
			t.nextInChat[chat] = now.Add(gap)
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
	}
}
