package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/stats"
)

// Conversation holds what every messenger's dialogues share: the engine,
// storage, files and the reports.
type Conversation struct {
	Engine  *flows.Engine
	Store   Store
	Files   flows.FileStore
	Clock   flows.Clock
	Log     *slog.Logger
	Reports Reports // nil turns /sheet, /list and /export off
	// Compare tells what changed between versions; nil leaves the
	// request cards without it and turns /diff off. CompareWait is how
	// long a card waits for it (CardCompareWait where 0).
	Compare     compare.Comparer
	CompareWait time.Duration
	// Stats answers /stats; nil turns it off.
	Stats *stats.Service

	mu        sync.Mutex
	loginLink func(context.Context, flows.PersonID) (string, error)
	taskLink  func(context.Context, int64, flows.PersonID) (string, error)
}

// SetTaskLink lets a request whose file will not go through the platform
// point at the task's web page instead.
func (c *Conversation) SetTaskLink(f func(context.Context, int64, flows.PersonID) (string, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.taskLink = f
}

func (c *Conversation) taskPage() func(context.Context, int64, flows.PersonID) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.taskLink
}

// SetLoginLink lets /web hand out sign-in links to the web pages.
func (c *Conversation) SetLoginLink(f func(context.Context, flows.PersonID) (string, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loginLink = f
}

func (c *Conversation) login() func(context.Context, flows.PersonID) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLink
}

// Messenger is the conversation on one transport. It handles the
// transport's events and implements flows.Channel for it.
type Messenger struct {
	*Conversation
	wire Transport
	caps Caps
	name string
	log  *slog.Logger

	// refMu serialises the read-modify-write of a task's and a
	// document's message records within this process.
	refMu sync.Mutex
	// taskMu keeps a decision's own edits and its closing notification's
	// apart within the process (striped by task id), so that the card is
	// edited once, not twice, when nothing went wrong.
	taskMu [32]sync.Mutex

	mu       sync.Mutex
	gateway  Gate
	links    map[string]flows.PersonID // platform user → person, by a shared phone
	convs    map[flows.PersonID]string // person → private conversation
	inactive map[flows.PersonID]bool   // blocked the bot
	langs    map[flows.PersonID]string
}

var (
	_ flows.Channel = (*Messenger)(nil)
	_ flows.Gated   = (*Messenger)(nil)
)

// Gate is where the messenger's platform stands (a bot/health.Component):
// whether deliveries may go now, and how a send tells that the platform
// seems gone.
type Gate interface {
	Open() bool
	Trouble(err error)
}

// SetGate puts the messenger's deliveries behind g.
func (m *Messenger) SetGate(g Gate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gateway = g
}

func (m *Messenger) gate() Gate {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gateway
}

// Open implements flows.Gated: deliveries wait while the platform is out
// of reach. A messenger without a gate (a test's) is always open.
func (m *Messenger) Open() bool {
	g := m.gate()
	return g == nil || g.Open()
}

