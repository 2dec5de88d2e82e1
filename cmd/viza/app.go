package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/viza-app/viza/bot/api"
	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/bot/logchannel"
	"github.com/viza-app/viza/bot/slack"
	"github.com/viza-app/viza/bot/sms"
	"github.com/viza-app/viza/bot/telegram"
	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/bot/webhooks"
	"github.com/viza-app/viza/calendar"
	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/pdfseal"
	"github.com/viza-app/viza/signcheck"
	"github.com/viza-app/viza/signcheck/dss"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
)

// Main is the wired service. Tests start it with a temp data dir and a :0
// listener; cmd's serve runs it until a signal.
type Main struct {
	Config     *config.Config
	ConfigPath string
	Log        *slog.Logger
	DB         *storage.DB
	Files      flows.FileStore
	Engine     *flows.Engine
	Dispatcher *flows.Dispatcher
	Clock      flows.Clock
	// Compare reads versions' texts in the background and tells what
	// changed between them.
	Compare *compare.Service
	// Stats computes where approvals stall, for the chat, the web, the
	// digest and the connector.
	Stats *stats.Service
	// Seal seals every approval sheet (nil: none configured, or it could
	// not be loaded: sealProblem says why).
	Seal        *pdfseal.Seal
	sealProblem string
	// verifier checks the signatures uploaded at sign stages (nil without
	// signatures: in the configuration).
	verifier atomic.Pointer[signcheck.Checker]
	// dss signs stages with method: dss (nil without signatures.dss).
	dss      atomic.Pointer[dss.Client]
	Listener net.Listener
	// Chat is the conversation every messenger shares; Telegram is its
	// Telegram channel (nil when off) and Messengers every messenger on.
	Chat       *chat.Conversation
	Telegram   *chat.Messenger
	Messengers map[string]*chat.Messenger
	// inboxes are the channels' inbox processors, by channel, for updates
	// another replica stored (see heard).
	inboxes   map[string]waker
	Calendar  *calendar.Calendar
	Scheduler *flows.Scheduler
	Web       *web.Server
	API       *api.Server
	// Webhooks sends the connector's events; nil without subscriptions.
	Webhooks *webhooks.Sender

	// Health is where every platform stands, for /readyz and /metrics.
	Health *health.Registry
	// links are the channels' connections to their platforms, each kept
	// by its supervisor in every replica.
	links []supervised

	server *http.Server
	// metricsServer serves /metrics apart when http.metrics_listen says.
	metricsServer   *http.Server
	metricsListener net.Listener
	runners         []func(context.Context) error
	tgWire          *telegram.Transport
	tgToken         string // signs the Mini App's initData
	// b24App is a Bitrix24 local application's client and b24API its
	// portal's REST address (nil, "" for an inbound webhook): its pages
	// open inside the portal.
	b24App  *bitrix24.Client
	b24API  string
	slWire  *slack.Transport
	b24Wire *bitrix24.Transport
	// b24Registry mirrors documents into the portal's list (nil: off).
	b24Registry *bitrix24.Registry
	// b24Install takes a local application's installation (nil unless
	// the channel is an OAuth application).
	b24Install http.Handler
	mu         sync.Mutex
}

// databaseURL says where a configuration's database is: PostgreSQL's URL,
// or "" for SQLite in data_dir. Tests replace it to run the service on
// PostgreSQL, a schema for each data folder.
var databaseURL = (*config.Config).DatabaseURL

// newClock is the service's clock: the system's, or a measurement's that
// spreads a year of documents over a year (make scale).
var newClock = func() flows.Clock { return flows.SystemClock{} }

// OpenStorage opens the database and the engine without channels, for the
// administration commands.
func OpenStorage(ctx context.Context, cfg *config.Config) (*Main, error) {
	url, err := databaseURL(cfg)
	if err != nil {
		return nil, err
	}
	db, files, err := storage.OpenAt(ctx, storage.Location{DataDir: cfg.DataDir, URL: url})
	if err != nil {
		return nil, err
	}
	m := &Main{Config: cfg, DB: db, Files: files, Clock: newClock()}
	dir, err := cfg.Directory()
	if err != nil {
		db.Close()
		return nil, err
	}
	if m.Calendar, err = cfg.WorkCalendar(); err != nil {
		db.Close()
		return nil, err
	}
	m.Engine = flows.NewEngine(m.DB, m.Files, m.Clock, m.Calendar, dir)
	m.DB.SetWorktime(m.Calendar.WorkingBetween)
	m.loadSeal(cfg)
	m.useVerifier(cfg)
	return m, nil
}

