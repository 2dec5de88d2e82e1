// Package web is Viza's web channel and dashboard: one-tap task pages for
// people on no messenger (an unguessable link per task, from SMS or the
// bot), a person's inbox, the managers' table of documents with a detail
// page, sign-in by one-time link, and in demo mode a chooser of demo
// people. Pages are server-rendered html/template and work without
// JavaScript. Who acts is the link's or the session's person, never a form
// field.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
)

// Name is the state namespace of the web channel.
const Name = "web"

// Lifetimes of sign-in links and sessions.
const (
	LoginTTL   = 10 * time.Minute
	SessionTTL = 30 * 24 * time.Hour
	cookieName = "viza_session"
)

//go:embed templates/*.html
var templateFS embed.FS

// Store is what the web channel reads and keeps.
type Store interface {
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
	StateSwap(ctx context.Context, channel, key, old, new string) (bool, error)
	Document(ctx context.Context, id int64) (*flows.Document, error)
	DocumentOfTask(ctx context.Context, taskID int64) (*flows.Document, error)
	OpenTasksOf(ctx context.Context, p flows.PersonID) ([]storage.OpenTask, error)
	FailedDeliveries(ctx context.Context, docID int64, channel string) ([]storage.FailedDelivery, error)
	WebhookStats(ctx context.Context) (storage.WebhookStats, error)
	DocumentsOf(ctx context.Context, p flows.PersonID, limit int) ([]*flows.Document, error)
	DocumentPage(ctx context.Context, q storage.DocQuery) ([]*flows.Document, error)
	CountDocuments(ctx context.Context, q storage.DocQuery) (int, error)
	CountDocumentsUpTo(ctx context.Context, q storage.DocQuery, limit int) (int, bool, error)
}

// Reports renders the approval sheet and the registry.
type Reports interface {
	Sheet(ctx context.Context, d *flows.Document, lang string, w io.Writer) error
	// Registry writes the registry of what reader may read ("" for all)
	// and says how many documents it holds.
	// progress, when set, is told how many rows are written so far.
	Registry(ctx context.Context, reader flows.PersonID, lang string, csv bool, w io.Writer, progress func(done int)) (int, error)
}

// Server serves the web pages.
type Server struct {
	Engine    *flows.Engine
	Store     Store
	Files     flows.FileStore
	Reports   Reports
	Clock     flows.Clock
	Log       *slog.Logger
	PublicURL string // links in SMS and chats; https makes cookies Secure
	Demo      bool   // the demo chooser on the front page
	MaxUpload int64  // bytes; default flows.MaxFileSize
	// LinkKey, kept outside the database, makes a task's link from the
	// task, the person and the link's generation, so that an SMS sent
	// again for the same task carries the same link while the database
	// keeps only its hash. Without it every link is random and new.
	LinkKey []byte
	// LinkTTL bounds a task link's life; default two weeks.
	LinkTTL time.Duration
	// MiniApp signs in who a Telegram Mini App vouches for (nil: off).
	MiniApp MiniApp
	// Placement signs in who a Bitrix24 portal vouches for on the page it
	// opens inside itself (nil: off); FrameAncestors are the origins that
	// may show the pages in a frame (the portal's).
	Placement      Placement
	FrameAncestors []string
	// Compare serves /doc/{number}/diff; nil turns it off.
	Compare compare.Comparer
	// Stats answers /stats; nil turns it off.
	Stats *stats.Service

	secret []byte
	tmpl   *template.Template

	upMu      sync.Mutex
	uploading map[string]int // client address → uploads under way

	exports exportJobs
}

