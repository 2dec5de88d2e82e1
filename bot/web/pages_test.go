package web_test

import (
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
)

func (r *rig) document() *flows.Document {
	r.t.Helper()
	d, err := r.db.Document(context.Background(), r.doc.DocID)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *rig) decide(who flows.PersonID, action, comment string) {
	r.t.Helper()
	if _, err := r.eng.Decide(context.Background(), flows.DecideCmd{Key: "d-" + string(who) + action, Actor: who, TaskID: r.task(who), Action: action, Comment: comment}); err != nil {
		r.t.Fatal(err)
	}
}

// TestInitiatorGoesOnInTheBrowser: after a rejection the initiator finds
// on the document page what the chat offers — a new version, a reminder,
// withdrawal — with the same rules: another person sees none of them and
// is refused if they post anyway.
func TestInitiatorGoesOnInTheBrowser(t *testing.T) {
	r := newRig(t)
	r.decide("petrov", flows.ActionReject, "Неустойка слишком высокая")
	number := r.document().Number
	docURL := r.http.URL + "/doc/" + url.PathEscape(number)

	stranger := client()
	r.signIn(stranger, "sidorov")
	_, page := webtest.Get(t, stranger, docURL)
	for _, form := range []string{`action="/doc/` + number + `/withdraw"`, `action="/doc/` + number + `/remind"`} {
		if strings.Contains(page, form) {
			t.Errorf("a lawyer who is not the initiator is offered %s", form)
		}
	}
	if code, _ := webtest.Post(t, stranger, docURL+"/withdraw", url.Values{"csrf": {webtest.CSRF(t, page)}}); code != http.StatusForbidden {
		t.Fatalf("withdraw by another person = %d, want 403", code)
	}

	c := client()
	r.signIn(c, "ivanova")
	_, page = webtest.Get(t, c, docURL)
	for _, form := range []string{`id="version"`, `id="withdraw"`} {
		if !strings.Contains(page, form) {
			t.Fatalf("the initiator's page after a rejection lacks %s:\n%s", form, page)
		}
	}
	if strings.Contains(page, `id="remind"`) {
		t.Error("remind offered while nobody has a task open")
	}
	csrf := webtest.CSRF(t, page)
	ct, body := multipartForm(t, map[string]string{"csrf": csrf, "comment": "Неустойка 0,1%", "nonce": "n1"}, "v2.pdf", []byte("%PDF v2"))
	resp, err := c.Post(docURL+"/version", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=version") {
		t.Fatalf("new version = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	d := r.document()
	if len(d.Versions) != 2 || d.State != flows.StateInApproval || len(d.Rounds) != 2 {
		t.Fatalf("after the upload: %d versions, state %s, %d rounds", len(d.Versions), d.State, len(d.Rounds))
	}
	_, page = webtest.Get(t, c, docURL)
	if !strings.Contains(page, `id="remind"`) {
		t.Fatal("no remind on a document that waits on someone")
	}
	if code, _ := webtest.Post(t, c, docURL+"/remind", url.Values{"csrf": {csrf}, "nonce": {"n2"}}); code != http.StatusSeeOther {
		t.Fatalf("remind = %d", code)
	}
	if code, page := webtest.Post(t, c, docURL+"/remind", url.Values{"csrf": {csrf}, "nonce": {"n3"}}); code != http.StatusConflict || !strings.Contains(page, "class=\"card error\"") {
		t.Fatalf("a second remind within the hour = %d", code)
	}
	if code, _ := webtest.Post(t, c, docURL+"/withdraw", url.Values{"csrf": {csrf}, "nonce": {"n4"}, "comment": {"Не нужен"}}); code != http.StatusSeeOther {
		t.Fatalf("withdraw = %d", code)
	}
	if d := r.document(); d.State != flows.StateWithdrawn {
		t.Fatalf("state after withdraw = %s", d.State)
	}
	_, page = webtest.Get(t, c, docURL)
	if strings.Contains(page, `id="withdraw"`) || strings.Contains(page, `id="version"`) {
		t.Fatal("a withdrawn document still offers withdraw or a new version")
	}
	if !strings.Contains(page, "Неустойка слишком высокая") || !strings.Contains(page, `id="decisions"`) {
		t.Fatal("the document page does not say who decided what")
	}
}

// TestOneTapLinkShowsWhereTheDocumentStands: a person with no messenger
// and no session acts by an SMS link; the page after the decision, and
// the link opened again, show the document's status, the decisions and
// whom to ask, under a header that offers nothing needing a session.
func TestOneTapLinkShowsWhereTheDocumentStands(t *testing.T) {
	r := newRig(t)
	link, _ := r.srv.TaskLink(context.Background(), r.task("petrov"), "petrov")
	c := client()
	_, page := webtest.Get(t, c, link)
	noSessionHeader := func(page string) {
		t.Helper()
		for _, s := range []string{`action="/logout"`, `href="/inbox"`, `href="/dashboard"`} {
			if strings.Contains(page, s) {
				t.Errorf("a link page without a session shows %s", s)
			}
		}
	}
	noSessionHeader(page)
	// petrov reads English.
	if !strings.Contains(page, "You are asked to approve") || !strings.Contains(page, "Your stage: 1 of") {
		t.Errorf("the task page does not say what is asked and where:\n%s", page)
	}
	code, page := webtest.Post(t, c, link+"/act", url.Values{"action": {"approve"}, "comment": {"Реквизиты сверены"}, "csrf": {webtest.CSRF(t, page)}})
	if code != http.StatusOK {
		t.Fatalf("approve = %d", code)
	}
	noSessionHeader(page)
	for _, want := range []string{"Approved. Thank you!", `id="status"`, `id="decisions"`, "Реквизиты сверены", `id="contact"`, "Анна Иванова"} {
		if !strings.Contains(page, want) {
			t.Errorf("after acting, the page lacks %q:\n%s", want, page)
		}
	}
	code, page = webtest.Get(t, c, link)
	if code != http.StatusGone {
		t.Fatalf("the link again = %d, want 410", code)
	}
	noSessionHeader(page)
	for _, want := range []string{"no longer works", `id="status"`, "Пётр Петров", `id="contact"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the closed link's page lacks %q:\n%s", want, page)
		}
	}
}

// TestVersionDownloads: a PDF opens inline in the phone's viewer; any
// other file, or a file that only calls itself .pdf, downloads.
func TestVersionDownloads(t *testing.T) {
	r := newRig(t)
	c := client()
	r.signIn(c, "ivanova")
	number := r.document().Number
	for _, tc := range []struct {
		name        string
		content     string
		disposition string
		ctype       string
	}{
		{"Договор.pdf", "%PDF-1.7 real", "inline", "application/pdf"},
		{"page.pdf", "<html><script>alert(1)</script>", "attachment", "application/octet-stream"},
		{"Договор.docx", "PK docx", "attachment", "application/octet-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.eng.UploadVersion(context.Background(), flows.VersionCmd{Key: "v-" + tc.name, Actor: "ivanova", DocID: r.doc.DocID,
				File: flows.Upload{Name: tc.name, Content: strings.NewReader(tc.content)}}); err != nil {
				t.Fatal(err)
			}
			d := r.document()
			resp, err := c.Get(r.http.URL + "/doc/" + url.PathEscape(number) + "/v/" + strconv.Itoa(len(d.Versions)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), tc.disposition) || resp.Header.Get("Content-Type") != tc.ctype {
				t.Fatalf("%s: %s, %s", tc.name, resp.Header.Get("Content-Disposition"), resp.Header.Get("Content-Type"))
			}
		})
	}
}

// TestSigningTask: a signature is offered as "signed" with an optional
// scan, never as a new version; the scan is kept as a scan, the decision
// reads as signed, and the card dates the signing from when it began.
func TestSigningTask(t *testing.T) {
	r := newRig(t)
	r.decide("petrov", flows.ActionApprove, "")
	r.clock.Advance(3 * 24 * time.Hour)
	r.decide("director", flows.ActionApprove, "")
	if d := r.document(); d.State != flows.StateSigning {
		t.Fatalf("state = %s, want signing", d.State)
	}
	c := client()
	r.signIn(c, "director")
	taskURL := r.http.URL + "/task/" + strconv.FormatInt(r.task("director"), 10)
	_, page := webtest.Get(t, c, taskURL)
	if strings.Contains(page, `id="version"`) || strings.Contains(page, `value="approve"`) {
		t.Fatalf("a signature task offers a new version or approval:\n%s", page)
	}
	if !strings.Contains(page, `name="scan"`) || !strings.Contains(page, `value="done"`) || !strings.Contains(page, "Подписано") {
		t.Fatalf("a signature task lacks 'signed' with a scan:\n%s", page)
	}
	if !strings.Contains(page, "с 03.12.2026") {
		t.Errorf("the card does not date the signing from when it began:\n%s", page)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", webtest.CSRF(t, page))
	mw.WriteField("action", "done")
	mw.WriteField("comment", "Подписан, оригинал в бухгалтерии")
	fw, _ := mw.CreateFormFile("scan", "скан.pdf")
	fw.Write([]byte("%PDF-1.4 signed scan"))
	mw.Close()
	resp, err := c.Post(taskURL+"/act", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed = %d", resp.StatusCode)
	}
	d := r.document()
	last := d.Versions[len(d.Versions)-1]
	if d.State != flows.StateDone || !last.Scan || last.FileName != "скан.pdf" {
		t.Fatalf("after signing: state %s, last version %+v", d.State, last)
	}
	_, page = webtest.Get(t, c, r.http.URL+"/doc/"+url.PathEscape(d.Number))
	if !strings.Contains(page, "подписал(а)") {
		t.Errorf("the document page does not record a signature:\n%s", page)
	}
}

// TestInboxSaysWhatIsAsked: each task in the inbox shows what is asked,
// the amount and counterparty, and marks what is overdue.
func TestInboxSaysWhatIsAsked(t *testing.T) {
	r := newRig(t)
	if _, err := r.eng.Start(context.Background(), flows.StartCmd{Key: "s2", Actor: "ivanova", TypeID: "contract", Title: "Аренда склада",
		Counterparty: "ООО «Север»", AmountMinor: 150_000_050, HasAmount: true, File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF a")}}); err != nil {
		t.Fatal(err)
	}
	c := client()
	r.signIn(c, "sidorov")
	_, page := webtest.Get(t, c, r.http.URL+"/inbox")
	for _, want := range []string{"Согласовать", "Аренда склада", "ООО «Север»", "1\u00a0500\u00a0000,50 ₽"} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("inbox lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "просрочено") {
		t.Error("an overdue mark before anything is due")
	}
	r.clock.Advance(10 * 24 * time.Hour)
	_, page = webtest.Get(t, c, r.http.URL+"/inbox")
	if n := strings.Count(page, `class="task overdue"`); n != 2 {
		t.Errorf("%d tasks marked overdue after ten days, want 2", n)
	}
}

// TestDashboardColumnsAndFilters: the dashboard shows progress among the
// stages a document passes with its bar, the deadline and a Remind button
// for whoever may remind; it filters by approver, start date and amount,
// and says so when a typed date does not parse.
func TestDashboardColumnsAndFilters(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.clock.Advance(48 * time.Hour)
	big, err := r.eng.Start(ctx, flows.StartCmd{Key: "big", Actor: "kuznetsova", TypeID: "contract", Title: "Крупная поставка",
		AmountMinor: 5_000_000_00, HasAmount: true, File: flows.Upload{Name: "b.pdf", Content: strings.NewReader("%PDF b")}})
	if err != nil {
		t.Fatal(err)
	}
	c := client()
	r.signIn(c, "ivanova")
	rows := func(query string) []string {
		t.Helper()
		code, page := webtest.Get(t, c, r.http.URL+"/dashboard?"+query)
		if code != http.StatusOK {
			t.Fatalf("dashboard?%s = %d", query, code)
		}
		var out []string
		for _, m := range regexp.MustCompile(`data-number="([^"]+)"`).FindAllStringSubmatch(page, -1) {
			out = append(out, m[1])
		}
		return out
	}
	small := r.document().Number
	bigDoc, _ := r.db.Document(ctx, big.DocID)
	// ivanova reads only her own document; a viewer would read both.
	if got := rows(""); len(got) != 1 || got[0] != small {
		t.Fatalf("ivanova's dashboard = %v", got)
	}
	viewer := client()
	r.signIn(viewer, "director")
	c = viewer
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{bigDoc.Number, small}},
		{"amount_min=1+000+000", []string{bigDoc.Number}},
		{"amount_max=10", []string{small}},
		{"from=2026-12-02", []string{bigDoc.Number}},
		{"to=2026-11-30", []string{small}},
		{"approver=kuznetsova", []string{small}}, // kuznetsova started the other one
		{"approver=petrov&amount_min=5000000", []string{bigDoc.Number}},
	} {
		if got := rows(tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("dashboard?%s = %v, want %v", tc.query, got, tc.want)
		}
	}
	code, page := webtest.Get(t, c, r.http.URL+"/dashboard?from=31.12")
	if code != http.StatusBadRequest || !strings.Contains(page, "2026-12-31") {
		t.Fatalf("a bad date = %d:\n%s", code, page)
	}
	_, page = webtest.Get(t, c, r.http.URL+"/dashboard")
	for _, want := range []string{"этап 1 из 3", `<i class="current"></i><i class="todo"></i><i class="todo"></i>`, "этап 1 из 4",
		"30.11.2026 18:00 МСК"} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q:\n%s", want, page)
		}
	}
	// A viewer may remind on every document that waits on someone.
	if n := strings.Count(page, `/remind"`); n != 2 {
		t.Errorf("%d Remind buttons for a viewer, want 2", n)
	}
	r.decide("petrov", flows.ActionReject, "Нет реквизитов")
	_, page = webtest.Get(t, c, r.http.URL+"/dashboard")
	if !strings.Contains(page, "возвращён инициатору с этапа 1 из 3") {
		t.Errorf("a document sent back does not say from where:\n%s", page)
	}
}