func (m *Main) reports() *reports {
	m.mu.Lock()
	defer m.mu.Unlock()
	sealFinal := m.Config != nil && m.Config.Seal != nil && m.Config.Seal.FinalVersion
	return &reports{db: m.DB, eng: m.Engine, files: m.Files, cal: m.Calendar, clock: m.Clock, cmp: m.Compare, seal: m.Seal, sealFinal: sealFinal,
		log: m.Log}
}

// writeReport writes a sheet or the registry to a file.
func (m *Main) writeReport(ctx context.Context, kind, number, lang string, csv bool, path string) error {
	if lang == "" {
		lang = m.Engine.Directory().Language
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := m.reports()
	if kind == "sheet" {
		d, err := m.DB.DocumentByNumber(ctx, number)
		if err == nil {
			err = r.Sheet(ctx, d, lang, f)
		}
		if err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("sheet %s: %w", number, err)
		}
	} else {
		if _, err := r.Registry(ctx, "", lang, csv, f, nil); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("export: %w", err)
		}
	}
	return f.Close()
}

// Wire is a messenger's transport with the loop that feeds it events; a
// test adds its own (the in-memory channel) through NewMain.
type Wire struct {
	Transport chat.Transport
	// Run receives the platform's updates and hands them to m until ctx
	// ends; nil when the events come from elsewhere (a test).
	Run func(ctx context.Context, m *chat.Messenger) error
}

