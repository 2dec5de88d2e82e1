// Package bitrix24 is Viza's Bitrix24 chat transport: the bot inside the
// portal's messenger, on cloud portals and on-premise installations alike.
// It only translates: the portal's chat-bot events — fetched with
// Chatbots 2.0 (imbot.v2.Event.get, no public URL, nothing lost) or posted
// by classic imbot (v1) to /bitrix24/events — into the conversation
// layer's events (bot/chat), and the layer's messages into BB-code with an
// ATTACH block and a KEYBOARD of COMMAND buttons.
//
// There is no Go client library for Bitrix24 REST, so client.go is a
// small one of our own: JSON calls, the result/error envelope, the
// portal's leaky bucket kept on our side, backoff on its limits, OAuth
// refresh, batch.
//
// Every event is stored in the inbox the other channels share before the
// portal is answered (v1: Bitrix24 never sends an event twice) or before
// the fetch offset moves on (v2), and handled once.
package bitrix24

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/storage"
)

// Name is the channel's name in deliveries and identities.
const Name = "bitrix24"

const (
	botCode = "viza"
	// buttonCommand is the hidden command every keyboard button fires,
	// its COMMAND_PARAMS carrying the opaque action.
	buttonCommand = "vizabtn"
)

// Store is what the transport keeps: the inbox, the fetch offset, the bot's
// registration and the OAuth tokens.
type Store interface {
	InboxPut(ctx context.Context, channel string, items []storage.InboxItem) ([]string, error)
	InboxPending(ctx context.Context, channel string, limit int) ([]storage.InboxItem, error)
	InboxDone(ctx context.Context, channel, id string) error
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
	StateKeep(ctx context.Context, channel, key, value string) (string, error)
	StateSwap(ctx context.Context, channel, key, old, new string) (bool, error)
}

// Config is the channel's part of viza.yaml plus the secrets.
type Config struct {
	Mode string // auto (default) | fetch | events
	// ApplicationToken is what auth[application_token] of an event posted
	// to /bitrix24/events must be; an OAuth application also learns it at
	// installation.
	ApplicationToken string
	// EventsURL is where the portal posts v1 events (http.public_url +
	// /bitrix24/events).
	EventsURL string
	MaxFile   int64         // the largest file taken in; default 20 MB
	Poll      time.Duration // how often an idle fetch asks again; default 5 s
}

// Transport implements chat.Transport for Bitrix24.
type Transport struct {
	cfg   Config
	c     *Client
	store Store
	log   *slog.Logger
	inbox *chat.Inbox
	m     *chat.Messenger

	mode     string // fetch | events
	botID    int64
	botToken string // v2 over an inbound webhook
	clientID string // v1 over an inbound webhook

	edits coalescer
	sends coalescer
	// Health is where the channel stands (nil in tests without one).
	Health *health.Component
	// connMu keeps two Connects (the supervisor's and a reinstall's)
	// from registering at once.
	connMu sync.Mutex

	mu    sync.Mutex
	chats map[string]int64 // dialog → chat id, for v1 uploads
}

var (
	_ chat.Transport          = (*Transport)(nil)
	_ chat.CounterpartyFinder = (*Transport)(nil)
)

// New prepares the transport without calling the portal: Connect does
// that, in the background, so that an unreachable portal never holds up
// the service.
func New(ctx context.Context, cfg Config, c *Client, store Store, log *slog.Logger) (*Transport, error) {
	if cfg.Mode == "" {
		cfg.Mode = "auto"
	}
	if cfg.MaxFile == 0 {
		cfg.MaxFile = 20 << 20
	}
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Second
	}
	t := &Transport{cfg: cfg, c: c, store: store, log: log.With("channel", Name), chats: map[string]int64{},
		edits: coalescer{window: 30 * time.Millisecond}, sends: coalescer{window: 30 * time.Millisecond}}
	t.inbox = &chat.Inbox{Store: store, Channel: Name, Log: t.log, Event: t.inboxEvent}
	t.mode = cfg.Mode
	return t, nil
}

