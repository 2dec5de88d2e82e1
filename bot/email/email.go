// Package email is Viza's e-mail channel: the notifications a person gets
// in chat, by mail, and a morning digest of open tasks. A mail is rendered
// from the same catalogue as the chat card, as plain text and HTML; its
// buttons are one-tap links to the web decision pages, which only show
// the choice — a link never acts by being opened, since mail scanners
// open links. Mails about one document stay one thread.
//
// Delivery goes through the outbox like every channel: a server that is
// down or answers 4xx gets the mail later, a 5xx answer is recorded as a
// failed delivery and shown on the document.
package email

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
)

// Name is the channel's name in deliveries and in a person's notify list.
const Name = "email"

// NoteDigest is the morning digest's notification kind: it belongs to no
// document, and its content is read when it is sent.
const NoteDigest = "digest"

// Store is what the channel reads to attach files and build digests.
type Store interface {
	Document(ctx context.Context, id int64) (*flows.Document, error)
	OpenTasksOf(ctx context.Context, p flows.PersonID) ([]storage.OpenTask, error)
	OpenTasks(ctx context.Context) ([]storage.OpenTask, error)
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
}

// QuietKey is the state key (channel "email") that holds a person's wish
// to get no informational mail: requests for their decision still come.
func QuietKey(p flows.PersonID) string { return "quiet:" + string(p) }

// Informational reports whether a mail only tells (an approval, a
// decision, a remark) rather than asks its reader to act: a person may
// stop these, never the requests, reminders and escalations.
func Informational(n flows.Notification) bool {
	switch {
	case n.IsRequest(), n.Kind == flows.NoteChangesRequested:
		return false // they ask the reader (the initiator, after a rejection) to act
	}
	return true
}

// Channel delivers notifications by mail to people whose notify list
// names email, to people no messenger reaches, and every ladder step
// "send: email".
type Channel struct {
	Sender    Sender
	From      *netmail.Address
	PublicURL string
	Store     Store
	Files     flows.FileStore
	Renderer  func() messages.Renderer
	Clock     flows.Clock
	Log       *slog.Logger
	// TaskLink makes a one-tap link to a task's page for its holder.
	TaskLink func(ctx context.Context, taskID int64, p flows.PersonID) (string, error)
	// SignIn makes a link that signs p in and opens path (a page that needs
	// a session): every action link in a mail works from the mail. Nil:
	// the plain address.
	SignIn func(ctx context.Context, p flows.PersonID, path string) (string, error)
	// Unsubscribe is the one-click address (RFC 8058) that stops p's
	// informational mail; nil: none is offered.
	Unsubscribe func(p flows.PersonID) string
	// Sheet writes a document's approval sheet (PDF), attached to the
	// approval.
	Sheet func(ctx context.Context, d *flows.Document, lang string, w io.Writer) error
	// SealedFinal, when set, is the final version sealed by the company,
	// attached to the approval instead of the version as uploaded (ok
	// false: the version goes as uploaded).
	SealedFinal func(ctx context.Context, d *flows.Document, lang string) (name string, pdf []byte, ok bool)
	// OnMessenger tells whether a messenger reaches a person now.
	OnMessenger func(p *flows.Person) bool
	// Compare adds what a new version changed to its requests (nil: not).
	Compare compare.Comparer
	// MaxAttachment is the largest version attached; a larger one is a
	// link on the task's page.
	MaxAttachment int64
	// Stuck is how many working days without a move put a document in
	// the digest of managers and viewers.
	Stuck flows.WorkDuration
	// Stats draws Monday's chart in the managers' digest; nil: none.
	Stats *stats.Service
	Cal   Calendar
	// Installation is this record's own random id (kept in the database,
	// made on first use): it makes Message-IDs and thread roots unique
	// among every Viza that writes to one mailbox, and across a database
	// reset — the counters they are also built from start again.
	Installation string
}

// Calendar is the working time the digest counts in.
type Calendar interface {
	AddWorking(from time.Time, d flows.WorkDuration) time.Time
	IsWorkday(t time.Time) bool
}

var (
	_ flows.Channel          = (*Channel)(nil)
	_ flows.PersonKindFilter = (*Channel)(nil)
	_ flows.Patient          = (*Channel)(nil)
)

// Name implements flows.Channel.
func (c *Channel) Name() string { return Name }

// Reaches implements flows.Channel.
func (c *Channel) Reaches(p *flows.Person) bool { return p.Email != "" }

// MaxAttempts implements flows.Patient: with the dispatcher's backoff
// (ten minutes at most between attempts) about a day of a server being
// away before a mail is given up.
func (c *Channel) MaxAttempts() int { return 160 }

