package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/flows"
)

// startSupply runs the dialogue for a supply contract and returns the
// document's number once the lawyers have their cards.
func (s *tgService) startSupply(title string) string {
	s.t.Helper()
	s.fake.UserDocument(ivanova, title+".pdf", "application/pdf", []byte("%PDF "+title), title, 0, 0)
	s.tap(ivanova, s.msg(ivanova.ID, "Какой это документ?"), "ty:supply")
	s.msg(ivanova.ID, "Кто контрагент?")
	s.tap(ivanova, s.msg(ivanova.ID, "Кто контрагент?"), "sk:")
	s.tap(ivanova, s.msg(ivanova.ID, "Запустить согласование?"), "go:")
	started := s.msg(ivanova.ID, "отправлен на согласование")
	for _, f := range strings.Fields(started.Text) {
		if strings.HasPrefix(f, "П-") {
			return f
		}
	}
	s.t.Fatalf("no number in %q", started.Text)
	return ""
}

func TestTelegramRefusals(t *testing.T) {
	fake, s := startPolling(t)

	t.Run("unknown sender is asked for a phone and can do nothing", func(t *testing.T) {
		stranger := tgfake.User{ID: 999000111, FirstName: "Mallory", Language: "en"}
		fake.UserDocument(stranger, "x.pdf", "application/pdf", []byte("%PDF"), "", 0, 0)
		m := s.msg(stranger.ID, "I don't know who you are yet")
		if !strings.Contains(m.Markup, `"request_contact":true`) {
			t.Fatalf("no share-phone button: %s", m.Markup)
		}
	})
	t.Run("a contact that is not the sender's own is refused", func(t *testing.T) {
		mallory := tgfake.User{ID: 999000222, FirstName: "Mallory", Language: "ru"}
		fake.UserContact(mallory, "+79001112288", 12345) // volkov's phone, someone else's card
		s.msg(mallory.ID, "своим собственным номером")
		fake.UserText(mallory, "/my")
		if !tgfake.Until(wait, func() bool { return len(fake.Chat(mallory.ID)) >= 2 }) {
			t.Fatal("no answer to /my")
		}
		if last := fake.Chat(mallory.ID); !strings.Contains(last[len(last)-1].Text, "не знаю, кто вы") {
			t.Fatalf("an unlinked sender got: %q", last[len(last)-1].Text)
		}
	})
	t.Run("the sender's own contact links them", func(t *testing.T) {
		volkov := tgfake.User{ID: 999000333, FirstName: "Василий", Language: "ru"}
		fake.UserContact(volkov, "79001112288", volkov.ID)
		s.msg(volkov.ID, "Готово, Волков Василий")
		fake.UserText(volkov, "/my")
		s.msg(volkov.ID, "нет открытых задач")
	})
	t.Run("an oversized file gets a clear message and no download", func(t *testing.T) {
		before := len(fake.Calls("getFile"))
		fake.UserDocument(ivanova, "big.pdf", "application/pdf", []byte("%PDF"), "", 0, 21<<20)
		s.msg(ivanova.ID, "больше 20 МБ")
		if len(fake.Calls("getFile")) != before {
			t.Fatal("an oversized file must not be downloaded")
		}
	})
	t.Run("a file of another kind is refused", func(t *testing.T) {
		fake.UserDocument(ivanova, "virus.exe", "application/octet-stream", []byte("MZ"), "", 0, 0)
		s.msg(ivanova.ID, "«virus.exe» не подходит")
	})
	t.Run("forged callback on someone else's task changes nothing", func(t *testing.T) {
		number := s.startSupply("Поставка стульев")
		card := s.card(petrov.ID, number)
		data := card.Button("ap:")
		d, err := s.m.DB.DocumentByNumber(t.Context(), number)
		if err != nil {
			t.Fatal(err)
		}
		// ivanova replays petrov's button payload: the payload says what,
		// but she is not who.
		_, cb := fake.UserTap(ivanova, card.MessageID, data)
		if !tgfake.Until(wait, func() bool { return fake.Answered(cb) }) {
			t.Fatal("forged callback not answered")
		}
		if ans := lastAnswer(fake, cb); !strings.Contains(ans, "задача другого человека") {
			t.Fatalf("forged callback answered %q", ans)
		}
		_, cb2 := fake.UserTap(ivanova, card.MessageID, strings.Replace(data, "ap:", "rj:", 1))
		tgfake.Until(wait, func() bool { return fake.Answered(cb2) })
		after, _ := s.m.DB.DocumentByNumber(t.Context(), number)
		if len(after.Decisions) != len(d.Decisions) || after.State != flows.StateInApproval {
			t.Fatalf("forged callback changed the document: %+v", after.Decisions)
		}
	})
	t.Run("a stale button gets a clear answer", func(t *testing.T) {
		number := s.startSupply("Поставка столов")
		card := s.card(sidorov.ID, number)
		s.tap(sidorov, card, "ap:")
		_, cb := fake.UserTap(sidorov, card.MessageID, card.Button("ap:"))
		tgfake.Until(wait, func() bool { return fake.Answered(cb) })
		if ans := lastAnswer(fake, cb); !strings.Contains(ans, "уже принято") {
			t.Fatalf("stale tap answered %q", ans)
		}
	})
	t.Run("the same update twice and concurrently is applied once", func(t *testing.T) {
		number := s.startSupply("Поставка ламп")
		card := s.card(sidorov.ID, number)
		upd, cb := fake.UserTap(sidorov, card.MessageID, card.Button("ap:"))
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() { defer wg.Done(); fake.Duplicate(upd) }()
		}
		wg.Wait()
		tgfake.Until(wait, func() bool { return fake.Answered(cb) && fake.Pending() == 0 })
		d, _ := s.m.DB.DocumentByNumber(t.Context(), number)
		approvals := 0
		for _, dc := range d.Decisions {
			if dc.Kind == flows.ActionApprove {
				approvals++
			}
		}
		if approvals != 1 {
			t.Fatalf("%d approvals recorded, want 1", approvals)
		}
		if n := countAnswers(fake, cb); n != 1 {
			t.Fatalf("callback answered %d times", n)
		}
	})
}

