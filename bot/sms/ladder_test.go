package sms_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/sms"
	"github.com/viza-app/viza/bot/sms/smsfake"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/storage/storagetest"
)

// TestLadderSendsSMSThroughTheGateway drives the ladder with a fake clock
// to its SMS step and checks what the gateway received; a permanent
// failure is recorded once and not retried, a transient one is retried.
func TestLadderSendsSMSThroughTheGateway(t *testing.T) {
	fake := smsfake.New()
	defer fake.Close()
	rig := storagetest.NewRig(t, true)
	db, dir, clock, eng := rig.DB, rig.Dir, rig.Clock, rig.Engine
	msk := dir.Location
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ch := &sms.Channel{Sender: &sms.SMSRu{BaseURL: fake.URL, APIID: "KEY", From: "Viza", HTTP: &http.Client{Timeout: 5 * time.Second}},
		Log: quiet, Lang: dir.LanguageOf, Renderer: func() messages.Renderer { return messages.Renderer{Dir: dir} }}
	disp := flows.NewDispatcher(db, eng.Directory, clock, quiet, ch)
	sched := flows.NewScheduler(eng, db, quiet)
	ctx := context.Background()
	if _, err := eng.Start(ctx, flows.StartCmd{Key: "s", Actor: "ivanova", TypeID: "contract", Title: "Поставка", AmountMinor: 100, HasAmount: true,
		File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("a")}}); err != nil {
		t.Fatal(err)
	}
	// sidorov's number is refused by the gateway for good; petrov's
	// first try meets a gateway outage.
	fake.Then("smsru", smsfake.Answer{Status: 200, Body: `{"status":"ERROR","status_code":220,"status_text":"Сервис временно недоступен"}`})
	step := func(at time.Time) {
		t.Helper()
		clock.Set(at)
		if _, err := sched.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := disp.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step(time.Date(2026, 11, 30, 18, 0, 0, 0, msk)) // the chat step: nothing for SMS
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d SMS at the chat step", n)
	}
	step(time.Date(2026, 12, 1, 13, 0, 0, 0, msk)) // deadline + 4 working hours
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d SMS requests, want 2 (one failed transiently)", len(reqs))
	}
	step(time.Date(2026, 12, 1, 13, 1, 0, 0, msk)) // after the backoff: the retry
	reqs = fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d SMS requests after the retry, want 3", len(reqs))
	}
	phones := map[string]bool{}
	for _, r := range reqs {
		phones[r.Form["to"]] = true
		if !strings.Contains(r.Form["msg"], "ждёт вашего решения") && !strings.Contains(r.Form["msg"], "has waited for your decision") {
			t.Fatalf("sms text = %q", r.Form["msg"])
		}
	}
	if !phones["79001112244"] || !phones["79001112255"] {
		t.Fatalf("phones = %v", phones)
	}
	st, _ := db.OutboxStats(ctx)
	if st.Pending != 0 || st.Sent != 2 {
		t.Fatalf("outbox = %+v", st)
	}
	before := len(fake.Requests())
	step(time.Date(2026, 12, 3, 9, 0, 0, 0, msk)) // daily chat steps only
	if len(fake.Requests()) != before {
		t.Fatal("chat reminders must not go by SMS")
	}

	// A permanent refusal (a bad number) is recorded and never retried.
	if _, err := eng.Start(ctx, flows.StartCmd{Key: "s2", Actor: "ivanova", TypeID: "contract", Title: "Аренда", AmountMinor: 100, HasAmount: true,
		File: flows.Upload{Name: "b.pdf", Content: strings.NewReader("b")}}); err != nil {
		t.Fatal(err)
	}
	bad := `{"status":"OK","status_code":100,"sms":{"{to}":{"status":"ERROR","status_code":202,"status_text":"Неправильно указан номер получателя"}}}`
	fake.Then("smsru", smsfake.Answer{Status: 200, Body: bad})
	fake.Then("smsru", smsfake.Answer{Status: 200, Body: bad})
	step(time.Date(2026, 12, 3, 18, 0, 0, 0, msk)) // its deadline: chat step
	step(time.Date(2026, 12, 4, 13, 0, 0, 0, msk)) // its SMS step
	before = len(fake.Requests())
	step(time.Date(2026, 12, 4, 15, 0, 0, 0, msk))
	step(time.Date(2026, 12, 7, 15, 0, 0, 0, msk))
	if len(fake.Requests()) != before {
		t.Fatalf("a permanent failure was retried: %d → %d requests", before, len(fake.Requests()))
	}
	st, _ = db.OutboxStats(ctx)
	if st.Failed != 2 {
		t.Fatalf("outbox = %+v, want 2 failed", st)
	}
	failed, err := db.FailedDeliveries(ctx, 2, sms.Name)
	if err != nil || len(failed) != 2 || !strings.Contains(failed[0].Reason, "202") {
		t.Fatalf("failed deliveries = %+v, %v", failed, err)
	}
}

