package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/email/smtpfake"
	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/flows"
)

var (
	decideLinkRE = regexp.MustCompile(`(http://[^\s<>]+/t/[A-Za-z0-9_-]+)#decide`)
	csrfRE       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// TestEmailEndToEnd: volkov is on no messenger and gets his task by mail;
// the mail's link opens the task's page on the running web server, where
// he approves; petrov chose mail only (notify: [email]) and gets no
// Telegram card. The ladder's e-mail step is a kind the config accepts.
func TestEmailEndToEnd(t *testing.T) {
	fake := tgfake.New("123456:TEST-token")
	t.Cleanup(fake.Close)
	srv, err := smtpfake.Start("none", "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	s := startTelegramServiceWith(t, fake, t.TempDir(), "polling", func(yaml string) string {
		yaml = strings.Replace(yaml, `roles: [sales], telegram: 666666666}`, `roles: [sales], email: volkov@romashka.example}`, 1)
		yaml = strings.Replace(yaml, `language: en, telegram: 222222222}`, `language: en, telegram: 222222222, email: petrov@romashka.example, notify: [email]}`, 1)
		return yaml + "email:\n  smtp: {host: 127.0.0.1, port: " + strconv.Itoa(srv.Port) + ", tls: none}\n  from: \"Viza <viza@romashka.example>\"\n"
	})
	t.Cleanup(s.stop)
	mailTo := func(addr, substr string) *smtpfake.Mail {
		t.Helper()
		var found *smtpfake.Mail
		if !tgfake.Until(wait, func() bool {
			for _, r := range srv.Messages() {
				if r.To[0] != addr {
					continue
				}
				m, err := smtpfake.Parse(r.Data)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(m.Text, substr) {
					found = m
					return true
				}
			}
			return false
		}) {
			t.Fatalf("no mail to %s with %q among %d", addr, substr, len(srv.Messages()))
		}
		return found
	}

	out, err := s.m.Engine.Start(t.Context(), flows.StartCmd{Key: "e2e", Actor: "ivanova", TypeID: "memo", Title: "Записка о командировке",
		Approvers: []flows.PersonID{"volkov"}, File: flows.Upload{Name: "m.pdf", Content: strings.NewReader("%PDF memo")}})
	if err != nil {
		t.Fatal(err)
	}
	m := mailTo("volkov@romashka.example", "Записка о командировке")
	link := decideLinkRE.FindStringSubmatch(m.Text)
	if link == nil {
		t.Fatalf("no one-tap link in:\n%s", m.Text)
	}
	resp, err := http.Get(link[1])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `id="decide"`) || !strings.Contains(string(page), "Записка о командировке") {
		t.Fatalf("the mail's link: %d\n%s", resp.StatusCode, page)
	}
	if d, _ := s.m.DB.Document(t.Context(), out.DocID); d.State != flows.StateInApproval {
		t.Fatalf("opening the link changed the document: %s", d.State)
	}
	csrf := csrfRE.FindStringSubmatch(string(page))
	if csrf == nil {
		t.Fatal("no CSRF value on the task page")
	}
	resp, err = http.PostForm(link[1]+"/act", url.Values{"csrf": {csrf[1]}, "nonce": {"n1"}, "action": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve through the link: %d", resp.StatusCode)
	}
	if d, _ := s.m.DB.Document(t.Context(), out.DocID); d.State != flows.StateApproved && d.State != flows.StateDone {
		t.Fatalf("after approving by the mail's link the memo is %s", d.State)
	}

	// petrov chose mail: his task arrives there and not in Telegram.
	c, err := s.m.Engine.Start(t.Context(), flows.StartCmd{Key: "e2e-2", Actor: "ivanova", TypeID: "contract", Title: "Договор аренды",
		File: flows.Upload{Name: "c.pdf", Content: strings.NewReader("%PDF contract")}})
	if err != nil {
		t.Fatal(err)
	}
	if m := mailTo("petrov@romashka.example", c.Number); !strings.Contains(m.Subject, "Contract "+c.Number) {
		t.Errorf("petrov reads English, yet the subject is %q", m.Subject)
	}
	s.msg(333333333, c.Number) // sidorov, on Telegram, has his card
	for _, sent := range fake.Chat(222222222) {
		if strings.Contains(sent.Text, c.Number) {
			t.Fatalf("petrov chose mail only, yet Telegram got: %q", sent.Text)
		}
	}

	// The mail server refuses petrov's next mail for good: the refusal is
	// recorded and the document's page says who was not told.
	srv.Refuse(550)
	refused, err := s.m.Engine.Start(t.Context(), flows.StartCmd{Key: "e2e-3", Actor: "ivanova", TypeID: "contract", Title: "Договор хранения",
		File: flows.Upload{Name: "h.pdf", Content: strings.NewReader("%PDF storage")}})
	if err != nil {
		t.Fatal(err)
	}
	if !tgfake.Until(wait, func() bool {
		f, err := s.m.DB.FailedDeliveries(t.Context(), refused.DocID, "email")
		return err == nil && len(f) == 1
	}) {
		t.Fatal("the refused mail was not recorded as failed")
	}
	login, err := s.m.Web.LoginLink(t.Context(), "ivanova", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if resp, err := browser.Get(login); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	resp, err = browser.Get(strings.TrimSuffix(link[1], link[1][strings.Index(link[1], "/t/"):]) + "/doc/" + url.PathEscape(refused.Number))
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Письмо для Пётр Петров не доставлено") || !strings.Contains(string(page), "550") {
		t.Errorf("the document's page does not say the mail was refused:\n%s", page)
	}
}