// Init loads (or creates) the CSRF secret and parses the templates.
func (s *Server) Init(ctx context.Context) error {
	if s.MaxUpload == 0 {
		s.MaxUpload = flows.MaxFileSize
	}
	s.exports.jobs = map[string]*exportJob{}
	s.exports.ctx, s.exports.cancel = context.WithCancel(context.Background())
	sec, ok, err := s.Store.StateGet(ctx, Name, "secret")
	if err != nil {
		return err
	}
	if !ok {
		sec = hex.EncodeToString(randomBytes(32))
		if err := s.Store.StatePut(ctx, Name, "secret", sec); err != nil {
			return err
		}
	}
	if s.secret, err = hex.DecodeString(sec); err != nil {
		return fmt.Errorf("web secret: %w", err)
	}
	s.tmpl, err = template.New("").Funcs(template.FuncMap{
		"t": func(lang, id string, kv ...any) string {
			l, err := locales.For(lang)
			if err != nil {
				return id
			}
			data := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				data[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return l.T(id, data)
		},
		"nonce": func() string { return base64.RawURLEncoding.EncodeToString(randomBytes(12)) },
		// with hands a shared template its language and its data.
		"langData":  func(lang string, data any) map[string]any { return map[string]any{"Lang": lang, "Data": data} },
		"localized": messages.Localized,
		"state":     messages.State,
		"versionBase": func(number, base string) string {
			if strings.HasPrefix(base, "/t/") {
				return base
			}
			return "/doc/" + number
		},
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("parse templates: %w", err)
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS has no randomness: nothing safe can go on
	}
	return b
}

// newToken returns 256 random bits, URL-safe, and the hash under which it
// is stored: the database never holds a usable token.
func newToken() (token, hash string) {
	token = base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return token, hashToken(token)
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// csrfWindow is how long a form's CSRF value lasts: it is made for an
// hour's window and accepted in the next, so a form is good for one to two
// hours, never forever.
const csrfWindow = time.Hour

func (s *Server) csrfAt(scope string, window int64) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "csrf:%s:%d", scope, window)
	return strconv.FormatInt(window, 10) + "." + hex.EncodeToString(m.Sum(nil))[:32]
}

func (s *Server) csrf(scope string) string {
	return s.csrfAt(scope, s.Clock.Now().Unix()/int64(csrfWindow/time.Second))
}

func (s *Server) csrfOK(r *http.Request, scope string) bool {
	got := r.FormValue("csrf")
	w, _, ok := strings.Cut(got, ".")
	window, err := strconv.ParseInt(w, 10, 64)
	now := s.Clock.Now().Unix() / int64(csrfWindow/time.Second)
	if !ok || err != nil || (window != now && window != now-1) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.csrfAt(scope, window))) == 1
}

type taskLink struct {
	Task    int64          `json:"task"`
	Person  flows.PersonID `json:"person"`
	Expires time.Time      `json:"expires,omitzero"`
}

// issued is the current link of a task for a person: its generation and
// until when it works.
type issued struct {
	Gen     int       `json:"gen"`
	Expires time.Time `json:"expires"`
}

// TaskLink makes a one-tap link to a task for its holder. The link works
// while the task is open, for LinkTTL at most; asked again for the same
// task and person while it works, it is the same link.
func (s *Server) TaskLink(ctx context.Context, taskID int64, p flows.PersonID) (string, error) {
	ttl := s.LinkTTL
	if ttl == 0 {
		ttl = 14 * 24 * time.Hour
	}
	now := s.Clock.Now()
	key := fmt.Sprintf("tasklink:%d:%s", taskID, p)
	var cur issued
	if raw, ok, err := s.Store.StateGet(ctx, Name, key); err != nil {
		return "", err
	} else if ok {
		json.Unmarshal([]byte(raw), &cur)
	}
	if s.LinkKey != nil && cur.Gen > 0 && now.Before(cur.Expires.Add(-time.Hour)) {
		return s.linkURL(s.derivedToken(taskID, p, cur.Gen)), nil
	}
	cur = issued{Gen: cur.Gen + 1, Expires: now.Add(ttl)}
	token := s.derivedToken(taskID, p, cur.Gen)
	if s.LinkKey == nil {
		token, _ = newToken()
	}
	b, _ := json.Marshal(taskLink{Task: taskID, Person: p, Expires: cur.Expires})
	if err := s.Store.StatePut(ctx, Name, "link:"+hashToken(token), string(b)); err != nil {
		return "", err
	}
	c, _ := json.Marshal(cur)
	if err := s.Store.StatePut(ctx, Name, key, string(c)); err != nil {
		return "", err
	}
	return s.linkURL(token), nil
}

func (s *Server) derivedToken(taskID int64, p flows.PersonID, gen int) string {
	m := hmac.New(sha256.New, s.LinkKey)
	fmt.Fprintf(m, "task-link:%d:%s:%d", taskID, p, gen)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) linkURL(token string) string {
	return strings.TrimRight(s.PublicURL, "/") + "/t/" + token
}

type login struct {
	Person  flows.PersonID `json:"person"`
	Expires time.Time      `json:"expires"`
	Used    bool           `json:"used,omitempty"`
	// Next is the page the link opens once signed in (a mail's action).
	Next string `json:"next,omitempty"`
}

// MailLinkTTL is how long a link in a mail signs its recipient in: mail is
// read later than chat, and each such link still works once.
const MailLinkTTL = 72 * time.Hour

// LoginLinkTo is LoginLink that opens next (a path of these pages) once
// signed in: an action link in a mail works from that mail.
func (s *Server) LoginLinkTo(ctx context.Context, p flows.PersonID, ttl time.Duration, next string) (string, error) {
	if !localPath(next) {
		return "", flows.Errorf(flows.KindInvalid, "bad_link", "next %q", next)
	}
	return s.loginLink(ctx, p, ttl, next)
}

