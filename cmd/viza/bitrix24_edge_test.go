package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/bitrix24/b24fake"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/flows"
)

// b24Card waits for the request about number in a user's dialog.
func b24Card(t *testing.T, fake *b24fake.Server, user int64, number string) (b24fake.Message, b24fake.Button) {
	t.Helper()
	var card b24fake.Message
	var btn b24fake.Button
	if !until(func() bool {
		for _, m := range fake.Dialog(user) {
			for _, b := range m.Buttons {
				if strings.HasPrefix(b.Params, "ap:") && strings.Contains(m.Text, number) {
					card, btn = m, b
					return true
				}
			}
		}
		return false
	}) {
		t.Fatalf("%d has no request about %s: %+v", user, number, fake.Dialog(user))
	}
	return card, btn
}

// TestBitrix24RefusesAWrongApplicationToken: a classic event whose
// auth[application_token] is not the stored one is refused and changes
// nothing; the same event posted twice is applied once.
func TestBitrix24RefusesAWrongApplicationToken(t *testing.T) {
	fake := newB24Fake(t, false)
	m := startB24(t, fake, "", "", nil)
	out := suiteStart(t, m, "Токен приложения")
	petrov := b24Users[chattest.Petrov].ID
	card, btn := b24Card(t, fake, petrov, out.Number)

	for _, token := range []string{"wrong-token", strings.ToUpper(fake.ApplicationToken), fake.ApplicationToken[:16]} {
		fake.SetEventToken(token)
		if p := fake.UserTap(petrov, card.ID, btn); p.Status != http.StatusUnauthorized {
			t.Fatalf("token %q answered %d, want 401", token, p.Status)
		}
	}
	fake.SetEventToken("")
	b24InboxHandled(t, m)
	if n := approvals(m, out.Number); n != 0 {
		t.Fatalf("%d approvals after forged events", n)
	}
	p := fake.UserTap(petrov, card.ID, btn)
	if p.Status != http.StatusOK {
		t.Fatalf("the tap was answered %d", p.Status)
	}
	// Posted again exactly as it was (Bitrix24 does not, a proxy might):
	// applied once.
	if code := fake.Repost(p); code != http.StatusOK {
		t.Fatalf("the repost was answered %d", code)
	}
	b24InboxHandled(t, m)
	if n := approvals(m, out.Number); n != 1 {
		t.Fatalf("%d approvals for one event posted twice", n)
	}
}

// TestBitrix24LimitStormDelaysNeverDrops: the portal answering
// QUERY_LIMIT_EXCEEDED and OPERATION_TIME_LIMIT again and again only
// delays the requests; each approver gets theirs once, and the card that
// was tapped is updated.
func TestBitrix24LimitStormDelaysNeverDrops(t *testing.T) {
	fake := newB24Fake(t, true)
	m := startB24(t, fake, "", "", nil)
	// Cards fanned out together go as one batch call, a lone one as
	// itself: the storm hits both.
	fake.FailNext("imbot.v2.Chat.Message.send", 503, 429, 503)
	fake.FailNext("batch", 503, 429, 503)
	fake.FailNext("imbot.v2.File.upload", 503, 429)
	fake.FailNext("imbot.v2.Chat.Message.update", 503, 503)
	out := suiteStart(t, m, "Шторм")
	for _, p := range []flows.PersonID{chattest.Petrov, chattest.Sidorov} {
		b24Card(t, fake, b24Users[p].ID, out.Number)
	}
	petrov := b24Users[chattest.Petrov].ID
	card, btn := b24Card(t, fake, petrov, out.Number)
	fake.UserTap(petrov, card.ID, btn)
	if !until(func() bool {
		msg, _ := fake.Message(card.ID)
		return msg.Edits > 0 && len(msg.Buttons) <= 1 && strings.Contains(msg.Text, "Approved by you")
	}) {
		msg, _ := fake.Message(card.ID)
		t.Fatalf("the card was not updated: %+v", msg)
	}
	if fake.Limited() < 7 { // the uploads', the edits' and the cards' (whichever way they went)
		t.Fatalf("%d answers were 503 or 429", fake.Limited())
	}
	for _, p := range []flows.PersonID{chattest.Petrov, chattest.Sidorov} {
		cards := 0
		for _, msg := range fake.Dialog(b24Users[p].ID) {
			if msg.FromBot && strings.Contains(msg.Text, out.Number) && strings.Contains(msg.Text, "📄") {
				cards++
			}
		}
		if cards != 1 {
			t.Fatalf("%s got %d requests", p, cards)
		}
	}
}