// NewMain opens storage and wires the engine, the channels and the HTTP
// listener. Run starts them. extra are messengers beyond the configured
// ones.
func NewMain(ctx context.Context, cfg *config.Config, path string, log *slog.Logger, extra ...Wire) (*Main, error) {
	m, err := OpenStorage(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m.ConfigPath, m.Log = path, log
	m.DB.Log = log
	if m.sealProblem != "" {
		log.Error("seal off: sheets go out unsealed", "err", m.sealProblem)
	}
	if err := m.useAuditKey(ctx, true); err != nil {
		m.DB.Close()
		return nil, err
	}
	m.Compare = m.newCompare()
	m.Stats = &stats.Service{Source: m.DB, Dir: m.Engine.Directory, Worktime: m.worktime, Clock: m.Clock}
	m.Chat = &chat.Conversation{Engine: m.Engine, Store: m.DB, Files: m.Files, Clock: m.Clock, Log: log, Reports: reportsFunc(m.reports),
		Compare: m.Compare, Stats: m.Stats}
	m.Health = &health.Registry{Changed: func(st health.Status) {
		if st.State == health.Up {
			m.wakeLoops() // what waited for the channel goes now
		}
	}}
	m.Messengers, m.inboxes = map[string]*chat.Messenger{}, map[string]waker{}
	var channels []flows.Channel
	wires := extra
	// Listening first: a channel may need the address people and platforms
	// reach the service at (Bitrix24 registers its event handlers there).
	if m.Listener, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		m.DB.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTP.Listen, err)
	}
	publicURL := cfg.HTTP.PublicURL
	if publicURL == "" {
		publicURL = "http://" + m.Listener.Addr().String()
	}
	fail := func(err error) (*Main, error) {
		m.Listener.Close()
		m.DB.Close()
		return nil, err
	}
	if cfg.Telegram != nil {
		tg, err := m.telegram(ctx, cfg.Telegram, publicURL)
		if err != nil {
			return fail(err)
		}
		if tg != nil {
			m.tgWire = tg
			wires = append([]Wire{{Transport: tg, Run: tg.Run}}, wires...)
		}
	}
	if cfg.Slack != nil {
		sl, err := m.slack(ctx, cfg.Slack)
		if err != nil {
			return fail(err)
		}
		if sl != nil {
			m.slWire = sl
			wires = append(wires, Wire{Transport: sl, Run: sl.Run})
		}
	}
	if cfg.Bitrix24 != nil {
		b, err := m.bitrix24(ctx, cfg.Bitrix24, strings.TrimSuffix(publicURL, "/")+"/bitrix24/events")
		if err != nil {
			return fail(err)
		}
		if b != nil {
			m.b24Wire = b
			wires = append(wires, Wire{Transport: b, Run: b.Run})
		}
	}
	for _, w := range wires {
		ms, err := chat.New(ctx, m.Chat, w.Transport)
		if err != nil {
			return fail(err)
		}
		m.Messengers[ms.Name()] = ms
		channels = append(channels, ms)
		if wk, ok := w.Transport.(waker); ok {
			m.inboxes[ms.Name()] = wk
		}
		comp := m.componentOf(ms.Name())
		if comp != nil {
			ms.SetGate(comp)
		}
		if w.Run != nil {
			run := w.Run
			m.runners = append(m.runners, func(ctx context.Context) error {
				if comp == nil {
					return run(ctx, ms)
				}
				// The intake starts once the platform answered, and again
				// after it failed; its failure is the channel's, never
				// the leader's.
				comp.Keep(ctx, m.Log, func(ctx context.Context) error { return run(ctx, ms) })
				return nil
			})
		}
	}
	m.Telegram = m.Messengers[telegram.Name]
	if cfg.SMS != nil {
		ch, err := m.sms(cfg.SMS)
		if err != nil {
			return fail(err)
		}
		if ch != nil {
			channels = append(channels, ch)
		}
	}
	if cfg.Email != nil {
		ch, err := m.email(ctx, cfg.Email, publicURL)
		if err != nil {
			return fail(err)
		}
		if ch != nil {
			channels = append(channels, ch)
		}
	}
	if len(m.Messengers) == 0 {
		// With no messenger, notifications go to the log so that the outbox
		// can be seen working (the demo, a first install).
		channels = append(channels, &logchannel.Channel{Log: log, Renderer: func() messages.Renderer { return messages.Renderer{Dir: m.Engine.Directory()} }})
	}
	// The web pages are a channel too: every person's web inbox.
	channels = append(channels, webChannel{m})
	m.Dispatcher = flows.NewDispatcher(m.DB, m.Engine.Directory, m.Clock, log, channels...)
	m.Scheduler = flows.NewScheduler(m.Engine, m.DB, log)
	if m.API, m.Webhooks, err = m.connector(ctx, cfg, publicURL); err != nil {
		return fail(err)
	}
	m.DB.OnCommit(m.wakeLoops)
	if err := m.initWeb(ctx, publicURL, path == ""); err != nil {
		return fail(err)
	}
	m.Chat.SetLoginLink(func(ctx context.Context, p flows.PersonID) (string, error) {
		return m.Web.LoginLink(ctx, p, web.LoginTTL)
	})
	m.Chat.SetTaskLink(m.Web.TaskLink)
	metrics := web.NewMetrics(m.DB, m.Clock.Now)
	metrics.Register(m.Health)
	mux := http.NewServeMux()
	token, err := config.Secret(cfg.HTTP.MetricsTokenEnv)
	if err != nil {
		return fail(err)
	}
	metricsHandler := bearer(token, metrics.Handler())
	if cfg.HTTP.MetricsListen != "" {
		if m.metricsListener, err = net.Listen("tcp", cfg.HTTP.MetricsListen); err != nil {
			return fail(fmt.Errorf("listen on %s: %w", cfg.HTTP.MetricsListen, err))
		}
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", metricsHandler)
		m.metricsServer = &http.Server{Handler: mm, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	} else {
		mux.Handle("GET /metrics", metricsHandler)
	}
	mux.Handle("/", m.Web.Handler())
	mux.Handle(api.Prefix+"/", m.API.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /readyz", m.readyz())
	if m.tgWire != nil && cfg.Telegram.Mode == "webhook" {
		mux.Handle("POST /telegram/webhook", m.tgWire.WebhookHandler())
	}
	if m.slWire != nil && cfg.Slack.Mode == "http" {
		mux.Handle("/slack/", m.slWire.Handler())
	}
	if m.b24Wire != nil && cfg.Bitrix24.Mode != "fetch" {
		// Classic imbot posts events here; whether the portal has
		// Chatbots 2.0 instead is learnt when it answers (auto).
		mux.Handle("POST /bitrix24/events", m.b24Wire.Handler())
	}
	if m.b24Install != nil {
		mux.Handle("POST /bitrix24/install", m.b24Install)
	}
	// A 20 MB upload from a phone on a slow line (256 kbit/s) takes about
	// ten minutes: reads and writes get fifteen, idle connections two.
	m.server = &http.Server{Handler: metrics.Wrap(mux), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 15 * time.Minute,
		WriteTimeout: 15 * time.Minute, IdleTimeout: 2 * time.Minute}
	return m, nil
}

// Run serves until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	m.Log.Info("viza started", "company", m.Config.Company, "people", len(m.Config.People),
		"types", len(m.Config.DocumentTypes), "database", m.DB.Location().String(), "http", "http://"+m.Listener.Addr().String())
	// Every loop runs in one group: when the service stops, Run returns only
	// after each has, so none writes into the data folder after Close.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := m.server.Serve(m.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	// Every replica serves pages, the API and webhooks and sends what its
	// outbox claims; the rest runs on one of them (see storage.DB.Lead).
	g.Go(func() error { return m.Dispatcher.Run(gctx) })
	g.Go(func() error { return m.Compare.Run(gctx) })
	g.Go(func() error { m.backfillFacts(gctx); return nil })
	// Every replica keeps its own link to each platform: it sends what its
	// outbox claims, so it must know whether the platform is there.
	for _, l := range m.links {
		g.Go(func() error {
			l.comp.Supervise(gctx, l.link)
			return nil
		})
	}
	g.Go(func() error { return m.DB.Lead(gctx, m.Log, m.runLeaderJobs) })
	g.Go(func() error { return m.DB.ListenPeers(gctx, m.Log, m.heard) })
	if m.metricsServer != nil {
		g.Go(func() error {
			if err := m.metricsServer.Serve(m.metricsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics http: %w", err)
			}
			return nil
		})
	}
	<-gctx.Done()
	m.Log.Info("shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m.metricsServer != nil {
		if err := m.metricsServer.Shutdown(shCtx); err != nil {
			m.Log.Warn("metrics server did not stop in time", "err", err)
		}
	}
	if err := m.server.Shutdown(shCtx); err != nil {
		m.Log.Warn("web server did not stop in time", "err", err)
	}
	m.Web.Shutdown()
	done := make(chan error, 1)
	go func() {
		err := g.Wait()
		if m.b24Wire != nil {
			m.b24Wire.Wait() // batches the loops left in flight
		}
		done <- err
	}()
	select {
	case err := <-done:
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil // stopped as asked
		}
		return err
	case <-shCtx.Done():
		return fmt.Errorf("shutdown: loops still running after %s", 10*time.Second)
	}
}

