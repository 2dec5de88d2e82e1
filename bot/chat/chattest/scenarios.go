package chattest

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// Scenarios are the conversations every channel must carry, the same way.
var Scenarios = []Scenario{
	{"start a document", startDocument},
	{"approve", approve},
	{"approve with a comment in one step", approveWithComment},
	{"approve several together", approveInBulk},
	{"reject with a reason", rejectWithReason},
	{"new version in answer to the rejection", newVersionByReply},
	{"what changed in the new version", whatChanged},
	{"double tap", doubleTap},
	{"someone else's button", someoneElsesButton},
	{"status", status},
	{"approvers changed in flight", approversInFlight},
	{"list", list},
	{"sheet", sheet},
	{"where approvals stall", statsCommand},
	{"signature uploaded in chat", signatureByUpload},
	{"signature made in DSS", signatureInDSS},
	{"unknown person", unknownPerson},
	{"oversize file", oversizeFile},
}

// part is the text of a catalogue message around a placeholder, on the
// placeholder's line: the run before (at 0) or after (at 1) it.
func part(lang, id, field string, at int, data map[string]any) string {
	full := map[string]any{field: "\x00"}
	for k, v := range data {
		full[k] = v
	}
	text := Say(lang, id, full)
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "\x00") {
			text = line
			break
		}
	}
	parts := strings.Split(text, "\x00")
	return strings.TrimSpace(parts[min(at, len(parts)-1)])
}

// lastLine is a message's last line, the one a question ends with.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// answered checks a tap's answer where the platform shows one.
func answered(t *testing.T, got, want string) {
	t.Helper()
	if got != "" && got != want {
		t.Fatalf("the tap was answered %q, want %q", got, want)
	}
}

func startDocument(t *testing.T, s *Session) {
	env := s.Env()
	ivan := env.User(Ivanova)
	counterparty := "ООО «Бумага» [b]x[/b] <i>y</i> *z*"
	env.Upload(ivan, File{Name: "Договор поставки.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4 v1"), Caption: hostileTitle})
	s.TapOn(ivan, Say("ru", "chat.ask_type", nil), "ty:supply")
	s.Next(ivan, part("ru", "chat.ask_counterparty", "", 0, nil))
	env.Text(ivan, counterparty)
	summary, _ := s.WithButton(ivan, lastLine(Say("ru", "chat.summary", nil)), "go:")
	for _, want := range []string{hostileTitle, counterparty, "1. Юристы: Пётр Петров, Сидор Сидоров", "2. Финансы: Ксения Кузнецова"} {
		if !strings.Contains(summary.Text, want) {
			t.Fatalf("the summary does not show %q literally:\n%s", want, summary.Text)
		}
	}
	answered(t, env.Tap(ivan, summary, "go:0"), Say("ru", "chat.answer.done", nil))
	started := s.Find(ivan, part("ru", "chat.started", "Number", 1, nil))
	var number string
	for _, f := range strings.Fields(started.Text) {
		if strings.HasPrefix(f, "П-") {
			number = f
		}
	}
	d := env.Document(number)
	if d == nil || d.Title != hostileTitle || d.Counterparty != counterparty || d.State != flows.StateInApproval {
		t.Fatalf("document %q = %+v", number, d)
	}
	// The lawyer gets the file to read and then the request, with
	// everything people typed shown as they typed it.
	p := env.User(Petrov)
	card, _ := s.WithButton(p, number, "ap:")
	for _, want := range []string{hostileTitle, counterparty, "Анна Иванова", "Договор поставки.pdf"} {
		if !strings.Contains(card.Text, want) {
			t.Fatalf("the request does not show %q:\n%s", want, card.Text)
		}
	}
	if _, ok := card.Button("rj:"); !ok {
		t.Fatalf("the request has no Reject: %+v", card.Buttons)
	}
	var file Msg
	for _, m := range env.Messages(p) {
		if m.File == "Договор поставки.pdf" {
			file = m
		}
	}
	if !bytes.Equal(file.Data, []byte("%PDF-1.4 v1")) {
		t.Fatalf("the lawyer got %q as the file", file.Data)
	}
}

func approve(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка кресел")
	p := env.User(Petrov)
	_, answer := s.TapOn(p, d.Number, "ap:")
	answered(t, answer, Say("en", "chat.answer.done", nil))
	s.Find(p, Say("en", "chat.outcome.approve", nil))
	s.Find(env.User(Ivanova), Say("ru", "decision.approve", nil))
	if n := decisions(env.Document(d.Number), flows.ActionApprove, Petrov); n != 1 {
		t.Fatalf("%d approvals by petrov", n)
	}
}

