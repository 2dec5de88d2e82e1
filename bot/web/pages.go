package web

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/bot/input"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/storage"
)

// Handler returns the web routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("POST /demo/login", s.demoLogin)
	mux.HandleFunc("GET /login/{token}", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /inbox", s.withSession(s.inbox))
	mux.HandleFunc("POST /inbox/approve", s.withSession(s.bulkApprove))
	mux.HandleFunc("POST /start", s.fewUploads(s.withSession(s.start)))
	mux.HandleFunc("GET /task/{id}", s.withSession(s.sessionTask(s.taskPage)))
	mux.HandleFunc("POST /task/{id}/act", s.fewUploads(s.withSession(s.sessionTask(s.act))))
	mux.HandleFunc("POST /task/{id}/version", s.fewUploads(s.withSession(s.sessionTask(s.version))))
	mux.HandleFunc("GET /t/{token}", s.linkTask(s.taskPage))
	mux.HandleFunc("POST /t/{token}/act", s.fewUploads(s.linkTask(s.act)))
	mux.HandleFunc("POST /t/{token}/version", s.fewUploads(s.linkTask(s.version)))
	mux.HandleFunc("GET /t/{token}/v/{no}", s.linkTask(s.linkDownload))
	mux.HandleFunc("GET /dashboard", s.withSession(s.dashboard))
	mux.HandleFunc("GET /doc/{number}", s.withSession(s.docPage))
	mux.HandleFunc("GET /doc/{number}/v/{no}", s.withSession(s.docDownload))
	mux.HandleFunc("GET /doc/{number}/signature/{n}", s.withSession(s.docSignature))
	mux.HandleFunc("GET /doc/{number}/final", s.withSession(s.docFinalSealed))
	mux.HandleFunc("GET /doc/{number}/sheet.pdf", s.withSession(s.sheet))
	mux.HandleFunc("GET /doc/{number}/diff", s.withSession(s.diffPage))
	mux.HandleFunc("POST /doc/{number}/version", s.fewUploads(s.withSession(s.docVersion)))
	mux.HandleFunc("POST /doc/{number}/withdraw", s.withSession(s.docWithdraw))
	mux.HandleFunc("POST /doc/{number}/remind", s.withSession(s.docRemind))
	mux.HandleFunc("POST /doc/{number}/route", s.withSession(s.docRoute))
	mux.HandleFunc("GET /export.xlsx", s.withSession(s.export))
	mux.HandleFunc("GET /stats", s.withSession(s.statsPage))
	mux.HandleFunc("GET /stats/{file}", s.withSession(s.statsDownload))
	mux.HandleFunc("POST /export", s.withSession(s.startExport))
	mux.HandleFunc("GET /export/{id}", s.withSession(s.exportPage))
	mux.HandleFunc("GET /export/{id}/file", s.withSession(s.exportFile))
	mux.HandleFunc("GET /settings", s.withSession(s.settings))
	mux.HandleFunc("POST /settings", s.withSession(s.settings))
	mux.HandleFunc("GET /tg/app", s.miniAppPage)
	mux.HandleFunc("POST /bitrix24/app", s.placementPage)
	mux.HandleFunc("POST /tg/session", s.miniAppSession)
	mux.HandleFunc("GET /static/tma.js", s.miniAppScript)
	mux.HandleFunc("GET /theme.css", s.themeStyle)
	mux.HandleFunc("GET /mail/unsubscribe/{token}", s.unsubscribe)
	mux.HandleFunc("POST /mail/unsubscribe/{token}", s.unsubscribe)
	return s.pagesForErrors(mux)
}

// statusProbe takes what a handler answers, keeping only the status and
// the headers.
type statusProbe struct {
	header http.Header
	Code   int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.Code = code }

// pagesForErrors answers what the routes do not — an unknown address, a
// method a page does not take — and a handler's panic with a page of the
// site in the reader's language and a way home, instead of Go's plain
// English text.
func (s *Server) pagesForErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _, _ := s.sessionPerson(r)
		if _, pattern := mux.Handler(r); pattern == "" {
			// What the mux itself would answer: 404, or 405 with Allow.
			rec := &statusProbe{header: http.Header{}, Code: http.StatusOK}
			mux.ServeHTTP(rec, r)
			if allow := rec.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			key := "web.not_found"
			if rec.Code == http.StatusMethodNotAllowed {
				key = "web.method_not_allowed"
			}
			s.render(w, rec.Code, "error.html", page{Person: p, Lang: s.lang(p), Error: mustLocalizer(s.lang(p)).T(key, nil)})
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("web page panicked", "path", r.URL.Path, "panic", v)
				s.render(w, http.StatusInternalServerError, "error.html", page{Person: p, Lang: s.lang(p), Error: mustLocalizer(s.lang(p)).T("web.server_error", nil)})
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// uploadsPerClient bounds the uploads one address sends at once: a phone
// on a slow line holds its request for minutes, and a client that opened
// many would hold the server's connections and memory.
const uploadsPerClient = 2

// clientAddr is who sent a request: the peer, or — when the peer is a
// reverse proxy on this machine — the address that proxy put last in
// X-Forwarded-For. Nothing else is believed: a client can write the
// header itself, but not the proxy's last entry.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(last) != nil {
				return last
			}
		}
	}
	return host
}

func (s *Server) fewUploads(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		client := clientAddr(r)
		s.upMu.Lock()
		if s.uploading == nil {
			s.uploading = map[string]int{}
		}
		if s.uploading[client] >= uploadsPerClient {
			s.upMu.Unlock()
			s.Log.Warn("upload refused: too many at once from one client", "client", client)
			s.fail(w, nil, http.StatusTooManyRequests, flows.Errorf(flows.KindConflict, "too_many_uploads", "%s", client))
			return
		}
		s.uploading[client]++
		s.upMu.Unlock()
		defer func() {
			s.upMu.Lock()
			if s.uploading[client]--; s.uploading[client] == 0 {
				delete(s.uploading, client)
			}
			s.upMu.Unlock()
		}()
		h(w, r)
	}
}

