package chat

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
)

// answer acknowledges a tap; a failure only costs the person a spinner.
func (m *Messenger) answer(ctx context.Context, tap *Tap, text string) {
	if err := m.wire.Answer(ctx, tap, text); err != nil {
		m.log.Warn("answer tap", "err", err)
	}
}

// tapText is the rich text of the message a button was on: as the layer
// sent it when it kept it, else as the platform shows it.
func (m *Messenger) tapText(ctx context.Context, conv string, tap *Tap) rich.Text {
	if tap.Message != "" {
		var c cardRef
		if ok, _ := m.recall(ctx, cardKey(conv, tap.Message), &c); ok {
			if t, ok := c.text(); ok {
				return t
			}
		}
	}
	return rich.Plain(tap.MessageText)
}

var outcomeMarks = map[string]string{flows.ActionApprove: "✅", flows.ActionReject: "❌", flows.ActionAcknowledge: "👁", flows.ActionDone: "✍️"}

// outcomeLine is what a task's card says once its holder decided.
func (m *Messenger) outcomeLine(p flows.PersonID, lang, action string, at time.Time) rich.Text {
	when := at.In(m.Engine.Directory().LocationOf(p)).Format("02.01 15:04")
	return m.t(lang, "chat.outcome", map[string]any{"Mark": outcomeMarks[action], "What": m.s(lang, "chat.outcome."+action, nil), "At": when})
}

