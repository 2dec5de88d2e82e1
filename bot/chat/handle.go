package chat

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/storage"
)

// Handle does what one event asks. It never fails: whatever goes wrong is
// told to the person and logged, and what was recorded stays recorded. A
// transport calls it for one conversation's events in their order.
func (m *Messenger) Handle(ctx context.Context, ev Event) {
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("event handler panicked", "key", ev.Key, "panic", r)
		}
	}()
	ev.Args = strings.TrimSpace(ev.Args)
	if ev.Tap != nil {
		ev.Tap.Action = m.unaction(ctx, ev.Tap.Action)
		m.onTap(ctx, &ev)
		return
	}
	if ev.Contact != nil {
		m.onContact(ctx, &ev)
		return
	}
	if ev.Home {
		if h, ok := m.wire.(HomeTransport); ok {
			h.HomeChanged(ev.User)
		}
		return
	}
	p, ok := m.person(ctx, ev.User)
	if !ok {
		m.log.Info("message from an unknown user", "user", ev.User)
		m.askWhoYouAre(ctx, ev.Conv, m.guessLang(ev.Lang), "chat.unknown_sender")
		return
	}
	m.setInactive(p.ID, false)
	lang := m.lang(p.ID)
	if ev.Command != "" {
		m.onCommand(ctx, &ev, p, lang)
		return
	}
	if m.onAnswer(ctx, &ev, p, lang) {
		return
	}
	if ev.File != nil {
		m.onFile(ctx, &ev, p, lang)
		return
	}
	if strings.TrimSpace(ev.Text) != "" && (m.onDialogText(ctx, &ev, p, lang) || m.onQuestion(ctx, p, lang, ev.Conv, ev.Text)) {
		return
	}
	m.text(ctx, p.ID, ev.Conv, m.t(lang, "chat.send_file_hint", nil))
}

// askWhoYouAre answers someone the bot does not know: where people can
// share their phone, with that button; elsewhere they are told whom to ask.
func (m *Messenger) askWhoYouAre(ctx context.Context, conv, lang, textID string) {
	if !m.caps.Contacts {
		m.text(ctx, "", conv, m.t(lang, "chat.unknown_sender_admin", nil))
		return
	}
	m.reply(ctx, "", conv, Message{Text: m.t(lang, textID, nil), ShareContact: m.s(lang, "chat.share_phone", nil)})
}

// onContact links a platform user to a person by phone. Only the sender's
// own contact counts: forwarding someone else's card must not let anyone
// act as them.
func (m *Messenger) onContact(ctx context.Context, ev *Event) {
	lang := m.guessLang(ev.Lang)
	if !ev.Contact.Own {
		m.log.Warn("contact that is not the sender's own refused", "user", ev.User)
		m.askWhoYouAre(ctx, ev.Conv, lang, "chat.contact_not_own")
		return
	}
	phone := normalizePhone(ev.Contact.Phone)
	var found *flows.Person
	for _, p := range m.Engine.Directory().People {
		if phone != "" && p.Phone == phone {
			found = p
			break
		}
	}
	if found == nil {
		m.log.Info("shared phone not in the directory", "user", ev.User)
		m.reply(ctx, "", ev.Conv, Message{Text: m.t(lang, "chat.contact_unknown", map[string]any{"Phone": ev.Contact.Phone}), ClearContact: true})
		return
	}
	m.link(ctx, ev.User, ev.Conv, found.ID)
	m.setInactive(found.ID, false)
	m.log.Info("user linked by phone", "person", found.ID, "user", ev.User)
	lang = m.lang(found.ID)
	m.reply(ctx, found.ID, ev.Conv, Message{Text: m.t(lang, "chat.linked", map[string]any{"Name": found.Name}), ClearContact: true})
}