// approveWithComment: one button, one answer — the approval carries the
// comment, the card shows the outcome, and the initiator reads both.
func approveWithComment(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка ламп с замечанием")
	p := env.User(Petrov)
	comment := "Согласовано; в п. 3 уточните срок <b>поставки</b>"
	_, answer := s.TapOn(p, d.Number, "ac:")
	switch answer {
	case "", sayTo(Petrov, "chat.answer.reply", nil), sayTo(Petrov, "chat.answer.next", nil), sayTo(Petrov, "chat.answer.form", nil):
	default:
		t.Fatalf("the tap answered %q", answer)
	}
	env.Answer(p, s.question(p, d.Number), comment)
	s.Find(p, Say("en", "chat.outcome.approve", nil))
	after := env.Document(d.Number)
	var got []flows.Decision
	for _, dc := range after.Decisions {
		if dc.Actor == Petrov {
			got = append(got, dc)
		}
	}
	if len(got) != 1 || got[0].Kind != flows.ActionApprove || got[0].Comment != comment {
		t.Fatalf("petrov's decisions: %+v", got)
	}
	if msg := s.Find(env.User(Ivanova), Say("ru", "decision.approve", nil)); !strings.Contains(msg.Text, comment) {
		t.Fatalf("the initiator does not read the comment:\n%s", msg.Text)
	}
}

// approveInBulk: /my offers to approve every approval at once, lists
// them for confirmation, and approves each as its own decision.
func approveInBulk(t *testing.T, s *Session) {
	env := s.Env()
	// More documents than a poor messenger shows buttons on one message.
	var docs []*flows.Document
	for _, title := range []string{"Поставка скрепок", "Поставка кнопок", "Поставка папок", "Поставка ручек", "Поставка клея"} {
		docs = append(docs, s.Start(title))
	}
	n := len(docs)
	p := env.User(Petrov)
	s.Skip(p)
	env.Command(p, "my", "")
	offer, _ := s.WithButton(p, Say("en", "chat.bulk.offer", map[string]any{"N": n}), "ba:")
	s.Skip(p)
	env.Tap(p, offer, mustButton(t, offer, "ba:").Action)
	confirm, _ := s.WithButton(p, Say("en", "chat.bulk.confirm", map[string]any{"N": n}), "bc:")
	// The list may run over one message where messages are short: every
	// number is on one of the messages since the tap.
	listed := ""
	for _, m := range env.Messages(p)[len(env.Messages(p))-min(len(env.Messages(p)), 4):] {
		listed += m.Text
	}
	for _, d := range docs {
		if !strings.Contains(listed, d.Number) {
			t.Fatalf("the confirmation does not list %s:\n%s", d.Number, listed)
		}
	}
	env.Tap(p, confirm, mustButton(t, confirm, "bc:").Action)
	s.Find(p, Say("en", "chat.bulk.done", map[string]any{"N": n}))
	for _, d := range docs {
		n := 0
		for _, dc := range env.Document(d.Number).Decisions {
			if dc.Actor == Petrov && dc.Kind == flows.ActionApprove && dc.Bulk {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s: %d approvals in bulk by petrov", d.Number, n)
		}
	}
}

func rejectWithReason(t *testing.T, s *Session) {
	env := s.Env()
	reason := "Неверные реквизиты <b>банка</b> *срочно* [b]x[/b] <!here>"
	d, back := s.rejected("Поставка столов", reason)
	if !strings.Contains(back.Text, reason) {
		t.Fatalf("the initiator does not see the reason literally:\n%s", back.Text)
	}
	if _, ok := back.Button("wd:"); !ok {
		t.Fatalf("no Withdraw on the rejection: %+v", back.Buttons)
	}
	s.Find(env.User(Kuznetsova), Say("ru", "chat.outcome.reject", nil))
	if d.State != flows.StateChangesRequested || len(d.OpenBlockingRemarks()) != 1 || d.OpenBlockingRemarks()[0].Text != reason {
		t.Fatalf("state %s, remarks %+v", d.State, d.Remarks)
	}
}

func newVersionByReply(t *testing.T, s *Session) {
	env := s.Env()
	d, back := s.rejected("Поставка ламп", "Неверные реквизиты")
	ivan := env.User(Ivanova)
	env.ReplyFile(ivan, back, File{Name: "Поставка ламп v2.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4 v2"), Caption: "Исправлены реквизиты"})
	s.Find(ivan, part("ru", "chat.version_uploaded", "Round", 0, map[string]any{"Version": 2, "Number": d.Number}))
	k := env.User(Kuznetsova)
	card, _ := s.WithButton(k, "Поставка ламп v2.pdf", "ap:")
	for _, want := range []string{d.Number, "Исправлены реквизиты", part("ru", "notify.task_assigned", "Blocking", 0, nil) + " 1"} {
		if !strings.Contains(card.Text, want) {
			t.Fatalf("the round-2 request lacks %q:\n%s", want, card.Text)
		}
	}
	after := env.Document(d.Number)
	if len(after.Versions) != 2 || len(after.Rounds) != 2 || after.State != flows.StateInApproval {
		t.Fatalf("versions %d, rounds %d, state %s", len(after.Versions), len(after.Rounds), after.State)
	}
}