func (m *Messenger) onTap(ctx context.Context, ev *Event) {
	tap := ev.Tap
	p, ok := m.person(ctx, ev.User)
	if !ok {
		m.log.Info("button from an unknown user", "user", ev.User)
		m.answer(ctx, tap, messages.Error(flows.Errorf(flows.KindForbidden, "unknown_person", ""), m.guessLang(ev.Lang)))
		return
	}
	m.setInactive(p.ID, false)
	lang := m.lang(p.ID)
	code, ref, _ := strings.Cut(tap.Action, ":")
	if tap.MessageMaybe && tap.Message != "" {
		var c cardRef
		if ok, _ := m.recall(ctx, cardKey(ev.Conv, tap.Message), &c); !ok {
			// Not a message the layer sent: the decision's outcome goes
			// to the task's own card and its copies instead.
			m.log.Info("tap names a message the bot did not send; the card is found through its task", "message", tap.Message)
			tap.Message = ""
		}
	}
	conv, msgID := ev.Conv, tap.Message
	id, _ := strconv.ParseInt(ref, 10, 64)
	fail := func(err error) {
		m.logCommandErr(p.ID, err)
		m.answer(ctx, tap, messages.Error(err, lang))
	}
	switch code {
	case "ap", "rd", "dn":
		action := map[string]string{"ap": flows.ActionApprove, "rd": flows.ActionAcknowledge, "dn": flows.ActionDone}[code]
		text := m.tapText(ctx, conv, tap)
		defer m.lockTask(id)()
		var undo func()
		var claimed taskRef
		if msgID != "" {
			// This message will show the outcome; say so before deciding, so
			// that the notification of the decision does not change it too.
			claimed, undo = m.claimOutcome(ctx, id, conv, msgID, text)
		}
		out, err := m.Engine.Decide(ctx, flows.DecideCmd{Key: ev.Key, Actor: p.ID, TaskID: id, Action: action})
		if err != nil {
			if undo != nil {
				undo()
			}
			fail(err)
			return
		}
		m.answer(ctx, tap, m.s(lang, "chat.answer.done", nil))
		// The final approval leaves nothing to remark on.
		after := m.afterDecision(lang, action, out.State, out.DocID)
		if msgID != "" {
			// Best effort, at once; the task's closing notification makes
			// sure from the outbox if these edits are cut short.
			line := m.outcomeLine(p.ID, lang, action, m.Clock.Now())
			errMain := m.edit(ctx, p.ID, conv, msgID, Message{Text: m.withOutcome(text, line), Buttons: after})
			if errMain != nil {
				m.log.Warn("edit task message", "person", p.ID, "err", errMain)
			}
			errCopies := m.showOutcome(ctx, p.ID, claimed, line, nil, msgID)
			if errCopies != nil {
				m.log.Warn("show the outcome on the request", "person", p.ID, "err", errCopies)
			}
			if errMain == nil && errCopies == nil {
				m.markShown(ctx, id)
			}
			if errMain == nil && len(after) > 0 {
				m.markLive(ctx, out.DocID, conv, msgID, m.withOutcome(text, line))
			}
		} else {
			m.markDecided(ctx, p, lang, id, action)
		}
	case "sd":
		// The version goes to КриптоПро DSS in the sender's name; the
		// task closes when DSS reports it signed (the poller, through the
		// outbox), so this answer only says where to confirm. One tap at a
		// time per task: a second finds the first's operation waiting and
		// is refused, never sent to DSS again.
		defer m.lockTask(id)()
		out, err := m.Engine.SignInDSS(ctx, flows.SignDSSCmd{Key: ev.Key, Actor: p.ID, TaskID: id})
		if err != nil {
			fail(err)
			return
		}
		if d, err := m.Store.Document(ctx, out.DocID); err == nil {
			if t, ok := d.Task(id); ok && t.State != flows.TaskOpen {
				// DSS signed without asking: the task closed already.
				m.answer(ctx, tap, m.s(lang, "chat.answer.done", nil))
				return
			}
		}
		m.answer(ctx, tap, "")
		m.text(ctx, p.ID, conv, m.t(lang, "chat.dss_sent", map[string]any{"Version": out.Version, "Number": out.Number}))
	case "rj", "cm", "nv", "ac":
		d, err := m.checkTask(ctx, p.ID, id)
		if err != nil {
			fail(err)
			return
		}
		action := map[string]string{"rj": "reject", "cm": "comment", "nv": "version", "ac": "approve"}[code]
		m.answer(ctx, tap, m.s(lang, "chat.answer."+m.askMode(tap, action == "version"), nil))
		m.ask(ctx, p.ID, conv, lang, tap, prompt{Action: action, TaskID: id, DocID: d.ID, Number: d.Number},
			map[string]string{"rj": "chat.ask_reject_reason", "cm": "chat.ask_comment", "nv": "chat.ask_version", "ac": "chat.ask_approve_comment"}[code])
	case "ra", "rr", "rn", "rp":
		m.onRoute(ctx, p, lang, conv, code, ref, tap)
	case "ba", "bc":
		m.onBulk(ctx, ev, p, lang, conv, code, ref, tap)
	case "nd":
		n, err := m.Engine.RemindNow(ctx, ev.Key, p.ID, id)
		if err != nil {
			fail(err)
			return
		}
		m.answer(ctx, tap, m.s(lang, "chat.reminded", map[string]any{"Count": n}))
	case "hi", "uv", "wd", "rm", "df":
		d, err := m.Store.Document(ctx, id)
		if err == nil && !m.Engine.MayRead(d, p.ID) {
			err = flows.Errorf(flows.KindNotFound, "doc_not_found", "%s on %d", p.ID, id)
		}
		if err != nil {
			fail(err)
			return
		}
		switch code {
		case "hi":
			m.answer(ctx, tap, "")
			m.text(ctx, p.ID, conv, m.renderer().History(d, lang))
		case "df":
			m.answer(ctx, tap, "")
			m.showDiff(ctx, p, lang, conv, d, nil)
		case "uv":
			m.answer(ctx, tap, m.s(lang, "chat.answer."+m.askMode(tap, true), nil))
			ask := "chat.ask_version"
			if _, upload := m.signTaskOf(ctx, p.ID, d.ID); upload {
				ask = "chat.ask_signature"
			}
			m.ask(ctx, p.ID, conv, lang, tap, prompt{Action: "version", DocID: d.ID, Number: d.Number}, ask)
		case "rm":
			m.answer(ctx, tap, m.s(lang, "chat.answer."+m.askMode(tap, false), nil))
			m.ask(ctx, p.ID, conv, lang, tap, prompt{Action: "remark", DocID: d.ID, Number: d.Number}, "chat.ask_remark")
		case "wd":
			if _, err := m.Engine.Withdraw(ctx, flows.WithdrawCmd{Key: ev.Key, Actor: p.ID, DocID: d.ID}); err != nil {
				fail(err)
				return
			}
			m.answer(ctx, tap, m.s(lang, "chat.answer.done", nil))
			if msgID != "" {
				line := m.t(lang, "chat.withdrawn", map[string]any{"Number": d.Number})
				if err := m.edit(ctx, p.ID, conv, msgID, Message{Text: m.withOutcome(m.tapText(ctx, conv, tap), line)}); err != nil {
					m.log.Warn("edit after withdrawal", "err", err)
				}
			}
		}
	case "ls":
		m.answer(ctx, tap, "")
		filter, page := parseListRef(ref)
		m.showList(ctx, p, lang, conv, filter, page, msgID)
	case "pg":
		m.answer(ctx, tap, "")
		m.turnPage(ctx, p.ID, conv, msgID, ref, m.tapText(ctx, conv, tap))
	case "lg":
		if ref != "ru" && ref != "en" {
			m.answer(ctx, tap, "")
			return
		}
		m.setLang(ctx, p.ID, ref)
		m.answer(ctx, tap, m.s(ref, "chat.lang_set", nil))
	default:
		m.onDialogButton(ctx, ev, p, lang, code, ref)
	}
}

