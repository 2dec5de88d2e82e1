package email_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/email"
	"github.com/viza-app/viza/bot/email/smtpfake"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/storage/storagetest"
)

// parsed is a received mail read back.
type parsed struct {
	h           netmail.Header
	subject     string
	text, html  string
	attachments map[string][]byte
	inline      map[string]smtpfake.InlinePart
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := smtpfake.Parse(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	for _, cs := range m.Charsets {
		if !strings.EqualFold(cs, "utf-8") {
			t.Errorf("a text part in %q, want UTF-8", cs)
		}
	}
	return parsed{h: m.Header, subject: m.Subject, text: m.Text, html: m.HTML, attachments: m.Attachments, inline: m.Inline}
}

// rig is a database with the example company, an SMTP server that wants
// STARTTLS and a login, and the e-mail channel wired to it.
type rig struct {
	*storagetest.Rig
	smtp *smtpfake.Server
	ch   *email.Channel
	disp *flows.Dispatcher
	ctx  context.Context
}

func newRig(t *testing.T) *rig {
	t.Helper()
	srv, err := smtpfake.Start("starttls", "viza", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r := &rig{Rig: storagetest.NewRig(t, true), smtp: srv, ctx: context.Background()}
	for _, p := range r.Dir.People {
		if p.Email == "" {
			p.Email = string(p.ID) + "@romashka.example"
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cal, err := r.Config.WorkCalendar()
	if err != nil {
		t.Fatal(err)
	}
	from, _ := netmail.ParseAddress("Viza <viza@romashka.example>")
	r.ch = &email.Channel{
		Sender: &email.SMTP{Host: srv.Host, Port: srv.Port, TLS: "starttls", Username: "viza", Password: "s3cret",
			TLSConfig: srv.ClientTLS(), Timeout: 5 * time.Second},
		From: from, PublicURL: "https://viza.romashka.example", Store: r.DB, Files: r.Files, Clock: r.Clock, Log: quiet,
		Installation:  "inst" + strconv.Itoa(int(installations.Add(1))),
		Renderer:      func() messages.Renderer { return messages.Renderer{Dir: r.Dir} },
		MaxAttachment: 10 << 20, Stuck: flows.WorkDuration{Days: 3}, Cal: cal,
		TaskLink: func(_ context.Context, taskID int64, p flows.PersonID) (string, error) {
			return "https://viza.romashka.example/t/link-" + string(p), nil
		},
		Sheet: func(_ context.Context, d *flows.Document, _ string, w io.Writer) error {
			_, err := io.WriteString(w, "%PDF-1.4 sheet of "+d.Number)
			return err
		},
	}
	r.disp = flows.NewDispatcher(r.DB, r.Engine.Directory, r.Clock, quiet, r.ch)
	return r
}

// approve decides who's open task of the document — approves it, or
// marks a signature done — and reports whether there was one.
func (r *rig) approve(t *testing.T, docID int64, who flows.PersonID) bool {
	t.Helper()
	d, err := r.DB.Document(r.ctx, docID)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range d.OpenTasks() {
		if task.Assignee != who {
			continue
		}
		action := flows.ActionApprove
		if task.Kind == flows.KindSign {
			action = flows.ActionDone
		}
		if _, err := r.Engine.Decide(r.ctx, flows.DecideCmd{Key: "d" + itoa(task.ID), Actor: who, TaskID: task.ID, Action: action}); err != nil {
			t.Fatal(err)
		}
		return true
	}
	return false
}

func (r *rig) start(t *testing.T, key, title string) flows.Outcome {
	t.Helper()
	out, err := r.Engine.Start(r.ctx, flows.StartCmd{Key: key, Actor: "ivanova", TypeID: "contract", Title: title,
		Counterparty: "ООО «Север»", AmountMinor: 150_000_00, HasAmount: true, Currency: "RUB",
		File: flows.Upload{Name: "Договор поставки.pdf", Content: strings.NewReader("%PDF-1.4 draft")}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (r *rig) step(t *testing.T) {
	t.Helper()
	if _, err := r.disp.Step(r.ctx); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) mailsTo(t *testing.T, addr string) []parsed {
	t.Helper()
	var out []parsed
	for _, m := range r.smtp.Messages() {
		if slices.Contains(m.To, addr) {
			out = append(out, parse(t, m.Data))
		}
	}
	return out
}

var tagRE = regexp.MustCompile(`<[a-zA-Z/!][^>]*>`)

// TestRequestMail: a new task arrives as a mail in Russian with the card's
// facts, the buttons as one-tap links to the task's page, the file
// attached, and threading headers; what people typed stays text in both
// parts and never reaches a header of its own.
func TestRequestMail(t *testing.T) {
	r := newRig(t)
	sidorov, _ := r.Dir.Person("sidorov")
	sidorov.Name = "Сидор\r\nBcc: evil@example.com\r\n\r\nСидоров"
	hostile := "Поставка <script>alert(1)</script> & <b>жирно</b>\r\nBcc: evil@example.com"
	out := r.start(t, "s1", hostile)
	r.step(t)
	mails := r.mailsTo(t, "sidorov@romashka.example")
	if len(mails) != 1 {
		t.Fatalf("sidorov got %d mails, want 1", len(mails))
	}
	m := mails[0]
	wantSubject := "Нужно ваше решение: Договор " + out.Number + " «Поставка <script>alert(1)</script> & <b>жирно</b> Bcc: evil@example.com»"
	if m.subject != wantSubject {
		t.Errorf("subject = %q, want %q", m.subject, wantSubject)
	}
	for _, h := range []string{"Bcc", "Cc"} {
		if v := m.h.Get(h); v != "" {
			t.Errorf("header %s: %q injected", h, v)
		}
	}
	for _, raw := range r.smtp.Messages() {
		if slices.Contains(raw.To, "evil@example.com") {
			t.Fatal("a typed title added a recipient")
		}
	}
	if to, err := m.h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "sidorov@romashka.example" || to[0].Name != "Сидор Bcc: evil@example.com Сидоров" {
		t.Errorf("To = %q (%v), want sidorov alone with his name on one line", m.h.Get("To"), err)
	}
	if got := m.h.Get("From"); !strings.Contains(got, "viza@romashka.example") {
		t.Errorf("From = %q", got)
	}
	root := "<viza.doc" + itoa(out.DocID) + "." + r.ch.Installation + "@romashka.example>"
	if m.h.Get("In-Reply-To") != root || m.h.Get("References") != root {
		t.Errorf("thread headers %q / %q, want %q", m.h.Get("In-Reply-To"), m.h.Get("References"), root)
	}
	if !strings.HasSuffix(m.h.Get("Message-Id"), "@romashka.example>") || m.h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Message-ID %q, Auto-Submitted %q", m.h.Get("Message-Id"), m.h.Get("Auto-Submitted"))
	}
	for _, want := range []string{"Нужно ваше решение: согласовать", "<script>alert(1)</script>", "ООО «Север»", "150 000",
		"https://viza.romashka.example/t/link-sidorov#decide", "https://viza.romashka.example/t/link-sidorov#reject",
		"https://viza.romashka.example/doc/" + url.PathEscape(out.Number), "Сумма: 150", "000,00 ₽"} {
		if !strings.Contains(m.text, want) && !strings.Contains(m.text, strings.ReplaceAll(want, " ", "\u00a0")) {
			t.Errorf("text part lacks %q:\n%s", want, m.text)
		}
	}
	if strings.Contains(m.html, "<script") || strings.Contains(m.html, "<b>жирно") {
		t.Errorf("typed markup is markup in the HTML part:\n%s", m.html)
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `href="https://viza.romashka.example/t/link-sidorov#decide"`,
		`href="https://viza.romashka.example/t/link-sidorov#reject"`, "Согласовать", "Отклонить"} {
		if !strings.Contains(m.html, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, m.html)
		}
	}
	for _, tag := range tagRE.FindAllString(m.html, -1) {
		name := strings.ToLower(strings.Trim(strings.Fields(tag)[0], "</>"))
		if !slices.Contains([]string{"!doctype", "html", "head", "meta", "title", "body", "div", "p", "a", "b", "br", "i", "code"}, name) {
			t.Errorf("unexpected element %s in the HTML part", tag)
		}
	}
	if got := string(m.attachments["Договор поставки.pdf"]); got != "%PDF-1.4 draft" {
		t.Errorf("attachment = %q (have %v)", got, keys(m.attachments))
	}
}

// approvedLease starts the warehouse lease, has everyone decide, and sends
// what that made.
func (r *rig) approvedLease(t *testing.T) flows.Outcome {
	t.Helper()
	out := r.start(t, "s1", "Аренда склада")
	r.step(t)
	for _, who := range []flows.PersonID{"petrov", "director", "director"} {
		if !r.approve(t, out.DocID, who) {
			t.Fatalf("%s has no open task", who)
		}
	}
	r.step(t)
	return out
}

// TestThreadAndApproval: every mail about one document answers the same
// root, and the approval brings the final version and the sheet.
func TestThreadAndApproval(t *testing.T) {
	r := newRig(t)
	out := r.approvedLease(t)
	mails := r.mailsTo(t, "ivanova@romashka.example")
	if len(mails) < 2 {
		t.Fatalf("ivanova got %d mails", len(mails))
	}
	root := "<viza.doc" + itoa(out.DocID) + "." + r.ch.Installation + "@romashka.example>"
	ids := map[string]bool{}
	var approval *parsed
	for i, m := range mails {
		if m.h.Get("References") != root {
			t.Errorf("mail %q is not in the document's thread: %q", m.subject, m.h.Get("References"))
		}
		if ids[m.h.Get("Message-Id")] {
			t.Errorf("Message-ID %s used twice", m.h.Get("Message-Id"))
		}
		ids[m.h.Get("Message-Id")] = true
		if strings.Contains(m.text, "согласован") && len(m.attachments) == 2 {
			approval = &mails[i]
		}
	}
	if approval == nil {
		t.Fatalf("no approval mail with two attachments among %d", len(mails))
	}
	if got := string(approval.attachments["Лист согласования "+out.Number+".pdf"]); got != "%PDF-1.4 sheet of "+out.Number {
		t.Errorf("sheet attachment = %q (have %v)", got, keys(approval.attachments))
	}
	// The subject says it only tells, in the same thread as the request.
	if !strings.HasPrefix(approval.subject, "Согласовано: ") || !strings.Contains(approval.subject, out.Number) {
		t.Errorf("approval subject %q", approval.subject)
	}
}

// TestOutboxThroughOutagesAndRefusals: the server down, then answering
// 4xx, delays mail and loses none; a 5xx refusal is recorded as failed for
// good and shown for the document, and not tried again.
func TestOutboxThroughOutagesAndRefusals(t *testing.T) {
	r := newRig(t)
	r.smtp.Down()
	out := r.start(t, "s1", "Поставка")
	for range 6 { // an hour of a dead server
		r.step(t)
		r.Clock.Advance(10 * time.Minute)
	}
	if n := len(r.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails through a dead server", n)
	}
	if err := r.smtp.Up(); err != nil {
		t.Fatal(err)
	}
	r.smtp.Refuse(451)
	for range 3 {
		r.step(t)
		r.Clock.Advance(11 * time.Minute)
	}
	if n := len(r.smtp.Messages()); n != 0 || r.smtp.Attempts() == 0 {
		t.Fatalf("%d mails accepted, %d attempts while the server said 451", n, r.smtp.Attempts())
	}
	r.smtp.Refuse(0)
	for range 3 {
		r.step(t)
		r.Clock.Advance(11 * time.Minute)
	}
	if a, b := len(r.mailsTo(t, "petrov@romashka.example")), len(r.mailsTo(t, "sidorov@romashka.example")); a != 1 || b != 1 {
		t.Fatalf("after the outage petrov got %d, sidorov %d; want one each", a, b)
	}
	st, err := r.DB.OutboxStats(r.ctx)
	if err != nil || st.Pending != 0 || st.Failed != 0 {
		t.Fatalf("outbox %+v, %v", st, err)
	}

	r.smtp.Refuse(550)
	d, _ := r.DB.Document(r.ctx, out.DocID)
	task := d.OpenTasks()[0]
	if _, err := r.Engine.Decide(r.ctx, flows.DecideCmd{Key: "c1", Actor: task.Assignee, TaskID: task.ID, Action: flows.ActionComment, Comment: "Проверьте реквизиты"}); err != nil {
		t.Fatal(err)
	}
	attempts := r.smtp.Attempts()
	for range 3 {
		r.step(t)
		r.Clock.Advance(11 * time.Minute)
	}
	failed, err := r.DB.FailedDeliveries(r.ctx, out.DocID, email.Name)
	if err != nil || len(failed) == 0 {
		t.Fatalf("failed deliveries %v, %v; want the refused mail", failed, err)
	}
	if !strings.Contains(failed[0].Reason, "550") {
		t.Errorf("reason %q does not say what the server answered", failed[0].Reason)
	}
	if got := r.smtp.Attempts() - attempts; got != len(failed) {
		t.Errorf("%d attempts for %d refused mails: a 5xx was tried again", got, len(failed))
	}
}

// TestImplicitTLS: port-465 style servers work too.
func TestImplicitTLS(t *testing.T) {
	srv, err := smtpfake.Start("tls", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := newRig(t)
	r.ch.Sender = &email.SMTP{Host: srv.Host, Port: srv.Port, TLS: "tls", TLSConfig: srv.ClientTLS(), Timeout: 5 * time.Second}
	r.start(t, "s1", "Поставка")
	r.step(t)
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("%d mails over implicit TLS, want 2", n)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestLadderEmailStep: a ladder step "send: email" reaches the assignee by
// mail, with the task's links, and by no other channel.
func TestLadderEmailStep(t *testing.T) {
	r := newRig(t)
	typ, _ := r.Dir.Type("contract")
	typ.Reminders = []flows.ReminderRule{{At: flows.WorkDuration{Minutes: 60}, Send: flows.SendEmail}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	chat := &countingChannel{}
	r.disp = flows.NewDispatcher(r.DB, r.Engine.Directory, r.Clock, quiet, r.ch, chat)
	sched := flows.NewScheduler(r.Engine, r.DB, quiet)
	r.start(t, "s1", "Поставка")
	r.step(t)
	before, chatBefore := len(r.mailsTo(t, "sidorov@romashka.example")), chat.n
	r.Clock.Set(time.Date(2026, 12, 1, 10, 30, 0, 0, r.Dir.Location)) // deadline (Mon 18:00) + 1 working hour
	if _, err := sched.Step(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.step(t)
	mails := r.mailsTo(t, "sidorov@romashka.example")
	if len(mails) != before+1 {
		t.Fatalf("sidorov got %d mails after the e-mail step, want %d", len(mails), before+1)
	}
	if m := mails[len(mails)-1]; !strings.Contains(m.text, "Напоминание") || !strings.Contains(m.text, "/t/link-sidorov#decide") {
		t.Errorf("the step's mail:\n%s", m.text)
	}
	if chat.n != chatBefore {
		t.Errorf("the e-mail step also went to chat (%d messages)", chat.n-chatBefore)
	}
}

// countingChannel is a messenger that reaches everyone and counts.
type countingChannel struct {
	mu sync.Mutex
	n  int
}

func (*countingChannel) Name() string                 { return "telegram" }
func (*countingChannel) Reaches(p *flows.Person) bool { return true }
func (c *countingChannel) Deliver(context.Context, flows.Notification, *flows.Person) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return "", nil
}

var installations atomic.Int32

// TestMessageIDsAreUniqueAcrossInstallations: two installations (or one
// whose database was reset) number their notifications and documents
// from 1 alike; their mails still get different Message-IDs and thread
// roots, which mail services would otherwise take for one mail.
func TestMessageIDsAreUniqueAcrossInstallations(t *testing.T) {
	ids, roots := map[string]bool{}, map[string]bool{}
	for range 2 {
		r := newRig(t)
		r.start(t, "k1", "Поставка")
		r.step(t)
		msgs := r.mailsTo(t, "sidorov@romashka.example")
		if len(msgs) == 0 {
			t.Fatal("no mail")
		}
		m := msgs[0]
		ids[m.h.Get("Message-Id")] = true
		roots[m.h.Get("References")] = true
	}
	if len(ids) != 2 || len(roots) != 2 {
		t.Fatalf("Message-IDs %v, thread roots %v: want two of each", ids, roots)
	}
}

// TestMailLinksSignIn: the links of a mail that lead to pages needing a
// session — the document's page with "Upload a new version" and
// "Withdraw", the digest's "My tasks" — sign the recipient in on the way,
// so a person who reads only mail can act.
func TestMailLinksSignIn(t *testing.T) {
	r := newRig(t)
	r.ch.SignIn = func(_ context.Context, p flows.PersonID, path string) (string, error) {
		return "https://viza.romashka.example/login/for-" + string(p) + "?next=" + url.QueryEscape(path), nil
	}
	out := r.start(t, "l1", "Ссылки")
	d, err := r.DB.Document(r.ctx, out.DocID)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range d.OpenTasks() {
		if task.Assignee == "petrov" {
			if _, err := r.Engine.Decide(r.ctx, flows.DecideCmd{Key: "rj", Actor: "petrov", TaskID: task.ID, Action: flows.ActionReject, Comment: "Нет"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.step(t)
	var back *parsed
	mails := r.mailsTo(t, "ivanova@romashka.example")
	for i, m := range mails {
		if strings.HasPrefix(m.subject, "Возвращено на доработку") {
			back = &mails[i]
		}
	}
	if back == nil {
		t.Fatalf("no changes-requested mail among %d", len(mails))
	}
	want := "https://viza.romashka.example/login/for-ivanova?next=" + url.QueryEscape("/doc/"+url.PathEscape(out.Number))
	if strings.Count(back.html, html.EscapeString(want)) < 2 {
		t.Fatalf("the mail's actions do not sign in (want %s twice):\n%s", want, back.html)
	}
}

// TestInformationalMailCanBeStopped: a mail that only tells carries a
// one-click List-Unsubscribe (RFC 8058), a request does not; once a person
// asked for requests only, what only tells is not sent and requests still
// are.
func TestInformationalMailCanBeStopped(t *testing.T) {
	r := newRig(t)
	r.ch.Unsubscribe = func(p flows.PersonID) string { return "https://viza.romashka.example/mail/unsubscribe/" + string(p) }
	if err := r.DB.StatePut(r.ctx, "email", email.QuietKey("sidorov"), "1"); err != nil {
		t.Fatal(err)
	}
	out := r.start(t, "q1", "Тишина")
	r.step(t)
	for _, m := range r.mailsTo(t, "sidorov@romashka.example") {
		if m.h.Get("List-Unsubscribe") != "" {
			t.Errorf("a request carries List-Unsubscribe: %q", m.subject)
		}
	}
	requests := len(r.mailsTo(t, "sidorov@romashka.example"))
	if requests == 0 {
		t.Fatal("a quiet person got no request")
	}
	for _, who := range []flows.PersonID{"sidorov", "petrov", "director", "director"} {
		r.approve(t, out.DocID, who)
	}
	r.step(t)
	if got := len(r.mailsTo(t, "sidorov@romashka.example")); got != requests {
		t.Errorf("a quiet person got %d more mails that only tell", got-requests)
	}
	var told bool
	for _, m := range r.mailsTo(t, "ivanova@romashka.example") {
		if strings.HasPrefix(m.subject, "Согласовано") {
			told = true
			if m.h.Get("List-Unsubscribe") != "<https://viza.romashka.example/mail/unsubscribe/ivanova>" || m.h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
				t.Errorf("an informational mail's headers: %q %q", m.h.Get("List-Unsubscribe"), m.h.Get("List-Unsubscribe-Post"))
			}
		}
	}
	if !told {
		var subjects []string
		for _, m := range r.mailsTo(t, "ivanova@romashka.example") {
			subjects = append(subjects, m.subject)
		}
		t.Errorf("the initiator was not told of the decision: %q", subjects)
	}
}

// TestApprovalCarriesTheSealedFinalVersion: when the company seals final
// versions, the approval carries the sealed copy in the version's place,
// with the sheet.
func TestApprovalCarriesTheSealedFinalVersion(t *testing.T) {
	r := newRig(t)
	r.ch.SealedFinal = func(_ context.Context, d *flows.Document, _ string) (string, []byte, bool) {
		return "Договор (с печатью).pdf", []byte("%PDF-1.4 sealed " + d.Number), true
	}
	out := r.approvedLease(t)
	for _, m := range r.mailsTo(t, "ivanova@romashka.example") {
		if !strings.Contains(m.text, "согласован") || len(m.attachments) != 2 {
			continue
		}
		if got := string(m.attachments["Договор (с печатью).pdf"]); got != "%PDF-1.4 sealed "+out.Number {
			t.Fatalf("sealed final version = %q (have %v)", got, keys(m.attachments))
		}
		if _, ok := m.attachments["Лист согласования "+out.Number+".pdf"]; !ok {
			t.Fatalf("no sheet beside the sealed version: %v", keys(m.attachments))
		}
		return
	}
	t.Fatal("no approval mail with the sealed final version and the sheet")
}