type page struct {
	Lang   string
	Person *flows.Person
	// Guest is a person acting by a one-tap link without a session: the
	// header offers nothing that needs one.
	Guest   bool
	CSRF    string
	Title   string
	Flash   string
	Error   string
	Demo    bool
	People  []*flows.Person
	Data    any
	Company string
}

func (s *Server) lang(p *flows.Person) string {
	if p == nil {
		return s.Engine.Directory().Language
	}
	return s.Engine.Directory().LanguageOf(p.ID)
}

// pageHeadings are the catalogue keys of the pages' headings; a page
// about one document is headed by its number and title.
var pageHeadings = map[string]string{"inbox.html": "web.inbox", "dashboard.html": "web.dashboard", "export.html": "cmd.export",
	"stats.html": "web.stats.title",
	"error.html": "web.error_title"}

// documentOf is the document a page is about, if it is about one.
func documentOf(data any) *flows.Document {
	switch v := data.(type) {
	case taskView:
		return v.Doc
	case *taskView:
		return v.Doc
	case docView:
		return v.Doc
	case *docView:
		return v.Doc
	case statusView:
		return v.Doc
	case diffView:
		return v.Doc
	case *statusView:
		return v.Doc
	}
	return nil
}

func (s *Server) render(w http.ResponseWriter, status int, name string, pg page) {
	pg.Company = s.Engine.Directory().Company
	if pg.Lang == "" {
		pg.Lang = s.lang(pg.Person)
	}
	// Every page has one heading of the first level, which its <title>
	// repeats: what a screen reader announces and lists first.
	if pg.Title == "" {
		if d := documentOf(pg.Data); d != nil {
			pg.Title = d.Number + " «" + d.Title + "»"
		} else if key, ok := pageHeadings[name]; ok {
			pg.Title = mustLocalizer(pg.Lang).T(key, nil)
		}
	}
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, pg); err != nil {
		// The templates are embedded and tested; with them broken there is
		// no localized page left to show.
		s.Log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if len(s.FrameAncestors) == 0 {
		w.Header().Set("X-Frame-Options", "DENY") // for browsers that predate frame-ancestors
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; "+s.frameAncestors())
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error page with the person's language and a log line.
func (s *Server) fail(w http.ResponseWriter, p *flows.Person, status int, err error) {
	lang := s.lang(p)
	if flows.ErrorKind(err) == flows.KindInternal {
		s.Log.Error("web request failed", "err", err)
	} else {
		s.Log.Info("web request refused", "err", err)
	}
	s.render(w, status, "error.html", page{Person: p, Lang: lang, Error: messages.Error(err, lang)})
}

func statusOf(err error) int {
	switch flows.ErrorKind(err) {
	case flows.KindForbidden:
		return http.StatusForbidden
	case flows.KindNotFound:
		return http.StatusNotFound
	case flows.KindConflict:
		return http.StatusConflict
	case flows.KindInvalid:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.sessionPerson(r); ok {
		http.Redirect(w, r, "/inbox", http.StatusSeeOther)
		return
	}
	pg := page{Demo: s.Demo, CSRF: s.csrf("demo")}
	if s.Demo {
		pg.People = s.Engine.Directory().People
	}
	s.render(w, http.StatusOK, "index.html", pg)
}

// demoLogin signs in as any demo person; it exists only in demo mode.
func (s *Server) demoLogin(w http.ResponseWriter, r *http.Request) {
	if !s.Demo || !s.csrfOK(r, "demo") {
		s.fail(w, nil, http.StatusForbidden, flows.Errorf(flows.KindForbidden, "bad_csrf", "demo sign-in"))
		return
	}
	p, ok := s.Engine.Directory().Person(flows.PersonID(r.FormValue("person")))
	if !ok {
		s.fail(w, nil, http.StatusBadRequest, flows.Errorf(flows.KindInvalid, "unknown_person", "%q", r.FormValue("person")))
		return
	}
	if err := s.startSession(w, r, p.ID); err != nil {
		s.fail(w, nil, http.StatusInternalServerError, err)
		return
	}
	http.Redirect(w, r, "/inbox", http.StatusSeeOther)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	hash := hashToken(r.PathValue("token"))
	raw, ok, err := s.Store.StateGet(r.Context(), Name, "login:"+hash)
	var l login
	if err == nil && ok {
		err = json.Unmarshal([]byte(raw), &l)
	}
	if err == nil && ok && l.Used && !s.Clock.Now().After(l.Expires) && l.Next != "" {
		// A mail's link opened again in the browser it signed in: the
		// page it is for, not "expired".
		if p, _, signed := s.sessionPerson(r); signed && p.ID == l.Person {
			http.Redirect(w, r, l.Next, http.StatusSeeOther)
			return
		}
	}
	if err != nil || !ok || l.Used || s.Clock.Now().After(l.Expires) {
		s.fail(w, nil, http.StatusForbidden, flows.Errorf(flows.KindForbidden, "link_expired", "login link"))
		return
	}
	l.Used = true
	b, _ := json.Marshal(l)
	// Claimed in one conditional write: of requests that read the link
	// unused at the same moment, one signs in.
	claimed, err := s.Store.StateSwap(r.Context(), Name, "login:"+hash, raw, string(b))
	if err != nil {
		s.fail(w, nil, http.StatusInternalServerError, err)
		return
	}
	if !claimed {
		s.fail(w, nil, http.StatusForbidden, flows.Errorf(flows.KindForbidden, "link_expired", "login link"))
		return
	}
	if err := s.startSession(w, r, l.Person); err != nil {
		s.fail(w, nil, http.StatusInternalServerError, err)
		return
	}
	next := "/inbox"
	if localPath(l.Next) {
		next = l.Next
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if _, hash, ok := s.sessionPerson(r); ok && s.csrfOK(r, "session:"+hash) {
		s.Store.StatePut(r.Context(), Name, "session:"+hash, "")
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, p *flows.Person, csrfScope string)

func (s *Server) withSession(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, hash, ok := s.sessionPerson(r)
		if !ok {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, s.MaxUpload+1<<20)
			if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				s.fail(w, p, http.StatusRequestEntityTooLarge, flows.Errorf(flows.KindInvalid, "file_too_big", "%v", err))
				return
			}
			if !s.csrfOK(r, "session:"+hash) {
				s.fail(w, p, http.StatusForbidden, flows.Errorf(flows.KindForbidden, "bad_csrf", "session form"))
				return
			}
		}
		h(w, r, p, "session:"+hash)
	}
}

// taskHandler serves one task for the person who holds it.
type taskHandler func(w http.ResponseWriter, r *http.Request, p *flows.Person, d *flows.Document, t *flows.Task, base, csrfScope string)

func (s *Server) sessionTask(h taskHandler) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, p *flows.Person, scope string) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		d, err := s.Store.DocumentOfTask(r.Context(), id)
		if err != nil {
			s.fail(w, p, statusOf(err), err)
			return
		}
		t, _ := d.Task(id)
		if t.Assignee != p.ID && t.OnBehalfOf != p.ID {
			s.fail(w, p, http.StatusForbidden, flows.Errorf(flows.KindForbidden, "not_your_task", "%s on task %d", p.ID, id))
			return
		}
		h(w, r, p, d, t, fmt.Sprintf("/task/%d", id), scope)
	}
}