// askMode is how a question asked from this tap is answered here.
func (m *Messenger) askMode(tap *Tap, file bool) string {
	switch {
	case !file && m.caps.Forms && tap != nil && tap.Trigger != "":
		return AskForm
	case m.caps.ReplyTo:
		return AskReply
	}
	return AskNext
}

// checkTask tells early whether a task can take a text decision, so the
// person is not asked for a reason only to be refused afterwards. The
// engine checks again when the answer comes.
func (m *Messenger) checkTask(ctx context.Context, p flows.PersonID, taskID int64) (*flows.Document, error) {
	d, err := m.Store.DocumentOfTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	t, _ := d.Task(taskID)
	holder, _ := m.Engine.Directory().Person(t.Assignee)
	if t.Assignee != p && t.OnBehalfOf != p && (holder == nil || holder.Deputy != p) {
		return nil, flows.Errorf(flows.KindForbidden, "not_your_task", "%s on task %d", p, taskID)
	}
	if t.State != flows.TaskOpen {
		return nil, flows.Errorf(flows.KindConflict, "task_closed", "task %d", taskID)
	}
	return d, nil
}

// claimOutcome makes the tapped message the task's main one, the one
// that shows its outcome, and returns the task's messages and how to take
// the claim back if the decision fails.
func (m *Messenger) claimOutcome(ctx context.Context, taskID int64, conv, msgID string, text rich.Text) (taskRef, func()) {
	k := taskKey(taskID)
	var before taskRef
	had, _ := m.recall(ctx, k, &before)
	ref := before.withMain(conv, msgID, text)
	m.remember(ctx, k, ref)
	return ref, func() {
		if had {
			m.remember(ctx, k, before)
		} else {
			m.forget(ctx, k)
		}
	}
}

// markDecided shows the outcome on a task's card after its holder decided
// somewhere else than on that card.
func (m *Messenger) markDecided(ctx context.Context, p *flows.Person, lang string, taskID int64, action string) {
	var ref taskRef
	if ok, err := m.recall(ctx, taskKey(taskID), &ref); err != nil || !ok {
		return
	}
	if err := m.showOutcome(ctx, p.ID, ref, m.outcomeLine(p.ID, lang, action, m.Clock.Now()), nil, ""); err != nil {
		m.log.Warn("edit task message", "person", p.ID, "err", err)
		return
	}
	m.markShown(ctx, taskID)
}

