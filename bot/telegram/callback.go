package telegram

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// answer answers a callback query; Telegram shows the spinner until we do.
func (c *Channel) answer(ctx context.Context, cq *models.CallbackQuery, text string) {
	if len([]rune(text)) > 200 {
		text = string([]rune(text)[:199]) + "…"
	}
	if _, err := c.bot.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: cq.ID, Text: text}); err != nil {
		c.log.Warn("answerCallbackQuery", "err", err)
	}
}

func (c *Channel) onCallback(ctx context.Context, upd *models.Update) {
	cq := upd.CallbackQuery
	p, ok := c.person(cq.From.ID)
	if !ok {
		c.log.Info("button from an unknown Telegram user", "user", cq.From.ID)
		c.answer(ctx, cq, messages.Error(flows.Errorf(flows.KindForbidden, "unknown_person", ""), c.guessLang(&cq.From)))
		return
	}
	c.setInactive(p.ID, false)
	lang := c.lang(p.ID)
	code, ref, _ := strings.Cut(cq.Data, ":")
	var chat int64 = cq.From.ID
	var msgID int
	var text string
	if m := cq.Message.Message; m != nil {
		chat, msgID, text = m.Chat.ID, m.ID, m.Text
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	fail := func(err error) {
		c.logCommandErr(p.ID, err)
		c.answer(ctx, cq, messages.Error(err, lang))
	}
	switch code {
	case "ap", "rd", "dn":
		action := map[string]string{"ap": flows.ActionApprove, "rd": flows.ActionAcknowledge, "dn": flows.ActionDone}[code]
		var undo func()
		if msgID != 0 {
			// This message will show the outcome; say so before deciding, so
			// that the notification of the decision does not edit it too.
			undo = c.claimOutcome(ctx, id, taskRef{Chat: chat, Msg: msgID, Text: text, Decided: true})
		}
		out, err := c.eng.Decide(ctx, flows.DecideCmd{Key: key(upd), Actor: p.ID, TaskID: id, Action: action})
		if err != nil {
			if undo != nil {
				undo()
			}
			fail(err)
			return
		}
		c.answer(ctx, cq, c.t(lang, "tg.answer.done", nil))
		var markup models.ReplyMarkup
		if action == flows.ActionApprove {
			markup = buttons([3]string{c.t(lang, "button.add_remark", nil), "rm", strconv.FormatInt(out.DocID, 10)})
		}
		if msgID != 0 {
			c.editOutcome(ctx, p, lang, chat, msgID, text, action, markup)
		} else {
			c.markDecided(ctx, p, lang, id, action)
		}
	case "rj", "cm", "nv":
		d, err := c.checkTask(ctx, p.ID, id)
		if err != nil {
			fail(err)
			return
		}
		c.answer(ctx, cq, c.t(lang, "tg.answer.reply", nil))
		pr := prompt{Action: map[string]string{"rj": "reject", "cm": "comment", "nv": "version"}[code], TaskID: id, DocID: d.ID, Number: d.Number}
		c.ask(ctx, p, chat, c.t(lang, map[string]string{"rj": "tg.ask_reject_reason", "cm": "tg.ask_comment", "nv": "tg.ask_version"}[code],
			map[string]any{"Number": d.Number}), pr)
	case "nd":
		n, err := c.eng.RemindNow(ctx, key(upd), p.ID, id)
		if err != nil {
			fail(err)
			return
		}
		c.answer(ctx, cq, c.t(lang, "tg.reminded", map[string]any{"Count": n}))
	case "hi", "uv", "wd", "rm":
		d, err := c.store.Document(ctx, id)
		if err == nil && !c.eng.MayRead(d, p.ID) {
			err = flows.Errorf(flows.KindNotFound, "doc_not_found", "%s on %d", p.ID, id)
		}
		if err != nil {
			fail(err)
			return
		}
		switch code {
		case "hi":
			c.answer(ctx, cq, "")
			c.reply(ctx, p.ID, chat, c.renderer().History(d, lang), nil)
		case "uv":
			c.answer(ctx, cq, c.t(lang, "tg.answer.reply", nil))
			c.ask(ctx, p, chat, c.t(lang, "tg.ask_version", map[string]any{"Number": d.Number}), prompt{Action: "version", DocID: d.ID, Number: d.Number})
		case "rm":
			c.answer(ctx, cq, c.t(lang, "tg.answer.reply", nil))
			c.ask(ctx, p, chat, c.t(lang, "tg.ask_remark", map[string]any{"Number": d.Number}), prompt{Action: "remark", DocID: d.ID, Number: d.Number})
		case "wd":
			if _, err := c.eng.Withdraw(ctx, flows.WithdrawCmd{Key: key(upd), Actor: p.ID, DocID: d.ID}); err != nil {
				fail(err)
				return
			}
			c.answer(ctx, cq, c.t(lang, "tg.answer.done", nil))
			if msgID != 0 {
				c.edit(ctx, p.ID, chat, msgID, strings.TrimSpace(text)+"\n\n"+c.t(lang, "tg.withdrawn", map[string]any{"Number": d.Number}), nil)
			}
		}
	case "ls":
		c.answer(ctx, cq, "")
		filter, page := parseListRef(ref)
		c.showList(ctx, p, lang, chat, filter, page, msgID)
	case "lg":
		if ref != "ru" && ref != "en" {
			c.answer(ctx, cq, "")
			return
		}
		c.mu.Lock()
		c.langs[p.ID] = ref
		c.mu.Unlock()
		if err := c.store.StatePut(ctx, Name, "lang:"+string(p.ID), ref); err != nil {
			c.log.Error("store language", "err", err)
		}
		c.answer(ctx, cq, c.t(ref, "tg.lang_set", nil))
	default:
		c.onDialogButton(ctx, upd, p, lang, chat, code, ref)
	}
}

// checkTask tells early whether a task can take a text decision, so the
// person is not asked for a reason only to be refused afterwards. The
// engine checks again when the answer comes.
func (c *Channel) checkTask(ctx context.Context, p flows.PersonID, taskID int64) (*flows.Document, error) {
	d, err := c.store.DocumentOfTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	t, _ := d.Task(taskID)
	holder, _ := c.eng.Directory().Person(t.Assignee)
	if t.Assignee != p && t.OnBehalfOf != p && (holder == nil || holder.Deputy != p) {
		return nil, flows.Errorf(flows.KindForbidden, "not_your_task", "%s on task %d", p, taskID)
	}
	if t.State != flows.TaskOpen {
		return nil, flows.Errorf(flows.KindConflict, "task_closed", "task %d", taskID)
	}
	return d, nil
}

func (c *Channel) onDialogButton(ctx context.Context, upd *models.Update, p *flows.Person, lang string, chat int64, code, ref string) {
	cq := upd.CallbackQuery
	d := c.loadDialog(ctx, chat)
	if d == nil || c.clock.Now().Sub(d.Started) > dialogTTL {
		c.clearDialog(ctx, chat)
		c.answer(ctx, cq, c.t(lang, "tg.dialog_expired", nil))
		return
	}
	switch code {
	case "ty":
		if _, ok := c.eng.Directory().Type(ref); !ok || d.Step != stepType {
			c.answer(ctx, cq, "")
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
			c.answer(ctx, cq, "")
			return
		}
	case "pa":
		if _, ok := c.eng.Directory().Person(flows.PersonID(ref)); !ok || d.Step != stepApprovers {
			c.answer(ctx, cq, "")
			return
		}
		if !slices.Contains(d.Approvers, flows.PersonID(ref)) {
			d.Approvers = append(d.Approvers, flows.PersonID(ref))
		}
		c.saveDialog(ctx, chat, d)
		c.answer(ctx, cq, "")
		c.approversSoFar(ctx, p, lang, chat, d)
		return
	case "do":
		if d.Step != stepApprovers || len(d.Approvers) == 0 {
			c.answer(ctx, cq, messages.Error(flows.Errorf(flows.KindInvalid, "approvers_required", ""), lang))
			return
		}
		d.ApproversDone, d.Parallel = true, ref == "1"
	case "cx":
		c.clearDialog(ctx, chat)
		c.answer(ctx, cq, c.t(lang, "tg.cancelled", nil))
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.cancelled", nil), nil)
		return
	case "go":
		if d.Step != stepConfirm {
			c.answer(ctx, cq, "")
			return
		}
		c.answer(ctx, cq, c.t(lang, "tg.answer.done", nil))
		up, err := c.upload(ctx, d.File)
		if err != nil {
			c.replyErr(ctx, p.ID, chat, lang, err)
			return
		}
		cmd := c.startCmd(p, d)
		cmd.Key, cmd.File = key(upd), up
		out, err := c.eng.Start(ctx, cmd)
		if err != nil {
			c.replyErr(ctx, p.ID, chat, lang, err)
			return
		}
		c.clearDialog(ctx, chat)
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.started", map[string]any{"Number": out.Number}), nil)
		return
	case "rw":
		if d.Step != stepRework || (ref != flows.ReworkEveryone && ref != flows.ReworkNotYetApproved) {
			c.answer(ctx, cq, "")
			return
		}
		c.answer(ctx, cq, c.t(lang, "tg.answer.done", nil))
		c.clearDialog(ctx, chat)
		if err := c.uploadVersion(ctx, upd, p, lang, chat, d.DocID, d.File, d.Comment, ref); err != nil {
			c.replyErr(ctx, p.ID, chat, lang, err)
		}
		return
	default:
		c.answer(ctx, cq, "")
		return
	}
	c.answer(ctx, cq, "")
	c.advance(ctx, p, lang, chat, d)
}

// claimOutcome records that a message of the task is about to show its
// outcome, and returns how to take that back if the decision fails.
func (c *Channel) claimOutcome(ctx context.Context, taskID int64, ref taskRef) func() {
	k := "task:" + strconv.FormatInt(taskID, 10)
	var before taskRef
	had, _ := c.recall(ctx, k, &before)
	c.remember(ctx, k, ref)
	return func() {
		if had {
			c.remember(ctx, k, before)
		} else {
			c.store.StatePut(ctx, Name, k, "")
		}
	}
}
