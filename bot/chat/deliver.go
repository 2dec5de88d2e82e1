package chat

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

// Deliver implements flows.Channel: a notification becomes a message in
// the person's private conversation — a task's card with its buttons
// after the file to read, the outcome shown on a card once the task
// closes, the final version and the approval sheet with the approval.
func (m *Messenger) Deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	ref, err := m.deliver(ctx, n, p)
	if g := m.gate(); g != nil && err != nil && ctx.Err() == nil && platformGone(err) {
		g.Trouble(err)
	}
	return ref, err
}

// platformGone tells whether a failed send may mean the platform is out
// of reach (refused, timed out, 5xx), rather than that it refused this one
// message or asked to slow down.
func platformGone(err error) bool {
	var e *flows.Error
	return errors.As(err, &e) && e.Kind == flows.KindTransient && e.RetryAfter == 0
}

func (m *Messenger) deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	conv, err := m.convOf(ctx, p)
	if err != nil {
		return "", err
	}
	lang := m.lang(p.ID)
	msg, err := m.renderer().Notification(n, lang)
	if err != nil {
		return "", err
	}
	out := Message{Text: msg.Text, Context: m.renderer().Context(n, lang), Buttons: m.buttons(msg.Buttons)}
	defer m.homeChanged(ctx, p)
	progress := fmt.Sprintf("sent:%d:", n.ID)
	switch n.Kind {
	case flows.NoteTaskAssigned:
		// The file first, then the card with the buttons; a retry after a
		// failure in between does not send the file twice. A file that
		// will not go — refused, or failing again and again — never holds
		// the card back: the card goes with a link to the task's web page,
		// where the file is.
		if err := m.once(ctx, progress+"file", func() error { return m.sendNotificationVersion(ctx, p.ID, conv, n, lang, false) }); err != nil {
			if ctx.Err() != nil || !m.fileGivesUp(ctx, err) {
				return "", err
			}
			m.log.Warn("request's file not sent; the card links to the web page instead", "person", p.ID, "doc", n.Number, "err", err)
			out.Text = m.withFileLink(ctx, out.Text, n, p.ID, lang)
			if err := m.Store.StatePut(ctx, m.name, progress+"file", "link"); err != nil {
				return "", err
			}
		}
		if line := m.changesLine(ctx, n, lang); !line.IsZero() {
			out.Text = rich.Concat(out.Text, rich.Plain("\n"), line)
			if k := len(out.Buttons); k > 0 {
				out.Buttons[k-1] = append(out.Buttons[k-1], m.diffButton(lang, n.DocID))
			}
		}
		id, err := m.say(ctx, p.ID, conv, out)
		if err != nil {
			return "", err
		}
		m.rememberCard(ctx, n.TaskID, conv, id, n.DocID, out.Text)
		return id, nil
	case flows.NoteTaskClosed:
		// After the decision's own edits, if it was made here just now.
		defer m.lockTask(n.TaskID)()
		var ref taskRef
		if ok, err := m.recall(ctx, taskKey(n.TaskID), &ref); err != nil {
			return "", err
		} else if ok {
			// The card and its copies show the outcome, wherever it was
			// decided. Decided here, the tap's own edit may have done it —
			// or been cut by a crash: this delivery, from the outbox, is
			// what makes sure.
			if !ref.Shown {
				line := m.t(lang, "chat.outcome", map[string]any{"Mark": "⏹", "What": msg.Text, "At": ""}).TrimSpace()
				var after [][]Button
				if n.Reason == flows.CloseDecided {
					line = m.outcomeLine(p.ID, lang, n.Decision, n.At)
					after = m.afterDecision(lang, n.Decision, n.State, n.DocID)
				}
				if err := m.showOutcome(ctx, p.ID, ref, line, after, ""); err != nil {
					return "", err
				}
				m.markShown(ctx, n.TaskID)
				if len(after) > 0 {
					m.markLive(ctx, n.DocID, string(ref.Conv), string(ref.Msg), m.withOutcome(ref.text(), line))
				}
			}
			return string(ref.Msg), nil
		}
	case flows.NoteApproved:
		if err := m.once(ctx, progress+"retire", func() error { return m.retire(ctx, p.ID, conv, n.DocID) }); err != nil {
			return "", err
		}
		id, err := m.say(ctx, p.ID, conv, Message{Text: msg.Text})
		if err != nil {
			return "", err
		}
		if err := m.once(ctx, progress+"file", func() error { return m.sendNotificationVersion(ctx, p.ID, conv, n, lang, true) }); err != nil {
			return "", err
		}
		// The approval sheet comes with the final approval.
		if err := m.once(ctx, progress+"sheet", func() error {
			d, err := m.Store.Document(ctx, n.DocID)
			if err != nil {
				return err
			}
			return m.sendSheet(ctx, p.ID, conv, d, lang)
		}); err != nil {
			return "", err
		}
		return id, nil
	case flows.NoteChangesRequested:
		id, err := m.say(ctx, p.ID, conv, out)
		if err != nil {
			return "", err
		}
		m.remember(ctx, cardKey(conv, id), cardRef{Doc: n.DocID, Rich: msg.Text.Markup()})
		m.markLive(ctx, n.DocID, conv, id, msg.Text)
		return id, nil
	case flows.NoteDone, flows.NoteWithdrawn:
		// Finished: no message of the document keeps a button.
		if err := m.once(ctx, progress+"retire", func() error { return m.retire(ctx, p.ID, conv, n.DocID) }); err != nil {
			return "", err
		}
	}
	id, err := m.say(ctx, p.ID, conv, out)
	if err != nil {
		return "", err
	}
	if n.Kind == flows.NoteReminder {
		// The reminder carries the task's buttons: it becomes the message
		// that a decision edits, beside the request it repeats.
		m.rememberCard(ctx, n.TaskID, conv, id, n.DocID, msg.Text)
	}
	return id, nil
}

