// Package telegram is Viza's Telegram channel, built on
// github.com/go-telegram/bot. It turns updates into engine commands and
// notifications into messages with inline buttons.
//
// Updates are stored in SQLite before Telegram is told they were received
// (our own getUpdates loop and webhook handler: the library's would confirm
// first), then handed to the library's ProcessUpdate one by one.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"golang.org/x/time/rate"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/storage"
)

// Name is the channel's name in deliveries and identities.
const Name = "telegram"

// MaxDownload is Telegram's limit for files a bot may download.
const MaxDownload = 20 << 20

// Store is what the channel keeps and reads.
type Store interface {
	InboxPut(ctx context.Context, channel string, items []storage.InboxItem) ([]string, error)
	InboxPending(ctx context.Context, channel string, limit int) ([]storage.InboxItem, error)
	InboxDone(ctx context.Context, channel, id string) error
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
	StatePrefix(ctx context.Context, channel, prefix string) (map[string]string, error)
	Document(ctx context.Context, id int64) (*flows.Document, error)
	DocumentOfTask(ctx context.Context, taskID int64) (*flows.Document, error)
	DocumentsOf(ctx context.Context, p flows.PersonID, limit int) ([]*flows.Document, error)
	OpenTasksOf(ctx context.Context, p flows.PersonID) ([]storage.OpenTask, error)
	FailedDeliveries(ctx context.Context, docID int64, channel string) ([]storage.FailedDelivery, error)
	DocumentsByCounterparty(ctx context.Context, q string, limit int) ([]*flows.Document, error)
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
	Global        rate.Limit    // messages per second overall; default 25
	Reports       Reports       // sheet, list and export; nil turns them off
}

// Reports renders the approval sheet and the registry.
type Reports interface {
	Sheet(ctx context.Context, d *flows.Document, lang string, w io.Writer) error
	Visible(ctx context.Context, p flows.PersonID) ([]*flows.Document, error)
	Registry(ctx context.Context, docs []*flows.Document, lang string, csv bool, w io.Writer) error
}

// Channel implements flows.Channel for Telegram.
type Channel struct {
	cfg    Config
	eng    *flows.Engine
	store  Store
	files  flows.FileStore
	clock  flows.Clock
	log    *slog.Logger
	bot    *bot.Bot
	httpc  *http.Client
	global *rate.Limiter
	wake   chan struct{}

	loginLink func(context.Context, flows.PersonID) (string, error)

	mu         sync.Mutex
	nextInChat map[int64]time.Time
	links      map[int64]flows.PersonID // Telegram user id → person, by shared phone
	chats      map[flows.PersonID]int64
	inactive   map[flows.PersonID]bool
	langs      map[flows.PersonID]string
}

var _ flows.Channel = (*Channel)(nil)