// AcceptsFor implements flows.PersonKindFilter. A person who chose their
// channels (notify) gets by mail what they chose, which the dispatcher
// sees to; otherwise mail carries everything to people no messenger
// reaches. The digest and the ladder's e-mail step go to anyone.
func (c *Channel) AcceptsFor(p *flows.Person, kind string) bool {
	switch {
	case kind == NoteDigest || kind == flows.NoteReminderEmail:
		return true
	case kind == flows.NoteReminderSMS:
		return false
	case len(p.Notify) > 0:
		return true
	}
	return c.OnMessenger == nil || !c.OnMessenger(p)
}

// Deliver implements flows.Channel.
func (c *Channel) Deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	if n.Kind == flows.NoteTaskClosed && n.Actor == p.ID {
		return "", nil // they closed it themselves: nothing to tell
	}
	lang := c.Renderer().Language(p.ID)
	l, err := locales.For(lang)
	if err != nil {
		return "", err
	}
	if n.Kind != NoteDigest && Informational(n) {
		if quiet, _, err := c.Store.StateGet(ctx, "email", QuietKey(p.ID)); err != nil {
			return "", err
		} else if quiet != "" {
			return "quiet", nil // they asked for requests only
		}
	}
	var m *mail.Msg
	if n.Kind == NoteDigest {
		var empty bool
		if m, empty, err = c.digest(ctx, n, p, l, lang); err != nil || empty {
			return "", err
		}
	} else if m, err = c.notification(ctx, n, p, l, lang); err != nil {
		return "", err
	}
	if c.Unsubscribe != nil && Informational(n) {
		// One click in the mail client stops what only informs.
		m.SetGenHeaderPreformatted("List-Unsubscribe", "<"+c.Unsubscribe(p.ID)+">")
		m.SetGenHeaderPreformatted("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	if err := c.Sender.Send(ctx, m); err != nil {
		return "", err
	}
	c.Log.Info("mail sent", "person", p.ID, "doc", n.Number, "kind", n.Kind)
	return c.messageID(n), nil
}

// link is one button of a mail.
type link struct {
	Label   string
	URL     string
	Primary bool
}

// anchors are the parts of a task's page a button leads to.
var anchors = map[string]string{
	messages.ActApprove: "decide", messages.ActApproveComment: "decide", messages.ActRead: "decide", messages.ActDone: "decide", messages.ActComment: "decide",
	messages.ActReject: "reject", messages.ActNewVersion: "version", messages.ActSignDSS: "decide",
}

// notification renders one notification: the card's text, its buttons as
// links, the file to read or the final version and the sheet attached.
func (c *Channel) notification(ctx context.Context, n flows.Notification, p *flows.Person, l *locales.Localizer, lang string) (*mail.Msg, error) {
	r := c.Renderer()
	rendered, err := r.Notification(n, lang)
	if err != nil {
		return nil, err
	}
	var links []link
	var taskURL string
	docLink, err := c.signedIn(ctx, p.ID, c.docPath(n.Number))
	if err != nil {
		return nil, err
	}
	for _, row := range rendered.Buttons {
		for _, b := range row {
			u := docLink
			if anchor, ok := anchors[b.Action]; ok && n.TaskID != 0 && c.TaskLink != nil {
				if taskURL == "" {
					if taskURL, err = c.TaskLink(ctx, n.TaskID, p.ID); err != nil {
						return nil, fmt.Errorf("task link: %w", err)
					}
				}
				u = taskURL + "#" + anchor
			}
			links = append(links, link{Label: b.Label, URL: u, Primary: b.Action == messages.ActApprove || b.Action == messages.ActRead || b.Action == messages.ActDone || b.Action == messages.ActSignDSS})
		}
	}
	if len(links) == 0 && n.Number != "" {
		links = []link{{Label: l.T("email.open_document", nil), URL: docLink, Primary: true}}
	}
	if line, ok := c.changes(ctx, n, lang); ok {
		rendered.Text = rich.Concat(rendered.Text, rich.Plain("\n"), line)
		diffLink, err := c.signedIn(ctx, p.ID, c.docPath(n.Number)+"/diff")
		if err != nil {
			return nil, err
		}
		links = append(links, link{Label: l.T("button.diff", nil), URL: diffLink})
	}
	// The subject says first whether the mail asks for something or only
	// tells: "Your decision is needed: …" is not "Approved: …", though both
	// stay in the document's thread.
	subject := l.T("email.subject", map[string]any{"Type": messages.Localized(n.TypeName, lang), "Number": n.Number, "Title": n.Title})
	if key := subjectPrefix(n); key != "" {
		subject = l.T(key, nil) + ": " + subject
	}
	m, err := c.message(p, subject, lang, rendered.Text, links, l)
	if err != nil {
		return nil, err
	}
	m.SetMessageIDWithValue(c.messageID(n))
	if n.DocID != 0 {
		// One thread per document: every mail about it answers the same
		// root, which mail clients group by.
		root := c.threadRoot(n.DocID)
		m.SetGenHeaderPreformatted(mail.HeaderInReplyTo, root)
		m.SetGenHeaderPreformatted(mail.HeaderReferences, root)
	}
	if err := c.attach(ctx, m, n, p, lang, l); err != nil {
		return nil, err
	}
	return m, nil
}

