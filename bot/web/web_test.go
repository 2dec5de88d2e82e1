package web_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/flows/flowstest"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/registry"
	"github.com/viza-app/viza/messages/sheet"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

type rig struct {
	t     *testing.T
	srv   *web.Server
	http  *httptest.Server
	db    *storage.DB
	eng   *flows.Engine
	clock *flowstest.Clock
	doc   flows.Outcome
	files flows.FileStore
}

type reports struct {
	db  *storage.DB
	eng *flows.Engine
}

func (r reports) Sheet(ctx context.Context, d *flows.Document, lang string, w io.Writer) error {
	return sheet.Render(w, sheet.Input{Doc: d, Lang: lang, Renderer: messages.Renderer{Dir: r.eng.Directory()}, Now: time.Now()})
}

func (r reports) Registry(ctx context.Context, reader flows.PersonID, lang string, csv bool, w io.Writer, progress func(int)) (int, error) {
	docs, err := r.db.DocumentPage(ctx, storage.DocQuery{Reader: reader, Limit: 1000})
	if err != nil {
		return 0, err
	}
	rows, _ := registry.Rows(docs, messages.Renderer{Dir: r.eng.Directory()}, lang, time.Now(), nil)
	if progress != nil {
		progress(len(rows))
	}
	return len(rows), registry.WriteXLSX(w, registry.FromRows(rows), lang, time.UTC)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	sr := storagetest.NewRig(t, false)
	db, files, clock, eng := sr.DB, sr.Files, sr.Clock, sr.Engine
	r := &rig{t: t, db: db, eng: eng, clock: clock, files: files}
	r.srv = &web.Server{Engine: eng, Store: db, Files: files, Reports: reports{db, eng}, Clock: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxUpload: 64 << 10, LinkKey: []byte("a test key for task links, 32+ bytes")}
	r.http = httptest.NewServer(r.srvHandler())
	t.Cleanup(r.http.Close)
	r.srv.PublicURL = r.http.URL
	if err := r.srv.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	var err error
	r.doc, err = eng.Start(context.Background(), flows.StartCmd{Key: "s", Actor: "ivanova", TypeID: "contract", Title: "Поставка",
		AmountMinor: 100, HasAmount: true, File: flows.Upload{Name: "v1.pdf", Content: strings.NewReader("%PDF v1")}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// memos starts n memos by ivanova («Записка 00», …), each asking approver.
func (r *rig) memos(n int, approver flows.PersonID) {
	r.t.Helper()
	for i := range n {
		if _, err := r.eng.Start(context.Background(), flows.StartCmd{Key: fmt.Sprint("memo", i), Actor: "ivanova", TypeID: "memo",
			Title: fmt.Sprintf("Записка %02d", i), Approvers: []flows.PersonID{approver},
			File: flows.Upload{Name: "m.pdf", Content: strings.NewReader(fmt.Sprint("memo ", i))}}); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) srvHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.srv.Handler().ServeHTTP(w, req) })
}

func (r *rig) task(who flows.PersonID) int64 {
	d, _ := r.db.Document(context.Background(), r.doc.DocID)
	for _, t := range d.OpenTasks() {
		if t.Assignee == who {
			return t.ID
		}
	}
	r.t.Fatalf("%s has no task", who)
	return 0
}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (r *rig) signIn(c *http.Client, p flows.PersonID) {
	r.t.Helper()
	link, err := r.srv.LoginLink(context.Background(), p, web.LoginTTL)
	if err != nil {
		r.t.Fatal(err)
	}
	if code, _ := webtest.Get(r.t, c, link); code != http.StatusSeeOther {
		r.t.Fatalf("sign-in = %d", code)
	}
}

func (r *rig) decisions() int {
	d, _ := r.db.Document(context.Background(), r.doc.DocID)
	return len(d.Decisions)
}

func TestLoginLinks(t *testing.T) {
	r := newRig(t)
	link, err := r.srv.LoginLink(context.Background(), "petrov", web.LoginTTL)
	if err != nil {
		t.Fatal(err)
	}
	c := client()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/inbox" {
		t.Fatalf("sign-in = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
		t.Fatalf("cookie = %+v (Secure only for an https public_url)", ck)
	}
	if code, body := webtest.Get(t, c, r.http.URL+"/inbox"); code != 200 || !strings.Contains(body, "Пётр Петров") && !strings.Contains(body, "Petrov") {
		t.Fatalf("inbox = %d", code)
	}
	if code, _ := webtest.Get(t, client(), link); code != http.StatusForbidden {
		t.Fatalf("a used link = %d, want 403", code)
	}
	old, _ := r.srv.LoginLink(context.Background(), "petrov", web.LoginTTL)
	r.clock.Advance(11 * time.Minute)
	if code, _ := webtest.Get(t, client(), old); code != http.StatusForbidden {
		t.Fatalf("an expired link = %d, want 403", code)
	}
	if code, _ := webtest.Get(t, client(), r.http.URL+"/login/forged-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); code != http.StatusForbidden {
		t.Fatalf("a forged link = %d", code)
	}
	if code, _ := webtest.Get(t, client(), r.http.URL+"/inbox"); code != http.StatusSeeOther {
		t.Fatalf("inbox without a session = %d", code)
	}
	// Signing in as anyone exists only in demo mode.
	if code, body := webtest.Post(t, client(), r.http.URL+"/demo/login", url.Values{"person": {"director"}}); code != http.StatusForbidden || !strings.Contains(body, "Форма устарела") {
		t.Fatalf("demo sign-in outside the demo = %d", code)
	}
}

func TestTaskLinkAndCSRF(t *testing.T) {
	r := newRig(t)
	link, err := r.srv.TaskLink(context.Background(), r.task("petrov"), "petrov")
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.TrimPrefix(link, r.http.URL+"/t/")) < 22 {
		t.Fatalf("token too short for 128 bits: %s", link)
	}
	c := client()
	code, page := webtest.Get(t, c, link)
	if code != 200 || !strings.Contains(page, `value="approve"`) || !strings.Contains(page, "v1.pdf") {
		t.Fatalf("task page = %d", code)
	}
	csrf := webtest.CSRF(t, page)
	before := r.decisions()
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"approve"}}); code != http.StatusForbidden {
		t.Fatalf("no csrf = %d", code)
	}
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"approve"}, "csrf": {"0123456789abcdef0123456789abcdef"}}); code != http.StatusForbidden {
		t.Fatalf("wrong csrf = %d", code)
	}
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"reject"}, "csrf": {csrf}}); code != http.StatusBadRequest {
		t.Fatalf("reject without a reason = %d", code)
	}
	if r.decisions() != before {
		t.Fatal("refused forms changed the document")
	}
	if code, body := webtest.Get(t, c, link+"/v/1"); code != 200 || body != "%PDF v1" {
		t.Fatalf("download = %d %q", code, body)
	}
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"approve"}, "csrf": {csrf}, "nonce": {"n1"}}); code != 200 {
		t.Fatalf("approve = %d", code)
	}
	if r.decisions() != before+1 {
		t.Fatal("approve not recorded")
	}
	if code, _ := webtest.Get(t, c, link); code != http.StatusGone {
		t.Fatalf("a link of a closed task = %d, want 410", code)
	}
	if code, _ := webtest.Get(t, client(), r.http.URL+"/t/not-a-real-token"); code != http.StatusNotFound {
		t.Fatalf("a forged task link = %d", code)
	}
}