// fileTries is how many failed sends of a request's file the card waits
// for before it goes with a link instead (a platform's outage is not
// counted: the channel's deliveries wait for it as a whole).
const fileTries = 3

// fileGivesUp tells whether a failure to send a request's file is final
// for this delivery: the platform refused it, or it failed fileTries
// times.
func (m *Messenger) fileGivesUp(ctx context.Context, err error) bool {
	return flows.ErrorKind(err) != flows.KindTransient || flows.Attempt(ctx) >= fileTries-1
}

// withFileLink adds to a request's card where to read its file: the
// task's one-tap web page, or the web pages in general when no link can
// be made.
func (m *Messenger) withFileLink(ctx context.Context, text rich.Text, n flows.Notification, p flows.PersonID, lang string) rich.Text {
	link := ""
	if f := m.taskPage(); f != nil {
		if l, err := f(ctx, n.TaskID, p); err == nil {
			link = l
		} else {
			m.log.Warn("task link for a request without its file", "person", p, "err", err)
		}
	}
	return rich.Concat(text.TrimSpace(), rich.Plain("\n\n"), m.t(lang, "chat.file_on_web", map[string]any{"Link": link, "File": n.FileName}))
}

// sendNotificationVersion sends the version a notification is about.
func (m *Messenger) sendNotificationVersion(ctx context.Context, p flows.PersonID, conv string, n flows.Notification, lang string, final bool) error {
	d, err := m.Store.Document(ctx, n.DocID)
	if err != nil {
		return err
	}
	v, ok := d.Version(n.Version)
	if !ok {
		return nil
	}
	key := "chat.version_caption"
	if final {
		key = "chat.final_version"
	}
	caption := m.t(lang, key, map[string]any{"Number": n.Number, "Version": v.No})
	if fs, ok := m.Reports.(FinalSealer); ok && final && v.No == d.CurrentVersion() {
		// The company seals the approved PDF: its sealed copy goes instead.
		if name, pdf, ok := fs.SealedFinal(ctx, d, lang); ok {
			return m.sendFile(ctx, p, conv, memFile(name, pdf, caption))
		}
	}
	return m.sendFile(ctx, p, conv, m.versionFile(v, caption))
}

func (m *Messenger) versionFile(v *flows.Version, caption rich.Text) File {
	sha := v.SHA256
	return File{Name: v.FileName, SHA256: sha, Size: v.Size, Caption: caption,
		Open: func() (io.ReadCloser, error) { return m.Files.Open(sha) }}
}

// homeChanged tells a platform with a home view that the person's tasks or
// documents changed.
func (m *Messenger) homeChanged(ctx context.Context, p *flows.Person) {
	h, ok := m.wire.(HomeTransport)
	if !ok {
		return
	}
	if user, ok := m.userOf(ctx, p); ok {
		h.HomeChanged(user)
	}
}

// afterDecision is what a decided card still offers: a remark, after an
// approval, while the document is in approval.
func (m *Messenger) afterDecision(lang, action, state string, doc int64) [][]Button {
	if action != flows.ActionApprove || (state != "" && state != flows.StateInApproval) {
		return nil
	}
	return [][]Button{{{Label: m.s(lang, "button.add_remark", nil), Action: fmt.Sprintf("rm:%d", doc)}}}
}

// showOutcome shows a task's outcome on its main message (unless that is
// skip, edited by the caller), with the buttons after, and on every earlier
// copy of the request: the decision's buttons go wherever the person could
// still press them.
func (m *Messenger) showOutcome(ctx context.Context, p flows.PersonID, ref taskRef, line rich.Text, after [][]Button, skip string) error {
	var first error
	if string(ref.Msg) != skip && ref.Msg != "" {
		first = m.edit(ctx, p, string(ref.Conv), string(ref.Msg), Message{Text: m.withOutcome(ref.text(), line), Buttons: after})
	}
	if !m.caps.Edit {
		return first // a new message says it once; old buttons answer "already decided"
	}
	for _, c := range ref.Copies {
		if string(c.Msg) == skip {
			continue
		}
		if err := m.edit(ctx, p, string(c.Conv), string(c.Msg), Message{Text: m.withOutcome(c.text(), line)}); err != nil {
			m.log.Warn("show the outcome on a copy of the request", "person", p, "err", err)
		}
	}
	return first
}