// New connects to the Bot API (checking the token with getMe) and loads
// the channel's links.
func New(ctx context.Context, cfg Config, eng *flows.Engine, store Store, files flows.FileStore, clock flows.Clock, log *slog.Logger) (*Channel, error) {
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = 50 * time.Second
	}
	if cfg.PerChat == 0 {
		cfg.PerChat = time.Second
	}
	if cfg.Global == 0 {
		cfg.Global = 25
	}
	c := &Channel{cfg: cfg, eng: eng, store: store, files: files, clock: clock, log: log.With("channel", Name),
		httpc: &http.Client{Timeout: cfg.PollTimeout + 15*time.Second}, global: rate.NewLimiter(cfg.Global, 1),
		wake: make(chan struct{}, 1), nextInChat: map[int64]time.Time{}, links: map[int64]flows.PersonID{},
		chats: map[flows.PersonID]int64{}, inactive: map[flows.PersonID]bool{}, langs: map[flows.PersonID]string{}}
	opts := []bot.Option{bot.WithServerURL(cfg.APIURL), bot.WithDefaultHandler(c.handle), bot.WithNotAsyncHandlers(),
		bot.WithHTTPClient(cfg.PollTimeout, c.httpc), bot.WithErrorsHandler(func(err error) { c.log.Warn("telegram library", "err", err) })}
	initCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	b, err := newBot(initCtx, cfg.Token, opts)
	if err != nil {
		return nil, fmt.Errorf("telegram: connect: %w", err)
	}
	c.bot = b
	if err := c.loadState(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func newBot(ctx context.Context, token string, opts []bot.Option) (*bot.Bot, error) {
	type res struct {
		b   *bot.Bot
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := bot.New(token, opts...)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Channel) loadState(ctx context.Context) error {
	links, err := c.store.StatePrefix(ctx, Name, "link:")
	if err != nil {
		return err
	}
	for k, v := range links {
		id, err := strconv.ParseInt(k[len("link:"):], 10, 64)
		if err == nil {
			c.links[id] = flows.PersonID(v)
			c.chats[flows.PersonID(v)] = id
		}
	}
	inactive, err := c.store.StatePrefix(ctx, Name, "inactive:")
	if err != nil {
		return err
	}
	for k := range inactive {
		c.inactive[flows.PersonID(k[len("inactive:"):])] = true
	}
	langs, err := c.store.StatePrefix(ctx, Name, "lang:")
	if err != nil {
		return err
	}
	for k, v := range langs {
		c.langs[flows.PersonID(k[len("lang:"):])] = v
	}
	return nil
}

// SetLoginLink lets /web hand out sign-in links to the web pages.
func (c *Channel) SetLoginLink(f func(context.Context, flows.PersonID) (string, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loginLink = f
}

// Name implements flows.Channel.
func (c *Channel) Name() string { return Name }

// chatOf is the person's private chat with the bot.
func (c *Channel) chatOf(p *flows.Person) (int64, bool) {
	if id, err := strconv.ParseInt(p.Identities[Name], 10, 64); err == nil {
		return id, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.chats[p.ID]
	return id, ok
}

// Reaches implements flows.Channel.
func (c *Channel) Reaches(p *flows.Person) bool {
	if _, ok := c.chatOf(p); !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.inactive[p.ID]
}

// person finds who a Telegram user is: by the id in viza.yaml, or by the
// phone they shared.
func (c *Channel) person(userID int64) (*flows.Person, bool) {
	dir := c.eng.Directory()
	if p, ok := dir.ByIdentity(Name, strconv.FormatInt(userID, 10)); ok {
		return p, true
	}
	c.mu.Lock()
	id, ok := c.links[userID]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return dir.Person(id)
}

func (c *Channel) lang(p flows.PersonID) string {
	c.mu.Lock()
	l, ok := c.langs[p]
	c.mu.Unlock()
	if ok {
		return l
	}
	return c.eng.Directory().LanguageOf(p)
}

func (c *Channel) renderer() messages.Renderer { return messages.Renderer{Dir: c.eng.Directory()} }

// Run receives updates (polling or webhook) and handles them until ctx ends.
func (c *Channel) Run(ctx context.Context) error {
	if err := c.registerCommands(ctx); err != nil {
		c.log.Warn("setMyCommands failed; commands still work", "err", err)
	}
	errc := make(chan error, 2)
	go func() { errc <- c.processLoop(ctx) }()
	if c.cfg.Mode == "webhook" {
		if _, err := c.bot.SetWebhook(ctx, &bot.SetWebhookParams{URL: c.cfg.WebhookURL, SecretToken: c.cfg.WebhookSecret,
			AllowedUpdates: []string{"message", "callback_query"}}); err != nil {
			return fmt.Errorf("telegram: setWebhook: %w", err)
		}
	} else {
		if _, err := c.bot.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); err != nil {
			c.log.Warn("deleteWebhook failed", "err", err)
		}
		go func() { errc <- c.pollLoop(ctx) }()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

func (c *Channel) registerCommands(ctx context.Context) error {
	names := []string{"start", "help", "new", "my", "status", "list", "history", "sheet", "export", "web", "cancel", "lang"}
	for _, lang := range []string{"", "ru", "en"} {
		l := lang
		if l == "" {
			l = c.eng.Directory().Language
		}
		var cmds []models.BotCommand
		for _, n := range names {
			cmds = append(cmds, models.BotCommand{Command: n, Description: c.t(l, "cmd."+n, nil)})
		}
		if _, err := c.bot.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: cmds, LanguageCode: lang}); err != nil {
			return err
		}
	}
	return nil
}

// Wake makes the processor look at the inbox now.
func (c *Channel) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// processLoop hands stored updates to the library, oldest first, one at a
// time: per-chat order matters (a reply must follow its question).
func (c *Channel) processLoop(ctx context.Context) error {
	for {
		items, err := c.store.InboxPending(ctx, Name, 50)
		if err != nil && ctx.Err() == nil {
			c.log.Error("read inbox", "err", err)
		}
		for _, it := range items {
			c.process(ctx, it)
			if ctx.Err() != nil {
				return nil
			}
		}
		if len(items) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.wake:
		case <-time.After(2 * time.Second):
		}
	}
}

func (c *Channel) process(ctx context.Context, it storage.InboxItem) {
	var upd models.Update
	if err := jsonUnmarshal(it.Payload, &upd); err != nil {
		c.log.Error("undecodable update dropped", "update", it.ID, "err", err)
	} else {
		func() {
			defer func() {
				if p := recover(); p != nil {
					c.log.Error("update handler panicked", "update", it.ID, "panic", p)
				}
			}()
			c.bot.ProcessUpdate(ctx, &upd)
		}()
	}
	if ctx.Err() != nil {
		return // unfinished: it is handled again after restart, idempotently
	}
	if err := c.store.InboxDone(context.WithoutCancel(ctx), Name, it.ID); err != nil {
		c.log.Error("mark update handled", "update", it.ID, "err", err)
	}
}

// sendErr maps a Bot API error: 429 → transient with retry_after; 403 →
// the person blocked the bot; "message is not modified" → nil.
func (c *Channel) sendErr(p flows.PersonID, err error) error {
	if err == nil {
		return nil
	}
	var tooMany *bot.TooManyRequestsError
	switch {
	case errors.As(err, &tooMany):
		return &flows.Error{Kind: flows.KindTransient, Code: "rate_limited", Err: err, RetryAfter: time.Duration(tooMany.RetryAfter) * time.Second}
	case errors.Is(err, bot.ErrorForbidden):
		c.setInactive(p, true)
		return &flows.Error{Kind: flows.KindPermanent, Code: flows.CodeUnreachable, Err: err}
	case isNotModified(err):
		return nil
	case errors.Is(err, bot.ErrorBadRequest), errors.Is(err, bot.ErrorUnauthorized), errors.Is(err, bot.ErrorNotFound):
		return &flows.Error{Kind: flows.KindPermanent, Code: "telegram_rejected", Err: err}
	}
	return &flows.Error{Kind: flows.KindTransient, Code: "telegram_unavailable", Err: err}
}

func (c *Channel) setInactive(p flows.PersonID, inactive bool) {
	if p == "" {
		return
	}
	c.mu.Lock()
	was := c.inactive[p]
	if inactive {
		c.inactive[p] = true
	} else {
		delete(c.inactive, p)
	}
	c.mu.Unlock()
	if was == inactive {
		return
	}
	val := ""
	if inactive {
		val = "1"
		c.log.Warn("person blocked the bot; using their other channels", "person", p)
	}
	if err := c.store.StatePut(context.Background(), Name, "inactive:"+string(p), val); err != nil {
		c.log.Error("store link state", "person", p, "err", err)
	}
}

// wait applies the flood limits before a message to chat: Global per
// second overall and one message per PerChat in a chat. The chat's gap is
// counted from when the message really goes (after the global wait), which
// is when Telegram counts it too.
func (c *Channel) wait(ctx context.Context, chat int64) error {
	gap := c.cfg.PerChat + c.cfg.PerChat/20 // a little over: Telegram measures after network jitter
	for {
		c.mu.Lock()
		early := c.nextInChat[chat].Sub(time.Now())
		c.mu.Unlock()
		if early > 0 {
			t := time.NewTimer(early)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err := c.global.Wait(ctx); err != nil {
			return err
		}
		c.mu.Lock()
		now := time.Now()
		if !now.Before(c.nextInChat[chat]) {
			c.nextInChat[chat] = now.Add(gap)
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
	}
}