func multipartForm(t *testing.T, fields map[string]string, fileName string, content []byte) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", fileName)
	fw.Write(content)
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestSessionTaskRulesAndUploads(t *testing.T) {
	r := newRig(t)
	c := client()
	r.signIn(c, "sidorov")
	_, inbox := webtest.Get(t, c, r.http.URL+"/inbox")
	csrf := webtest.CSRF(t, inbox)
	// Another person's task.
	if code, _ := webtest.Get(t, c, r.http.URL+"/task/"+itoa(r.task("petrov"))); code != http.StatusForbidden {
		t.Fatalf("another person's task = %d", code)
	}
	before := r.decisions()
	if code, _ := webtest.Post(t, c, r.http.URL+"/task/"+itoa(r.task("petrov"))+"/act", url.Values{"action": {"approve"}, "csrf": {csrf}}); code != http.StatusForbidden {
		t.Fatalf("deciding another person's task = %d", code)
	}
	// A file of a kind nobody approves is refused, as in every channel.
	ct, body := multipartForm(t, map[string]string{"csrf": csrf}, "invoice.html", []byte("<script>"))
	resp, err := c.Post(r.http.URL+"/task/"+itoa(r.task("sidorov"))+"/version", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d, _ := r.db.Document(context.Background(), r.doc.DocID); resp.StatusCode != http.StatusBadRequest || len(d.Versions) != 1 {
		t.Fatalf("an .html upload = %d, %d versions", resp.StatusCode, len(d.Versions))
	}
	// A file name with path tricks is kept as a plain name.
	ct, body = multipartForm(t, map[string]string{"csrf": csrf, "comment": "исправлено"}, `..\..\etc/../../passwd.pdf`, []byte("v2 bytes"))
	resp, err = c.Post(r.http.URL+"/task/"+itoa(r.task("sidorov"))+"/version", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload = %d", resp.StatusCode)
	}
	d, _ := r.db.Document(context.Background(), r.doc.DocID)
	if v := d.Versions[1]; v.FileName != "passwd.pdf" {
		t.Fatalf("stored name %q", v.FileName)
	}
	resp, err = c.Get(r.http.URL + "/doc/" + d.Number + "/v/2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename=passwd.pdf` {
		t.Fatalf("Content-Disposition = %q", cd)
	}
	// An upload over the limit is refused and nothing is recorded.
	ct, body = multipartForm(t, map[string]string{"csrf": csrf}, "big.pdf", bytes.Repeat([]byte("x"), 200<<10))
	resp, err = c.Post(r.http.URL+"/task/"+itoa(r.task("sidorov"))+"/version", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("oversized upload = %d", resp.StatusCode)
	}
	if d2, _ := r.db.Document(context.Background(), r.doc.DocID); len(d2.Versions) != 2 {
		t.Fatalf("versions after an oversized upload: %d", len(d2.Versions))
	}
	_ = before
}

func TestDashboardAccess(t *testing.T) {
	r := newRig(t)
	if _, err := r.eng.Start(context.Background(), flows.StartCmd{Key: "m", Actor: "kuznetsova", TypeID: "memo", Title: "Премия",
		Approvers: []flows.PersonID{"director"}, File: flows.Upload{Name: "m.pdf", Content: strings.NewReader("m")}}); err != nil {
		t.Fatal(err)
	}
	viewer, outsider := client(), client()
	r.signIn(viewer, "director") // management: a viewer
	r.signIn(outsider, "sidorov")
	_, all := webtest.Get(t, viewer, r.http.URL+"/dashboard")
	if !strings.Contains(all, "Д-2026-0001") || !strings.Contains(all, "Премия") {
		t.Fatal("a viewer must see every document")
	}
	_, own := webtest.Get(t, outsider, r.http.URL+"/dashboard")
	if !strings.Contains(own, "Д-2026-0001") || strings.Contains(own, "Премия") {
		t.Fatal("a non-viewer sees only documents they take part in")
	}
	if code, _ := webtest.Get(t, outsider, r.http.URL+"/doc/memo-2026-0001"); code != http.StatusNotFound {
		t.Fatalf("someone else's document = %d", code)
	}
	_, filtered := webtest.Get(t, viewer, r.http.URL+"/dashboard?q=%D0%BF%D1%80%D0%B5%D0%BC")
	if strings.Contains(filtered, "Д-2026-0001") || !strings.Contains(filtered, "Премия") {
		t.Fatal("search did not filter")
	}
	if code, body := webtest.Get(t, viewer, r.http.URL+"/doc/Д-2026-0001/sheet.pdf"); code != 200 || !strings.HasPrefix(body, "%PDF") {
		t.Fatalf("sheet = %d", code)
	}
}

func TestStartFromTheWeb(t *testing.T) {
	r := newRig(t)
	c := client()
	r.signIn(c, "ivanova")
	_, inbox := webtest.Get(t, c, r.http.URL+"/inbox")
	ct, body := multipartForm(t, map[string]string{"csrf": webtest.CSRF(t, inbox), "type": "memo", "title": "Отпуск", "approvers": "petrov", "nonce": "x1"},
		"memo.txt", []byte("прошу"))
	resp, err := c.Post(r.http.URL+"/start", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/doc/memo-") {
		t.Fatalf("start = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestWebInboxIsAChannel(t *testing.T) {
	r := newRig(t)
	disp := flows.NewDispatcher(r.db, r.eng.Directory, r.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), r.srv)
	if _, err := disp.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := client()
	r.signIn(c, "sidorov")
	_, inbox := webtest.Get(t, c, r.http.URL+"/inbox")
	if !strings.Contains(inbox, "Нужно ваше решение") || !strings.Contains(inbox, "Последние уведомления") {
		t.Fatalf("the web inbox did not get the notification:\n%.800s", inbox)
	}
	st, _ := r.db.OutboxStats(context.Background())
	if st.Sent == 0 || st.Pending != 0 {
		t.Fatalf("outbox = %+v", st)
	}
	viewer := client()
	r.signIn(viewer, "director")
	if _, body := webtest.Get(t, viewer, r.http.URL+"/dashboard?initiator=petrov"); strings.Contains(body, "Д-2026-0001") {
		t.Fatal("the initiator filter did not filter")
	}
	if _, body := webtest.Get(t, viewer, r.http.URL+"/dashboard?initiator=ivanova"); !strings.Contains(body, "Д-2026-0001") {
		t.Fatal("the initiator filter lost the document")
	}
}

// TestLoginLinkWorksOnceUnderConcurrency: a hundred requests on one
// sign-in link at once make exactly one session; the other 99 are
// refused.
func TestLoginLinkWorksOnceUnderConcurrency(t *testing.T) {
	r := newRig(t)
	link, err := r.srv.LoginLink(context.Background(), "petrov", web.LoginTTL)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	codes := make(chan int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			resp, err := client().Get(link)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusSeeOther] != 1 || count[http.StatusForbidden] != n-1 {
		t.Fatalf("answers: %v, want one 303 and %d 403", count, n-1)
	}
	sessions, err := r.db.StatePrefix(context.Background(), web.Name, "session:")
	if err != nil || len(sessions) != 1 {
		t.Fatalf("%d sessions (%v)", len(sessions), err)
	}
}

// TestClosedTaskLinkActsOnNothing: once its task is closed, a link
// refuses every method — the page, a decision, a new version, a download —
// and the document keeps its versions.
func TestClosedTaskLinkActsOnNothing(t *testing.T) {
	r := newRig(t)
	link, _ := r.srv.TaskLink(context.Background(), r.task("petrov"), "petrov")
	c := client()
	_, page := webtest.Get(t, c, link)
	csrf := webtest.CSRF(t, page)
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"approve"}, "csrf": {csrf}}); code != 200 {
		t.Fatalf("approve = %d", code)
	}
	versions := func() int {
		d, _ := r.db.Document(context.Background(), r.doc.DocID)
		return len(d.Versions)
	}
	before := versions()
	ct, body := multipartForm(t, map[string]string{"csrf": csrf, "comment": "после закрытия"}, "v2.pdf", []byte("%PDF v2"))
	resp, err := c.Post(link+"/version", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || versions() != before {
		t.Fatalf("a new version through a closed task's link: %d, %d versions (was %d)", resp.StatusCode, versions(), before)
	}
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"comment"}, "comment": {"x"}, "csrf": {csrf}}); code != http.StatusGone {
		t.Fatalf("a comment through a closed task's link = %d", code)
	}
	if code, _ := webtest.Get(t, c, link+"/v/1"); code != http.StatusGone {
		t.Fatalf("a download through a closed task's link = %d", code)
	}
}

