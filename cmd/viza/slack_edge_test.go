package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/bot/slack"
	"github.com/viza-app/viza/bot/slack/slackfake"
	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
)

func suiteStart(t *testing.T, m *Main, title string) flows.Outcome {
	t.Helper()
	out, err := m.Engine.Start(context.Background(), flows.StartCmd{Key: "t:" + title, Actor: chattest.Ivanova, TypeID: "supply", Title: title,
		File: flows.Upload{Name: title + ".pdf", Content: strings.NewReader("%PDF " + title)}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// slackCard waits for the request about number in user's DM.
func slackCard(t *testing.T, fake *slackfake.Server, user, number string) (slackfake.Message, slackfake.Button) {
	t.Helper()
	var card slackfake.Message
	var btn slackfake.Button
	if !until(func() bool {
		for _, m := range fake.Messages(fake.DM(user), user) {
			if b, ok := m.Button("ap:"); ok && strings.Contains(m.Text, number) {
				card, btn = m, b
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s has no request about %s: %+v", user, number, fake.Messages(fake.DM(user), user))
	}
	return card, btn
}

func newTelegramFake(t *testing.T) *tgfake.Server {
	fake := tgfake.New("123456:TEST-token")
	t.Cleanup(fake.Close)
	return fake
}

func tgUserOf(id int64) tgfake.User {
	return tgfake.User{ID: id, FirstName: fmt.Sprint("U", id), Language: "ru"}
}

// waitTelegramCard waits for the request about number in chat.
func waitTelegramCard(t *testing.T, fake *tgfake.Server, chat int64, number string) tgfake.Sent {
	t.Helper()
	var card tgfake.Sent
	if !until(func() bool {
		for _, m := range fake.Chat(chat) {
			if m.Button("ap:") != "" && strings.Contains(m.Text, number) {
				card = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("chat %d has no request about %s", chat, number)
	}
	return card
}

// inboxHandled waits until the Slack inbox has nothing left to handle.
func inboxHandled(t *testing.T, m *Main) {
	t.Helper()
	if !until(func() bool {
		items, err := m.DB.InboxPending(context.Background(), slack.Name, 1)
		return err == nil && len(items) == 0
	}) {
		t.Fatal("the Slack inbox was not handled")
	}
}

// envelopesSettled waits until the app acknowledged every one of the
// copies sent of d, then until it handled its inbox: from then on a copy
// applied twice would show.
func envelopesSettled(t *testing.T, m *Main, fake *slackfake.Server, d slackfake.Delivery, copies int) {
	t.Helper()
	if !until(func() bool { return fake.Acks(d.Envelope) >= copies }) {
		t.Fatalf("%d of %d copies of %s acknowledged", fake.Acks(d.Envelope), copies, d.Envelope)
	}
	inboxHandled(t, m)
}

// approveOnTheWeb waits for who's task on a document, approves it through
// the task's one-tap page, as someone on no messenger does, and waits for
// the document to be approved.
func approveOnTheWeb(t *testing.T, m *Main, out flows.Outcome, who flows.PersonID) {
	t.Helper()
	var task int64
	if !until(func() bool {
		open, _ := m.DB.OpenTasksOfDocument(context.Background(), out.DocID)
		for _, tk := range open {
			if tk.Assignee == who {
				task = tk.ID
			}
		}
		return task != 0
	}) {
		t.Fatalf("%s got no task", who)
	}
	link, err := m.Web.TaskLink(context.Background(), task, who)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{}
	_, page := webtest.Get(t, c, link)
	if code, _ := webtest.Post(t, c, link+"/act", url.Values{"csrf": {webtest.CSRF(t, page)}, "action": {"approve"}}); code != 200 {
		t.Fatalf("web approve = %d", code)
	}
	if !until(func() bool {
		d, _ := m.DB.DocumentByNumber(context.Background(), out.Number)
		return d.State == flows.StateApproved
	}) {
		t.Fatal("the route did not complete")
	}
}

func approvals(m *Main, number string) int {
	d, err := m.DB.DocumentByNumber(context.Background(), number)
	if err != nil {
		return -1
	}
	n := 0
	for _, dc := range d.Decisions {
		if dc.Kind == flows.ActionApprove {
			n++
		}
	}
	return n
}

// TestSlackVerifiesEveryRequest: in HTTP mode a request whose signature is
// wrong, missing or over five minutes old is refused with 401 and changes
// nothing; the same request signed now is applied, once however often it
// is redelivered.
func TestSlackVerifiesEveryRequest(t *testing.T) {
	fake := newSlackFake(t)
	m := startSlack(t, fake, "http", "", nil)
	out := suiteStart(t, m, "Подписи")
	petrov := slackUsers[chattest.Petrov].ID
	card, btn := slackCard(t, fake, petrov, out.Number)

	// Capture the request the fake would send, without sending it.
	fake.HTTPMode("http://127.0.0.1:1")
	d := fake.UserTap(petrov, card, btn)
	fake.HTTPMode("http://" + m.Listener.Addr().String())
	path, ct, body := d.Request()
	endpoint := "http://" + m.Listener.Addr().String() + path
	send := func(ts, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", ct)
		if ts != "" {
			req.Header.Set("X-Slack-Request-Timestamp", ts)
			req.Header.Set("X-Slack-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)
	for name, code := range map[string]int{
		"no signature":      send("", ""),
		"wrong secret":      send(now, slackfake.SignWith("another-secret-of-the-same-size", now, body)),
		"stale timestamp":   send(stale, fake.Sign(stale, body)),
		"signature garbage": send(now, "v0=00"),
	} {
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if n := approvals(m, out.Number); n != 0 {
		t.Fatalf("a refused request decided: %d approvals", n)
	}
	for range 3 {
		if code := send(now, fake.Sign(now, body)); code != http.StatusOK {
			t.Fatalf("signed request: %d", code)
		}
	}
	if code := fake.Redeliver(d); code != http.StatusOK {
		t.Fatalf("redelivery: %d", code)
	}
	if !until(func() bool { return approvals(m, out.Number) == 1 }) {
		t.Fatal("the signed tap was not applied")
	}
	// Every copy was answered 200 above, so each was stored or refused as a
	// repeat by now; once the inbox is handled a second application would
	// show.
	inboxHandled(t, m)
	if n := approvals(m, out.Number); n != 1 {
		t.Fatalf("%d approvals for one tap sent five times", n)
	}
	// url_verification is answered with the challenge, once signed.
	challenge := []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+m.Listener.Addr().String()+"/slack/events", strings.NewReader(string(challenge)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", now)
	req.Header.Set("X-Slack-Signature", fake.Sign(now, challenge))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	n, _ := resp.Body.Read(got)
	resp.Body.Close()
	if !strings.Contains(string(got[:n]), "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") {
		t.Fatalf("url_verification answered %q", got[:n])
	}
}

// TestSlackRedeliveredEnvelopeAppliedOnce: Socket Mode envelopes sent again
// (Slack does, when an acknowledgement is late) change nothing.
func TestSlackRedeliveredEnvelopeAppliedOnce(t *testing.T) {
	fake := newSlackFake(t)
	m := startSlack(t, fake, "socket", "", nil)
	out := suiteStart(t, m, "Повторы")
	sidorov := slackUsers[chattest.Sidorov].ID
	card, btn := slackCard(t, fake, sidorov, out.Number)
	d := fake.UserTap(sidorov, card, btn)
	for range 3 {
		fake.Redeliver(d)
	}
	if !until(func() bool { return approvals(m, out.Number) == 1 }) {
		t.Fatal("the tap was not applied")
	}
	envelopesSettled(t, m, fake, d, 4)
	if n := approvals(m, out.Number); n != 1 {
		t.Fatalf("%d approvals for one envelope sent four times", n)
	}
	// The same event twice answers once.
	dm := fake.DM(sidorov)
	before := len(fake.Messages(dm, sidorov))
	e := fake.UserText(sidorov, out.Number)
	fake.Redeliver(e)
	if !until(func() bool { return len(fake.Messages(dm, sidorov)) > before+1 }) {
		t.Fatal("no answer to a number")
	}
	envelopesSettled(t, m, fake, e, 2)
	answers := 0
	for _, msg := range fake.Messages(dm, sidorov)[before:] {
		if msg.User == slackfake.BotUser {
			answers++
		}
	}
	if answers != 1 {
		t.Fatalf("%d answers to one event delivered twice", answers)
	}
}

// TestSlackReasonIsRequiredInTheModal: Reject opens a modal; an empty
// reason is refused inside it (response_action: errors) and decides
// nothing; a reason rejects.
func TestSlackReasonIsRequiredInTheModal(t *testing.T) {
	for _, mode := range []string{"socket", "http"} {
		t.Run(mode, func(t *testing.T) {
			fake := newSlackFake(t)
			m := startSlack(t, fake, mode, "", nil)
			out := suiteStart(t, m, "Модальное окно")
			petrov := slackUsers[chattest.Petrov].ID
			card, _ := slackCard(t, fake, petrov, out.Number)
			rj, _ := card.Button("rj:")
			fake.UserTap(petrov, card, rj)
			var modal slackfake.View
			if !until(func() bool {
				views := fake.OpenViews(petrov)
				if len(views) == 1 {
					modal = views[0]
				}
				return len(views) == 1
			}) {
				t.Fatal("Reject opened no modal")
			}
			if !strings.Contains(modal.Text, out.Number) || modal.Title == "" {
				t.Fatalf("modal %+v", modal)
			}
			answer, ok := fake.Response(fake.Submit(petrov, modal, "   "), chattest.Wait)
			if !ok || !strings.Contains(string(answer), `"response_action":"errors"`) || !strings.Contains(string(answer), "reason") {
				t.Fatalf("an empty reason was answered %s", answer)
			}
			if !strings.Contains(string(answer), "Please give a reason") {
				t.Fatalf("the refusal is not in petrov's language: %s", answer)
			}
			d, _ := m.DB.DocumentByNumber(context.Background(), out.Number)
			if len(d.Decisions) != 0 {
				t.Fatal("an empty reason decided")
			}
			fake.Submit(petrov, modal, "Неустойка завышена")
			if !until(func() bool {
				d, _ := m.DB.DocumentByNumber(context.Background(), out.Number)
				return d.State == flows.StateChangesRequested
			}) {
				t.Fatal("the reason did not reject")
			}
		})
	}
}

// TestSlackAppHome: the Home tab lists a person's open tasks with their
// buttons; a tap there decides, and the tab and the DM card follow.
func TestSlackAppHome(t *testing.T) {
	fake := newSlackFake(t)
	m := startSlack(t, fake, "socket", "", nil)
	out := suiteStart(t, m, "Домашняя вкладка")
	petrov := slackUsers[chattest.Petrov].ID
	card, _ := slackCard(t, fake, petrov, out.Number)
	fake.OpenHome(petrov)
	var home slackfake.View
	if !until(func() bool {
		h, ok := fake.Home(petrov)
		home = h
		return ok && strings.Contains(h.Text, out.Number) && len(h.Buttons) > 0
	}) {
		t.Fatalf("home = %+v", home)
	}
	// "Open in the browser" signs in once.
	raw, _ := json.Marshal(home.Raw)
	login := regexp.MustCompile(`https?://[^|<>"\\]+/login/[A-Za-z0-9_-]+`).FindString(string(raw))
	if login == "" {
		t.Fatalf("the Home tab has no sign-in link: %s", raw)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, want := range []int{http.StatusSeeOther, http.StatusForbidden} {
		res, err := noFollow.Get(login)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("opening the Home tab's link, time %d: %d, want %d", i+1, res.StatusCode, want)
		}
	}
	var approve slackfake.Button
	for _, b := range home.Buttons {
		if strings.HasPrefix(b.Value, "ap:") {
			approve = b
		}
	}
	fake.UserTapHome(petrov, approve)
	if !until(func() bool { return approvals(m, out.Number) == 1 }) {
		t.Fatal("the Home tap did not approve")
	}
	if !until(func() bool {
		h, _ := fake.Home(petrov)
		return !strings.Contains(h.Text, out.Number)
	}) {
		t.Fatal("the Home tab still shows the decided task")
	}
	if !until(func() bool {
		for _, msg := range fake.Messages(card.Channel, petrov) {
			if msg.TS == card.TS {
				return len(msg.Buttons) == 0 && strings.Contains(msg.Text, "Approved by you")
			}
		}
		return false
	}) {
		t.Fatal("the DM card kept its buttons after a decision on the Home tab")
	}
}

// TestSlack429StormDelaysNeverDrops: Slack answering 429 again and again
// only delays the requests; each approver gets theirs once.
func TestSlack429StormDelaysNeverDrops(t *testing.T) {
	fake := newSlackFake(t)
	fake.FailNext("chat.postMessage", 429, 429, 429, 429, 429)
	fake.FailNext("files.getUploadURLExternal", 429, 429)
	m := startSlack(t, fake, "socket", "", nil)
	out := suiteStart(t, m, "Шторм")
	for _, p := range []flows.PersonID{chattest.Petrov, chattest.Sidorov} {
		slackCard(t, fake, slackUsers[p].ID, out.Number)
	}
	if fake.Limited() < 7 {
		t.Fatalf("%d answers were 429", fake.Limited())
	}
	for _, p := range []flows.PersonID{chattest.Petrov, chattest.Sidorov} {
		cards := 0
		for _, msg := range fake.Messages(fake.DM(slackUsers[p].ID), "") {
			if _, ok := msg.Button("ap:"); ok {
				cards++
			}
		}
		if cards != 1 {
			t.Fatalf("%s got %d requests", p, cards)
		}
	}
}

// TestMixedRoute: one route with an approver on Slack, one on Telegram and
// one on no messenger at all (the web page); each decides where they are,
// and every copy of every request shows what happened.
func TestMixedRoute(t *testing.T) {
	fake := newSlackFake(t)
	tg := newTelegramFake(t)
	ident := func(p flows.PersonID) string {
		switch p {
		case chattest.Ivanova, chattest.Petrov:
			return "slack: " + slackUsers[p].ID
		case chattest.Sidorov:
			return "telegram: 333333333"
		}
		return ""
	}
	// kuznetsova is in no messenger: no Slack profile carries her e-mail.
	fake.RemoveUser(slackUsers[chattest.Kuznetsova].ID)
	t.Setenv("VIZA_TEST_TG_TOKEN", tg.Token)
	m := startSlack(t, fake, "socket", "telegram: {token_env: VIZA_TEST_TG_TOKEN, api_url: \""+tg.URL+"\"}\n", ident)
	out := suiteStart(t, m, "Смешанный маршрут")

	petrov := slackUsers[chattest.Petrov].ID
	card, btn := slackCard(t, fake, petrov, out.Number)
	fake.UserTap(petrov, card, btn)

	sid := tgUserOf(333333333)
	tcard := waitTelegramCard(t, tg, sid.ID, out.Number)
	_, cb := tg.UserTap(sid, tcard.MessageID, tcard.Button("ap:"))
	until(func() bool { return tg.Answered(cb) })

	approveOnTheWeb(t, m, out, chattest.Kuznetsova)
	// Every copy shows its outcome and has no decision buttons left (the
	// card tapped keeps "Add a remark", as in Telegram).
	if !until(func() bool {
		for _, msg := range fake.Messages(card.Channel, petrov) {
			if msg.TS == card.TS {
				_, undecided := msg.Button("ap:")
				return len(msg.Buttons) <= 1 && !undecided && strings.Contains(msg.Text, "Approved by you")
			}
		}
		return false
	}) {
		for _, msg := range fake.Messages(card.Channel, petrov) {
			t.Logf("%s %d buttons: %s", msg.TS, len(msg.Buttons), msg.Text)
		}
		t.Fatal("the Slack request was not updated")
	}
	if !until(func() bool {
		msg, _ := tg.Message(tcard.MessageID)
		return len(msg.Buttons()) <= 1 && strings.Contains(msg.Text, "Согласовано вами")
	}) {
		t.Fatal("the Telegram request was not updated")
	}
	// The initiator, on Slack, hears of the approval with the final version
	// and the sheet.
	ivanova := slackUsers[chattest.Ivanova].ID
	if !until(func() bool {
		files := 0
		for _, msg := range fake.Messages(fake.DM(ivanova), ivanova) {
			if msg.File != nil {
				files++
			}
		}
		return files >= 2
	}) {
		t.Fatalf("the initiator got no final version and sheet: %+v", fake.Messages(fake.DM(ivanova), ivanova))
	}
}

// TestSlackIdentityComesFromTheVerifiedRequest: who acts is the user Slack
// names in a request whose signature holds. Someone else's button decides
// nothing for its owner, and a request rewritten to name another user
// fails its signature.
func TestSlackIdentityComesFromTheVerifiedRequest(t *testing.T) {
	fake := newSlackFake(t)
	m := startSlack(t, fake, "http", "", nil)
	out := suiteStart(t, m, "Чужая кнопка")
	petrov := slackUsers[chattest.Petrov].ID
	card, approve := slackCard(t, fake, petrov, out.Number)

	// sidorov, a lawyer with a task of his own, presses petrov's button.
	sidorov := slackUsers[chattest.Sidorov].ID
	slackCard(t, fake, sidorov, out.Number)
	if code := fake.UserTap(sidorov, slackfake.Message{Channel: fake.DM(sidorov), TS: card.TS}, approve).Status; code != http.StatusOK {
		t.Fatalf("sidorov's tap answered %d", code)
	}
	inboxHandled(t, m)
	d, _ := m.DB.DocumentByNumber(context.Background(), out.Number)
	for _, dc := range d.Decisions {
		if dc.Actor == chattest.Petrov || dc.Actor == chattest.Sidorov {
			t.Fatalf("petrov's button decided for %s: %+v", dc.Actor, dc)
		}
	}

	// mallory's own tap, signed for mallory, rewritten to name petrov.
	fake.HTTPMode("http://127.0.0.1:1") // capture without sending
	dl := fake.UserTap(mallory.ID, card, approve)
	fake.HTTPMode("http://" + m.Listener.Addr().String())
	path, ct, body := dl.Request()
	forged := strings.ReplaceAll(string(body), mallory.ID, petrov)
	if forged == string(body) {
		t.Fatal("the request does not name its user")
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, "http://"+m.Listener.Addr().String()+path, strings.NewReader(forged))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Slack-Request-Timestamp", now)
	req.Header.Set("X-Slack-Signature", fake.Sign(now, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a rewritten request answered %d, want 401", resp.StatusCode)
	}
	inboxHandled(t, m)
	if n := approvals(m, out.Number); n != 0 {
		t.Fatalf("%d approvals after forged taps", n)
	}
	// petrov himself decides with the same button.
	fake.UserTap(petrov, card, approve)
	if !until(func() bool { return approvals(m, out.Number) == 1 }) {
		t.Fatal("petrov's own tap did not approve")
	}
}

// TestSlackSurvivesSIGKILLAfterAck kills the service the moment Slack has
// the acknowledgement of a tap, before it could have been handled; Slack
// will not send that envelope again, so the decision must come from what
// was stored before the ack. After a restart each tap is applied once.
func TestSlackSurvivesSIGKILLAfterAck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	fake := newSlackFake(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "viza.yaml")
	everyone := func(p flows.PersonID) string { return "slack: " + slackUsers[p].ID }
	body := chattest.Config(filepath.Join(dir, "data"), everyone, fmt.Sprintf("slack: {mode: socket, api_url: %q}\n", fake.URL))
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, tasks := prepare(t, cfgPath, 3)
	env := []string{"VIZA_SLACK_BOT_TOKEN=" + fake.BotToken, "VIZA_SLACK_APP_TOKEN=" + fake.AppToken, "VIZA_LOG_LEVEL=warn"}
	for i, tk := range tasks {
		c := startChild(t, cfgPath, env...)
		if !until(func() bool { return fake.Connections() > 0 }) {
			c.kill()
			t.Fatal("no Socket Mode connection")
		}
		user := slackUsers[tk.Assignee].ID
		d := fake.UserTap(user, slackfake.Message{Channel: fake.DM(user), TS: "1.000001"},
			slackfake.Button{ActionID: "a", BlockID: "r0", Label: "Approve", Value: fmt.Sprint("ap:", tk.ID)})
		if !until(func() bool { _, ok := fake.Acked(d.Envelope); return ok }) {
			c.kill()
			t.Fatalf("tap %d was never acknowledged", i)
		}
		c.kill()
		if !until(func() bool { return fake.Connections() == 0 }) {
			t.Fatal("the killed service is still connected")
		}
	}
	// One more start: whatever was stored and not yet handled is handled now.
	c := startChild(t, cfgPath, env...)
	// Handling the taps waits on Slack's pace for chat.update (Tier 3),
	// which the transport keeps: this takes a while.
	done := tgfake.Until(time.Minute, func() bool { return (rec.approved(tasks) == len(tasks)) })
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()
	if !done {
		t.Fatalf("%d of %d acknowledged taps applied after the restarts", rec.approved(tasks), len(tasks))
	}
	rec.eachApprovedOnce(t, tasks)
}