// whatChanged: the round-2 card tells the approver what the new version
// changed, struck through and underlined in the channel's markup, and its
// button shows the whole comparison.
func whatChanged(t *testing.T, s *Session) {
	env := s.Env()
	d := s.StartWith("Поставка бумаги", "Поставка бумаги.docx", extracttest.Contract("100 000", false))
	d, back := s.rejectedDoc(d, "Цена выше согласованной")
	ivan := env.User(Ivanova)
	env.ReplyFile(ivan, back, File{Name: "Поставка бумаги v2.docx", MIME: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		Data: extracttest.Contract("120 000", true), Caption: "Цена исправлена"})
	k := env.User(Kuznetsova)
	// The headline's words, without the emoji and the bold a dialect may
	// leave in the text.
	summary, _, _ := strings.Cut(strings.TrimPrefix(Say("ru", "diff.summary", map[string]any{"From": 1, "Places": ""}), "🔁 "), ":")
	card, _ := s.WithButton(k, "Поставка бумаги v2.docx", "ap:")
	for _, want := range []string{summary, "100 000", "120 000", part("ru", "diff.revisions", "N", 0, nil) + " 2"} {
		if !strings.Contains(card.Text, want) {
			t.Fatalf("the round-2 card lacks %q:\n%s", want, card.Text)
		}
	}
	if _, ok := card.Button("df:"); !ok {
		// A messenger with few buttons a message pages them: the button
		// may be on the next page.
		if _, more := moreButton(card); !more {
			t.Fatalf("the round-2 card has no “what changed” button: %+v", card.Buttons)
		}
		return
	}
	s.Skip(k)
	env.Tap(k, card, mustButton(t, card, "df:").Action)
	full := s.Next(k, part("ru", "diff.header", "From", 0, map[string]any{"Type": "Договор поставки", "Number": d.Number, "Title": d.Title}))
	if !strings.Contains(full.Text, "120 000") {
		t.Fatalf("the comparison lacks the new price:\n%s", full.Text)
	}
}

func mustButton(t *testing.T, m Msg, prefix string) chat.Button {
	t.Helper()
	b, ok := m.Button(prefix)
	if !ok {
		t.Fatalf("no %s button on %q", prefix, m.Text)
	}
	return b
}

func doubleTap(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка шкафов")
	sid := env.User(Sidorov)
	card, btn := s.WithButton(sid, d.Number, "ap:")
	answered(t, env.Tap(sid, card, btn.Action), Say("ru", "chat.answer.done", nil))
	again := env.Tap(sid, card, btn.Action)
	answered(t, again, messages.Error(flows.Errorf(flows.KindConflict, "task_closed", ""), "ru"))
	if n := decisions(env.Document(d.Number), flows.ActionApprove, Sidorov); n != 1 {
		t.Fatalf("%d approvals recorded for two taps", n)
	}
}

func someoneElsesButton(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка стульев")
	card, btn := s.WithButton(env.User(Petrov), d.Number, "ap:")
	// The initiator presses the lawyer's button: the action says what,
	// but she is not who.
	ans := env.Tap(env.User(Ivanova), card, btn.Action)
	answered(t, ans, messages.Error(flows.Errorf(flows.KindForbidden, "not_your_task", ""), "ru"))
	rj, _ := card.Button("rj:")
	env.Tap(env.User(Ivanova), card, rj.Action)
	after := env.Document(d.Number)
	if len(after.Decisions) != len(d.Decisions) || after.State != flows.StateInApproval {
		t.Fatalf("a foreign button changed the document: %+v", after.Decisions)
	}
}