// TestBitrix24MixedRoute: one route with an approver in Bitrix24, one in
// Slack and one on no messenger at all (the web page); each decides where
// they are, and every copy of every request shows what happened.
func TestBitrix24MixedRoute(t *testing.T) {
	b24 := newB24Fake(t, true)
	sl := newSlackFake(t)
	ident := func(p flows.PersonID) string {
		switch p {
		case chattest.Ivanova, chattest.Petrov:
			return b24Ident(p)
		case chattest.Sidorov:
			return "slack: " + slackUsers[p].ID
		}
		return ""
	}
	sl.RemoveUser(slackUsers[chattest.Kuznetsova].ID)
	t.Setenv("VIZA_SLACK_BOT_TOKEN", sl.BotToken)
	t.Setenv("VIZA_SLACK_APP_TOKEN", sl.AppToken)
	m := startB24(t, b24, "", fmt.Sprintf("slack: {mode: socket, api_url: %q}\n", sl.URL), ident)
	if !until(func() bool { return sl.Connections() > 0 }) {
		t.Fatal("no Socket Mode connection")
	}
	out := suiteStart(t, m, "Три канала")

	petrov := b24Users[chattest.Petrov].ID
	card, btn := b24Card(t, b24, petrov, out.Number)
	b24.UserTap(petrov, card.ID, btn)

	sid := slackUsers[chattest.Sidorov].ID
	scard, sbtn := slackCard(t, sl, sid, out.Number)
	sl.UserTap(sid, scard, sbtn)

	approveOnTheWeb(t, m, out, chattest.Kuznetsova)
	if !until(func() bool {
		msg, _ := b24.Message(card.ID)
		for _, b := range msg.Buttons {
			if strings.HasPrefix(b.Params, "ap:") {
				return false
			}
		}
		return strings.Contains(msg.Text, "Approved by you")
	}) {
		msg, _ := b24.Message(card.ID)
		t.Fatalf("the Bitrix24 request was not updated: %+v", msg)
	}
	if !until(func() bool {
		for _, msg := range sl.Messages(scard.Channel, sid) {
			if msg.TS == scard.TS {
				_, undecided := msg.Button("ap:")
				return !undecided && strings.Contains(msg.Text, "Согласовано вами")
			}
		}
		return false
	}) {
		t.Fatal("the Slack request was not updated")
	}
	// The initiator, in Bitrix24, gets the final version and the sheet.
	ivanova := b24Users[chattest.Ivanova].ID
	if !until(func() bool {
		files := 0
		for _, msg := range b24.Dialog(ivanova) {
			if msg.FromBot && msg.File != nil {
				files++
			}
		}
		return files >= 2
	}) {
		t.Fatalf("the initiator got no final version and sheet: %+v", b24.Dialog(ivanova))
	}
}

// TestBitrix24SurvivesSIGKILLMidFetch kills the service while it fetches
// and handles a stream of taps; each restart fetches again from the offset
// stored, and every tap is applied exactly once.
func TestBitrix24SurvivesSIGKILLMidFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	fake := newB24Fake(t, true)
	// An Enterprise portal's bucket, so that the test runs in seconds.
	fake.SetBucket(20, 250)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "viza.yaml")
	body := chattest.Config(filepath.Join(dir, "data"), b24Ident,
		fmt.Sprintf("bitrix24: {mode: fetch, fetch_interval: 100ms, requests_per_second: 20, burst: 250, portal_url: %q}\n", fake.URL))
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, tasks := prepare(t, cfgPath, 20)
	env := []string{"VIZA_BITRIX24_WEBHOOK=" + fake.Webhook, "VIZA_LOG_LEVEL=warn"}
	// The first start registers the bot; the taps then wait on the portal.
	c := startChild(t, cfgPath, env...)
	if !until(func() bool { id, _ := fake.Registered(); return id != 0 }) {
		c.kill()
		t.Fatal("the bot did not register")
	}
	c.kill()
	for _, tk := range tasks {
		fake.UserTap(b24Users[tk.Assignee].ID, 1, b24fake.Button{Command: "vizabtn", Params: "ap:" + strconv.FormatInt(tk.ID, 10)})
	}
	kills := 0
	for round := 0; round < 4 && !(rec.approved(tasks) == len(tasks)); round++ {
		c := startChild(t, cfgPath, env...)
		before := rec.approved(tasks)
		until(func() bool { return rec.approved(tasks) > before+2 })
		c.kill()
		kills++
		t.Logf("killed in round %d with %d of %d taps applied", round, rec.approved(tasks), len(tasks))
	}
	c = startChild(t, cfgPath, env...)
	done := tgfake.Until(time.Minute, func() bool { return (rec.approved(tasks) == len(tasks)) && fake.Pending() == 0 })
	// Every decided card loses its decision's buttons, however the kills
	// cut the edits: the outbox makes them. The exception is a card the
	// portal took in the instant before a kill, before the service could
	// note its id: sent again after the restart (delivery is at least
	// once), the first copy is nobody's to edit — at most one a person
	// per kill.
	live := func() []string {
		var out []string
		for _, p := range []flows.PersonID{chattest.Petrov, chattest.Sidorov} {
			for _, msg := range fake.Dialog(b24Users[p].ID) {
				for _, b := range msg.Buttons {
					if strings.HasPrefix(b.Params, "ap:") {
						out = append(out, fmt.Sprintf("%s: message %d %s", p, msg.ID, b.Params))
					}
				}
			}
		}
		return out
	}
	tgfake.Until(20*time.Second, func() bool { return len(live()) == 0 }) // the outbox's edits, given time to land
	cardsDone := len(live()) <= 2*(kills+1)
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()
	if !done {
		t.Fatalf("after %d kills %d of %d taps applied", kills, rec.approved(tasks), len(tasks))
	}
	rec.eachApprovedOnce(t, tasks)
	if !cardsDone {
		t.Fatalf("after %d kills decided cards still offer Approve: %v", kills, live())
	}
	t.Logf("cards orphaned by the kills (sent just before one): %v", live())
}

