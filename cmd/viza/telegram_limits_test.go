package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

func TestTelegram429StormDeliversEverythingOnce(t *testing.T) {
	fake, s := startPolling(t)
	for range 4 {
		fake.FailNextTooMany("sendMessage", 1)
		fake.FailNextTooMany("sendDocument", 1)
	}
	out, err := s.m.Engine.Start(context.Background(), flows.StartCmd{Key: "storm", Actor: "ivanova", TypeID: "supply", Title: "Шторм",
		File: flows.Upload{Name: "s.pdf", Content: strings.NewReader("%PDF storm")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []tgfake.User{petrov, sidorov} {
		if !tgfake.Until(20*time.Second, func() bool { return len(cardsWith(fake, u.ID, out.Number)) == 1 }) {
			t.Fatalf("%s: card never arrived: %+v", u.FirstName, fake.Chat(u.ID))
		}
	}
	// Once the outbox is empty nothing more can come: check for duplicates.
	if !tgfake.Until(wait, func() bool {
		st, err := s.m.DB.OutboxStats(context.Background())
		return err == nil && st.Pending == 0
	}) {
		t.Fatal("the outbox did not drain")
	}
	for _, u := range []tgfake.User{petrov, sidorov} {
		if n := len(cardsWith(fake, u.ID, out.Number)); n != 1 {
			t.Fatalf("%s got %d cards", u.FirstName, n)
		}
		if files := filesIn(fake, u.ID); len(files) != 1 {
			t.Fatalf("%s got files %v", u.FirstName, files)
		}
	}
	if fake.Limited() != 8 {
		t.Fatalf("the storm answered %d times 429, want all 8 used", fake.Limited())
	}
}

func TestTelegramBlockedUserIsMarkedInactive(t *testing.T) {
	fake, s := startPolling(t)
	fake.FailNext("sendDocument", petrov.ID, 403, "Forbidden: bot was blocked by the user")
	if _, err := s.m.Engine.Start(context.Background(), flows.StartCmd{Key: "blocked", Actor: "ivanova", TypeID: "supply", Title: "Блок",
		File: flows.Upload{Name: "b.pdf", Content: strings.NewReader("%PDF b")}}); err != nil {
		t.Fatal(err)
	}
	if !tgfake.Until(wait, func() bool {
		p, _ := s.m.Engine.Directory().Person("petrov")
		return !s.m.Telegram.Reaches(p)
	}) {
		t.Fatal("a user who blocked the bot must be marked unreachable")
	}
	if !tgfake.Until(wait, func() bool {
		v, ok, err := s.m.DB.StateGet(context.Background(), "telegram", "inactive:petrov")
		return err == nil && ok && v == "1"
	}) {
		t.Fatal("inactive mark not stored")
	}
	// Writing to the bot again makes the chat usable again.
	fake.UserText(petrov, "/help")
	s.msg(petrov.ID, "to send a document")
	p, _ := s.m.Engine.Directory().Person("petrov")
	if !s.m.Telegram.Reaches(p) {
		t.Fatal("a user who wrote again must be reachable")
	}
}

// benchConfig writes a company of n people, each on Telegram.
func benchConfig(b *testing.B, fake *tgfake.Server, n int) string {
	b.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "company: Bench\ntimezone: Europe/Moscow\nlanguage: ru\ndata_dir: %s\n", filepath.Join(b.TempDir(), "data"))
	sb.WriteString("people:\n  - {id: boss, name: Boss, telegram: 1000}\n")
	for i := range n {
		fmt.Fprintf(&sb, "  - {id: p%d, name: Person %d, telegram: %d}\n", i, i, 2000+i)
	}
	sb.WriteString("document_types:\n  - {id: memo, name: Memo, number: \"M-{seq}\", route: initiator_choice}\n")
	fmt.Fprintf(&sb, "telegram: {token_env: VIZA_TEST_TG_TOKEN, api_url: %s}\nhttp: {listen: \"127.0.0.1:0\"}\n", fake.URL)
	path := filepath.Join(b.TempDir(), "viza.yaml")
	os.WriteFile(path, []byte(sb.String()), 0o600)
	return path
}

// BenchmarkTelegramOutbound measures messages per second to distinct
// chats against a fake that enforces Telegram's flood limits.
func BenchmarkTelegramOutbound(b *testing.B) {
	fake := tgfake.New("123456:BENCH")
	defer fake.Close()
	fake.Limits, fake.Global = true, 30
	m, approvers := benchService(b, fake, 150)
	b.ResetTimer()
	start := time.Now()
	if _, err := m.Engine.Start(context.Background(), flows.StartCmd{Key: "bench", Actor: "boss", TypeID: "memo", Title: "Bench",
		File: flows.Upload{Name: "m.pdf", Content: strings.NewReader("%PDF bench")}, Approvers: approvers, Parallel: true}); err != nil {
		b.Fatal(err)
	}
	want := 2 * len(approvers) // the file and the card for each
	if !tgfake.Until(2*time.Minute, func() bool {
		return len(fake.Calls("sendMessage"))+len(fake.Calls("sendDocument")) >= want+fake.Limited()
	}) {
		b.Fatal("not everything was sent")
	}
	elapsed := time.Since(start)
	var first, last time.Time
	sent := 0
	for _, c := range fake.Calls("") {
		if (c.Method == "sendMessage" || c.Method == "sendDocument") && c.Status == 200 {
			if first.IsZero() {
				first = c.At
			}
			last = c.At
			sent++
		}
	}
	if os.Getenv("VIZA_DEBUG_429") != "" {
		for _, c := range fake.Calls("") {
			if c.Status == 429 {
				b.Logf("%s chat %s at %s", c.Method, c.Params["chat_id"], c.At.Format("15:04:05.000"))
			}
		}
	}
	// The rate while sending: from the first message to the last.
	b.ReportMetric(float64(sent-1)/last.Sub(first).Seconds(), "msgs/s")
	b.ReportMetric(elapsed.Seconds(), "s_total")
	b.ReportMetric(float64(fake.Limited()), "429s")
}

// BenchmarkTelegramTapToAnswer measures button tap → answerCallbackQuery
// latency at 200 taps per second and reports its p50 and p99.
func BenchmarkTelegramTapToAnswer(b *testing.B) {
	fake := tgfake.New("123456:BENCH")
	defer fake.Close()
	m, approvers := benchService(b, fake, 40)
	type tap struct {
		cb string
		at time.Time
	}
	var taps []tap
	const docs = 10
	var tasks [][2]int64 // task id, telegram user id
	for d := range docs {
		out, err := m.Engine.Start(context.Background(), flows.StartCmd{Key: fmt.Sprint("tap", d), Actor: "boss", TypeID: "memo", Title: "Tap",
			File: flows.Upload{Name: "m.pdf", Content: strings.NewReader(fmt.Sprint("%PDF ", d))}, Approvers: approvers, Parallel: true})
		if err != nil {
			b.Fatal(err)
		}
		open, _ := m.DB.OpenTasksOfDocument(context.Background(), out.DocID)
		for _, t := range open {
			var uid int64
			fmt.Sscanf(string(t.Assignee), "p%d", &uid)
			tasks = append(tasks, [2]int64{t.ID, 2000 + uid})
		}
	}
	b.ResetTimer()
	tick := time.NewTicker(5 * time.Millisecond) // 200 taps/s
	for _, tk := range tasks {
		<-tick.C
		_, cb := fake.UserTap(tgfake.User{ID: tk[1], FirstName: "P"}, 0, fmt.Sprint("ap:", tk[0]))
		taps = append(taps, tap{cb, time.Now()})
	}
	tick.Stop()
	if !tgfake.Until(time.Minute, func() bool { return fake.Answered(taps[len(taps)-1].cb) }) {
		b.Fatal("taps not answered")
	}
	answered := map[string]time.Time{}
	for _, c := range fake.Calls("answerCallbackQuery") {
		answered[c.Params["callback_query_id"]] = c.At
	}
	var lat []time.Duration
	for _, tp := range taps {
		at, ok := answered[tp.cb]
		if !ok {
			b.Fatalf("tap %s not answered", tp.cb)
		}
		lat = append(lat, at.Sub(tp.at))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(len(lat)), "taps")
}

// benchService runs Main for a company of n people on Telegram, stopped
// when the benchmark ends, and returns them as approvers p0…pn-1.
func benchService(b *testing.B, fake *tgfake.Server, n int) (*Main, []flows.PersonID) {
	b.Helper()
	cfgPath := benchConfig(b, fake, n)
	b.Setenv("VIZA_TEST_TG_TOKEN", fake.Token)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMain(ctx, cfg, cfgPath, discardLogger())
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; m.Close() })
	waitChannelsUp(b, m)
	var approvers []flows.PersonID
	for i := range n {
		approvers = append(approvers, flows.PersonID(fmt.Sprint("p", i)))
	}
	return m, approvers
}