// cardCompareWait bounds how long a request's mail waits for what its
// version changed, as a chat card does.
const cardCompareWait = 3 * time.Second

// changes is a request's "what changed" lines, for a new version.
func (c *Channel) changes(ctx context.Context, n flows.Notification, lang string) (rich.Text, bool) {
	if c.Compare == nil || n.Kind != flows.NoteTaskAssigned || n.Version < 2 {
		return rich.Text{}, false
	}
	d, err := c.Store.Document(ctx, n.DocID)
	if err != nil {
		c.Log.Warn("read the document for its changes", "doc", n.Number, "err", err)
		return rich.Text{}, false
	}
	cmp, ok, err := compare.ForCard(ctx, c.Compare, d, n.Version, cardCompareWait, c.Clock.Now())
	if err != nil {
		c.Log.Warn("compare versions for a mail", "doc", n.Number, "err", err)
	}
	if !ok {
		return rich.Text{}, false
	}
	lim := messages.CardChanges
	lim.NoCommands = true
	return messages.Changes(cmp, d.Number, lang, lim), true
}

// attach adds the version to read to a request, and the final version and
// the approval sheet to the approval.
func (c *Channel) attach(ctx context.Context, m *mail.Msg, n flows.Notification, p *flows.Person, lang string, l *locales.Localizer) error {
	if n.DocID == 0 || (n.Kind != flows.NoteTaskAssigned && n.Kind != flows.NoteApproved) {
		return nil
	}
	d, err := c.Store.Document(ctx, n.DocID)
	if err != nil {
		return fmt.Errorf("document %d: %w", n.DocID, err)
	}
	if n.Kind == flows.NoteApproved && c.SealedFinal != nil && n.Version == d.CurrentVersion() {
		if name, pdf, ok := c.SealedFinal(ctx, d, lang); ok && int64(len(pdf)) <= c.MaxAttachment {
			if err := m.AttachReader(name, bytes.NewReader(pdf), mail.WithFileContentType("application/pdf")); err != nil {
				return fmt.Errorf("attach %s: %w", name, err)
			}
			return c.attachSheet(ctx, m, d, n, lang, l)
		}
	}
	if v, ok := d.Version(n.Version); ok && v.Size <= c.MaxAttachment && c.Files != nil {
		f, err := c.Files.Open(v.SHA256)
		if err != nil {
			return fmt.Errorf("open version %d of %s: %w", v.No, d.Number, err)
		}
		defer f.Close()
		// go-mail reads the reader whole when attaching it.
		if err := m.AttachReader(v.FileName, f); err != nil {
			return fmt.Errorf("attach %s: %w", v.FileName, err)
		}
	}
	return c.attachSheet(ctx, m, d, n, lang, l)
}

// attachSheet adds the approval sheet to the approval.
func (c *Channel) attachSheet(ctx context.Context, m *mail.Msg, d *flows.Document, n flows.Notification, lang string, l *locales.Localizer) error {
	if n.Kind == flows.NoteApproved && c.Sheet != nil {
		var sheet bytes.Buffer
		if err := c.Sheet(ctx, d, lang, &sheet); err != nil {
			return fmt.Errorf("sheet of %s: %w", d.Number, err)
		}
		name := l.T("email.sheet_file", map[string]any{"Number": flows.CleanFileName(d.Number)})
		if err := m.AttachReader(name, &sheet, mail.WithFileContentType("application/pdf")); err != nil {
			return fmt.Errorf("attach the sheet: %w", err)
		}
	}
	return nil
}

// message builds a mail to p: the text part and the HTML part from one
// rich text, the links under it in both.
func (c *Channel) message(p *flows.Person, subject, lang string, body rich.Text, links []link, l *locales.Localizer) (*mail.Msg, error) {
	return c.messageWith(p, subject, lang, body, links, l, nil)
}

// inlineImage is a picture shown in the mail's HTML part (a chart), sent
// inside the mail and named by its Content-ID.
type inlineImage struct {
	Name string // also its Content-ID
	Alt  string
	PNG  []byte
}