// card waits for the task card (the message with buttons) about number.
func (s *tgService) card(chat int64, number string) tgfake.Sent {
	s.t.Helper()
	var found tgfake.Sent
	if !tgfake.Until(wait, func() bool {
		for _, m := range s.fake.Chat(chat) {
			if strings.Contains(m.Text, number) && m.Button("ap:") != "" {
				found = m
				return true
			}
		}
		return false
	}) {
		s.t.Fatalf("no card about %s in chat %d", number, chat)
	}
	return found
}

func lastAnswer(fake *tgfake.Server, cb string) string {
	for _, c := range fake.Calls("answerCallbackQuery") {
		if c.Params["callback_query_id"] == cb {
			return c.Params["text"]
		}
	}
	return ""
}

func countAnswers(fake *tgfake.Server, cb string) int {
	n := 0
	for _, c := range fake.Calls("answerCallbackQuery") {
		if c.Params["callback_query_id"] == cb && c.Status == 200 {
			n++
		}
	}
	return n
}

func TestTelegramWebhook(t *testing.T) {
	fake := tgfake.New("123456:TEST-token")
	defer fake.Close()
	s := startTelegramService(t, fake, filepath.Join(t.TempDir(), "data"), "webhook")
	defer s.stop()
	if !tgfake.Until(wait, func() bool { return len(fake.Calls("setWebhook")) == 1 }) {
		t.Fatal("setWebhook not called")
	}
	if got := fake.Calls("setWebhook")[0].Params["secret_token"]; got != "s3cret-token" {
		t.Fatalf("secret_token = %q", got)
	}
	url := "http://" + s.m.Listener.Addr().String() + "/telegram/webhook"
	upd := fake.UserText(ivanova, "/help")
	post := func(secret string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(fake.Update(upd))))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Fatalf("no secret: %d", code)
	}
	if len(fake.Chat(ivanova.ID)) != 0 {
		t.Fatal("an update with a wrong secret was handled")
	}
	for range 3 {
		if code := post("s3cret-token"); code != http.StatusOK {
			t.Fatalf("good secret: %d", code)
		}
	}
	s.msg(ivanova.ID, "чтобы отправить документ")
	if n := len(fake.Chat(ivanova.ID)); n != 1 {
		t.Fatalf("the same update delivered 3 times was handled %d times", n)
	}
	var body map[string]any
	json.Unmarshal(fake.Update(upd), &body)
	if fmt.Sprint(body["update_id"]) == "" {
		t.Fatal("bad fixture")
	}
}