// localPath is a path of this site, never another host ("//evil", "\\evil").
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\") && !strings.ContainsAny(p, "\r\n")
}

// LoginLink makes a one-time sign-in link valid for ttl.
func (s *Server) LoginLink(ctx context.Context, p flows.PersonID, ttl time.Duration) (string, error) {
	return s.loginLink(ctx, p, ttl, "")
}

func (s *Server) loginLink(ctx context.Context, p flows.PersonID, ttl time.Duration, next string) (string, error) {
	if _, ok := s.Engine.Directory().Person(p); !ok {
		return "", flows.Errorf(flows.KindNotFound, "unknown_person", "%q", p)
	}
	token, hash := newToken()
	b, _ := json.Marshal(login{Person: p, Expires: s.Clock.Now().Add(ttl), Next: next})
	if err := s.Store.StatePut(ctx, Name, "login:"+hash, string(b)); err != nil {
		return "", err
	}
	return strings.TrimRight(s.PublicURL, "/") + "/login/" + token, nil
}

type session struct {
	Person  flows.PersonID `json:"person"`
	Expires time.Time      `json:"expires"`
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, p flows.PersonID) error {
	return s.startSessionWith(w, r, p, nil)
}

// startSessionWith is startSession with the cookie adjusted by edit.
func (s *Server) startSessionWith(w http.ResponseWriter, r *http.Request, p flows.PersonID, edit func(*http.Cookie)) error {
	token, hash := newToken()
	b, _ := json.Marshal(session{Person: p, Expires: s.Clock.Now().Add(SessionTTL)})
	if err := s.Store.StatePut(r.Context(), Name, "session:"+hash, string(b)); err != nil {
		return err
	}
	c := &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(s.PublicURL, "https://"), Expires: s.Clock.Now().Add(SessionTTL)}
	if edit != nil {
		edit(c)
	}
	http.SetCookie(w, c)
	return nil
}

// sessionPerson returns the signed-in person and the session's id.
func (s *Server) sessionPerson(r *http.Request) (*flows.Person, string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, "", false
	}
	hash := hashToken(c.Value)
	raw, ok, err := s.Store.StateGet(r.Context(), Name, "session:"+hash)
	if err != nil || !ok {
		return nil, "", false
	}
	var ss session
	if json.Unmarshal([]byte(raw), &ss) != nil || s.Clock.Now().After(ss.Expires) {
		return nil, "", false
	}
	p, ok := s.Engine.Directory().Person(ss.Person)
	return p, hash, ok
}

var errNotFound = errors.New("not found")

// inboxSize is how many recent notifications a person's web inbox keeps.
const inboxSize = 20

type inboxNote struct {
	Kind   string    `json:"kind"`
	Number string    `json:"number"`
	Text   string    `json:"text,omitempty"` // plain, as earlier versions kept it
	Rich   string    `json:"rich,omitempty"`
	At     time.Time `json:"at"`
}

func (n inboxNote) html() template.HTML {
	if n.Rich != "" {
		if t, err := rich.Parse(n.Rich); err == nil {
			return richHTML(t.TrimSpace())
		}
	}
	return richHTML(rich.Plain(strings.TrimSpace(n.Text)))
}

var _ flows.Channel = (*Server)(nil)

// Name implements flows.Channel: the web is a channel like the others.
func (s *Server) Name() string { return Name }

// Reaches implements flows.Channel: everyone has a web inbox.
func (s *Server) Reaches(*flows.Person) bool { return true }

// Deliver implements flows.Channel: the notification, rendered in the
// person's language, joins their web inbox. The dispatcher delivers one
// person's notifications in order, so the read-modify-write is safe.
func (s *Server) Deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	if n.Kind == flows.NoteReminderSMS {
		return "", nil
	}
	m, err := messages.Renderer{Dir: s.Engine.Directory()}.Notification(n, s.lang(p))
	if err != nil {
		return "", err
	}
	notes := s.recent(ctx, p.ID)
	notes = append([]inboxNote{{Kind: n.Kind, Number: n.Number, Rich: m.Text.Markup(), At: n.At}}, notes...)
	if len(notes) > inboxSize {
		notes = notes[:inboxSize]
	}
	b, _ := json.Marshal(notes)
	return "", s.Store.StatePut(ctx, Name, "inbox:"+string(p.ID), string(b))
}

func (s *Server) recent(ctx context.Context, p flows.PersonID) []inboxNote {
	raw, ok, err := s.Store.StateGet(ctx, Name, "inbox:"+string(p))
	var notes []inboxNote
	if err == nil && ok {
		json.Unmarshal([]byte(raw), &notes)
	}
	return notes
}