// TestInboxPages: a person with many tasks gets them a page at a time,
// the nearest deadline first, each task on exactly one page.
func TestInboxPages(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.memos(44, "sidorov")
	c := client()
	r.signIn(c, "sidorov")
	taskRE := regexp.MustCompile(`href="/task/(\d+)"`)
	seen := map[string]bool{}
	next := "/inbox"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("the pager does not end")
		}
		_, page := webtest.Get(t, c, r.http.URL+next)
		ids := taskRE.FindAllStringSubmatch(page, -1)
		if len(ids) == 0 || len(ids) > 20 {
			t.Fatalf("%s shows %d tasks", next, len(ids))
		}
		for _, m := range ids {
			if seen[m[1]] {
				t.Fatalf("task %s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		next = ""
		if m := regexp.MustCompile(`href="(/inbox\?page=\d+)" rel="next"`).FindStringSubmatch(page); m != nil {
			next = html.UnescapeString(m[1])
		}
		if pages == 0 && !strings.Contains(page, "задач: 45") {
			t.Errorf("the first page does not count 45 tasks:\n%s", page)
		}
	}
	if len(seen) != 45 {
		t.Fatalf("%d tasks over all pages, want 45", len(seen))
	}
	// Contracts' tasks have deadlines, memos' none: a contract started
	// after all the memos still comes before them.
	late, err := r.eng.Start(ctx, flows.StartCmd{Key: "late", Actor: "ivanova", TypeID: "contract", Title: "Поздний договор",
		File: flows.Upload{Name: "late.pdf", Content: strings.NewReader("%PDF late")}})
	if err != nil {
		t.Fatal(err)
	}
	lateDoc, _ := r.db.Document(ctx, late.DocID)
	var lateTask int64
	for _, tk := range lateDoc.OpenTasks() {
		if tk.Assignee == "sidorov" {
			lateTask = tk.ID
		}
	}
	_, page := webtest.Get(t, c, r.http.URL+"/inbox")
	ids := taskRE.FindAllStringSubmatch(page, 3)
	if len(ids) < 3 || ids[0][1] != strconv.FormatInt(r.task("sidorov"), 10) || ids[1][1] != strconv.FormatInt(lateTask, 10) {
		t.Errorf("the tasks with deadlines are not first: %v", ids)
	}
}

// TestErrorsArePagesOfTheSite: an unknown address and a method a page does
// not take are answered with a page of the site, in the reader's language,
// with a way home — not Go's plain English text.
func TestErrorsArePagesOfTheSite(t *testing.T) {
	r := newRig(t)
	c := client()
	r.signIn(c, "petrov") // English
	res, err := c.Get(r.http.URL + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, res)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page, "There is no such page here.") || !strings.Contains(page, `href="/"`) {
		t.Fatalf("404: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), page)
	}
	res, err = client().Post(r.http.URL+"/dashboard", "text/plain", nil) // a guest, in the company's Russian
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, res)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") == "" || !strings.Contains(page, "Эту страницу нельзя открыть таким способом") {
		t.Fatalf("405: %d allow %q\n%s", res.StatusCode, res.Header.Get("Allow"), page)
	}
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return b.String()
}