// wakeLoops makes the loops that act on new commits look now.
func (m *Main) wakeLoops() {
	m.Dispatcher.Wake()
	m.Compare.Wake()
	m.Scheduler.Wake()
	if m.Webhooks != nil {
		m.Webhooks.Wake()
	}
	if m.b24Registry != nil {
		m.b24Registry.Wake()
	}
}

// waker is a transport whose inbox processor can be told to look now.
type waker interface{ Wake() }

// heard acts on what another replica committed (see storage.ListenPeers).
func (m *Main) heard(event string) {
	if event == storage.PeerCommit {
		m.wakeLoops()
		return
	}
	for name, in := range m.inboxes {
		if event == storage.PeerInbox(name) {
			in.Wake()
		}
	}
}

// runLeaderJobs runs what must run in one process at a time: reminders,
// the audit head's log, compaction, webhook delivery and the channels'
// single-consumer intake (Telegram long polling, Bitrix24 fetching, the
// digest). It returns when ctx ends or one of them fails.
func (m *Main) runLeaderJobs(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.Scheduler.Run(gctx) })
	g.Go(func() error { return m.logHead(gctx) })
	g.Go(func() error { return m.compactLoop(gctx) })
	if m.Webhooks != nil {
		g.Go(func() error { return m.Webhooks.Run(gctx) })
	}
	for _, run := range m.runners {
		g.Go(func() error { return run(gctx) })
	}
	return g.Wait()
}