// Connect settles the mode (auto: Chatbots 2.0 where
// imbot.v2.Revision.get answers, classic imbot elsewhere) and registers
// the bot and its commands — idempotently, as it is repeated until it
// succeeds. A refusal that retrying will not change (bad credentials, no
// installation) comes back as a permanent error.
func (t *Transport) Connect(ctx context.Context) error {
	t.connMu.Lock()
	defer t.connMu.Unlock()
	mode := t.Mode()
	if mode == "auto" {
		err := t.c.Call(ctx, "imbot.v2.Revision.get", map[string]any{}, nil)
		var ae *APIError
		switch {
		case err == nil:
			mode = "fetch"
		case errors.As(err, &ae) && (ae.Status == http.StatusNotFound || strings.Contains(ae.Code, "METHOD_NOT_FOUND")):
			mode = "events" // a portal without Chatbots 2.0
		default:
			return fmt.Errorf("bitrix24: ask the portal for Chatbots 2.0: %w", connectErr(err))
		}
	}
	if mode == "events" && t.cfg.EventsURL == "" {
		return flows.Errorf(flows.KindPermanent, "bitrix24_config", "classic imbot needs http.public_url, where the portal posts events")
	}
	t.mu.Lock()
	t.mode = mode
	t.mu.Unlock()
	if err := t.register(ctx); err != nil {
		return connectErr(err)
	}
	t.log.Info("bitrix24 bot ready", "mode", mode, "bot", t.botID)
	return nil
}

// Probe asks the portal for its time (server.time, any user may): whether
// it is there and still takes the credentials.
func (t *Transport) Probe(ctx context.Context) error {
	if err := t.c.Call(ctx, "server.time", map[string]any{}, nil); err != nil {
		return fmt.Errorf("bitrix24: server.time: %w", connectErr(err))
	}
	return nil
}

// connectErr says whether a failure to reach the portal will pass by
// itself (it is down, slow, over its limits) or needs a person: the
// application is not installed, the credentials are refused, the portal
// lacks the method.
func connectErr(err error) error {
	var fe *flows.Error
	if errors.As(err, &fe) {
		return err
	}
	var ae *APIError
	switch {
	case errors.Is(err, ErrNotInstalled):
		return &flows.Error{Kind: flows.KindPermanent, Code: "bitrix24_not_installed", Err: err}
	case errors.As(err, &ae) && ae.Code == "refresh_failed":
	case errors.As(err, &ae) && !ae.Temporary():
		return &flows.Error{Kind: flows.KindPermanent, Code: "bitrix24_rejected", Err: err}
	}
	return &flows.Error{Kind: flows.KindTransient, Code: "bitrix24_unavailable", Err: err}
}

// Mode is how events arrive: fetch (Chatbots 2.0) or events (classic);
// auto until the first Connect settled it.
func (t *Transport) Mode() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mode
}

// kept returns a random value stored under key, made on first use.
func (t *Transport) kept(ctx context.Context, key string) (string, error) {
	if v, ok, err := t.store.StateGet(ctx, Name, key); err != nil || ok {
		return v, err
	}
	b := make([]byte, 16)
	rand.Read(b)
	return t.store.StateKeep(ctx, Name, key, hex.EncodeToString(b))
}

// register makes sure the bot and its commands exist on the portal.
func (t *Transport) register(ctx context.Context) error {
	lang := "ru"
	name := messages.Say(lang, "bitrix24.bot_name", nil).String()
	position := messages.Say(lang, "bitrix24.bot_position", nil).String()
	if t.mode == "fetch" {
		token, err := t.kept(ctx, "bot_token")
		if err != nil {
			return err
		}
		t.botToken = token
		// imbot.v2.Bot.register returns the existing bot for a code this
		// application registered before.
		var res struct {
			Bot struct {
				ID int64 `json:"id"`
			} `json:"bot"`
		}
		if err := t.c.Call(ctx, "imbot.v2.Bot.register", map[string]any{"fields": map[string]any{"code": botCode, "botToken": token,
			"type": "bot", "eventMode": "fetch", "properties": map[string]any{"name": name, "workPosition": position}}}, &res); err != nil {
			return fmt.Errorf("bitrix24: register the bot: %w", err)
		}
		t.botID = res.Bot.ID
	} else {
		id, err := t.kept(ctx, "client_id")
		if err != nil {
			return err
		}
		t.clientID = id
		handlers := map[string]any{"EVENT_MESSAGE_ADD": t.cfg.EventsURL, "EVENT_WELCOME_MESSAGE": t.cfg.EventsURL, "EVENT_BOT_DELETE": t.cfg.EventsURL}
		var bots map[string]struct {
			ID   json.Number `json:"ID"`
			Code string      `json:"CODE"`
		}
		if err := t.c.Call(ctx, "imbot.bot.list", map[string]any{"CLIENT_ID": id}, &bots); err != nil {
			return fmt.Errorf("bitrix24: list bots: %w", err)
		}
		for _, b := range bots {
			if b.Code == botCode {
				t.botID, _ = b.ID.Int64()
			}
		}
		if t.botID != 0 {
			// The public address may have moved since.
			if err := t.c.Call(ctx, "imbot.update", map[string]any{"BOT_ID": t.botID, "CLIENT_ID": id, "FIELDS": handlers}, nil); err != nil {
				return fmt.Errorf("bitrix24: update the bot: %w", err)
			}
		} else {
			params := map[string]any{"CODE": botCode, "TYPE": "B", "CLIENT_ID": id,
				"PROPERTIES": map[string]any{"NAME": name, "WORK_POSITION": position}}
			for k, v := range handlers {
				params[k] = v
			}
			var botID json.Number
			if err := t.c.Call(ctx, "imbot.register", params, &botID); err != nil {
				return fmt.Errorf("bitrix24: register the bot: %w", err)
			}
			t.botID, _ = botID.Int64()
		}
	}
	if t.botID == 0 {
		return errors.New("bitrix24: the portal gave the bot no id")
	}
	return t.registerCommands(ctx)
}