// approveAll approves every open task of a document until none is left.
func approveAll(t *testing.T, m *Main, docID int64) {
	t.Helper()
	for round := 0; round < 5; round++ {
		open, err := m.DB.OpenTasksOfDocument(context.Background(), docID)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) == 0 {
			return
		}
		for _, tk := range open {
			if _, err := m.Engine.Decide(context.Background(), flows.DecideCmd{Key: fmt.Sprint("approve-all:", tk.ID), Actor: tk.Assignee,
				TaskID: tk.ID, Action: flows.ActionApprove}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBitrix24RegistryList: every document is mirrored into the portal's
// universal list as one element — added once, updated as it moves, with
// the final version and the approval sheet attached on approval.
func TestBitrix24RegistryList(t *testing.T) {
	fake := newB24Fake(t, true)
	m := startB24(t, fake, `, registry_list: {id: "17", fields: {number: PROPERTY_NUMBER, title: NAME, counterparty: PROPERTY_CP,
    amount: PROPERTY_AMOUNT, state: PROPERTY_STATE, waiting_on: PROPERTY_WAITING, final_version: PROPERTY_FILE, sheet: PROPERTY_SHEET}}`, "", nil)
	out, err := m.Engine.Start(context.Background(), flows.StartCmd{Key: "reg", Actor: chattest.Ivanova, TypeID: "supply", Title: "Поставка бумаги",
		Counterparty: "ООО «Север»", AmountMinor: 1250000, HasAmount: true, Currency: "RUB",
		File: flows.Upload{Name: "Договор.pdf", Content: strings.NewReader("%PDF-1.4 реестр")}})
	if err != nil {
		t.Fatal(err)
	}
	element := func() map[string]any { return fake.ListElements()[out.Number] }
	if !until(func() bool { e := element(); return e != nil && e["PROPERTY_WAITING"] != "" }) {
		t.Fatalf("the document was not mirrored: %+v", fake.ListElements())
	}
	e := element()
	if e["NAME"] != "Поставка бумаги" || e["PROPERTY_NUMBER"] != out.Number || e["PROPERTY_CP"] != "ООО «Север»" ||
		e["PROPERTY_AMOUNT"] != "12500.00" || !strings.Contains(fmt.Sprint(e["PROPERTY_WAITING"]), "Петров") {
		t.Fatalf("element = %+v", e)
	}
	approveAll(t, m, out.DocID)
	if !until(func() bool { e := element(); return e["PROPERTY_FILE"] != nil && e["PROPERTY_SHEET"] != nil }) {
		t.Fatalf("the approved document has no final version and sheet: %+v", element())
	}
	e = element()
	if file, _ := e["PROPERTY_FILE"].([]any); len(file) != 2 || file[0] != "Договор.pdf" {
		t.Fatalf("final version = %v", e["PROPERTY_FILE"])
	}
	if e["PROPERTY_WAITING"] != "" || e["PROPERTY_STATE"] == "" {
		t.Fatalf("after approval: %+v", e)
	}
	adds := 0
	for _, c := range fake.Calls("lists.element.add") {
		if c.Params["ELEMENT_CODE"] == out.Number {
			adds++
		}
	}
	if adds != 1 || len(fake.Calls("lists.element.update")) == 0 {
		t.Fatalf("%d adds, %d updates", adds, len(fake.Calls("lists.element.update")))
	}
}

// TestBitrix24UsersCommand: `viza bitrix24 users` lists the portal's
// users with what an administrator needs to fill in viza.yaml, and who is
// linked already.
func TestBitrix24UsersCommand(t *testing.T) {
	fake := newB24Fake(t, true)
	dir := t.TempDir()
	path := filepath.Join(dir, "viza.yaml")
	ident := func(p flows.PersonID) string {
		if p == chattest.Ivanova {
			return b24Ident(p)
		}
		return ""
	}
	body := chattest.Config(filepath.Join(dir, "data"), ident, fmt.Sprintf("bitrix24: {portal_url: %q}\n", fake.URL))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIZA_BITRIX24_WEBHOOK", fake.Webhook)
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"bitrix24", "users", "-config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"ID", "Эл. почта", "11", "Анна Иванова", "ivanova@romashka.example", "+79001112233", "ivanova", "Василий Волков", "bitrix24: ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	parts := strings.Split(strings.Trim(fake.Webhook, "/"), "/")
	if strings.Contains(out+stderr.String(), parts[len(parts)-1]) {
		t.Fatal("the webhook's key was printed")
	}
	t.Setenv("VIZA_BITRIX24_WEBHOOK", "")
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"bitrix24", "users", "-config", path}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "Битрикс24 не подключён") {
		t.Fatalf("without credentials: exit %d, %s", code, stderr.String())
	}
}

// TestBitrix24CounterpartyFromTheCRM: a counterparty typed while starting a
// document is looked up among the portal's CRM companies; the initiator
// picks one, or keeps the text; an exact name is taken as the CRM writes
// it.
func TestBitrix24CounterpartyFromTheCRM(t *testing.T) {
	fake := newB24Fake(t, true)
	fake.AddCompany("ООО «Север»")
	fake.AddCompany("АО «Северсталь»")
	fake.AddCompany("ООО «Юг»")
	fake.AddCompany("ООО «Северный завод №2»")
	m := startB24(t, fake, "", "", nil)
	env := &b24Env{t: t, m: m, fake: fake}
	ivan := env.User(chattest.Ivanova)
	start := func(title, typed string) []chattest.Msg {
		t.Helper()
		env.Upload(ivan, chattest.File{Name: title + ".pdf", MIME: "application/pdf", Data: []byte("%PDF " + title), Caption: title})
		msgs := env.Messages(ivan)
		env.Tap(ivan, msgs[len(msgs)-1], "ty:supply")
		env.Text(ivan, typed)
		return env.Messages(ivan)
	}
	msgs := start("Поставка угля", "север")
	offer := msgs[len(msgs)-1]
	if len(offer.Buttons) != 4 || offer.Buttons[0].Label != "ООО «Север»" || offer.Buttons[1].Label != "АО «Северсталь»" || offer.Buttons[3].Action != "cp:t" {
		t.Fatalf("offer = %+v", offer)
	}
	env.Tap(ivan, offer, offer.Buttons[1].Action)
	msgs = env.Messages(ivan)
	summary := msgs[len(msgs)-1]
	if !strings.Contains(summary.Text, "АО «Северсталь»") {
		t.Fatalf("the summary does not name the company picked:\n%s", summary.Text)
	}
	env.Tap(ivan, summary, "go:0")
	if !until(func() bool {
		docs, _ := m.DB.DocumentsOf(context.Background(), chattest.Ivanova, 5)
		return len(docs) == 1 && docs[0].Counterparty == "АО «Северсталь»"
	}) {
		t.Fatal("the document does not carry the company picked")
	}
	// Typed exactly (but for case): taken as the CRM writes it, no offer.
	msgs = start("Поставка песка", "ооо «юг»")
	if last := msgs[len(msgs)-1]; !strings.Contains(last.Text, "ООО «Юг»") {
		t.Fatalf("the exact name was not taken from the CRM:\n%s", last.Text)
	}
	env.Tap(ivan, msgs[len(msgs)-1], "cx:0")
	// Kept as typed.
	msgs = start("Поставка льда", "Северный завод")
	if last := msgs[len(msgs)-1]; len(last.Buttons) == 0 || last.Buttons[0].Action != "cp:0" {
		t.Fatalf("no offer for a partial match: %+v", last)
	}
	env.Tap(ivan, msgs[len(msgs)-1], "cp:t")
	msgs = env.Messages(ivan)
	if last := msgs[len(msgs)-1]; !strings.Contains(last.Text, "Северный завод") {
		t.Fatalf("the text typed was not kept:\n%s", last.Text)
	}
}