// TestTaskLinkLifetime: a form's CSRF value lasts one to two hours, not
// forever; a link works for its time at most; asked again while it works
// (an SMS sent again), the link is the same, and a new one only after.
func TestTaskLinkLifetime(t *testing.T) {
	r := newRig(t)
	r.srv.LinkTTL = 48 * time.Hour
	task := r.task("petrov")
	link, _ := r.srv.TaskLink(context.Background(), task, "petrov")
	again, _ := r.srv.TaskLink(context.Background(), task, "petrov")
	if again != link {
		t.Fatalf("the same task's link changed: %s → %s", link, again)
	}
	if other, _ := r.srv.TaskLink(context.Background(), r.task("sidorov"), "sidorov"); other == link {
		t.Fatal("two people share a link")
	}
	c := client()
	_, page := webtest.Get(t, c, link)
	stale := webtest.CSRF(t, page)
	r.clock.Advance(2*time.Hour + time.Minute)
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"comment"}, "comment": {"x"}, "csrf": {stale}}); code != http.StatusForbidden {
		t.Fatalf("a CSRF value two hours old = %d, want 403", code)
	}
	_, page = webtest.Get(t, c, link)
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"action": {"comment"}, "comment": {"x"}, "csrf": {webtest.CSRF(t, page)}}); code != 200 && code != http.StatusSeeOther {
		t.Fatalf("a fresh CSRF value = %d", code)
	}
	r.clock.Advance(46 * time.Hour)
	if code, _ := webtest.Get(t, c, link); code != http.StatusGone {
		t.Fatalf("a link past its time = %d, want 410", code)
	}
	fresh, _ := r.srv.TaskLink(context.Background(), task, "petrov")
	if fresh == link {
		t.Fatal("an expired link was handed out again")
	}
	if code, _ := webtest.Get(t, client(), fresh); code != 200 {
		t.Fatalf("the new link = %d", code)
	}
}