// registerCommands registers each command once (kept in SQLite), with its
// title in Russian and English, and the hidden one the buttons fire.
func (t *Transport) registerCommands(ctx context.Context) error {
	names := append([]string{buttonCommand}, chat.Commands...)
	for _, n := range names {
		key := "cmd:" + n + ":" + strconv.FormatInt(t.botID, 10)
		if _, ok, err := t.store.StateGet(ctx, Name, key); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		title := func(lang string) string {
			if n == buttonCommand {
				return messages.Say(lang, "bitrix24.button_command", nil).String()
			}
			return messages.Say(lang, "cmd."+n, nil).String()
		}
		var id json.RawMessage
		var err error
		if t.mode == "fetch" {
			err = t.c.Call(ctx, "imbot.v2.Command.register", map[string]any{"botId": t.botID, "botToken": t.botToken,
				"fields": map[string]any{"command": n, "hidden": n == buttonCommand, "common": false,
					"title": map[string]string{"ru": title("ru"), "en": title("en")}}}, &id)
		} else {
			err = t.c.Call(ctx, "imbot.command.register", map[string]any{"BOT_ID": t.botID, "CLIENT_ID": t.clientID, "COMMAND": n,
				"COMMON": "N", "HIDDEN": yn(n == buttonCommand), "EXTRANET_SUPPORT": "N", "EVENT_COMMAND_ADD": t.cfg.EventsURL,
				"LANG": []map[string]string{{"LANGUAGE_ID": "ru", "TITLE": title("ru")}, {"LANGUAGE_ID": "en", "TITLE": title("en")}}}, &id)
		}
		if err != nil {
			return fmt.Errorf("bitrix24: register /%s: %w", n, err)
		}
		if err := t.store.StatePut(ctx, Name, key, string(id)); err != nil {
			return err
		}
	}
	return nil
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

// Name implements chat.Transport.
func (t *Transport) Name() string { return Name }

// Caps implements chat.Transport. A message holds 20,000 characters;
// keyboards have no documented limit, but three buttons are what fits a
// phone's row. There is no reply-to in events and no form: questions are
// answered by the next message.
func (t *Transport) Caps() chat.Caps {
	return chat.Caps{RowButtons: 3, MaxText: 10000, MaxAction: 200, MaxFile: t.cfg.MaxFile, Edit: true, Dialect: "bbcode", Command: "/"}
}

// Run handles stored events in order until ctx ends, and in fetch mode
// fetches them; in events mode Handler receives them.
func (t *Transport) Run(ctx context.Context, m *chat.Messenger) error {
	t.m = m
	// The group returns only when every loop has, so nothing of this
	// transport still writes after the service closes its database.
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return t.inbox.Run(ctx, m) })
	if t.Mode() == "fetch" {
		g.Go(func() error { return t.fetchLoop(ctx) })
	}
	return g.Wait()
}

// Wait returns once every batch of sends and edits under way has been
// sent: the service calls it on shutdown, after its loops, so that nothing
// of the transport outlives the database.
func (t *Transport) Wait() {
	t.sends.flights.Wait()
	t.edits.flights.Wait()
}

// Wake makes the processor look at the inbox now.
func (t *Transport) Wake() { t.inbox.Wake() }