// bearer lets through requests with the token, or all when there is none.
func bearer(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Reload re-reads people, document types and the calendar (SIGHUP).
// Running documents keep their route snapshots; a bad file changes nothing.
func (m *Main) Reload() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ConfigPath == "" {
		m.Log.Info("reload: the embedded demo configuration does not change")
		return
	}
	cfg, err := config.Load(m.ConfigPath)
	if err != nil {
		m.Log.Error("reload refused; keeping the running configuration", "err", err)
		return
	}
	dir, err := cfg.Directory()
	if err != nil {
		m.Log.Error("reload refused", "err", err)
		return
	}
	cal, err := cfg.WorkCalendar()
	if err != nil {
		m.Log.Error("reload refused", "err", err)
		return
	}
	m.Engine.SetDirectory(dir)
	m.Engine.SetCalendar(cal)
	m.useVerifier(cfg)
	m.DB.SetWorktime(cal.WorkingBetween)
	m.Calendar = cal
	m.Log.Info("configuration reloaded", "people", len(cfg.People), "types", len(cfg.DocumentTypes))
}

// Verify walks the audit chain — all of it, or what came after the last
// checkpoint — telling progress to progress, and reports in lang.
func (m *Main) Verify(ctx context.Context, w, progress io.Writer, lang string, sinceCheckpoint bool) int {
	say := cliText(lang)
	opts := storage.VerifyOptions{SinceCheckpoint: sinceCheckpoint}
	if progress != nil {
		opts.Progress = func(done, total int64) {
			fmt.Fprintln(progress, say("cli.verify_progress", map[string]any{"Done": done, "Total": total}))
		}
	}
	rep, err := m.DB.Verify(ctx, opts)
	if errors.Is(err, storage.ErrNoCheckpoint) {
		fmt.Fprintln(w, say("cli.no_checkpoint", nil))
		return 1
	}
	if err != nil {
		fmt.Fprintln(w, "verify:", err)
		return 1
	}
	if rep.BrokenAt != 0 {
		reason := say("cli.chain."+rep.Reason, map[string]any{"Document": rep.Document})
		fmt.Fprintln(w, say("cli.chain_broken", map[string]any{"ID": rep.BrokenAt, "Reason": reason, "Events": rep.Events}))
		return 1
	}
	if rep.SealedFrom != 0 {
		fmt.Fprintln(w, say("cli.chain_sealed", map[string]any{"ID": rep.SealedFrom}))
	}
	if sinceCheckpoint {
		// The quick run checks what came after the checkpoint, in seconds
		// whatever the file's size; SQLite's integrity_check reads the
		// whole file, so it is left to the full run, and said so.
		fmt.Fprintln(w, say("cli.chain_intact_since", map[string]any{"From": rep.From, "Events": rep.Events, "Hash": rep.LastHash}))
		fmt.Fprintln(w, say("cli.integrity_not_checked", nil))
		return 0
	}
	integrity, err := m.DB.IntegrityCheck(ctx)
	if err != nil {
		fmt.Fprintln(w, "verify:", err)
		return 1
	}
	integrity = strings.TrimSpace(integrity)
	if rep.From > 0 {
		fmt.Fprintln(w, say("cli.chain_intact_since", map[string]any{"From": rep.From, "Events": rep.Events, "Hash": rep.LastHash}))
	} else {
		fmt.Fprintln(w, say("cli.chain_intact", map[string]any{"Events": rep.Events, "Hash": rep.LastHash}))
	}
	fmt.Fprintln(w, say("cli.integrity", map[string]any{"Result": integrity}))
	if integrity != "ok" {
		return 1
	}
	return 0
}

// logHead writes the audit chain's head to the log at start and then
// daily: an anchor outside the database, which a later `viza verify` can be
// held against by whoever keeps the logs.
func (m *Main) logHead(ctx context.Context) error {
	for {
		if id, hash, err := m.DB.Head(ctx); err == nil {
			m.Log.Info("audit head", "anchor", storage.FormatAnchor(id, hash))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(24 * time.Hour):
		}
	}
}

// cliText renders the administration commands' messages in lang. The
// catalogues are embedded and tested, so a failure to load them leaves the
// message ids, still readable.
func cliText(lang string) func(id string, data map[string]any) string {
	if _, err := locales.For(lang); err != nil {
		return func(id string, _ map[string]any) string { return id }
	}
	// A terminal shows plain text: the catalogue's markup is read and its
	// entities (&lt;) become characters again.
	return func(id string, data map[string]any) string { return messages.Say(lang, id, data).String() }
}