func status(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка бумаги")
	ivan := env.User(Ivanova)
	env.Command(ivan, "status", d.Number)
	card := s.Find(ivan, part("ru", "card.state", "State", 0, nil)+" "+messages.State(flows.StateInApproval, "ru"))
	for _, want := range []string{"Пётр Петров", "Сидор Сидоров", "ООО «Бумага»"} {
		if !strings.Contains(card.Text, want) {
			t.Fatalf("the card lacks %q:\n%s", want, card.Text)
		}
	}
	// A stranger to the document learns nothing, whether it exists or not.
	v := env.User(Volkov)
	notFound := messages.Error(flows.Errorf(flows.KindNotFound, "doc_not_found", ""), "ru")
	env.Command(v, "status", d.Number)
	s.Next(v, notFound)
	env.Command(v, "status", "П-2099-999")
	s.Next(v, notFound)
}

func list(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка полок")
	dir := env.User(Director)
	env.Command(dir, "list", "")
	header := part("ru", "chat.list_header", "Filter", 0, nil)
	table, _ := s.WithButton(dir, header, "ls:o:")
	if !strings.Contains(table.Text, d.Number) || !strings.Contains(table.Text, "Пётр Петров") {
		t.Fatalf("the table lacks the document:\n%s", table.Text)
	}
	s.Skip(dir)
	env.Tap(dir, table, "ls:o:0")
	s.Find(dir, Say("ru", "chat.list_empty", nil))
	v := env.User(Volkov)
	env.Command(v, "list", "")
	if m := s.Find(v, header); strings.Contains(m.Text, d.Number) {
		t.Fatalf("a stranger sees others' documents:\n%s", m.Text)
	}
}

