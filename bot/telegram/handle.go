package telegram

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/nyaruka/phonenumbers"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// key makes the idempotency key of a command from the update that caused
// it: Telegram's own id, so a redelivered update changes nothing.
func key(upd *models.Update) string { return "telegram:" + strconv.FormatInt(upd.ID, 10) }

// handle is the library's default handler: every update comes here.
func (c *Channel) handle(ctx context.Context, _ *bot.Bot, upd *models.Update) {
	switch {
	case upd.CallbackQuery != nil:
		c.onCallback(ctx, upd)
	case upd.Message != nil && upd.Message.From != nil && upd.Message.Chat.Type == models.ChatTypePrivate:
		c.onMessage(ctx, upd)
	}
}

// reply sends a text to the chat of an incoming message, logging failures:
// an answer that cannot be sent must not stop the update's handling.
func (c *Channel) reply(ctx context.Context, p flows.PersonID, chat int64, text string, markup models.ReplyMarkup) *models.Message {
	m, err := c.sendText(ctx, p, chat, text, markup)
	if err != nil {
		c.log.Warn("reply failed", "person", p, "err", err)
	}
	return m
}

func (c *Channel) replyErr(ctx context.Context, p flows.PersonID, chat int64, lang string, err error) {
	c.logCommandErr(p, err)
	c.reply(ctx, p, chat, messages.Error(err, lang), nil)
}

func (c *Channel) logCommandErr(p flows.PersonID, err error) {
	if flows.ErrorKind(err) == flows.KindInternal {
		c.log.Error("command failed", "person", p, "err", err)
	} else {
		c.log.Info("command refused", "person", p, "err", err)
	}
}

func (c *Channel) onMessage(ctx context.Context, upd *models.Update) {
	msg := upd.Message
	chat := msg.Chat.ID
	if msg.Contact != nil {
		c.onContact(ctx, msg)
		return
	}
	p, ok := c.person(msg.From.ID)
	if !ok {
		c.log.Info("message from an unknown Telegram user", "user", msg.From.ID)
		c.askForPhone(ctx, chat, c.guessLang(msg.From), "tg.unknown_sender")
		return
	}
	c.setInactive(p.ID, false)
	lang := c.lang(p.ID)
	if cmd, arg, ok := command(msg); ok {
		c.onCommand(ctx, upd, p, lang, cmd, arg)
		return
	}
	if msg.ReplyToMessage != nil && c.onReply(ctx, upd, p, lang) {
		return
	}
	if msg.Document != nil {
		c.onDocument(ctx, upd, p, lang)
		return
	}
	if strings.TrimSpace(msg.Text) != "" && (c.onDialogText(ctx, upd, p, lang) || c.onQuestion(ctx, p, lang, chat, msg.Text)) {
		return
	}
	c.reply(ctx, p.ID, chat, c.t(lang, "tg.send_file_hint", nil), nil)
}

func (c *Channel) guessLang(u *models.User) string {
	if u != nil && strings.HasPrefix(u.LanguageCode, "ru") {
		return "ru"
	}
	if u != nil && u.LanguageCode != "" {
		return "en"
	}
	return c.eng.Directory().Language
}

func (c *Channel) askForPhone(ctx context.Context, chat int64, lang, textKey string) {
	kb := &models.ReplyKeyboardMarkup{Keyboard: [][]models.KeyboardButton{{{Text: c.t(lang, "tg.share_phone", nil), RequestContact: true}}},
		ResizeKeyboard: true, OneTimeKeyboard: true}
	c.reply(ctx, "", chat, c.t(lang, textKey, nil), kb)
}

// onContact links a Telegram user to a person by phone. Only the sender's
// own contact counts: forwarding someone else's card must not let anyone
// act as them.
func (c *Channel) onContact(ctx context.Context, msg *models.Message) {
	lang := c.guessLang(msg.From)
	if msg.Contact.UserID != msg.From.ID {
		c.log.Warn("contact that is not the sender's own refused", "user", msg.From.ID, "contact_user", msg.Contact.UserID)
		c.askForPhone(ctx, msg.Chat.ID, lang, "tg.contact_not_own")
		return
	}
	region := "RU"
	num, err := phonenumbers.Parse(msg.Contact.PhoneNumber, region)
	if err != nil && !strings.HasPrefix(msg.Contact.PhoneNumber, "+") {
		num, err = phonenumbers.Parse("+"+msg.Contact.PhoneNumber, region)
	}
	var phone string
	if err == nil {
		phone = phonenumbers.Format(num, phonenumbers.E164)
	}
	var found *flows.Person
	for _, p := range c.eng.Directory().People {
		if phone != "" && p.Phone == phone {
			found = p
			break
		}
	}
	if found == nil {
		c.log.Info("shared phone not in the directory", "user", msg.From.ID)
		c.reply(ctx, "", msg.Chat.ID, c.t(lang, "tg.contact_unknown", map[string]any{"Phone": msg.Contact.PhoneNumber}), &models.ReplyKeyboardRemove{RemoveKeyboard: true})
		return
	}
	c.mu.Lock()
	c.links[msg.From.ID] = found.ID
	c.chats[found.ID] = msg.Chat.ID
	c.mu.Unlock()
	if err := c.store.StatePut(ctx, Name, "link:"+strconv.FormatInt(msg.From.ID, 10), string(found.ID)); err != nil {
		c.log.Error("store link", "person", found.ID, "err", err)
	}
	c.setInactive(found.ID, false)
	c.log.Info("Telegram user linked by phone", "person", found.ID, "user", msg.From.ID)
	lang = c.lang(found.ID)
	c.reply(ctx, found.ID, msg.Chat.ID, c.t(lang, "tg.linked", map[string]any{"Name": found.Name}), &models.ReplyKeyboardRemove{RemoveKeyboard: true})
}

