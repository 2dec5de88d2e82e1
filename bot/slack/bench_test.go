package slack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/slack/slackfake"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/storage"
)

// BenchmarkNotify200AtOnce sends a request with buttons to 200 approvers
// at once through a fake Slack that answers 429 the moment a limit is
// passed (one message a second per conversation, the workspace's messages
// a second, the method tiers). The goal: not a single 429, and the
// messages going out at 90% or more of the workspace's allowed rate.
func BenchmarkNotify200AtOnce(b *testing.B) {
	const approvers, perSecond = 200, 20
	for range b.N {
		var users []slackfake.User
		for i := range approvers {
			users = append(users, slackfake.User{ID: fmt.Sprintf("U%05d", i), Name: fmt.Sprint("a", i)})
		}
		fake := slackfake.New(users...)
		fake.SetLimits(slackfake.Limits{PerMethod: slackfake.Tiers, PerChannel: time.Second, Workspace: perSecond})
		db, err := storage.Open(context.Background(), filepath.Join(b.TempDir(), "viza.db"))
		if err != nil {
			b.Fatal(err)
		}
		tr, err := New(context.Background(), Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL, Workspace: perSecond},
			db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		// The approvers have written to the bot before: their DMs are
		// known, so only the messages themselves are measured.
		for _, u := range users {
			tr.noteDM(u.ID, fake.DM(u.ID))
		}
		msg := chat.Message{Text: rich.Plain("Договор П-2026-001: нужно ваше решение"),
			Buttons: [][]chat.Button{{{Label: "Согласовать", Action: "ap:1", Style: "primary"}, {Label: "Отклонить", Action: "rj:1", Style: "danger"}}}}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, approvers)
		for _, u := range users {
			wg.Go(func() {
				if _, err := tr.Send(context.Background(), fake.DM(u.ID), msg); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		rate := float64(approvers) / elapsed.Seconds()
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(rate/perSecond, "of-allowed")
		b.ReportMetric(float64(fake.Limited()), "429s")
		if n := fake.Limited(); n != 0 {
			b.Fatalf("%d answers were 429", n)
		}
		if rate < 0.9*perSecond {
			b.Fatalf("%.1f messages a second: below 90%% of the %d allowed", rate, perSecond)
		}
		db.Close()
		fake.Close()
	}
}
