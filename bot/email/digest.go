package email

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
)

// digestLines is the most documents one section of a digest lists.
const digestLines = 30

// Digest queues the morning digest: on working days at At (company
// time), one notification per person with an e-mail address and something
// to report. The mail's content is read when it is sent, so a mail server
// that was down at nine still delivers what is true when it comes back.
type Digest struct {
	At        string // "09:00"
	Channel   *Channel
	Announce  func(ctx context.Context, key string, notes []flows.Notification) error
	Directory func() *flows.Directory
	Log       *slog.Logger

	queued string // the last day queued by this process
}

// Run queues each working day's digest until ctx ends.
func (g *Digest) Run(ctx context.Context) error {
	for {
		if _, err := g.Step(ctx); err != nil && ctx.Err() == nil {
			g.Log.Error("digest", "err", err)
		}
		// A minute's granularity is plenty for a morning mail, and a
		// short sleep survives the clock being set or the machine asleep.
		t := time.NewTimer(time.Minute)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Step queues today's digest once its time has come on a working day. A
// restart later that day queues it still, and only once: the day is the
// write's idempotency key. It returns how many people get one.
func (g *Digest) Step(ctx context.Context) (int, error) {
	dir := g.Directory()
	now := g.Channel.Clock.Now()
	local := now.In(dir.Location)
	at, err := time.Parse("15:04", g.At)
	if err != nil {
		return 0, fmt.Errorf("digest time %q: %w", g.At, err)
	}
	day := local.Format("2006-01-02")
	slot := time.Date(local.Year(), local.Month(), local.Day(), at.Hour(), at.Minute(), 0, 0, dir.Location)
	if g.queued == day || local.Before(slot) || !g.Channel.Cal.IsWorkday(local) {
		return 0, nil
	}
	run := g.Channel.newRun(ctx, now)
	var notes []flows.Notification
	for _, p := range dir.People {
		if p.Email == "" {
			continue
		}
		tasks, stuck, err := run.content(p, dir)
		if err != nil {
			return 0, err
		}
		if len(tasks)+len(stuck) > 0 {
			notes = append(notes, flows.Notification{Kind: NoteDigest, To: p.ID, At: now})
		}
	}
	if err := g.Announce(ctx, "email-digest:"+day, notes); err != nil {
		return 0, err
	}
	g.queued = day
	g.Log.Info("digest queued", "day", day, "people", len(notes))
	return len(notes), nil
}

// digestRun reads what digests say, each document once.
type digestRun struct {
	c    *Channel
	ctx  context.Context
	now  time.Time
	docs map[int64]*flows.Document
	all  []storage.OpenTask
	read bool
}

func (c *Channel) newRun(ctx context.Context, now time.Time) *digestRun {
	return &digestRun{c: c, ctx: ctx, now: now, docs: map[int64]*flows.Document{}}
}

func (r *digestRun) doc(id int64) (*flows.Document, error) {
	if d, ok := r.docs[id]; ok {
		return d, nil
	}
	d, err := r.c.Store.Document(r.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("document %d: %w", id, err)
	}
	r.docs[id] = d
	return d, nil
}

// openTask is a line of "waiting for you".
type openTask struct {
	doc  *flows.Document
	task *flows.Task
}

// stuckDoc is a line of "no progress".
type stuckDoc struct {
	doc   *flows.Document
	since time.Time
	who   []flows.PersonID
}

// content is p's digest: their open tasks, overdue first, then by
// deadline; for managers and viewers, the documents that have not moved
// for the configured working days — every one for a viewer, those waiting
// on their people for a manager.
func (r *digestRun) content(p *flows.Person, dir *flows.Directory) ([]openTask, []stuckDoc, error) {
	mine, err := r.c.Store.OpenTasksOf(r.ctx, p.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("open tasks of %s: %w", p.ID, err)
	}
	var tasks []openTask
	for _, ot := range mine {
		d, err := r.doc(ot.DocID)
		if err != nil {
			return nil, nil, err
		}
		if t, ok := d.Task(ot.ID); ok {
			tasks = append(tasks, openTask{doc: d, task: t})
		}
	}
	slices.SortStableFunc(tasks, func(a, b openTask) int {
		ao, bo := r.overdue(a.task), r.overdue(b.task)
		if ao != bo {
			if ao {
				return -1
			}
			return 1
		}
		if a.task.Due.IsZero() != b.task.Due.IsZero() {
			if a.task.Due.IsZero() {
				return 1
			}
			return -1
		}
		return a.task.Due.Compare(b.task.Due)
	})
	viewer := dir.IsViewer(p.ID)
	manages := map[flows.PersonID]bool{}
	for _, q := range dir.People {
		if q.Manager == p.ID {
			manages[q.ID] = true
		}
	}
	if !viewer && len(manages) == 0 {
		return tasks, nil, nil
	}
	if !r.read {
		if r.all, err = r.c.Store.OpenTasks(r.ctx); err != nil {
			return nil, nil, fmt.Errorf("open tasks: %w", err)
		}
		r.read = true
	}
	byDoc := map[int64]*stuckDoc{}
	var stuck []*stuckDoc
	for _, ot := range r.all {
		d, err := r.doc(ot.DocID)
		if err != nil {
			return nil, nil, err
		}
		t, ok := d.Task(ot.ID)
		if !ok {
			continue
		}
		s := byDoc[d.ID]
		if s == nil {
			s = &stuckDoc{doc: d}
			byDoc[d.ID] = s
			stuck = append(stuck, s)
		}
		if t.OpenedAt.After(s.since) {
			s.since = t.OpenedAt
		}
		s.who = append(s.who, t.Assignee)
	}
	var out []stuckDoc
	for _, s := range stuck {
		if r.c.Cal.AddWorking(s.since, r.c.Stuck).After(r.now) || slices.Contains(s.who, p.ID) {
			continue
		}
		// Whom the digest names a document to is whom the pages let open
		// it: one policy (flows.MayRead).
		if (viewer || slices.ContainsFunc(s.who, func(w flows.PersonID) bool { return manages[w] })) && flows.MayRead(dir, s.doc, p.ID) {
			out = append(out, *s)
		}
	}
	slices.SortStableFunc(out, func(a, b stuckDoc) int { return cmp.Compare(a.since.UnixNano(), b.since.UnixNano()) })
	return tasks, out, nil
}

func (r *digestRun) overdue(t *flows.Task) bool { return !t.Due.IsZero() && t.Due.Before(r.now) }

// digest renders p's digest as it stands now; empty when there is nothing
// left to say (the tasks closed since it was queued).
func (c *Channel) digest(ctx context.Context, n flows.Notification, p *flows.Person, l *locales.Localizer, lang string) (*mail.Msg, bool, error) {
	rd := c.Renderer()
	now := c.Clock.Now()
	run := c.newRun(ctx, now)
	tasks, stuck, err := run.content(p, rd.Dir)
	if err != nil || len(tasks)+len(stuck) == 0 {
		return nil, true, err
	}
	var parts []rich.Text
	if len(tasks) > 0 {
		parts = append(parts, messages.Rich(l, "email.digest_tasks", map[string]any{"N": len(tasks)}))
		for i, t := range tasks {
			if i == digestLines {
				parts = append(parts, messages.Rich(l, "email.digest_more", map[string]any{"N": len(tasks) - i}))
				break
			}
			line := messages.Rich(l, "email.digest_task", map[string]any{"Number": t.doc.Number, "Title": t.doc.Title,
				"Task": l.T("task."+t.task.Kind, nil), "Due": rd.FormatTimeFor(p.ID, t.task.Due), "Overdue": run.overdue(t.task)})
			if c.TaskLink != nil {
				u, err := c.TaskLink(ctx, t.task.ID, p.ID)
				if err != nil {
					return nil, false, fmt.Errorf("task link: %w", err)
				}
				line = rich.Concat(line, rich.Plain(" "), rich.Link(l.T("email.digest_open", nil), u))
			}
			parts = append(parts, line)
		}
	}
	if len(stuck) > 0 {
		if len(parts) > 0 {
			parts = append(parts, rich.Text{})
		}
		parts = append(parts, messages.Rich(l, "email.digest_stuck", map[string]any{"N": len(stuck), "Days": c.Stuck.Days}))
		for i, s := range stuck {
			if i == digestLines {
				parts = append(parts, messages.Rich(l, "email.digest_more", map[string]any{"N": len(stuck) - i}))
				break
			}
			var who []string
			for _, w := range s.who {
				who = append(who, rd.Name(w))
			}
			line := messages.Rich(l, "email.digest_stuck_line", map[string]any{"Number": s.doc.Number, "Title": s.doc.Title,
				"Who": joinNames(who), "Since": rd.FormatTimeFor(p.ID, s.since)})
			parts = append(parts, rich.Concat(line, rich.Plain(" "), rich.Link(l.T("email.digest_open", nil), c.docURL(s.doc.Number))))
		}
	}
	img, err := c.weeklyChart(ctx, p, lang, now)
	if err != nil {
		// The digest goes without its chart rather than not at all.
		c.Log.Warn("digest chart", "person", p.ID, "err", err)
	}
	if img != nil {
		parts = append(parts, rich.Text{}, messages.Rich(l, "email.digest_chart", map[string]any{"Alt": img.Alt}))
	}
	subject := l.T("email.digest_subject", map[string]any{"Date": now.In(rd.Dir.LocationOf(p.ID)).Format("02.01.2006")})
	inbox, err := c.signedIn(ctx, p.ID, "/inbox")
	if err != nil {
		return nil, false, err
	}
	links := []link{{Label: l.T("email.digest_inbox", nil), URL: inbox, Primary: true}}
	m, err := c.messageWith(p, subject, lang, rich.Join(parts, "\n"), links, l, img)
	if err != nil {
		return nil, false, err
	}
	m.SetMessageIDWithValue(c.messageID(n))
	return m, false, nil
}

// weeklyChart is Monday's chart for a manager or a viewer: where the
// documents of the people they see wait now, by stage. Nil on other days,
// for others, and when nothing waits.
func (c *Channel) weeklyChart(ctx context.Context, p *flows.Person, lang string, now time.Time) (*inlineImage, error) {
	dir := c.Renderer().Dir
	if c.Stats == nil || now.In(dir.LocationOf(p.ID)).Weekday() != time.Monday || stats.ScopeOf(dir, p.ID) == stats.ScopeOwn {
		return nil, nil
	}
	from, to := stats.Week.Span(now)
	rep, _, err := c.Stats.For(ctx, p.ID, stats.Query{From: from, To: to}, lang)
	if err != nil || len(rep.Waiting) == 0 {
		return nil, err
	}
	bars := messages.WaitingChart(rep, lang)
	png, err := stats.Render(bars, stats.PNG, 1120)
	if err != nil {
		return nil, err
	}
	return &inlineImage{Name: "waiting.png", Alt: bars.Title, PNG: png}, nil
}

func joinNames(names []string) string {
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}

func (c *Channel) inboxURL() string { return strings.TrimRight(c.PublicURL, "/") + "/inbox" }