// linkTask serves a task by its one-tap link: the link is the person's
// credential for this task only, and dies when the task closes.
func (s *Server) linkTask(h taskHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		raw, ok, err := s.Store.StateGet(r.Context(), Name, "link:"+hashToken(token))
		var l taskLink
		if err == nil && ok {
			err = json.Unmarshal([]byte(raw), &l)
		}
		if err != nil || !ok {
			s.fail(w, nil, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "link_expired", "task link"))
			return
		}
		p, ok := s.Engine.Directory().Person(l.Person)
		if !ok {
			s.fail(w, nil, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "link_expired", "person gone"))
			return
		}
		d, err := s.Store.DocumentOfTask(r.Context(), l.Task)
		if err != nil {
			s.fail(w, p, statusOf(err), err)
			return
		}
		t, _ := d.Task(l.Task)
		expired := !l.Expires.IsZero() && s.Clock.Now().After(l.Expires)
		if t.State != flows.TaskOpen || expired {
			// A link is the task's, not the person's: it acts and downloads
			// nothing once the task is closed. Its holder still learns where
			// the document stands and whom to ask — they may have no
			// messenger and no other way to find out.
			s.Log.Info("web request refused", "err", flows.Errorf(flows.KindConflict, "link_expired", "task %d (%s)", t.ID, t.State))
			why := "web.link_closed"
			if t.State == flows.TaskOpen {
				why = "web.link_timed_out"
			}
			s.status(w, p, d, s.guest(r, "/t/"), http.StatusGone, why, "")
			return
		}
		scope := "link:" + hashToken(token)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, s.MaxUpload+1<<20)
			if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				s.fail(w, p, http.StatusRequestEntityTooLarge, flows.Errorf(flows.KindInvalid, "file_too_big", "%v", err))
				return
			}
			if !s.csrfOK(r, scope) {
				s.fail(w, p, http.StatusForbidden, flows.Errorf(flows.KindForbidden, "bad_csrf", "task form"))
				return
			}
		}
		h(w, r, p, d, t, "/t/"+token, scope)
	}
}

type taskView struct {
	Doc     *flows.Document
	Task    *flows.Task
	Card    template.HTML
	History template.HTML
	Base    string
	Open    bool
	Kind    string
	// Asked says plainly what the person is asked to do and where their
	// task stands in the route.
	Asked string
	Line  string
	// CanVersion offers a corrected version: only on an approval task of a
	// document that takes versions now (never on a signature).
	CanVersion bool
	// SignHint asks for the detached signature of the version to sign, on
	// a stage signed by upload ("" on any other).
	SignHint string
	// DSSHint asks to send the version to КриптоПро DSS, on a stage
	// signed there; DSSPending says the signature waits in myDSS.
	DSSHint    string
	DSSPending string
}

func (s *Server) taskPage(w http.ResponseWriter, r *http.Request, p *flows.Person, d *flows.Document, t *flows.Task, base, scope string) {
	lang := s.lang(p)
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	v := taskView{Doc: d, Task: t, Card: richHTML(rd.Card(d, lang, s.Clock.Now())), History: richHTML(rd.History(d, lang)), Base: base,
		Open: t.State == flows.TaskOpen, Kind: t.Kind, CanVersion: t.Kind == flows.KindApprove && d.AcceptsVersions()}
	v.Asked = messages.Say(lang, "web.asked."+t.Kind, nil).String()
	if d.SignedByUpload(t) {
		v.SignHint = messages.Say(lang, "web.signature_file", map[string]any{"Version": d.CurrentVersion()}).String()
	}
	if d.SignedInDSS(t) {
		v.DSSHint = messages.Say(lang, "web.dss_hint", map[string]any{"Version": d.CurrentVersion()}).String()
		if op, ok := d.PendingDSS(t.ID); ok && s.Clock.Now().Before(op.Until) {
			until := op.Until.In(s.Engine.Directory().LocationOf(p.ID)).Format("15:04")
			v.DSSPending = messages.Say(lang, "web.dss_pending", map[string]any{"Until": until}).String()
		}
	}
	v.Line = s.waitingLine(d, t, lang)
	s.render(w, http.StatusOK, "task.html", page{Person: p, CSRF: s.csrf(scope), Flash: doneKey(r), Guest: s.guest(r, base), Data: v})
}

// guest reports whether a page is served by a one-tap link to someone
// without a session.
func (s *Server) guest(r *http.Request, base string) bool {
	if !strings.HasPrefix(base, "/t/") {
		return false
	}
	_, _, ok := s.sessionPerson(r)
	return !ok
}