// normalizePhone reads a shared number as E.164, the form the directory
// keeps; platforms send it with or without the plus.
func normalizePhone(s string) string {
	num, err := phonenumbers.Parse(s, "RU")
	if err != nil && !strings.HasPrefix(s, "+") {
		num, err = phonenumbers.Parse("+"+s, "RU")
	}
	if err != nil {
		return ""
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

func (m *Messenger) onCommand(ctx context.Context, ev *Event, p *flows.Person, lang string) {
	conv, arg := ev.Conv, ev.Args
	switch strings.ToLower(ev.Command) {
	case "start", "help":
		m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.help", map[string]any{"Name": p.Name}), ClearContact: true})
	case "new":
		m.forget(ctx, promptKey(conv, ""))
		m.saveDialog(ctx, conv, &dialog{Step: stepFile, Started: m.Clock.Now()})
		m.text(ctx, p.ID, conv, m.t(lang, "chat.ask_file", map[string]any{"Limit": messages.Size(m.caps.MaxFile, lang)}))
	case "cancel":
		_, pending, _ := m.Store.StateGet(ctx, m.name, promptKey(conv, ""))
		d := m.loadDialog(ctx, conv)
		if d == nil && !pending {
			m.text(ctx, p.ID, conv, m.t(lang, "chat.nothing_to_cancel", nil))
			return
		}
		m.forget(ctx, promptKey(conv, ""))
		m.clearDialog(ctx, conv)
		m.text(ctx, p.ID, conv, m.t(lang, "chat.cancelled", nil))
	case "my":
		m.showMyTasks(ctx, p, lang, conv)
	case "status":
		if arg == "" {
			m.showMyDocuments(ctx, p, lang, conv)
			return
		}
		d, err := m.Engine.Document(ctx, p.ID, arg)
		if err != nil {
			m.replyErr(ctx, p.ID, conv, lang, err)
			return
		}
		m.sendCard(ctx, p, lang, conv, d)
	case "history":
		if arg == "" {
			m.text(ctx, p.ID, conv, m.t(lang, "chat.usage_number", nil))
			return
		}
		d, err := m.Engine.Document(ctx, p.ID, arg)
		if err != nil {
			m.replyErr(ctx, p.ID, conv, lang, err)
			return
		}
		m.text(ctx, p.ID, conv, m.renderer().History(d, lang))
	case "sheet":
		m.onSheet(ctx, p, lang, conv, arg)
	case "diff":
		m.onDiff(ctx, p, lang, conv, arg)
	case "list":
		m.showList(ctx, p, lang, conv, "a", 0, "")
	case "export":
		m.onExport(ctx, p, lang, conv)
	case "stats":
		m.onStats(ctx, p, lang, conv, arg)
	case "web":
		link := m.login()
		if link == nil {
			return
		}
		url, err := link(ctx, p.ID)
		if err != nil {
			m.replyErr(ctx, p.ID, conv, lang, err)
			return
		}
		m.text(ctx, p.ID, conv, m.t(lang, "chat.web", map[string]any{"URL": url}))
	case "lang":
		m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.lang_choose", nil), Buttons: [][]Button{{
			{Label: m.s(lang, "button.lang_ru", nil), Action: "lg:ru"}, {Label: m.s(lang, "button.lang_en", nil), Action: "lg:en"}}}})
	default:
		m.text(ctx, p.ID, conv, m.t(lang, "chat.help", map[string]any{"Name": p.Name}))
	}
}

func (m *Messenger) showMyTasks(ctx context.Context, p *flows.Person, lang, conv string) {
	tasks, err := m.Store.OpenTasksOf(ctx, p.ID)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	if len(tasks) == 0 {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.my_empty", nil))
		return
	}
	m.text(ctx, p.ID, conv, m.t(lang, "chat.my_header", map[string]any{"Count": len(tasks)}))
	var approvals []int64
	for _, card := range m.openCards(ctx, p, lang, tasks) {
		if id := m.reply(ctx, p.ID, conv, card.Message); id != "" {
			m.rememberCard(ctx, card.task, conv, id, card.doc, card.Text)
		}
		if card.approval {
			approvals = append(approvals, card.task)
		}
	}
	m.offerBulk(ctx, p, lang, conv, approvals)
}

// openCard is the request of one open task, as a message.
type openCard struct {
	Message
	task, doc int64
	approval  bool // a task of approval, which may go in bulk
}

// openCards renders the requests of a person's open tasks.
func (m *Messenger) openCards(ctx context.Context, p *flows.Person, lang string, tasks []storage.OpenTask) []openCard {
	var out []openCard
	for _, ot := range tasks {
		d, err := m.Store.Document(ctx, ot.DocID)
		if err != nil {
			m.log.Error("load document of an open task", "doc", ot.DocID, "err", err)
			continue
		}
		t, ok := d.Task(ot.ID)
		if !ok {
			continue
		}
		n := flows.TaskNotification(d, t)
		n.To = p.ID
		msg, err := m.renderer().Notification(n, lang)
		if err != nil {
			continue
		}
		dt, known := m.Engine.Directory().Type(d.TypeID)
		out = append(out, openCard{Message: Message{Text: msg.Text, Context: m.renderer().Context(n, lang), Buttons: m.buttons(msg.Buttons)},
			task: t.ID, doc: d.ID, approval: t.Kind == flows.KindApprove && (!known || !dt.NoBulk)})
	}
	return out
}

