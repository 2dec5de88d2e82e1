package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/flows"
)

// TestTelegramCardWithoutItsFile: the request card is not held hostage by
// its file. When Telegram refuses the document for good, or fails to take
// it three times, the approver still gets the card with its buttons, and
// a link to the task's web page where the file is; the delivery is sent,
// not failed.
func TestTelegramCardWithoutItsFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(fake *tgfake.Server)
	}{
		{"refused", func(fake *tgfake.Server) {
			fake.FailNext("sendDocument", petrov.ID, 400, "Bad Request: wrong file identifier/HTTP URL specified")
		}},
		{"failing", func(fake *tgfake.Server) {
			// The first failure looks like an outage and is waited out;
			// three more are the file's own.
			for range 4 {
				fake.FailNext("sendDocument", petrov.ID, 502, "Bad Gateway")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, s := startPolling(t)
			tc.fail(fake)
			out, err := s.m.Engine.Start(context.Background(), flows.StartCmd{Key: "k1", Actor: "ivanova", TypeID: "supply", Title: "Поставка бумаги",
				File: flows.Upload{Name: "Договор.pdf", Content: strings.NewReader("%PDF-1.4 x")}})
			if err != nil {
				t.Fatal(err)
			}
			card, err := fake.WaitMessage(petrov.ID, "Your decision is needed", 40*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if card.Button("ap:") == "" || !strings.Contains(card.Text, "could not be sent here") || !strings.Contains(card.Raw, "/t/") {
				t.Fatalf("the card without its file: %q %s", card.Text, card.Markup)
			}
			if files := filesIn(fake, petrov.ID); len(files) != 0 {
				t.Fatalf("a file reached petrov after all: %v", files)
			}
			// Sidorov's file went as usual.
			s.msg(sidorov.ID, "Нужно ваше решение")
			if files := filesIn(fake, sidorov.ID); len(files) != 1 {
				t.Fatalf("sidorov's files: %v", files)
			}
			if f, err := s.m.DB.FailedDeliveries(context.Background(), out.DocID, "telegram"); err != nil || len(f) != 0 {
				t.Fatalf("failed deliveries: %v %v", f, err)
			}
		})
	}
}