// waitingLine says where a task stands: its stage among those the document
// passes, and who else is asked at that stage.
func (s *Server) waitingLine(d *flows.Document, t *flows.Task, lang string) string {
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	n, count := d.StagePosition(t.Stage)
	var others []string
	for _, o := range d.OpenTasks() {
		if o.Stage == t.Stage && o.ID != t.ID {
			others = append(others, rd.Name(o.Assignee))
		}
	}
	name := ""
	if t.Stage < len(d.Stages) {
		name = messages.StageName(mustLocalizer(lang), d.Stages[t.Stage], lang)
	}
	return messages.Say(lang, "web.your_line", map[string]any{"Stage": n, "StageCount": count, "StageName": name,
		"Mode": messages.ModeText(mustLocalizer(lang), d.Stages[t.Stage]), "Others": strings.Join(others, ", ")}).String()
}

// key makes an idempotency key from the form's one-time nonce, so that a
// double-clicked button acts once.
func formKey(r *http.Request, p flows.PersonID) string {
	if n := r.FormValue("nonce"); n != "" {
		return "web:" + string(p) + ":" + n
	}
	return ""
}

// doneKeys are the confirmations a page shows after a redirect: ?done=
// names one of them, never text of its own.
var doneKeys = []string{flows.ActionApprove, flows.ActionReject, flows.ActionComment, flows.ActionAcknowledge, flows.ActionDone, "version", "started",
	"withdrawn", "reminded", "route", "dss"}

func doneKey(r *http.Request) string {
	if k := r.URL.Query().Get("done"); slices.Contains(doneKeys, k) {
		return k
	}
	return ""
}

func (s *Server) act(w http.ResponseWriter, r *http.Request, p *flows.Person, d *flows.Document, t *flows.Task, base, _ string) {
	action := r.FormValue("action")
	if action == "dss" {
		// To КриптоПро DSS in this person's name; the task closes when DSS
		// has signed, after they confirm in myDSS.
		if _, err := s.Engine.SignInDSS(r.Context(), flows.SignDSSCmd{Key: formKey(r, p.ID), Actor: p.ID, TaskID: t.ID}); err != nil {
			s.fail(w, p, statusOf(err), err)
			return
		}
		http.Redirect(w, r, base+"?done=dss", http.StatusSeeOther)
		return
	}
	if !slices.Contains([]string{flows.ActionApprove, flows.ActionReject, flows.ActionComment, flows.ActionAcknowledge, flows.ActionDone}, action) {
		s.fail(w, p, http.StatusBadRequest, flows.Errorf(flows.KindInvalid, "unknown_action", "%q", action))
		return
	}
	cmd := flows.DecideCmd{Key: formKey(r, p.ID), Actor: p.ID, TaskID: t.ID, Action: action, Comment: r.FormValue("comment")}
	if action == flows.ActionDone && d.SignedByUpload(t) {
		up, err := s.uploadField(r, "signature")
		if err != nil {
			s.fail(w, p, statusOf(err), err)
			return
		}
		cmd.Signature = &up
	} else if action == flows.ActionDone && t.Kind == flows.KindSign {
		// A signed scan is optional: the form's file field may be empty.
		if f, hdr, err := r.FormFile("scan"); err == nil && f.Close() == nil && hdr.Size > 0 {
			up, err := s.uploadField(r, "scan")
			if err != nil {
				s.fail(w, p, statusOf(err), err)
				return
			}
			cmd.Scan = &up
		}
	}
	if _, err := s.Engine.Decide(r.Context(), cmd); err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	if strings.HasPrefix(base, "/t/") && action != flows.ActionComment {
		base = "/inbox"
		if _, _, ok := s.sessionPerson(r); !ok {
			// Someone acting from an SMS or a mail has nowhere else to go:
			// show what became of the document.
			d, err := s.Store.Document(r.Context(), d.ID)
			if err != nil {
				s.fail(w, p, statusOf(err), err)
				return
			}
			s.status(w, p, d, true, http.StatusOK, "", action)
			return
		}
	}
	http.Redirect(w, r, base+"?done="+action, http.StatusSeeOther)
}

func (s *Server) upload(r *http.Request) (flows.Upload, error) { return s.uploadField(r, "file") }

func (s *Server) uploadField(r *http.Request, field string) (flows.Upload, error) {
	f, hdr, err := r.FormFile(field)
	if err != nil {
		return flows.Upload{}, flows.Errorf(flows.KindInvalid, "file_required", "%v", err)
	}
	if hdr.Size > s.MaxUpload {
		f.Close()
		return flows.Upload{}, flows.Errorf(flows.KindInvalid, "file_too_big", "%d bytes", hdr.Size)
	}
	return flows.Upload{Name: flows.CleanFileName(hdr.Filename), MIME: hdr.Header.Get("Content-Type"), Content: f}, nil
}

func (s *Server) version(w http.ResponseWriter, r *http.Request, p *flows.Person, d *flows.Document, t *flows.Task, base, _ string) {
	up, err := s.upload(r)
	if err == nil {
		_, err = s.Engine.UploadVersion(r.Context(), flows.VersionCmd{Key: formKey(r, p.ID), Actor: p.ID, DocID: d.ID, File: up,
			Comment: r.FormValue("comment"), Rework: r.FormValue("rework")})
	}
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	if s.guest(r, base) {
		d, err := s.Store.Document(r.Context(), d.ID)
		if err != nil {
			s.fail(w, p, statusOf(err), err)
			return
		}
		s.status(w, p, d, true, http.StatusOK, "", "version")
		return
	}
	http.Redirect(w, r, "/doc/"+d.Number+"?done=version", http.StatusSeeOther)
}

func (s *Server) sendVersion(w http.ResponseWriter, p *flows.Person, d *flows.Document, noStr string) {
	no, _ := strconv.Atoi(noStr)
	v, ok := d.Version(no)
	if !ok {
		s.fail(w, p, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "file_not_found", "v%d", no))
		return
	}
	f, err := s.Files.Open(v.SHA256)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	defer f.Close()
	name := flows.CleanFileName(v.FileName)
	// A PDF opens in the phone's own viewer; anything else downloads, so
	// that no uploaded HTML or SVG ever runs as a page of this site. A file
	// is shown as a PDF only when both its name and its first bytes say so.
	body := bufio.NewReader(f)
	head, _ := body.Peek(5)
	disposition, ctype := "attachment", "application/octet-stream"
	if strings.HasSuffix(strings.ToLower(name), ".pdf") && string(head) == "%PDF-" {
		disposition, ctype = "inline", "application/pdf"
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	io.Copy(w, body)
}