// stored is one inbox item: a v1 event as the form it came in, or a v2
// event as fetched.
type stored struct {
	Kind string          `json:"kind"` // v1 | v2
	Form string          `json:"form,omitempty"`
	Type string          `json:"type,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// fetchLoop asks imbot.v2.Event.get for events from the stored offset,
// stores them in the inbox, and only then moves the offset on: killed at
// any point, the next start fetches again from the last offset stored,
// and the inbox keeps the repeats out.
func (t *Transport) fetchLoop(ctx context.Context) error {
	for ctx.Err() == nil {
		offset, _, err := t.store.StateGet(ctx, Name, "offset")
		if err != nil {
			return err
		}
		params := map[string]any{"botId": t.botID, "botToken": t.botToken, "limit": 100}
		if offset != "" {
			params["offset"], _ = strconv.ParseInt(offset, 10, 64)
		}
		var res struct {
			Events []struct {
				EventID int64           `json:"eventId"`
				Type    string          `json:"type"`
				Data    json.RawMessage `json:"data"`
			} `json:"events"`
			NextOffset int64 `json:"nextOffset"`
			HasMore    bool  `json:"hasMore"`
		}
		if err := t.c.Call(ctx, "imbot.v2.Event.get", params, &res); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			t.log.Warn("fetch events", "err", t.c.Redact(err.Error()))
			if ce := connectErr(err); flows.ErrorKind(ce) == flows.KindTransient {
				// The client waited out a minute of failures already: the
				// portal is out of reach until a probe says otherwise.
				t.Health.Trouble(t.c.RedactErr(err))
			}
			sleep(ctx, t.cfg.Poll)
			continue
		}
		t.Health.Fine()
		if len(res.Events) > 0 {
			items := make([]storage.InboxItem, 0, len(res.Events))
			for _, e := range res.Events {
				b, _ := json.Marshal(stored{Kind: "v2", Type: e.Type, Data: e.Data})
				items = append(items, storage.InboxItem{ID: "ev:" + strconv.FormatInt(e.EventID, 10), Payload: b})
			}
			if _, err := t.store.InboxPut(ctx, Name, items); err != nil {
				t.log.Error("store fetched events", "err", err)
				sleep(ctx, t.cfg.Poll)
				continue
			}
			t.Wake()
		}
		if res.NextOffset > 0 && strconv.FormatInt(res.NextOffset, 10) != offset {
			if err := t.store.StatePut(ctx, Name, "offset", strconv.FormatInt(res.NextOffset, 10)); err != nil {
				t.log.Error("keep the fetch offset", "err", err)
			}
		}
		if !res.HasMore {
			sleep(ctx, t.cfg.Poll)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// inboxEvent translates a stored event.
func (t *Transport) inboxEvent(ctx context.Context, it storage.InboxItem) (chat.Event, bool) {
	var st stored
	if err := json.Unmarshal(it.Payload, &st); err != nil {
		t.log.Error("undecodable event dropped", "event", it.ID, "err", err)
		return chat.Event{}, false
	}
	ev, ok := t.event(ctx, st)
	ev.Key = "b24:" + it.ID
	return ev, ok
}

// apiErr maps a portal error: limits and outages → transient; a person the
// bot cannot write to → unreachable; anything else → permanent.
func (t *Transport) apiErr(err error) error {
	if err == nil {
		return nil
	}
	var fe *flows.Error
	if errors.As(err, &fe) {
		return err
	}
	err = t.c.RedactErr(err)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Code == "invalid_grant" || ae.Code == "refresh_failed") || errors.Is(err, ErrNotInstalled) {
		// The application lost its tokens: the channel parks until it is
		// reinstalled (see connectErr), and what it was to send waits.
		return &flows.Error{Kind: flows.KindTransient, Code: "bitrix24_unavailable", Err: err}
	}
	if errors.As(err, &ae) && !ae.Temporary() {
		switch ae.Code {
		case "ACCESS_DENIED", "USER_NOT_FOUND", "DIALOG_ID_EMPTY", "CHAT_NOT_FOUND":
			return &flows.Error{Kind: flows.KindPermanent, Code: flows.CodeUnreachable, Err: err}
		}
		return &flows.Error{Kind: flows.KindPermanent, Code: "bitrix24_rejected", Err: err}
	}
	return &flows.Error{Kind: flows.KindTransient, Code: "bitrix24_unavailable", Err: err}
}