// Home renders a person's home view: open tasks with their buttons, and the
// documents they started. False for a user the bot does not know.
func (m *Messenger) Home(ctx context.Context, user string) (Home, bool) {
	p, ok := m.person(ctx, user)
	if !ok {
		return Home{}, false
	}
	lang := m.lang(p.ID)
	h := Home{Header: m.t(lang, "chat.home.header", map[string]any{"Name": p.Name})}
	if link := m.login(); link != nil {
		if u, err := link(ctx, p.ID); err != nil {
			m.log.Warn("sign-in link for the home view", "person", p.ID, "err", err)
		} else {
			h.Web = rich.Link(m.s(lang, "chat.home.open_web", nil), u)
		}
	}
	tasks, err := m.Store.OpenTasksOf(ctx, p.ID)
	if err != nil {
		m.log.Error("open tasks for the home view", "person", p.ID, "err", err)
	}
	for _, c := range m.openCards(ctx, p, lang, tasks) {
		c.Buttons = m.fit(ctx, "home:"+user, c.Text, c.Buttons)
		h.Tasks = append(h.Tasks, c.Message)
	}
	if len(h.Tasks) == 0 {
		h.NoTasks = m.t(lang, "chat.home.no_tasks", nil)
	} else {
		h.Header = rich.Concat(h.Header, rich.Plain("\n"), m.t(lang, "chat.home.tasks", map[string]any{"Count": len(h.Tasks)}))
	}
	docs, err := m.Store.DocumentsOf(ctx, p.ID, 20)
	if err != nil {
		m.log.Error("documents for the home view", "person", p.ID, "err", err)
	}
	if len(docs) > 0 {
		lines := []rich.Text{m.t(lang, "chat.home.docs", nil)}
		for _, d := range docs {
			lines = append(lines, m.t(lang, "chat.doc_line", map[string]any{"Number": d.Number, "Title": d.Title, "State": messages.State(d.State, lang)}))
		}
		h.Documents = rich.Join(lines, "\n")
	}
	return h, true
}

func (m *Messenger) showMyDocuments(ctx context.Context, p *flows.Person, lang, conv string) {
	docs, err := m.Store.DocumentsOf(ctx, p.ID, 30)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	if len(docs) == 0 {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.docs_empty", nil))
		return
	}
	lines := []rich.Text{m.t(lang, "chat.docs_header", nil)}
	for _, d := range docs {
		lines = append(lines, m.t(lang, "chat.doc_line", map[string]any{"Number": d.Number, "Title": d.Title, "State": messages.State(d.State, lang)}))
	}
	m.text(ctx, p.ID, conv, rich.Join(lines, "\n"))
}

// sendCard shows a document's status card: with a History button, and for
// the initiator and viewers a Remind button while someone holds it; SMS
// that could not be delivered are listed.
func (m *Messenger) sendCard(ctx context.Context, p *flows.Person, lang, conv string, d *flows.Document) {
	text := m.renderer().Card(d, lang, m.Clock.Now())
	// The channels outside chat that can fail for good: a number or an
	// address the gateway or the mail server refused.
	for _, ch := range []string{"sms", "email"} {
		failed, err := m.Store.FailedDeliveries(ctx, d.ID, ch)
		if err != nil {
			m.log.Warn("failed deliveries", "doc", d.Number, "channel", ch, "err", err)
			continue
		}
		for _, f := range failed {
			text = rich.Concat(text, rich.Plain("\n"), m.t(lang, "card."+ch+"_failed", map[string]any{"Name": m.renderer().Name(f.Person), "Reason": f.Reason}))
		}
	}
	row := []Button{{Label: m.s(lang, "button.history", nil), Action: fmt.Sprintf("hi:%d", d.ID)}}
	if m.caps.MiniApp {
		row = append(row, Button{Label: m.s(lang, "button.open", nil), WebApp: "/doc/" + url.PathEscape(d.Number)})
	}
	remind := len(d.OpenTasks()) > 0 && (d.Initiator == p.ID || m.Engine.Directory().IsViewer(p.ID))
	if remind {
		row = append(row, Button{Label: m.s(lang, "button.remind", nil), Action: fmt.Sprintf("nd:%d", d.ID)})
	}
	rows := [][]Button{row}
	if b, ok := m.routeButton(lang, d, p.ID); ok {
		rows = append(rows, []Button{b})
	}
	id := m.reply(ctx, p.ID, conv, Message{Text: text, Buttons: rows})
	if remind {
		m.markLive(ctx, d.ID, conv, id, text)
	}
}

// actionCodes turn the renderer's semantic actions into the short codes
// the buttons carry ("ap:<task>"): they say what, never who.
var actionCodes = map[string]string{
	messages.ActApprove: "ap", messages.ActApproveComment: "ac", messages.ActReject: "rj", messages.ActComment: "cm", messages.ActNewVersion: "nv",
	messages.ActHistory: "hi", messages.ActRead: "rd", messages.ActDone: "dn", messages.ActUploadVersion: "uv",
	messages.ActWithdraw: "wd", messages.ActSignDSS: "sd",
}

var actionStyles = map[string]string{messages.ActApprove: StylePrimary, messages.ActRead: StylePrimary,
	messages.ActDone: StylePrimary, messages.ActSignDSS: StylePrimary, messages.ActReject: StyleDanger}

// buttons turns rendered buttons into the layer's.
func (m *Messenger) buttons(rows [][]messages.Button) [][]Button {
	var out [][]Button
	for _, row := range rows {
		var r []Button
		for _, b := range row {
			r = append(r, Button{Label: b.Label, Action: fmt.Sprintf("%s:%d", actionCodes[b.Action], b.Ref), Style: actionStyles[b.Action]})
		}
		out = append(out, r)
	}
	return out
}