func (s *Server) linkDownload(w http.ResponseWriter, r *http.Request, p *flows.Person, d *flows.Document, t *flows.Task, base, _ string) {
	if t.State != flows.TaskOpen {
		s.fail(w, p, http.StatusGone, flows.Errorf(flows.KindConflict, "link_expired", "task %d closed", t.ID))
		return
	}
	s.sendVersion(w, p, d, r.PathValue("no"))
}

type recentView struct {
	Kind, Number string
	At           time.Time
	Text         template.HTML
}

type inboxView struct {
	Recent []recentView
	Tasks  []inboxTask
	// The page of tasks shown, of Pages, of Total; Prev and Next are the
	// neighbours' addresses ("" at the ends).
	Page, Pages, Total int
	Prev, Next         string
	Bulkable           int // tasks on the page that may be approved in bulk
	Docs               []*flows.Document
	Types              []*flows.DocType
	Peers              []*flows.Person
}

type inboxTask struct {
	ID      int64
	Doc     *flows.Document
	Due     string
	Overdue bool
	Asked   string // approve, acknowledge or sign, in words
	Amount  string
	Type    string
	Bulk    bool // an approval, which may be ticked for approval in bulk
}

// inboxDocs is how many of their own documents a person's inbox lists.
const inboxDocs = 30

// inboxPage is how many tasks one page of the inbox shows.
const inboxPage = 20