// messageWith is message with an inline image after the body; the text
// part says what the picture shows in Alt.
func (c *Channel) messageWith(p *flows.Person, subject, lang string, body rich.Text, links []link, l *locales.Localizer,
	img *inlineImage) (*mail.Msg, error) {
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	m.FromMailAddress(c.From)
	if err := m.AddToFormat(oneLine(p.Name), p.Email); err != nil {
		return nil, flows.Errorf(flows.KindPermanent, "email_bad_address", "%s: %v", p.ID, err)
	}
	subject = oneLine(subject)
	m.Subject(subject)
	m.SetDateWithValue(c.Clock.Now())
	// Out-of-office replies and mailing-list loops have nothing to answer.
	m.SetGenHeaderPreformatted("Auto-Submitted", "auto-generated")
	m.SetGenHeaderPreformatted("X-Auto-Response-Suppress", "All")
	footer := l.T("email.footer", map[string]any{"Company": c.Renderer().Dir.Company})

	var text strings.Builder
	text.WriteString(plainText(body))
	text.WriteString("\n\n")
	for _, k := range links {
		fmt.Fprintf(&text, "%s: %s\n", k.Label, k.URL)
	}
	text.WriteString("\n-- \n" + footer + "\n")
	m.SetBodyString(mail.TypeTextPlain, text.String())

	var html bytes.Buffer
	data := map[string]any{"Lang": lang, "Subject": subject, "Body": htmlBody(body), "Links": links, "Footer": footer}
	if img != nil {
		data["Image"] = img
		m.EmbedReader(img.Name, bytes.NewReader(img.PNG), mail.WithFileContentType(mail.ContentType("image/png")))
	}
	err := page.Execute(&html, data)
	if err != nil {
		return nil, fmt.Errorf("render mail: %w", err)
	}
	m.AddAlternativeString(mail.TypeTextHTML, html.String())
	return m, nil
}

//go:embed templates/mail.html
var templates embed.FS

var page = template.Must(template.ParseFS(templates, "templates/mail.html"))

// htmlBody is rich text as HTML with its line breaks kept: the text is
// escaped span by span, so a newline can only be one people typed or the
// catalogue wrote.
func htmlBody(t rich.Text) template.HTML {
	return template.HTML(strings.ReplaceAll(t.HTML(), "\n", "<br>\n"))
}

// plainText is rich text for the text part: a link shows its address,
// which a text reader has no other way to follow.
func plainText(t rich.Text) string {
	var b strings.Builder
	for _, s := range t.Spans {
		b.WriteString(s.Text)
		if s.Link != "" {
			b.WriteString(" <" + s.Link + ">")
		}
	}
	return b.String()
}

// oneLine makes a header value of text people typed: no line breaks or
// other control characters, so nothing can start a header of its own.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// subjectPrefix is the catalogue key of what a mail is about, for its
// subject; "" for a kind that needs none.
func subjectPrefix(n flows.Notification) string {
	switch {
	case n.IsRequest():
		return "email.subject_prefix.request"
	case n.Kind == flows.NoteApproved, n.Kind == flows.NoteDone, n.Kind == flows.NoteChangesRequested, n.Kind == flows.NoteWithdrawn,
		n.Kind == flows.NoteDecision, n.Kind == flows.NoteTaskClosed, n.Kind == flows.NoteRoundRestarted, n.Kind == flows.NoteRemark,
		n.Kind == flows.NoteRouteChanged:
		return "email.subject_prefix." + n.Kind
	}
	return ""
}

func (c *Channel) messageID(n flows.Notification) string {
	return fmt.Sprintf("viza.n%d.d%d.%s@%s", n.ID, n.DocID, c.installation(), c.domain())
}

// threadRoot is what every mail about a document answers.
func (c *Channel) threadRoot(docID int64) string {
	return fmt.Sprintf("<viza.doc%d.%s@%s>", docID, c.installation(), c.domain())
}

func (c *Channel) installation() string {
	if c.Installation == "" {
		return "x" // a channel built by hand (a test's); the service always sets it
	}
	return c.Installation
}

func (c *Channel) domain() string {
	if _, d, ok := strings.Cut(c.From.Address, "@"); ok {
		return d
	}
	return "viza.invalid"
}

// signedIn is the address of path that signs p in on the way, or the plain
// address without SignIn.
func (c *Channel) signedIn(ctx context.Context, p flows.PersonID, path string) (string, error) {
	if c.SignIn == nil {
		return strings.TrimRight(c.PublicURL, "/") + path, nil
	}
	u, err := c.SignIn(ctx, p, path)
	if err != nil {
		return "", fmt.Errorf("sign-in link: %w", err)
	}
	return u, nil
}

func (c *Channel) docPath(number string) string { return "/doc/" + url.PathEscape(number) }

func (c *Channel) docURL(number string) string {
	return strings.TrimRight(c.PublicURL, "/") + "/doc/" + url.PathEscape(number)
}