// New makes the conversation on transport t, loading the people linked by
// phone, who blocked the bot and who chose another language.
func New(ctx context.Context, c *Conversation, t Transport) (*Messenger, error) {
	caps := t.Caps()
	if caps.MaxFile == 0 {
		caps.MaxFile = flows.MaxFileSize
	}
	if caps.Command == "" {
		caps.Command = "/"
	}
	m := &Messenger{Conversation: c, wire: t, caps: caps, name: t.Name(), log: c.Log.With("channel", t.Name()),
		links: map[string]flows.PersonID{}, convs: map[flows.PersonID]string{}, inactive: map[flows.PersonID]bool{},
		langs: map[flows.PersonID]string{}}
	links, err := c.Store.StatePrefix(ctx, m.name, "link:")
	if err != nil {
		return nil, fmt.Errorf("%s: load links: %w", m.name, err)
	}
	for k, v := range links {
		user := k[len("link:"):]
		m.links[user] = flows.PersonID(v)
	}
	convs, err := c.Store.StatePrefix(ctx, m.name, "conv:")
	if err != nil {
		return nil, fmt.Errorf("%s: load conversations: %w", m.name, err)
	}
	for k, v := range convs {
		m.convs[flows.PersonID(k[len("conv:"):])] = v
	}
	// Links stored before conversations were kept apart had the user's own
	// id as the conversation (Telegram's private chats).
	for user, p := range m.links {
		if _, ok := m.convs[p]; !ok {
			m.convs[p] = user
		}
	}
	inactive, err := c.Store.StatePrefix(ctx, m.name, "inactive:")
	if err != nil {
		return nil, fmt.Errorf("%s: load blocked: %w", m.name, err)
	}
	for k := range inactive {
		m.inactive[flows.PersonID(k[len("inactive:"):])] = true
	}
	langs, err := c.Store.StatePrefix(ctx, m.name, "lang:")
	if err != nil {
		return nil, fmt.Errorf("%s: load languages: %w", m.name, err)
	}
	for k, v := range langs {
		m.langs[flows.PersonID(k[len("lang:"):])] = v
	}
	return m, nil
}

// lockTask holds the task's stripe until the returned func is called.
func (m *Messenger) lockTask(id int64) func() {
	mu := &m.taskMu[uint64(id)%uint64(len(m.taskMu))]
	mu.Lock()
	return mu.Unlock
}

// Name implements flows.Channel.
func (m *Messenger) Name() string { return m.name }

// Transport is the messenger's wire side.
func (m *Messenger) Transport() Transport { return m.wire }

// Reaches implements flows.Channel: the person has an identity on the
// platform (from viza.yaml, a shared phone or the transport's own lookup)
// and has not blocked the bot.
func (m *Messenger) Reaches(p *flows.Person) bool {
	m.mu.Lock()
	_, linked := m.convs[p.ID]
	inactive := m.inactive[p.ID]
	m.mu.Unlock()
	if inactive {
		return false
	}
	if linked || p.Identities[m.name] != "" {
		return true
	}
	id, ok := m.wire.(Identifier)
	return ok && id.Knows(p)
}

// convOf is the person's private conversation with the bot.
func (m *Messenger) convOf(ctx context.Context, p *flows.Person) (string, error) {
	if user := p.Identities[m.name]; user != "" {
		return m.wire.Open(ctx, user)
	}
	m.mu.Lock()
	conv, ok := m.convs[p.ID]
	m.mu.Unlock()
	if ok {
		return conv, nil
	}
	if id, ok := m.wire.(Identifier); ok {
		if user, ok := id.UserOf(ctx, p); ok {
			return m.wire.Open(ctx, user)
		}
	}
	return "", flows.Errorf(flows.KindPermanent, flows.CodeUnreachable, "%s has no %s identity", p.ID, m.name)
}

// userOf is the platform user a person is, if the bot knows.
func (m *Messenger) userOf(ctx context.Context, p *flows.Person) (string, bool) {
	if user := p.Identities[m.name]; user != "" {
		return user, true
	}
	m.mu.Lock()
	for user, id := range m.links {
		if id == p.ID {
			m.mu.Unlock()
			return user, true
		}
	}
	m.mu.Unlock()
	if id, ok := m.wire.(Identifier); ok {
		return id.UserOf(ctx, p)
	}
	return "", false
}

// person finds who a platform user is: by the id in viza.yaml, by the phone
// they shared, or by the transport's own lookup.
func (m *Messenger) person(ctx context.Context, user string) (*flows.Person, bool) {
	if user == "" {
		return nil, false
	}
	dir := m.Engine.Directory()
	if p, ok := dir.ByIdentity(m.name, user); ok {
		return p, true
	}
	m.mu.Lock()
	id, ok := m.links[user]
	m.mu.Unlock()
	if ok {
		return dir.Person(id)
	}
	if idf, ok := m.wire.(Identifier); ok {
		return idf.PersonOf(ctx, dir, user)
	}
	return nil, false
}

