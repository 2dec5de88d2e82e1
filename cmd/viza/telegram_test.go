package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/config"
)

const wait = 10 * time.Second

var (
	ivanova    = tgfake.User{ID: 111111111, FirstName: "Анна", Language: "ru"}
	petrov     = tgfake.User{ID: 222222222, FirstName: "Пётр", Language: "en"}
	sidorov    = tgfake.User{ID: 333333333, FirstName: "Сидор", Language: "ru"}
	kuznetsova = tgfake.User{ID: 444444444, FirstName: "Ксения", Language: "ru"}
)

type tgService struct {
	cursor map[int64]int64
	t      *testing.T
	fake   *tgfake.Server
	m      *Main
	cancel context.CancelFunc
	done   chan error
	cfg    *config.Config
	path   string

	stopOnce sync.Once
}

// startTelegramService starts Main in dataDir against the fake Bot API.
// startPolling starts a fake Bot API and the service polling it, both
// stopped when the test ends.
func startPolling(t *testing.T) (*tgfake.Server, *tgService) {
	t.Helper()
	fake := tgfake.New("123456:TEST-token")
	t.Cleanup(fake.Close)
	s := startTelegramService(t, fake, filepath.Join(t.TempDir(), "data"), "polling")
	t.Cleanup(s.stop)
	return fake, s
}

func startTelegramService(t *testing.T, fake *tgfake.Server, dataDir, mode string) *tgService {
	t.Helper()
	return startTelegramServiceWith(t, fake, dataDir, mode, func(yaml string) string { return yaml })
}

