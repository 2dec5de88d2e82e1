package sms_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/sms"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

type recorder struct{ sent []string }

func (r *recorder) Send(_ context.Context, _, text string) (string, error) {
	r.sent = append(r.sent, text)
	return "id", nil
}

// TestTaskSMSNamesPartiesWhenItCostsNoSegment: a new task's SMS names the
// counterparty and the amount when the text still takes as many segments
// with the link as the short one would; otherwise it stays short.
func TestTaskSMSNamesPartiesWhenItCostsNoSegment(t *testing.T) {
	cfg, err := config.Load("../../config/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := cfg.Directory()
	if err != nil {
		t.Fatal(err)
	}
	base := flows.Notification{Kind: flows.NoteTaskAssigned, To: "petrov", TaskID: 7, DocID: 1, Number: "Д-2026-0042", Title: "Supply",
		Counterparty: "Sever LLC", AmountMinor: 150000, HasAmount: true, Currency: "RUB"}
	long := base
	long.Counterparty = strings.Repeat("Very Long Counterparty Name ", 3)
	tests := []struct {
		name    string
		n       flows.Notification
		link    string
		parties bool
	}{
		{"fits beside a short link", base, "https://v.example/t/abc", true},
		{"a long name would take another segment", long, "https://v.example/t/" + strings.Repeat("x", 43), false},
		{"nothing to add", func() flows.Notification { n := base; n.Counterparty, n.HasAmount = "", false; return n }(), "https://v.example/t/abc", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			c := &sms.Channel{Sender: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Renderer: func() messages.Renderer { return messages.Renderer{Dir: dir} },
				Lang:     func(flows.PersonID) string { return "en" },
				TaskLink: func(context.Context, int64, flows.PersonID) (string, error) { return tc.link, nil }}
			p, _ := dir.Person("petrov")
			if _, err := c.Deliver(context.Background(), tc.n, p); err != nil {
				t.Fatal(err)
			}
			got := rec.sent[0]
			if !strings.HasSuffix(got, " "+tc.link) || !strings.Contains(got, "Д-2026-0042") {
				t.Fatalf("sms %q", got)
			}
			if has := strings.Contains(got, tc.n.Counterparty) && tc.n.Counterparty != ""; has != tc.parties {
				t.Fatalf("parties named = %v, want %v: %q (%d segments)", has, tc.parties, got, sms.Segments(got))
			}
		})
	}
}