func (m *Messenger) onDialogButton(ctx context.Context, ev *Event, p *flows.Person, lang, code, ref string) {
	tap, conv := ev.Tap, ev.Conv
	d := m.loadDialog(ctx, conv)
	if d == nil || m.Clock.Now().Sub(d.Started) > dialogTTL {
		m.clearDialog(ctx, conv)
		m.answer(ctx, tap, m.s(lang, "chat.dialog_expired", nil))
		return
	}
	switch code {
	case "ty":
		if _, ok := m.Engine.Directory().Type(ref); !ok || d.Step != stepType {
			m.answer(ctx, tap, "")
			return
		}
		d.TypeID = ref
	case "sk":
		switch d.Step {
		case stepCounterparty:
			d.CounterpartyDone = true
		case stepAmount:
			d.AmountDone = true
		default:
			m.answer(ctx, tap, "")
			return
		}
	case "cp":
		i, err := strconv.Atoi(ref)
		switch {
		case d.Step != stepCounterparty || len(d.Candidates) == 0:
			m.answer(ctx, tap, "")
			return
		case ref == "t": // keep the text as typed
		case err == nil && i >= 0 && i < len(d.Candidates):
			d.Counterparty = d.Candidates[i]
		default:
			m.answer(ctx, tap, "")
			return
		}
		d.Candidates, d.CounterpartyDone = nil, true
	case "pa":
		if _, ok := m.Engine.Directory().Person(flows.PersonID(ref)); !ok || d.Step != stepApprovers {
			m.answer(ctx, tap, "")
			return
		}
		if !slices.Contains(d.Approvers, flows.PersonID(ref)) {
			d.Approvers = append(d.Approvers, flows.PersonID(ref))
		}
		m.saveDialog(ctx, conv, d)
		m.answer(ctx, tap, "")
		m.approversSoFar(ctx, p, lang, conv, d)
		return
	case "do":
		if d.Step != stepApprovers || len(d.Approvers) == 0 {
			m.answer(ctx, tap, messages.Error(flows.Errorf(flows.KindInvalid, "approvers_required", ""), lang))
			return
		}
		d.ApproversDone, d.Parallel = true, ref == "1"
	case "cx":
		m.clearDialog(ctx, conv)
		m.answer(ctx, tap, m.s(lang, "chat.cancelled", nil))
		m.text(ctx, p.ID, conv, m.t(lang, "chat.cancelled", nil))
		return
	case "go":
		if d.Step != stepConfirm {
			m.answer(ctx, tap, "")
			return
		}
		m.answer(ctx, tap, m.s(lang, "chat.answer.done", nil))
		up, err := m.upload(ctx, d.File)
		if err != nil {
			m.replyErr(ctx, p.ID, conv, lang, err)
			return
		}
		cmd := d.startCmd(p.ID)
		cmd.Key, cmd.File = ev.Key, up
		out, err := m.Engine.Start(ctx, cmd)
		if err != nil {
			m.replyErr(ctx, p.ID, conv, lang, err)
			return
		}
		m.clearDialog(ctx, conv)
		m.text(ctx, p.ID, conv, m.t(lang, "chat.started", map[string]any{"Number": out.Number}))
		return
	case "rw":
		if d.Step != stepRework || (ref != flows.ReworkEveryone && ref != flows.ReworkNotYetApproved) {
			m.answer(ctx, tap, "")
			return
		}
		m.answer(ctx, tap, m.s(lang, "chat.answer.done", nil))
		m.clearDialog(ctx, conv)
		if err := m.uploadVersion(ctx, ev, p, lang, d.DocID, d.File, d.Comment, ref); err != nil {
			m.replyErr(ctx, p.ID, conv, lang, err)
		}
		return
	default:
		m.answer(ctx, tap, "")
		return
	}
	m.answer(ctx, tap, "")
	m.advance(ctx, p, lang, conv, d)
}