// startTelegramServiceWith starts Main with testdata/telegram.yaml as edit
// changes it.
func startTelegramServiceWith(t *testing.T, fake *tgfake.Server, dataDir, mode string, edit func(yaml string) string) *tgService {
	t.Helper()
	src, err := os.ReadFile("testdata/telegram.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := edit(strings.NewReplacer("DATA_DIR", dataDir, "API_URL", fake.URL, "MODE", mode).Replace(string(src)))
	path := filepath.Join(t.TempDir(), "viza.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIZA_TEST_TG_TOKEN", fake.Token)
	t.Setenv("VIZA_TEST_TG_SECRET", "s3cret-token")
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := NewMain(ctx, cfg, path, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &tgService{cursor: map[int64]int64{}, t: t, fake: fake, m: m, cancel: cancel, done: make(chan error, 1), cfg: cfg, path: path}
	go func() { s.done <- m.Run(ctx) }()
	waitChannelsUp(t, m)
	return s
}

func (s *tgService) stop() { s.stopOnce.Do(s.doStop) }

func (s *tgService) doStop() {
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("run: %v", err)
	}
	if err := s.m.Close(); err != nil {
		s.t.Errorf("close: %v", err)
	}
}

func (s *tgService) msg(chat int64, substr string) tgfake.Sent {
	s.t.Helper()
	m, err := s.fake.WaitMessage(chat, substr, wait)
	if err != nil {
		s.t.Fatal(err)
	}
	return m
}

// next waits for a message newer than the last one next returned in that
// chat, so that a question asked twice is not mistaken for its first time.
func (s *tgService) next(chat int64, substr string) tgfake.Sent {
	s.t.Helper()
	var found tgfake.Sent
	if !tgfake.Until(wait, func() bool {
		for _, m := range s.fake.Chat(chat) {
			if m.MessageID > s.cursor[chat] && strings.Contains(m.Text, substr) {
				found = m
				return true
			}
		}
		return false
	}) {
		_, err := s.fake.WaitMessage(chat, "\x00never", 0)
		s.t.Fatalf("no new message with %q: %v", substr, err)
	}
	s.cursor[chat] = found.MessageID
	return found
}

// tap presses a button whose callback_data starts with prefix and waits
// for Telegram to be answered.
func (s *tgService) tap(u tgfake.User, m tgfake.Sent, prefix string) {
	s.t.Helper()
	data := m.Button(prefix)
	if data == "" {
		s.t.Fatalf("message %d has no %q button; buttons %v", m.MessageID, prefix, m.Buttons())
	}
	_, cb := s.fake.UserTap(u, m.MessageID, data)
	if !tgfake.Until(wait, func() bool { return s.fake.Answered(cb) }) {
		s.t.Fatalf("callback %s (%s) never answered", cb, data)
	}
}

func TestTelegramEndToEnd(t *testing.T) {
	fake, s := startPolling(t)

	// The initiator sends a draft with a caption; the dialogue asks the type
	// and the counterparty, then shows the computed route.
	fake.UserDocument(ivanova, "Договор поставки.pdf", "application/pdf", []byte("%PDF-1.4 v1"), "Поставка бумаги", 0, 0)
	ask := s.msg(ivanova.ID, "Какой это документ?")
	s.tap(ivanova, ask, "ty:supply")
	s.msg(ivanova.ID, "Кто контрагент?")
	fake.UserText(ivanova, "ООО «Бумага»")
	summary := s.msg(ivanova.ID, "Запустить согласование?")
	for _, want := range []string{"Поставка бумаги", "ООО «Бумага»", "1. Юристы: Пётр Петров, Сидор Сидоров (все)", "2. Финансы: Ксения Кузнецова"} {
		if !strings.Contains(summary.Text, want) {
			t.Fatalf("summary lacks %q:\n%s", want, summary.Text)
		}
	}
	s.tap(ivanova, summary, "go:")
	started := s.msg(ivanova.ID, "отправлен на согласование")
	if !strings.Contains(started.Text, "П-2026-001") && !strings.Contains(started.Text, "П-") {
		t.Fatalf("started: %q", started.Text)
	}

	// Both lawyers get the file and a card with buttons (petrov in English).
	cardP := s.msg(petrov.ID, "Your decision is needed")
	cardS := s.msg(sidorov.ID, "Нужно ваше решение")
	if files := filesIn(fake, petrov.ID); len(files) != 1 || files[0] != "Договор поставки.pdf" {
		t.Fatalf("petrov's files = %v", files)
	}
	s.tap(petrov, cardP, "ap:")
	s.msg(petrov.ID, "Approved by you")
	s.tap(sidorov, cardS, "ap:")
	s.msg(sidorov.ID, "Согласовано вами")
	if edited, _ := fake.Message(cardP.MessageID); len(edited.Buttons()) != 1 || !strings.HasPrefix(edited.Buttons()[0], "rm:") {
		t.Fatalf("after approving only 'add remark' stays: %v", edited.Buttons())
	}

	// Finance rejects with a remark, through ForceReply.
	cardK := s.msg(kuznetsova.ID, "Нужно ваше решение")
	s.tap(kuznetsova, cardK, "rj:")
	prompt := s.msg(kuznetsova.ID, "Почему отклоняете")
	if !strings.Contains(prompt.Markup, `"force_reply":true`) {
		t.Fatalf("prompt without ForceReply: %s", prompt.Markup)
	}
	fake.UserReply(kuznetsova, prompt.MessageID, "Неверные реквизиты <b>банка</b>")
	s.msg(kuznetsova.ID, "Отклонено вами")
	back := s.msg(ivanova.ID, "возвращён на доработку")
	if !strings.Contains(back.Text, "Неверные реквизиты <b>банка</b>") || back.Button("uv:") == "" || back.Button("wd:") == "" {
		t.Fatalf("changes requested: %q %v", back.Text, back.Buttons())
	}

	// A new version by replying to that message with a file: round 2; the
	// lawyers' approvals carry over, finance is asked again.
	fake.UserDocument(ivanova, "Договор поставки v2.pdf", "application/pdf", []byte("%PDF-1.4 v2"), "Исправлены реквизиты", back.MessageID, 0)
	s.msg(ivanova.ID, "начат раунд 2")
	if !tgfake.Until(wait, func() bool { return len(cardsWith(fake, kuznetsova.ID, "раунд 2")) == 1 }) {
		t.Fatalf("finance did not get round 2: %v", fake.Chat(kuznetsova.ID))
	}
	card2 := cardsWith(fake, kuznetsova.ID, "раунд 2")[0]
	s.tap(kuznetsova, card2, "ap:")

	// The initiator gets the approval and the final version attached.
	s.msg(ivanova.ID, "согласован")
	if !tgfake.Until(wait, func() bool { return strings.Contains(strings.Join(filesIn(fake, ivanova.ID), ","), "v2.pdf") }) {
		t.Fatalf("initiator did not get the final version: %v", filesIn(fake, ivanova.ID))
	}
	var final []byte
	for _, m := range fake.Chat(ivanova.ID) {
		if m.FileName == "Договор поставки v2.pdf" {
			final, _ = fake.FileContent(m.FileID)
		}
	}
	if string(final) != "%PDF-1.4 v2" {
		t.Fatalf("final version content = %q", final)
	}
	// What each person saw, as golden transcripts: Russian for the
	// initiator and finance, English for petrov.
	settled := func() bool {
		st, err := s.m.DB.OutboxStats(t.Context())
		if err != nil || st.Pending > 0 || fake.Pending() > 0 {
			return false
		}
		for _, u := range []tgfake.User{ivanova, petrov, sidorov, kuznetsova} {
			files := strings.Join(filesIn(fake, u.ID), ",")
			if u != ivanova && !strings.Contains(files, "v2.pdf") {
				return false
			}
		}
		edited, _ := fake.Message(card2.MessageID)
		return strings.Contains(edited.Text, "Согласовано вами")
	}
	if !tgfake.Until(wait, settled) {
		t.Fatal("the chats did not settle")
	}
	goldenFile(t, "tg_ivanova.ru.txt", transcript(fake, ivanova.ID))
	goldenFile(t, "tg_kuznetsova.ru.txt", transcript(fake, kuznetsova.ID))
	goldenFile(t, "tg_petrov.en.txt", transcript(fake, petrov.ID))

	// Every callback was answered; no inline button was refused by the API.
	for _, c := range fake.Calls("") {
		if c.Status != 200 && c.Method != "getUpdates" {
			t.Errorf("%s answered %d: %v", c.Method, c.Status, c.Params)
		}
	}
}

func filesIn(fake *tgfake.Server, chat int64) []string {
	var out []string
	for _, m := range fake.Chat(chat) {
		if m.FileID != "" {
			out = append(out, m.FileName)
		}
	}
	return out
}

func cardsWith(fake *tgfake.Server, chat int64, substr string) []tgfake.Sent {
	var out []tgfake.Sent
	for _, m := range fake.Chat(chat) {
		if strings.Contains(m.Text, substr) && m.Button("ap:") != "" {
			out = append(out, m)
		}
	}
	return out
}