// TestPeopleWithoutMessengerGetTasksBySMSWithALink: a new task reaches a
// person with no chat identity by SMS with the one-tap link; a person on
// Telegram gets no SMS for it.
func TestPeopleWithoutMessengerGetTasksBySMSWithALink(t *testing.T) {
	fake := smsfake.New()
	defer fake.Close()
	rig := storagetest.NewRig(t, false)
	db, dir, clock, eng := rig.DB, rig.Dir, rig.Clock, rig.Engine
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ch := &sms.Channel{Sender: &sms.SMSC{BaseURL: fake.URL, Login: "l", Password: "p", HTTP: http.DefaultClient}, Log: quiet, Lang: dir.LanguageOf,
		Renderer: func() messages.Renderer { return messages.Renderer{Dir: dir} },
		TaskLink: func(_ context.Context, task int64, p flows.PersonID) (string, error) {
			return "https://viza.example.com/t/" + string(p) + "-token", nil
		}}
	disp := flows.NewDispatcher(db, eng.Directory, clock, quiet, ch)
	ctx := context.Background()
	// kuznetsova (on Telegram) and sidorov (on nothing) approve a memo.
	if _, err := eng.Start(ctx, flows.StartCmd{Key: "m", Actor: "ivanova", TypeID: "memo", Title: "Отпуск", Parallel: true,
		Approvers: []flows.PersonID{"sidorov", "kuznetsova"}, File: flows.Upload{Name: "m.pdf", Content: strings.NewReader("m")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := disp.Step(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || reqs[0].Form["phones"] != "79001112255" {
		t.Fatalf("requests = %+v", reqs)
	}
	if msg := reqs[0].Form["mes"]; !strings.Contains(msg, "нужно ваше решение") || !strings.HasSuffix(msg, "https://viza.example.com/t/sidorov-token") {
		t.Fatalf("sms = %q", msg)
	}
}

// TestWhoCountsAsOnAMessenger: new tasks go by SMS only to people no
// messenger reaches; unless told otherwise, a chat id in viza.yaml counts.
func TestWhoCountsAsOnAMessenger(t *testing.T) {
	onTelegram := &flows.Person{ID: "a", Phone: "+79000000001", Identities: map[string]string{"telegram": "1"}}
	phoneOnly := &flows.Person{ID: "b", Phone: "+79000000002"}
	choseSMS := &flows.Person{ID: "c", Phone: "+79000000003", Identities: map[string]string{"telegram": "3"}, Notify: []string{"sms"}}
	link := func(context.Context, int64, flows.PersonID) (string, error) { return "", nil }
	for _, tc := range []struct {
		name        string
		onMessenger func(*flows.Person) bool
		p           *flows.Person
		kind        string
		want        bool
	}{
		{"chat id in the file, new task", nil, onTelegram, flows.NoteTaskAssigned, false},
		{"no chat id, new task", nil, phoneOnly, flows.NoteTaskAssigned, true},
		{"no chat id, chat reminder", nil, phoneOnly, flows.NoteReminder, true},
		{"no chat id, a decision", nil, phoneOnly, flows.NoteDecision, false},
		{"anyone, the SMS step", nil, onTelegram, flows.NoteReminderSMS, true},
		{"linked by phone since", func(*flows.Person) bool { return true }, phoneOnly, flows.NoteTaskAssigned, false},
		{"blocked the bot since", func(*flows.Person) bool { return false }, onTelegram, flows.NoteTaskAssigned, true},
		{"on Telegram but chose SMS, new task", nil, choseSMS, flows.NoteTaskAssigned, true},
		{"on Telegram but chose SMS, a decision", nil, choseSMS, flows.NoteDecision, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := &sms.Channel{TaskLink: link, OnMessenger: tc.onMessenger}
			if got := ch.AcceptsFor(tc.p, tc.kind); got != tc.want {
				t.Errorf("AcceptsFor = %v, want %v", got, tc.want)
			}
		})
	}
}