// TestDoneTakesOnlyKnownKeys: the confirmation after a redirect is one of
// the catalogue's; anything else in ?done= shows nothing.
func TestDoneTakesOnlyKnownKeys(t *testing.T) {
	r := newRig(t)
	c := client()
	r.signIn(c, "ivanova")
	for _, tc := range []struct{ done, want, not string }{
		{"started", "Документ отправлен", ""},
		{"Позвоните+по+номеру+8-800", "", "Позвоните"},
		{"approve<script>", "", "script"},
	} {
		_, body := webtest.Get(t, c, r.http.URL+"/inbox?done="+tc.done)
		if tc.want != "" && !strings.Contains(body, tc.want) {
			t.Errorf("?done=%s: no %q", tc.done, tc.want)
		}
		if tc.not != "" && (strings.Contains(body, tc.not) || strings.Contains(body, "web.done.")) {
			t.Errorf("?done=%s shown on the page", tc.done)
		}
	}
}

// TestFailedWebhooksShown: events the connector gave up on are counted on
// the viewers' dashboard, next to what to do, and on /metrics; people who
// are not viewers do not see it.
func TestFailedWebhooksShown(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	viewer, outsider := client(), client()
	r.signIn(viewer, "director")
	r.signIn(outsider, "sidorov")
	if _, body := webtest.Get(t, viewer, r.http.URL+"/dashboard"); strings.Contains(body, `id="webhooks-failed"`) {
		t.Fatal("a warning with nothing failed")
	}
	events := []storage.WebhookEvent{{EventID: 1, Type: flows.EventDocumentStarted, DocID: r.doc.DocID, Payload: "{}"},
		{EventID: 2, Type: flows.EventTaskAssigned, DocID: r.doc.DocID, Payload: "{}"}}
	if err := r.db.EnqueueWebhooks(ctx, "https://crm.example/hook", 2, events, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	due, err := r.db.DueWebhooks(ctx, r.clock.Now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due = %v, %v (one per document at a time)", due, err)
	}
	if err := r.db.WebhookFailed(ctx, due[0].ID, "HTTP 500", r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, body := webtest.Get(t, viewer, r.http.URL+"/dashboard")
	if !strings.Contains(body, `id="webhooks-failed"`) || !strings.Contains(body, "viza webhooks retry") || !strings.Contains(body, "1") {
		t.Errorf("the viewer's dashboard does not warn:\n%s", body)
	}
	if _, body := webtest.Get(t, outsider, r.http.URL+"/dashboard"); strings.Contains(body, `id="webhooks-failed"`) {
		t.Error("a non-viewer is warned about the connector")
	}
	rec := httptest.NewRecorder()
	web.NewMetrics(r.db, r.clock.Now).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`viza_webhook_deliveries{state="failed"} 1`, `viza_webhook_deliveries{state="pending"} 1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestDashboardPages: the register comes a page of fifty at a time, the
// pages together hold every document once, and the filters carry over to
// the next page's link.
func TestDashboardPages(t *testing.T) {
	r := newRig(t)
	r.memos(55, "petrov")
	viewer := client()
	r.signIn(viewer, "director")
	rowRE := regexp.MustCompile(`data-number="([^"]+)"`)
	nextRE := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	seen := map[string]bool{}
	path := "/dashboard?type=memo"
	for pages := 0; path != ""; pages++ {
		if pages > 2 {
			t.Fatal("more pages than 56 documents need")
		}
		_, body := webtest.Get(t, viewer, r.http.URL+path)
		rows := rowRE.FindAllStringSubmatch(body, -1)
		if want := []int{50, 5}[pages]; len(rows) != want {
			t.Fatalf("page %d has %d rows, want %d", pages+1, len(rows), want)
		}
		for _, m := range rows {
			if seen[m[1]] {
				t.Fatalf("%s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		if !strings.Contains(body, "документов: 55") {
			t.Errorf("page %d does not say how many documents", pages+1)
		}
		path = ""
		if m := nextRE.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "type=memo") || !strings.Contains(path, "page=2") || !strings.Contains(path, "before=") {
				t.Errorf("next page loses the filter or its key: %s", path)
			}
		}
	}
	if len(seen) != 55 {
		t.Errorf("%d documents over the pages, want 55", len(seen))
	}
	// Back from page 2 is page 1 again.
	_, first := webtest.Get(t, viewer, r.http.URL+"/dashboard?type=memo")
	_, second := webtest.Get(t, viewer, r.http.URL+html.UnescapeString(nextRE.FindStringSubmatch(first)[1]))
	prev := regexp.MustCompile(`href="([^"]+)" rel="prev"`).FindStringSubmatch(second)
	if prev == nil || !strings.Contains(prev[1], "after=") {
		t.Fatalf("page 2 has no way back: %v", prev)
	}
	_, back := webtest.Get(t, viewer, r.http.URL+html.UnescapeString(prev[1]))
	if fmt.Sprint(rowRE.FindAllString(back, -1)) != fmt.Sprint(rowRE.FindAllString(first, -1)) {
		t.Error("back from page 2 is not page 1")
	}
	// Another order pages by number.
	_, byNumber := webtest.Get(t, viewer, r.http.URL+"/dashboard?type=memo&sort=number")
	if m := nextRE.FindStringSubmatch(byNumber); m == nil || strings.Contains(m[1], "before=") || !strings.Contains(m[1], "page=2") {
		t.Errorf("sorted by number, the next page is %v", m)
	}
}