// TestEveryPageHasOneHeading: each page a person reaches has one heading
// of the first level (a document's pages are headed by its number and
// title), the dashboard's columns all have a header, the ad-hoc approvers
// are a group with a legend, and a notice says it is one.
func TestEveryPageHasOneHeading(t *testing.T) {
	r := newRig(t)
	c := client()
	r.signIn(c, "petrov")
	number := r.document().Number
	link, err := r.srv.TaskLink(context.Background(), r.task("sidorov"), "sidorov")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		client *http.Client
		url    string
		h1     string
	}{
		{c, r.http.URL + "/inbox", "My tasks"},
		{c, r.http.URL + "/dashboard", "All documents"},
		{c, r.http.URL + "/doc/" + url.PathEscape(number), number},
		{c, r.http.URL + "/task/" + strconv.FormatInt(r.task("petrov"), 10), number},
		{client(), link, number}, // the one-tap page, without a session
		{c, r.http.URL + "/doc/nothing", "Something is not right"},
	} {
		_, page := webtest.Get(t, tc.client, tc.url)
		h1 := regexp.MustCompile(`<h1[^>]*>([^<]*)</h1>`).FindAllStringSubmatch(page, -1)
		if len(h1) != 1 || !strings.Contains(html.UnescapeString(h1[0][1]), tc.h1) {
			t.Errorf("%s: headings %q, want one with %q", tc.url, h1, tc.h1)
		}
	}
	_, dash := webtest.Get(t, c, r.http.URL+"/dashboard")
	if strings.Contains(dash, "<th></th>") {
		t.Error("the dashboard has a column without a header")
	}
	_, inbox := webtest.Get(t, c, r.http.URL+"/inbox")
	if !regexp.MustCompile(`<fieldset[^>]*><legend>[^<]+</legend>[\s\S]*name="approvers"`).MatchString(inbox) {
		t.Error("the approvers' checkboxes are not a group with a legend")
	}
}