// link remembers that a platform user, talking in conv, is person p.
func (m *Messenger) link(ctx context.Context, user, conv string, p flows.PersonID) {
	m.mu.Lock()
	m.links[user] = p
	m.convs[p] = conv
	m.mu.Unlock()
	if err := m.Store.StatePut(ctx, m.name, "link:"+user, string(p)); err != nil {
		m.log.Error("store link", "person", p, "err", err)
	}
	if err := m.Store.StatePut(ctx, m.name, "conv:"+string(p), conv); err != nil {
		m.log.Error("store conversation", "person", p, "err", err)
	}
}

func (m *Messenger) lang(p flows.PersonID) string {
	m.mu.Lock()
	l, ok := m.langs[p]
	m.mu.Unlock()
	if ok {
		return l
	}
	return m.Engine.Directory().LanguageOf(p)
}

func (m *Messenger) setLang(ctx context.Context, p flows.PersonID, lang string) {
	m.mu.Lock()
	m.langs[p] = lang
	m.mu.Unlock()
	if err := m.Store.StatePut(ctx, m.name, "lang:"+string(p), lang); err != nil {
		m.log.Error("store language", "person", p, "err", err)
	}
}

// guessLang is the language for someone the bot does not know yet.
func (m *Messenger) guessLang(hint string) string {
	switch {
	case len(hint) >= 2 && hint[:2] == "ru":
		return "ru"
	case hint != "":
		return "en"
	}
	return m.Engine.Directory().Language
}

func (m *Messenger) setInactive(p flows.PersonID, inactive bool) {
	if p == "" {
		return
	}
	m.mu.Lock()
	was := m.inactive[p]
	if inactive {
		m.inactive[p] = true
	} else {
		delete(m.inactive, p)
	}
	m.mu.Unlock()
	if was == inactive {
		return
	}
	val := ""
	if inactive {
		val = "1"
		m.log.Warn("person blocked the bot; using their other channels", "person", p)
	}
	if err := m.Store.StatePut(context.Background(), m.name, "inactive:"+string(p), val); err != nil {
		m.log.Error("store link state", "person", p, "err", err)
	}
}

// sendFailed notes what a failed send says about the person: one who
// blocked the bot is reached through their other channels from now on.
func (m *Messenger) sendFailed(p flows.PersonID, err error) error {
	if err != nil && flows.ErrorCode(err) == flows.CodeUnreachable {
		m.setInactive(p, true)
	}
	return err
}

func (m *Messenger) renderer() messages.Renderer { return messages.Renderer{Dir: m.Engine.Directory()} }

// t renders the layer's own messages; C is how commands are typed here and
// Channel the platform's name, so that a text can name them.
func (m *Messenger) t(lang, id string, data map[string]any) rich.Text {
	full := map[string]any{"C": m.caps.Command, "Channel": messages.Say(lang, "channel."+m.name, nil).String()}
	for k, v := range data {
		full[k] = v
	}
	return messages.Say(lang, id, full)
}

// s is t as plain text, for button labels and toasts.
func (m *Messenger) s(lang, id string, data map[string]any) string {
	return m.t(lang, id, data).String()
}

// action encodes a button's action id within the platform's limit; a
// longer one is kept in SQLite and the button carries its hash.
func (m *Messenger) action(ctx context.Context, a string) string {
	if m.caps.MaxAction == 0 || len(a) <= m.caps.MaxAction {
		return a
	}
	sum := sha256.Sum256([]byte(a))
	short := "@" + hex.EncodeToString(sum[:])[:min(24, m.caps.MaxAction-1)]
	if err := m.Store.StatePut(ctx, m.name, "act:"+short, a); err != nil {
		m.log.Error("store long action", "err", err)
	}
	return short
}

// unaction reverses action.
func (m *Messenger) unaction(ctx context.Context, a string) string {
	if len(a) == 0 || a[0] != '@' {
		return a
	}
	if full, ok, err := m.Store.StateGet(ctx, m.name, "act:"+a); err == nil && ok {
		return full
	}
	return a
}