// TestExportJob: the dashboard's export runs as a job with a page that
// shows its progress and then the file; only its owner sees either, and
// shutting down removes the file.
func TestExportJob(t *testing.T) {
	r := newRig(t)
	viewer, other := client(), client()
	r.signIn(viewer, "director")
	r.signIn(other, "sidorov")
	_, dash := webtest.Get(t, viewer, r.http.URL+"/dashboard")
	if !strings.Contains(dash, `action="/export"`) {
		t.Fatal("the dashboard has no export button")
	}
	viewer.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := viewer.PostForm(r.http.URL+"/export", url.Values{"csrf": {webtest.CSRF(t, dash)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	job := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(job, "/export/") {
		t.Fatalf("start = %d %q", resp.StatusCode, job)
	}
	viewer.CheckRedirect = nil
	var page string
	for range 100 {
		_, page = webtest.Get(t, viewer, r.http.URL+job)
		if strings.Contains(page, `id="export-file"`) {
			break
		}
		if !strings.Contains(page, "<progress") {
			t.Fatalf("a job page without progress:\n%s", page)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(page, "Реестр готов: документов — 1") {
		t.Fatalf("the job never finished:\n%s", page)
	}
	code, file := webtest.Get(t, viewer, r.http.URL+job+"/file")
	if code != http.StatusOK || !strings.HasPrefix(file, "PK") {
		t.Fatalf("file = %d %.20q", code, file)
	}
	if code, _ := webtest.Get(t, other, r.http.URL+job+"/file"); code != http.StatusNotFound {
		t.Errorf("someone else's export = %d", code)
	}
	r.srv.Shutdown()
	if code, _ := webtest.Get(t, viewer, r.http.URL+job+"/file"); code != http.StatusNotFound {
		t.Errorf("after shutdown the export is still served: %d", code)
	}
}

// TestMailLinkSignsInAndOpensItsPage: a mail's action link signs its
// recipient in and opens the page it is for; opened again in the same
// browser it goes there again, in another it has expired; it never leads
// to another host.
func TestMailLinkSignsInAndOpensItsPage(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	number := r.document().Number
	path := "/doc/" + url.PathEscape(number)
	link, err := r.srv.LoginLinkTo(ctx, "ivanova", web.MailLinkTTL, path)
	if err != nil {
		t.Fatal(err)
	}
	c := client()
	goes := func(c *http.Client) (int, string) {
		res, err := c.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	if code, to := goes(c); code != http.StatusSeeOther || to != path {
		t.Fatalf("the mail's link: %d to %q, want %q", code, to, path)
	}
	if code, _ := webtest.Get(t, c, r.http.URL+path); code != http.StatusOK {
		t.Fatalf("the page after signing in: %d", code)
	}
	if code, to := goes(c); code != http.StatusSeeOther || to != path {
		t.Fatalf("opened again in the same browser: %d to %q", code, to)
	}
	if code, _ := goes(client()); code != http.StatusForbidden {
		t.Fatalf("opened in another browser: %d", code)
	}
	for _, bad := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "doc"} {
		if _, err := r.srv.LoginLinkTo(ctx, "ivanova", web.MailLinkTTL, bad); err == nil {
			t.Errorf("a link to %q was made", bad)
		}
	}
}

// TestMailPreferences: the one-click link stops a person's informational
// mail (a POST, as mail clients send it; a GET only shows the page), a
// forged or someone else's token does nothing, and the settings page
// turns it back on.
func TestMailPreferences(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	quiet := func() bool {
		v, _, _ := r.db.StateGet(ctx, "email", "quiet:ivanova")
		return v != ""
	}
	link := r.srv.UnsubscribeURL("ivanova")
	if code, _ := webtest.Get(t, client(), link); code != http.StatusOK || quiet() {
		t.Fatalf("opening the link: %d, quiet %v", code, quiet())
	}
	forged := strings.Replace(link, "/unsubscribe/", "/unsubscribe/x", 1)
	if code, _ := webtest.Post(t, client(), forged, url.Values{"List-Unsubscribe": {"One-Click"}}); code != http.StatusForbidden || quiet() {
		t.Fatalf("a forged link: %d, quiet %v", code, quiet())
	}
	if code, _ := webtest.Post(t, client(), link, url.Values{"List-Unsubscribe": {"One-Click"}}); code != http.StatusOK || !quiet() {
		t.Fatalf("one click: %d, quiet %v", code, quiet())
	}
	c := client()
	r.signIn(c, "ivanova")
	_, page := webtest.Get(t, c, r.http.URL+"/settings")
	if !strings.Contains(page, `value="requests" checked`) {
		t.Fatalf("the settings page does not show the wish:\n%s", page)
	}
	if code, _ := webtest.Post(t, c, r.http.URL+"/settings", url.Values{"csrf": {webtest.CSRF(t, page)}, "mail": {"all"}}); code != http.StatusOK || quiet() {
		t.Fatalf("turned back on: %d, quiet %v", code, quiet())
	}
}