// language is the one the administration commands speak: -lang, else the
// company's.
func (m *Main) language(flagLang string) string {
	if flagLang != "" {
		return flagLang
	}
	return m.Engine.Directory().Language
}

// Close releases everything.
func (m *Main) Close() error {
	if m.Seal != nil {
		m.Seal.Close()
	}
	if m.DB == nil {
		return nil
	}
	return m.DB.Close()
}

// telegram connects the Telegram transport when its token is in the
// environment; without one the channel is off and the service runs on.
func (m *Main) telegram(ctx context.Context, tc *config.Telegram, publicURL string) (*telegram.Transport, error) {
	token, err := config.Secret(tc.TokenEnv)
	if err != nil {
		return nil, err
	}
	if token == "" {
		m.Log.Info("telegram channel off: no token in the environment", "env", tc.TokenEnv)
		return nil, nil
	}
	secret, err := config.Secret(tc.WebhookSecretEnv)
	if err != nil {
		return nil, err
	}
	if tc.Mode == "webhook" && secret == "" {
		return nil, fmt.Errorf("telegram webhook mode needs a secret in %s", tc.WebhookSecretEnv)
	}
	ch, err := telegram.New(ctx, telegram.Config{Token: token, APIURL: tc.APIURL, Mode: tc.Mode, WebhookURL: tc.WebhookURL,
		WebhookSecret: secret, MiniAppURL: strings.TrimRight(publicURL, "/") + "/tg/app"}, m.DB, m.Engine.Directory().Language, m.Log)
	if err != nil {
		return nil, err
	}
	ch.Health = m.supervise(telegram.Name, tc.TokenEnv, ch.Connect, ch.Probe, token, secret)
	m.tgToken = token
	m.Log.Info("telegram channel on; connecting in the background", "mode", tc.Mode)
	return ch, nil
}

// slack connects the Slack transport when its bot token is in the
// environment; without one the channel is off and the service runs on.
func (m *Main) slack(ctx context.Context, sc *config.Slack) (*slack.Transport, error) {
	bot, err := config.Secret(sc.BotTokenEnv)
	if err != nil {
		return nil, err
	}
	if bot == "" {
		m.Log.Info("slack channel off: no bot token in the environment", "env", sc.BotTokenEnv)
		return nil, nil
	}
	app, err := config.Secret(sc.AppTokenEnv)
	if err != nil {
		return nil, err
	}
	signing, err := config.Secret(sc.SigningSecretEnv)
	if err != nil {
		return nil, err
	}
	switch {
	case sc.Mode == "socket" && app == "":
		return nil, fmt.Errorf("slack socket mode needs an app-level token in %s", sc.AppTokenEnv)
	case sc.Mode == "http" && signing == "":
		return nil, fmt.Errorf("slack http mode needs the signing secret in %s", sc.SigningSecretEnv)
	}
	tr, err := slack.New(ctx, slack.Config{Mode: sc.Mode, BotToken: bot, AppToken: app, SigningSecret: signing, APIURL: sc.APIURL,
		MaxFile: int64(sc.MaxFileMB) << 20, Workspace: rate.Limit(sc.MessagesPerSecond), Tiers: sc.MethodLimits}, m.DB, m.Log)
	if err != nil {
		return nil, err
	}
	tr.Health = m.supervise(slack.Name, sc.BotTokenEnv, tr.Connect, tr.Probe, bot, app, signing)
	m.Log.Info("slack channel on; connecting in the background", "mode", sc.Mode)
	return tr, nil
}