// command extracts "/cmd arg" (also "/cmd@botname arg").
func command(msg *models.Message) (string, string, bool) {
	text := strings.TrimSpace(msg.Text)
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	head, arg, _ := strings.Cut(text, " ")
	head, _, _ = strings.Cut(head[1:], "@")
	return strings.ToLower(head), strings.TrimSpace(arg), true
}

func (c *Channel) onCommand(ctx context.Context, upd *models.Update, p *flows.Person, lang, cmd, arg string) {
	chat := upd.Message.Chat.ID
	switch cmd {
	case "start", "help":
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.help", map[string]any{"Name": p.Name}), &models.ReplyKeyboardRemove{RemoveKeyboard: true})
	case "new":
		c.saveDialog(ctx, chat, &dialog{Step: stepFile, Started: c.clock.Now()})
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_file", nil), nil)
	case "cancel":
		if d := c.loadDialog(ctx, chat); d == nil {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.nothing_to_cancel", nil), nil)
			return
		}
		c.clearDialog(ctx, chat)
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.cancelled", nil), nil)
	case "my":
		c.showMyTasks(ctx, p, lang, chat)
	case "status":
		if arg == "" {
			c.showMyDocuments(ctx, p, lang, chat)
			return
		}
		d, err := c.eng.Document(ctx, p.ID, arg)
		if err != nil {
			c.replyErr(ctx, p.ID, chat, lang, err)
			return
		}
		c.sendCard(ctx, p, lang, chat, d)
	case "history":
		if arg == "" {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.usage_number", nil), nil)
			return
		}
		d, err := c.eng.Document(ctx, p.ID, arg)
		if err != nil {
			c.replyErr(ctx, p.ID, chat, lang, err)
			return
		}
		c.reply(ctx, p.ID, chat, c.renderer().History(d, lang), nil)
	case "sheet":
		c.onSheet(ctx, p, lang, chat, arg)
	case "list":
		c.showList(ctx, p, lang, chat, "a", 0, 0)
	case "export":
		c.onExport(ctx, p, lang, chat)
	case "web":
		c.mu.Lock()
		link := c.loginLink
		c.mu.Unlock()
		if link == nil {
			return
		}
		url, err := link(ctx, p.ID)
		if err != nil {
			c.replyErr(ctx, p.ID, chat, lang, err)
			return
		}
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.web", map[string]any{"URL": url}), nil)
	case "lang":
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.lang_choose", nil), buttons(
			[3]string{c.t(lang, "button.lang_ru", nil), "lg", "ru"}, [3]string{c.t(lang, "button.lang_en", nil), "lg", "en"}))
	default:
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.help", map[string]any{"Name": p.Name}), nil)
	}
}

func (c *Channel) showMyTasks(ctx context.Context, p *flows.Person, lang string, chat int64) {
	tasks, err := c.store.OpenTasksOf(ctx, p.ID)
	if err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
		return
	}
	if len(tasks) == 0 {
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.my_empty", nil), nil)
		return
	}
	c.reply(ctx, p.ID, chat, c.t(lang, "tg.my_header", map[string]any{"Count": len(tasks)}), nil)
	for _, ot := range tasks {
		d, err := c.store.Document(ctx, ot.DocID)
		if err != nil {
			c.log.Error("load document for /my", "doc", ot.DocID, "err", err)
			continue
		}
		t, ok := d.Task(ot.ID)
		if !ok {
			continue
		}
		m, err := c.renderer().Notification(flows.TaskNotification(d, t), lang)
		if err != nil {
			continue
		}
		if msg := c.reply(ctx, p.ID, chat, m.Text, keyboard(m.Buttons)); msg != nil {
			c.remember(ctx, fmt.Sprintf("task:%d", t.ID), taskRef{Chat: chat, Msg: msg.ID, Text: m.Text})
			c.remember(ctx, fmt.Sprintf("card:%d:%d", chat, msg.ID), d.ID)
		}
	}
}

func (c *Channel) showMyDocuments(ctx context.Context, p *flows.Person, lang string, chat int64) {
	docs, err := c.store.DocumentsOf(ctx, p.ID, 30)
	if err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
		return
	}
	if len(docs) == 0 {
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.docs_empty", nil), nil)
		return
	}
	lines := []string{c.t(lang, "tg.docs_header", nil)}
	for _, d := range docs {
		lines = append(lines, c.t(lang, "tg.doc_line", map[string]any{"Number": d.Number, "Title": d.Title, "State": messages.State(d.State, lang)}))
	}
	c.reply(ctx, p.ID, chat, strings.Join(lines, "\n"), nil)
}

// sendCard shows a document's status card: with a History button, and for
// the initiator and viewers a Remind button while someone holds it; SMS
// that could not be delivered are listed.
func (c *Channel) sendCard(ctx context.Context, p *flows.Person, lang string, chat int64, d *flows.Document) {
	text := c.renderer().Card(d, lang, c.clock.Now())
	if failed, err := c.store.FailedDeliveries(ctx, d.ID, "sms"); err == nil {
		for _, f := range failed {
			text += "\n" + c.t(lang, "card.sms_failed", map[string]any{"Name": c.renderer().Name(f.Person), "Reason": f.Reason})
		}
	}
	ref := strconv.FormatInt(d.ID, 10)
	items := [][3]string{{c.t(lang, "button.history", nil), "hi", ref}}
	if len(d.OpenTasks()) > 0 && (d.Initiator == p.ID || c.eng.Directory().IsViewer(p.ID)) {
		items = append(items, [3]string{c.t(lang, "button.remind", nil), "nd", ref})
	}
	c.reply(ctx, p.ID, chat, text, buttons(items...))
}
