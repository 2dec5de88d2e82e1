package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/sms"
	"github.com/viza-app/viza/bot/sms/smsfake"
	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/flows"
)

// TestSMSCarriesTasksOnlyWhereNoChatReaches: volkov has no Telegram id in
// viza.yaml, so his first task comes by SMS; once he has shared his phone
// with the bot, his next task comes to Telegram and no SMS goes out.
func TestSMSCarriesTasksOnlyWhereNoChatReaches(t *testing.T) {
	fake := tgfake.New("123456:TEST-token")
	t.Cleanup(fake.Close)
	gateway := smsfake.New()
	t.Cleanup(gateway.Close)
	t.Setenv("VIZA_TEST_SMS_KEY", "login:password")
	s := startTelegramServiceWith(t, fake, filepath.Join(t.TempDir(), "data"), "polling", func(yaml string) string {
		yaml = strings.Replace(yaml, `roles: [sales], telegram: 666666666}`, `roles: [sales]}`, 1)
		return yaml + "sms: {provider: smsc, api_key_env: VIZA_TEST_SMS_KEY, api_url: " + gateway.URL + "}\n"
	})
	t.Cleanup(s.stop)
	memo := func(title string) {
		t.Helper()
		if _, err := s.m.Engine.Start(t.Context(), flows.StartCmd{Key: "t:" + title, Actor: "ivanova", TypeID: "memo", Title: title,
			Approvers: []flows.PersonID{"volkov"}, File: flows.Upload{Name: "m.pdf", Content: strings.NewReader(title)}}); err != nil {
			t.Fatal(err)
		}
	}
	smsTo := func(phone string) int {
		n := 0
		for _, r := range gateway.Requests() {
			if r.Form["phones"] == phone {
				n++
			}
		}
		return n
	}

	memo("Первая записка")
	if !tgfake.Until(wait, func() bool { return smsTo("79001112288") == 1 }) {
		t.Fatalf("no SMS for a person no chat reaches: %+v", gateway.Requests())
	}

	volkov := tgfake.User{ID: 999000444, FirstName: "Василий", Language: "ru"}
	fake.UserContact(volkov, "79001112288", volkov.ID)
	s.msg(volkov.ID, "Готово, Волков Василий")
	memo("Вторая записка")
	s.msg(volkov.ID, "Вторая записка")
	// The second card reached him, so its notification has been routed:
	// the deliveries made then say whether SMS was among them.
	st, err := s.m.DB.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	viaSMS := 0
	for k, n := range st.Deliveries {
		if k[0] == sms.Name {
			viaSMS += n
		}
	}
	if viaSMS != 1 {
		t.Errorf("%d deliveries by SMS, want only the first task's: %s", viaSMS, fmt.Sprint(gateway.Requests()))
	}
}