// bitrix24Client makes the portal's REST client from the inbound webhook
// or the local application in the environment; nil when neither is
// there, or the application is not installed yet.
func (m *Main) bitrix24Client(ctx context.Context, bc *config.Bitrix24) (client *bitrix24.Client, appToken string, err error) {
	webhook, err := config.Secret(bc.WebhookEnv)
	if err != nil {
		return nil, "", err
	}
	clientSecret, err := config.Secret(bc.ClientSecretEnv)
	if err != nil {
		return nil, "", err
	}
	appToken, err = config.Secret(bc.ApplicationTokenEnv)
	if err != nil {
		return nil, "", err
	}
	cc := bitrix24.ClientConfig{Webhook: webhook, Rate: bc.RequestsPerSecond, Burst: bc.Burst, Secrets: []string{appToken}}
	switch {
	case webhook != "":
	case bc.ClientID != "" && clientSecret != "":
		cc.RESTURL = bc.APIURL
		cc.OAuth = &bitrix24.OAuth{ClientID: bc.ClientID, ClientSecret: clientSecret, TokenURL: bc.OAuthURL, Store: bitrix24.StateTokens{Store: m.DB}}
		if _, ok, err := cc.OAuth.Store.LoadTokens(ctx); err != nil {
			return nil, "", err
		} else if !ok {
			// The channel is parked until the portal installs the
			// application; the installation wakes it (see bitrix24).
			m.Log.Warn("bitrix24 channel waits for the application's installation on the portal: its handler is /bitrix24/install")
		}
	default:
		m.Log.Info("bitrix24 channel off: neither an inbound webhook nor a local application's secret in the environment",
			"webhook_env", bc.WebhookEnv, "client_secret_env", bc.ClientSecretEnv)
		return nil, "", nil
	}
	if client, err = bitrix24.NewClient(cc, m.Log.With("channel", bitrix24.Name)); err != nil {
		return nil, "", err
	}
	// After a restart the portal's bucket may still hold the calls made
	// just before it: start as drained as that allows.
	return client, appToken, client.Remember(ctx, m.DB)
}

// bitrix24 connects the Bitrix24 transport when an inbound webhook or a
// local application is configured; without either the channel is off and
// the service runs on. A local application not installed yet serves its
// installation handler and waits for a restart.
func (m *Main) bitrix24(ctx context.Context, bc *config.Bitrix24, eventsURL string) (*bitrix24.Transport, error) {
	client, appToken, err := m.bitrix24Client(ctx, bc)
	if err != nil || client == nil {
		return nil, err
	}
	poll, _ := time.ParseDuration(bc.FetchInterval)
	tr, err := bitrix24.New(ctx, bitrix24.Config{Mode: bc.Mode, ApplicationToken: appToken, EventsURL: eventsURL,
		MaxFile: int64(bc.MaxFileMB) << 20, Poll: poll}, client, m.DB, m.Log)
	if err != nil {
		return nil, err
	}
	tr.Health = m.supervise(bitrix24.Name, bc.WebhookEnv, tr.Connect, tr.Probe, client.Secrets()...)
	if oauth := client.OAuth(); oauth != nil {
		comp := tr.Health
		m.b24Install = bitrix24.InstallHandler(oauth, bc.APIURL, m.DB, m.Log.With("channel", bitrix24.Name), comp.Retry)
		m.b24App, m.b24API = client, bc.APIURL
		// Viza's pages in the portal's menu and on company cards, bound
		// once the application is installed and the portal answers.
		m.runners = append(m.runners, func(ctx context.Context) error {
			comp.Keep(ctx, m.Log, m.bindPlacements)
			return nil
		})
	}
	m.Log.Info("bitrix24 channel on; connecting in the background", "mode", tr.Mode())
	if tr.Mode() == "events" && m.Config.HTTP.PublicURL == "" {
		m.Log.Warn("classic Bitrix24 bots post events to http.public_url, which is not set: the portal was given the listen address, which it may not reach",
			"events_url", eventsURL)
	}
	if l := bc.RegistryList; l != nil {
		m.b24Registry = &bitrix24.Registry{Client: client, List: bitrix24.List{ID: l.ID, TypeID: l.TypeID, Fields: l.Fields}, Changes: m.DB,
			Dir: m.Engine.Directory, Files: m.Files, Log: m.Log.With("channel", bitrix24.Name), Poll: 30 * time.Second,
			Sheet: func(ctx context.Context, d *flows.Document, lang string, w io.Writer) error {
				return m.reports().Sheet(ctx, d, lang, w)
			}}
		comp := tr.Health
		m.runners = append(m.runners, func(ctx context.Context) error {
			comp.Keep(ctx, m.Log, m.b24Registry.Run)
			return nil
		})
	}
	return tr, nil
}

// supervised is one channel's link to its platform and where it stands.
type supervised struct {
	comp *health.Component
	link health.Link
}