func (s *Server) inbox(w http.ResponseWriter, r *http.Request, p *flows.Person, scope string) {
	lang := s.lang(p)
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	tasks, err := s.Store.OpenTasksOf(r.Context(), p.ID)
	if err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	var v inboxView
	// The nearest deadline first, tasks without one last; a page at a time,
	// so that a person with many tasks costs their page, not all of them.
	slices.SortStableFunc(tasks, func(a, b storage.OpenTask) int {
		switch {
		case a.Due.IsZero() != b.Due.IsZero():
			if a.Due.IsZero() {
				return 1
			}
			return -1
		case !a.Due.Equal(b.Due):
			return a.Due.Compare(b.Due)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	v.Total = len(tasks)
	v.Pages = max(1, (v.Total+inboxPage-1)/inboxPage)
	v.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	v.Page = min(max(v.Page, 1), v.Pages)
	if v.Page > 1 {
		v.Prev = "/inbox?page=" + strconv.Itoa(v.Page-1)
	}
	if v.Page < v.Pages {
		v.Next = "/inbox?page=" + strconv.Itoa(v.Page+1)
	}
	for _, ot := range tasks[(v.Page-1)*inboxPage : min(v.Page*inboxPage, len(tasks))] {
		d, err := s.Store.Document(r.Context(), ot.DocID)
		if err != nil {
			continue
		}
		it := inboxTask{ID: ot.ID, Doc: d, Due: rd.FormatTimeFor(p.ID, ot.Due), Overdue: !ot.Due.IsZero() && s.Clock.Now().After(ot.Due),
			Type: messages.Localized(d.TypeName, lang)}
		if t, ok := d.Task(ot.ID); ok {
			it.Asked = messages.Say(lang, "web.ask."+t.Kind, nil).String()
			if dt, known := s.Engine.Directory().Type(d.TypeID); t.Kind == flows.KindApprove && (!known || !dt.NoBulk) {
				it.Bulk = true
				v.Bulkable++
			}
		}
		if d.HasAmount {
			it.Amount = messages.Amount(d.AmountMinor, d.Currency, lang)
		}
		v.Tasks = append(v.Tasks, it)
	}
	// The person's own newest documents, by the initiator index.
	if v.Docs, err = s.Store.DocumentsOf(r.Context(), p.ID, inboxDocs); err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	for _, n := range s.recent(r.Context(), p.ID) {
		v.Recent = append(v.Recent, recentView{Kind: n.Kind, Number: n.Number, At: n.At, Text: n.html()})
	}
	v.Types = s.Engine.Directory().Types
	for _, other := range s.Engine.Directory().People {
		if other.ID != p.ID {
			v.Peers = append(v.Peers, other)
		}
	}
	s.render(w, http.StatusOK, "inbox.html", page{Person: p, CSRF: s.csrf(scope), Flash: doneKey(r), Data: v})
}

func (s *Server) start(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	up, err := s.upload(r)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	cmd := flows.StartCmd{Key: formKey(r, p.ID), Actor: p.ID, TypeID: r.FormValue("type"), Title: r.FormValue("title"),
		Counterparty: r.FormValue("counterparty"), File: up, Parallel: r.FormValue("parallel") == "1"}
	if a := strings.TrimSpace(r.FormValue("amount")); a != "" {
		v, err := input.ParseAmount(a)
		if err != nil {
			s.fail(w, p, http.StatusBadRequest, flows.Errorf(flows.KindInvalid, "bad_amount", "%q", a))
			return
		}
		cmd.AmountMinor, cmd.HasAmount = v, true
	}
	for _, id := range r.Form["approvers"] {
		cmd.Approvers = append(cmd.Approvers, flows.PersonID(id))
	}
	out, err := s.Engine.Start(r.Context(), cmd)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	http.Redirect(w, r, "/doc/"+out.Number+"?done=started", http.StatusSeeOther)
}

// visible is the document when the person may see it; strangers get
// not-found whether or not it exists.
func (s *Server) visible(r *http.Request, p *flows.Person) (*flows.Document, error) {
	return s.Engine.Document(r.Context(), p.ID, r.PathValue("number"))
}

type docView struct {
	Remarks []remarkView
	Doc     *flows.Document
	Card    template.HTML
	Stages  []stageView
	MyTask  int64
	// What the person may do here, as the engine would allow it.
	CanVersion, CanWithdraw, CanRemind bool
	AskRework                          bool // the type lets the uploader say who approves again
	Decisions                          []decisionView
	// Failed are notifications an SMS gateway or a mail server refused for
	// good: someone was not told.
	Failed []template.HTML
	// Route is the form changing approvers in flight, for those who may.
	Route *routeView
	// Signatures are the verified electronic signatures, with their files.
	Signatures []signatureView
	// FinalSealed links the final version sealed by the company, when it
	// seals final versions and this one is a PDF.
	FinalSealed string
}

type remarkView struct {
	Blocking, Open bool
	Author, At     string
	Text           string
	Version        int
}

type stageView struct {
	N      int // among the stages the document passes; 0 for a skipped one
	Name   string
	People string
	Status string
	Skip   string // why a skipped stage is not needed, in words
}

func (s *Server) docPage(w http.ResponseWriter, r *http.Request, p *flows.Person, scope string) {
	d, err := s.visible(r, p)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	lang := s.lang(p)
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	v := docView{Doc: d, Card: richHTML(rd.Card(d, lang, s.Clock.Now()))}
	for _, ch := range []string{"sms", "email"} {
		failed, err := s.Store.FailedDeliveries(r.Context(), d.ID, ch)
		if err != nil {
			s.Log.Warn("failed deliveries", "doc", d.Number, "channel", ch, "err", err)
			continue
		}
		for _, f := range failed {
			v.Failed = append(v.Failed, richHTML(messages.Say(lang, "card."+ch+"_failed", map[string]any{"Name": rd.Name(f.Person), "Reason": f.Reason})))
		}
	}
	for _, st := range d.Stages {
		sv := stageView{Name: messages.StageName(mustLocalizer(lang), st, lang), Status: stageStatus(d, st)}
		sv.N, _ = d.StagePosition(st.Index)
		var names []string
		for _, a := range st.Approvers {
			names = append(names, rd.Name(a))
		}
		sv.People = strings.Join(names, ", ")
		if st.Skipped {
			sv.Skip = messages.Say(lang, "web.stage_skipped", map[string]any{"When": messages.StageCondition(st, lang)}).String()
		}
		v.Stages = append(v.Stages, sv)
	}
	for _, t := range d.OpenTasks() {
		if t.Assignee == p.ID || t.OnBehalfOf == p.ID {
			v.MyTask = t.ID
		}
	}
	v.CanVersion = d.AcceptsVersions() && s.Engine.MayContribute(d, p.ID)
	v.CanWithdraw = d.CanWithdraw() && d.Initiator == p.ID
	v.CanRemind = s.Engine.MayRemind(d, p.ID)
	v.AskRework = d.Rework == "ask"
	v.Route = s.routeForm(d, p.ID, lang)
	v.Decisions = s.decisions(d, lang, p.ID)
	v.Signatures = s.signatureViews(d, p, lang)
	if fs, ok := s.Reports.(FinalSealer); ok && fs.SealsFinal() && d.Approved() {
		if cur, ok := d.Version(d.CurrentVersion()); ok && (cur.MIME == "application/pdf" || strings.EqualFold(filepath.Ext(cur.FileName), ".pdf")) {
			v.FinalSealed = "/doc/" + d.Number + "/final"
		}
	}
	for _, rm := range d.Remarks {
		v.Remarks = append(v.Remarks, remarkView{Blocking: rm.Blocking, Open: rm.Open(), Author: rd.Name(rm.Author), At: rd.FormatTimeFor(p.ID, rm.At),
			Text: rm.Text, Version: rm.Version})
	}
	s.render(w, http.StatusOK, "doc.html", page{Person: p, CSRF: s.csrf(scope), Flash: doneKey(r), Data: v})
}

func (s *Server) docDownload(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	d, err := s.visible(r, p)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	s.sendVersion(w, p, d, r.PathValue("no"))
}

func (s *Server) sheet(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	d, err := s.visible(r, p)
	if err == nil && s.Reports == nil {
		err = errNotFound
	}
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	var buf bytes.Buffer
	if err := s.Reports.Sheet(r.Context(), d, s.lang(p), &buf); err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": flows.CleanFileName("sheet_" + d.Number + ".pdf")}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(buf.Bytes())
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	reader := p.ID
	if s.Engine.Directory().IsViewer(p.ID) {
		reader = ""
	}
	// Written to a temporary file first: a failure half-way is a clear
	// error page, not a broken download, and memory stays flat.
	f, err := os.CreateTemp("", "viza-registry-*.xlsx")
	if err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := s.Reports.Registry(r.Context(), reader, s.lang(p), false, f, nil); err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", `attachment; filename="registry.xlsx"`)
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	if _, err := io.Copy(w, f); err != nil {
		s.Log.Warn("registry download cut short", "err", err)
	}
}

type dashRow struct {
	Doc      *flows.Document
	Type     string
	Amount   string
	State    string
	Stage    string
	Waiting  string
	Since    time.Time
	Days     string
	Overdue  bool
	Initiate string
	// Progress is "stage N of M" among the stages the document passes,
	// Bar the state of each of them (done, current, todo).
	Progress string
	Bar      []string
	Deadline string // the nearest due time of an open task
	Remind   bool   // the reader may remind those it waits on
}

type dashView struct {
	Rows                              []dashRow
	People                            []*flows.Person
	Types                             []*flows.DocType
	State, TypeID, Q, Sort, Initiator string
	Overdue                           bool
	// Approver, the start dates (YYYY-MM-DD, company time) and the amount
	// range as typed.
	Approver, From, To, AmountMin, AmountMax string
	States                                   []string
	// WebhooksFailed counts events the connector gave up delivering, for
	// viewers to have them re-sent.
	WebhooksFailed int64
	// The page shown, of Pages, of Total documents; Prev and Next are the
	// neighbours' addresses ("" at the ends).
	Page, Pages, Total int
	// More: there are more than Total (the count stopped at countLimit).
	More       bool
	Prev, Next string
}

// dashboardPage is how many documents one page of the dashboard shows.
const dashboardPage = 50

// countLimit is how far a page counts its matches: "more than 1,000"
// costs a thousand index entries, an exact count of a large register all
// of them, at every view.
const countLimit = 1000

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, p *flows.Person, scope string) {
	lang := s.lang(p)
	q := r.URL.Query()
	v := dashView{Types: s.Engine.Directory().Types, People: s.Engine.Directory().People, State: q.Get("state"), TypeID: q.Get("type"), Q: strings.TrimSpace(q.Get("q")),
		Sort: q.Get("sort"), Initiator: q.Get("initiator"), Overdue: q.Get("overdue") == "1",
		States: []string{flows.StateInApproval, flows.StateChangesRequested, flows.StateApproved, flows.StateSigning, flows.StateDone, flows.StateWithdrawn}}
	v.Page, _ = strconv.Atoi(q.Get("page"))
	v.Page = max(v.Page, 1)
	if q.Get("before") == "" && q.Get("after") == "" {
		// A page number typed by hand is read by OFFSET: it is held to the
		// pages counted; deeper goes by the Next links, which cost a page.
		v.Page = min(v.Page, countLimit/dashboardPage)
	}
	now := s.Clock.Now()
	// A viewer pages through the register, anyone else through the
	// documents they may read: each page costs its rows, not the register.
	dq := storage.DocQuery{State: v.State, Type: v.TypeID, Initiator: flows.PersonID(v.Initiator), Search: v.Q, Sort: v.Sort,
		Offset: (v.Page - 1) * dashboardPage, Limit: dashboardPage}
	if !s.Engine.Directory().IsViewer(p.ID) {
		dq.Reader = p.ID
	}
	if v.Overdue {
		dq.OverdueAt = now
	}
	v.Approver, v.From, v.To = q.Get("approver"), q.Get("from"), q.Get("to")
	v.AmountMin, v.AmountMax = strings.TrimSpace(q.Get("amount_min")), strings.TrimSpace(q.Get("amount_max"))
	if err := s.dashboardFilters(&dq, v); err != nil {
		s.fail(w, p, http.StatusBadRequest, err)
		return
	}
	// Newest first, the neighbouring pages are found by the ids at the
	// page's ends, which costs a page at any depth; other orders go by
	// their covering indexes.
	keyset := v.Sort == ""
	if keyset {
		dq.BeforeID, _ = strconv.ParseInt(q.Get("before"), 10, 64)
		dq.AfterID, _ = strconv.ParseInt(q.Get("after"), 10, 64)
		if dq.BeforeID > 0 || dq.AfterID > 0 {
			dq.Offset = 0
		}
	}
	docs, err := s.Store.DocumentPage(r.Context(), dq)
	if err == nil {
		all := dq
		all.BeforeID, all.AfterID = 0, 0
		v.Total, v.More, err = s.Store.CountDocumentsUpTo(r.Context(), all, countLimit)
	}
	if err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return
	}
	v.Pages = max(1, (v.Total+dashboardPage-1)/dashboardPage)
	if v.More {
		v.Pages = max(v.Pages, v.Page+1) // not counted: there is a next page while pages are full
	}
	var prevKey, nextKey string
	if keyset && len(docs) > 0 {
		prevKey, nextKey = "after="+strconv.FormatInt(docs[0].ID, 10), "before="+strconv.FormatInt(docs[len(docs)-1].ID, 10)
	}
	if v.Page > 1 {
		v.Prev = pageURL(q, v.Page-1, prevKey)
	}
	if v.Page < v.Pages && (!keyset || len(docs) == dashboardPage) {
		v.Next = pageURL(q, v.Page+1, nextKey)
	}
	if s.Engine.Directory().IsViewer(p.ID) {
		st, err := s.Store.WebhookStats(r.Context())
		if err != nil {
			s.fail(w, p, http.StatusInternalServerError, err)
			return
		}
		v.WebhooksFailed = st.Failed
	}
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	l := mustLocalizer(lang)
	for _, d := range docs {
		row := dashRow{Doc: d, Type: messages.Localized(d.TypeName, lang), State: messages.State(d.State, lang), Initiate: rd.Name(d.Initiator), Since: d.CreatedAt}
		if d.HasAmount {
			row.Amount = messages.Amount(d.AmountMinor, d.Currency, lang)
		}
		var waiting []string
		for _, t := range d.OpenTasks() {
			waiting = append(waiting, rd.Name(t.Assignee))
			row.Overdue = row.Overdue || (!t.Due.IsZero() && now.After(t.Due))
			if t.OpenedAt.After(row.Since) || row.Since.Equal(d.CreatedAt) {
				row.Since = t.OpenedAt
			}
		}
		row.Waiting = strings.Join(waiting, ", ")
		row.Days = messages.Days(l, int(now.Sub(row.Since).Hours()/24))
		if cr := d.CurrentRound(); cr != nil && cr.Outcome == "" && cr.Stage < len(d.Stages) {
			row.Stage = messages.StageName(l, d.Stages[cr.Stage], lang)
			n, count := d.StagePosition(cr.Stage)
			row.Progress = l.T("web.progress", map[string]any{"Stage": n, "StageCount": count})
		} else if cr != nil && d.State == flows.StateChangesRequested && cr.Stage < len(d.Stages) {
			n, count := d.StagePosition(cr.Stage)
			row.Progress = l.T("web.progress_back", map[string]any{"Stage": n, "StageCount": count})
		}
		row.Bar = routeBar(d)
		var due time.Time
		for _, t := range d.OpenTasks() {
			if !t.Due.IsZero() && (due.IsZero() || t.Due.Before(due)) {
				due = t.Due
			}
		}
		row.Deadline = rd.FormatTimeFor(p.ID, due)
		row.Remind = s.Engine.MayRemind(d, p.ID)
		v.Rows = append(v.Rows, row)
	}
	s.render(w, http.StatusOK, "dashboard.html", page{Person: p, CSRF: s.csrf(scope), Data: v})
}

// pageURL is the dashboard's address with its filters and another page,
// found by key ("before=ID" or "after=ID") when there is one.
func pageURL(q url.Values, page int, key string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	c.Del("before")
	c.Del("after")
	if k, v, ok := strings.Cut(key, "="); ok {
		c.Set(k, v)
	}
	c.Set("page", strconv.Itoa(page))
	return "/dashboard?" + c.Encode()
}

type statusView struct {
	Doc       *flows.Document
	Card      template.HTML
	Decisions []decisionView
	// Why says why the link no longer acts ("" after acting by it).
	Why string
	// Contact is whom to ask about the document: its initiator.
	Contact      string
	ContactPhone string
	ContactEmail string
}

// status shows a document read-only to someone who reached it by a
// one-tap link: what they just did (done) or why the link no longer works
// (why), where the document stands, who decided what, and whom to ask.
func (s *Server) status(w http.ResponseWriter, p *flows.Person, d *flows.Document, guest bool, code int, why, done string) {
	lang := s.lang(p)
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	v := statusView{Doc: d, Card: richHTML(rd.Card(d, lang, s.Clock.Now())), Decisions: s.decisions(d, lang, p.ID)}
	if why != "" {
		v.Why = messages.Say(lang, why, nil).String()
	}
	if initiator, ok := s.Engine.Directory().Person(d.Initiator); ok && initiator.ID != p.ID {
		v.Contact, v.ContactPhone, v.ContactEmail = initiator.Name, initiator.Phone, initiator.Email
		if initiator.Title != "" {
			v.Contact += ", " + initiator.Title
		}
	}
	s.render(w, code, "status.html", page{Person: p, Guest: guest, Flash: done, Data: v})
}

type decisionView struct {
	At, Who, What, Stage, Comment string
	Version                       int
}

// decisions lists who decided what, newest last, as the document page
// and the status page show them.
func (s *Server) decisions(d *flows.Document, lang string, reader flows.PersonID) []decisionView {
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	l := mustLocalizer(lang)
	var out []decisionView
	for _, dc := range d.Decisions {
		who := rd.Name(dc.Actor)
		if dc.For != "" && dc.For != dc.Actor {
			who += " (" + l.T("sheet.for", map[string]any{"Name": rd.Name(dc.For)}) + ")"
		}
		stage := ""
		if (dc.TaskID != 0 || flows.IsRouteChange(dc.Kind)) && dc.Stage < len(d.Stages) {
			stage = messages.StageName(l, d.Stages[dc.Stage], lang)
		}
		what := messages.DecisionOn(l, d, dc, rd.Name)
		out = append(out, decisionView{At: rd.FormatTimeFor(reader, dc.At), Who: who, What: what, Stage: stage, Comment: dc.Comment, Version: dc.Version})
	}
	return out
}

// docCommand runs one of the document page's commands for a person who may
// read the document, then shows the page again with what happened.
func (s *Server) docCommand(w http.ResponseWriter, r *http.Request, p *flows.Person, run func(d *flows.Document) (string, error)) {
	d, err := s.visible(r, p)
	if err == nil {
		var done string
		if done, err = run(d); err == nil {
			http.Redirect(w, r, "/doc/"+url.PathEscape(d.Number)+"?done="+done, http.StatusSeeOther)
			return
		}
	}
	s.fail(w, p, statusOf(err), err)
}

func (s *Server) docVersion(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	s.docCommand(w, r, p, func(d *flows.Document) (string, error) {
		up, err := s.upload(r)
		if err != nil {
			return "", err
		}
		_, err = s.Engine.UploadVersion(r.Context(), flows.VersionCmd{Key: formKey(r, p.ID), Actor: p.ID, DocID: d.ID, File: up,
			Comment: r.FormValue("comment"), Rework: r.FormValue("rework")})
		return "version", err
	})
}

func (s *Server) docWithdraw(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	s.docCommand(w, r, p, func(d *flows.Document) (string, error) {
		_, err := s.Engine.Withdraw(r.Context(), flows.WithdrawCmd{Key: formKey(r, p.ID), Actor: p.ID, DocID: d.ID, Comment: r.FormValue("comment")})
		return "withdrawn", err
	})
}

func (s *Server) docRemind(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	s.docCommand(w, r, p, func(d *flows.Document) (string, error) {
		_, err := s.Engine.RemindNow(r.Context(), formKey(r, p.ID), p.ID, d.ID)
		return "reminded", err
	})
}

// dashboardFilters adds the approver, start date and amount filters as
// typed on the dashboard; a date or amount that does not parse is the
// person's mistake, said back to them.
func (s *Server) dashboardFilters(dq *storage.DocQuery, v dashView) error {
	dq.Approver = flows.PersonID(v.Approver)
	loc := s.Engine.Directory().Location
	for _, f := range []struct {
		typed string
		into  *time.Time
		next  bool // "to" is inclusive: the day after it
	}{{v.From, &dq.StartedFrom, false}, {v.To, &dq.StartedBefore, true}} {
		if f.typed == "" {
			continue
		}
		day, err := time.ParseInLocation("2006-01-02", f.typed, loc)
		if err != nil {
			return flows.Errorf(flows.KindInvalid, "bad_date", "%q", f.typed)
		}
		if f.next {
			day = day.AddDate(0, 0, 1)
		}
		*f.into = day
	}
	for _, f := range []struct {
		typed string
		into  **int64
	}{{v.AmountMin, &dq.AmountMin}, {v.AmountMax, &dq.AmountMax}} {
		if f.typed == "" {
			continue
		}
		minor, err := input.ParseAmount(f.typed)
		if err != nil {
			return flows.Errorf(flows.KindInvalid, "bad_amount", "%q", f.typed)
		}
		*f.into = &minor
	}
	return nil
}

// stageStatus is where a stage stands in the document's current round:
// skipped, done, current, or "" when not reached.
func stageStatus(d *flows.Document, st flows.Stage) string {
	cur := d.CurrentRound()
	switch {
	case st.Skipped:
		return "skipped"
	case d.State == flows.StateDone || d.State == flows.StateApproved:
		return "done"
	case cur == nil:
		return ""
	case cur.Outcome == "approved" || st.Index < cur.Stage:
		return "done"
	case st.Index == cur.Stage && cur.Outcome == "":
		return "current"
	}
	return ""
}

// routeBar is the state of each stage the document passes, in route
// order, for the dashboard's small progress bar.
func routeBar(d *flows.Document) []string {
	var bar []string
	for _, st := range d.Stages {
		if st.Skipped {
			continue
		}
		status := stageStatus(d, st)
		if status == "" {
			status = "todo"
		}
		bar = append(bar, status)
	}
	return bar
}