func sheet(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка ламп")
	ivan := env.User(Ivanova)
	env.Command(ivan, "sheet", d.Number)
	name := "sheet_" + d.Number + ".pdf"
	var pdf Msg
	if !until(func() bool {
		for _, m := range env.Messages(ivan) {
			if m.File == name {
				pdf = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no sheet:\n%s", dump(env.Messages(ivan)))
	}
	if !bytes.HasPrefix(pdf.Data, []byte("%PDF")) {
		t.Fatalf("the sheet is not a PDF: %.20q", pdf.Data)
	}
	v := env.User(Volkov)
	env.Command(v, "sheet", d.Number)
	s.Find(v, messages.Error(flows.Errorf(flows.KindNotFound, "doc_not_found", ""), "ru"))
	for _, m := range env.Messages(v) {
		if m.File != "" {
			t.Fatalf("a stranger got a file: %s", m.File)
		}
	}
}

func unknownPerson(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка ручек")
	x := env.Stranger()
	greeting := strings.Split(Say("ru", "chat.unknown_sender", nil), "\n")[0]
	env.Command(x, "my", "")
	first := s.Next(x, greeting)
	env.Text(x, "привет")
	s.Next(x, greeting)
	fetched := env.Fetches()
	env.Upload(x, File{Name: "x.pdf", MIME: "application/pdf", Data: []byte("%PDF x")})
	s.Next(x, greeting)
	for _, m := range env.Messages(x) {
		if _, ok := m.Button("ty:"); ok {
			t.Fatal("a stranger's file started a dialogue")
		}
	}
	if env.Fetches() != fetched {
		t.Fatal("a stranger's file was downloaded")
	}
	var task int64
	for _, tk := range d.OpenTasks() {
		task = tk.ID
	}
	ans := env.Tap(x, first, "ap:"+strconv.FormatInt(task, 10))
	answered(t, ans, messages.Error(flows.Errorf(flows.KindForbidden, "unknown_person", ""), "ru"))
	if after := env.Document(d.Number); len(after.Decisions) != len(d.Decisions) {
		t.Fatal("a stranger's tap decided a task")
	}
}

func oversizeFile(t *testing.T, s *Session) {
	env := s.Env()
	ivan := env.User(Ivanova)
	limit := env.Caps().MaxFile
	if limit == 0 {
		limit = flows.MaxFileSize
	}
	fetched := env.Fetches()
	env.Upload(ivan, File{Name: "big.pdf", MIME: "application/pdf", Data: []byte("%PDF big"), Size: limit + 1})
	s.Find(ivan, part("ru", "chat.file_too_big", "Channel", 0, map[string]any{"Limit": messages.Size(limit, "ru")}))
	if env.Fetches() != fetched {
		t.Fatal("an oversized file was downloaded")
	}
	for _, m := range env.Messages(ivan) {
		if _, ok := m.Button("ty:"); ok {
			t.Fatal("an oversized file started a dialogue")
		}
	}
}

// approversInFlight: from the status card the initiator takes an
// undecided lawyer off the route — their card shows it and its buttons
// stop working — and adds the director to the finance stage, who is told
// now and asked when the stage comes.
func approversInFlight(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка мониторов")
	sid := env.User(Sidorov)
	card, approveBtn := s.WithButton(sid, d.Number, "ap:")
	ivan := env.User(Ivanova)
	s.Skip(ivan)
	env.Command(ivan, "status", d.Number)
	s.tapNew(ivan, d.Number, "ra:", "")
	s.tapNew(ivan, d.Number, "rr:", "Сидор Сидоров")
	reason := "Сидоров в отпуске <b>до 20-го</b>"
	env.Answer(ivan, s.newQuestion(ivan, d.Number), reason)
	s.Find(ivan, Say("ru", "chat.route.removed", map[string]any{"Name": "Сидор Сидоров", "N": 1, "Number": d.Number}))
	s.Find(sid, part("ru", "reason.removed", "Comment", 1, map[string]any{"Actor": "Анна Иванова"}))
	// The removed lawyer's old button decides nothing.
	env.Tap(sid, card, approveBtn.Action)
	after := env.Document(d.Number)
	if decisions(after, flows.ActionApprove, Sidorov) != 0 || decisions(after, flows.DecisionApproverRemoved, Ivanova) != 1 {
		t.Fatalf("decisions after the removal: %+v", after.Decisions)
	}
	if got := lastRouteChange(after); got.Person != Sidorov || got.Comment != reason {
		t.Fatalf("recorded change %+v", got)
	}

	// Add the director to the finance stage.
	s.Skip(ivan)
	env.Command(ivan, "status", d.Number)
	s.tapNew(ivan, d.Number, "ra:", "")
	s.tapNew(ivan, d.Number, "rn:", "2")
	env.Answer(ivan, s.newQuestion(ivan, d.Number), "Орлов")
	s.tapNew(ivan, Say("ru", "chat.route.pick", nil), "rp:", "Дмитрий Орлов")
	env.Answer(ivan, s.newQuestion(ivan, d.Number), "сумма выше лимита")
	s.Find(ivan, Say("ru", "chat.route.added", map[string]any{"Name": "Дмитрий Орлов", "N": 2, "Number": d.Number}))
	s.Find(env.User(Director), part("ru", "notify.route_changed.added_you", "Comment", 0, map[string]any{"Actor": "Анна Иванова"}))
	s.decide(env.Document(d.Number), Petrov, flows.ActionApprove, "")
	s.WithButton(env.User(Director), d.Number, "ap:")
	s.WithButton(env.User(Kuznetsova), d.Number, "ap:")
}

// tapNew presses a button of a message since the last Skip, and skips
// past it.
func (s *Session) tapNew(user, want, prefix, label string) {
	s.t.Helper()
	m, b := s.WithButtonLike(user, want, prefix, label)
	s.Skip(user)
	s.env.Tap(user, m, b.Action)
}

func lastRouteChange(d *flows.Document) flows.Decision {
	for i := len(d.Decisions) - 1; i >= 0; i-- {
		if flows.IsRouteChange(d.Decisions[i].Kind) {
			return d.Decisions[i]
		}
	}
	return flows.Decision{}
}

// statsCommand: /stats gives a viewer the company's headline numbers and
// a PNG chart; a person on no route learns that nothing of theirs was
// decided; a period the bot does not know gets the usage.
func statsCommand(t *testing.T, s *Session) {
	env := s.Env()
	d := s.Start("Поставка табличек")
	s.decide(d, Petrov, flows.ActionApprove, "")
	dir := env.User(Director)
	env.Command(dir, "stats", "")
	s.Find(dir, part("ru", "stats.headline", "Late", 0, nil))
	var chart Msg
	if !until(func() bool {
		for _, m := range env.Messages(dir) {
			if m.File == "stats_month.png" {
				chart = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no chart:\n%s", dump(env.Messages(dir)))
	}
	if !bytes.HasPrefix(chart.Data, []byte("\x89PNG")) {
		t.Fatalf("the chart is not a PNG: %.20q", chart.Data)
	}
	v := env.User(Volkov)
	env.Command(v, "stats", "year")
	s.Find(v, Say("ru", "stats.empty", map[string]any{"Period": Say("ru", "stats.period.year", nil), "Scope": Say("ru", "stats.scope.own", nil)}))
	env.Command(v, "stats", "decade")
	s.Find(v, part("ru", "chat.stats.usage", "Types", 0, nil))
}