// supervise makes the component a channel reports to and the supervisor
// that connects it in the background; secrets are masked in what it shows.
func (m *Main) supervise(name, env string, connect, probe func(context.Context) error, secrets ...string) *health.Component {
	comp := m.Health.Add(name, secrets...)
	lang := m.Engine.Directory().Language
	say := cliText(lang)
	m.links = append(m.links, supervised{comp: comp, link: health.Link{Connect: connect, Probe: probe, Log: m.Log,
		Parked: func(reason string) string {
			return say("health.parked", map[string]any{"Channel": say("channel."+name, nil), "Reason": reason,
				"Every": say("health.every", nil), "Hint": say("health.hint."+name, map[string]any{"Env": env})})
		}}})
	return comp
}

// componentOf is the health component of a channel, nil for one without
// a platform of its own (a test's in-memory messenger).
func (m *Main) componentOf(name string) *health.Component {
	for _, l := range m.links {
		if l.comp.Name() == name {
			return l.comp
		}
	}
	return nil
}

// sms builds the SMS channel when its key is in the environment.
func (m *Main) sms(sc *config.SMS) (flows.Channel, error) {
	key, err := config.Secret(sc.APIKeyEnv)
	if err != nil {
		return nil, err
	}
	if key == "" {
		m.Log.Info("sms off: no key in the environment", "env", sc.APIKeyEnv)
		return nil, nil
	}
	client := &http.Client{Timeout: 20 * time.Second}
	var sender sms.Sender
	switch sc.Provider {
	case "smsru":
		sender = &sms.SMSRu{BaseURL: sc.APIURL, APIID: key, From: sc.Sender, HTTP: client}
	case "smsc":
		login, password, ok := strings.Cut(key, ":")
		if !ok {
			login, password = "", key
		}
		sender = &sms.SMSC{BaseURL: sc.APIURL, Login: login, Password: password, Sender: sc.Sender, HTTP: client}
	case "twilio":
		sender = &sms.Twilio{BaseURL: sc.APIURL, AccountSID: sc.AccountSID, AuthToken: key, From: sc.Sender, HTTP: client}
	}
	m.Log.Info("sms on", "provider", sc.Provider)
	return &sms.Channel{Sender: sender, Log: m.Log, Secrets: []string{key, sc.AccountSID}, Lang: func(p flows.PersonID) string { return m.Engine.Directory().LanguageOf(p) },
		OnMessenger: m.onMessenger,
		Renderer:    func() messages.Renderer { return messages.Renderer{Dir: m.Engine.Directory()} },
		// The web pages are set up after the channels; the link is made
		// at delivery time.
		TaskLink: func(ctx context.Context, taskID int64, p flows.PersonID) (string, error) {
			return m.Web.TaskLink(ctx, taskID, p)
		}}, nil
}

// onMessenger tells whether a messenger reaches p now, counting chats
// linked by a shared phone, so that SMS carries tasks only to people no chat
// reaches.
func (m *Main) onMessenger(p *flows.Person) bool {
	for _, ms := range m.Messengers {
		if ms.Reaches(p) {
			return true
		}
	}
	return false
}

// initWeb prepares the web pages (and the links they are reached by).
func (m *Main) initWeb(ctx context.Context, publicURL string, demo bool) error {
	log := m.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ttl, _ := time.ParseDuration(m.Config.HTTP.TaskLinkTTL) // validated with the configuration
	m.Web = &web.Server{Engine: m.Engine, Store: m.DB, Files: m.Files, Reports: reportsFunc(m.reports), Clock: m.Clock, Log: log, Compare: m.Compare,
		Stats: m.Stats, PublicURL: publicURL, Demo: demo, LinkKey: m.DB.DerivedKey("task-links"), LinkTTL: ttl}
	if m.tgToken != "" {
		m.Web.MiniApp = m.miniApp
	}
	if m.b24App != nil {
		m.Web.Placement = m.placement
		if u, err := url.Parse(m.b24API); err == nil && u.Host != "" {
			m.Web.FrameAncestors = []string{u.Scheme + "://" + u.Host}
		}
	}
	return m.Web.Init(ctx)
}

// webChannel hands deliveries to the web pages, which are set up after the
// dispatcher.
type webChannel struct{ m *Main }

func (w webChannel) Name() string                 { return web.Name }
func (w webChannel) Reaches(p *flows.Person) bool { return true }

// Pushes implements flows.Pushes: the web inbox is where a person looks,
// not a channel they choose to be told on.
func (w webChannel) Pushes() bool { return false }
func (w webChannel) Deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	return w.m.Web.Deliver(ctx, n, p)
}
