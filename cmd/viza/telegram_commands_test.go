package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/flows"
)

var (
	director = tgfake.User{ID: 555555555, FirstName: "Дмитрий", Language: "ru"}
	volkov   = tgfake.User{ID: 666666666, FirstName: "Василий", Language: "ru"}
)

func TestTelegramCommands(t *testing.T) {
	fake, s := startPolling(t)

	if !tgfake.Until(wait, func() bool { return len(fake.Calls("setMyCommands")) == 3 }) {
		t.Fatal("setMyCommands not called for the default, ru and en")
	}
	langs := map[string]bool{}
	for _, c := range fake.Calls("setMyCommands") {
		langs[c.Params["language_code"]] = true
		if !strings.Contains(c.Params["commands"], `"command":"my"`) || !strings.Contains(c.Params["commands"], `"command":"history"`) {
			t.Fatalf("commands = %s", c.Params["commands"])
		}
	}
	if !langs["ru"] || !langs["en"] {
		t.Fatalf("languages = %v", langs)
	}

	number := s.startSupply("Поставка кресел")

	t.Run("/my lists open tasks with their buttons", func(t *testing.T) {
		fake.UserText(sidorov, "/my")
		s.msg(sidorov.ID, "Открытых задач: 1")
		if !tgfake.Until(wait, func() bool { return len(cardsWith(fake, sidorov.ID, number)) == 2 }) {
			t.Fatalf("no card from /my: %v", fake.Chat(sidorov.ID))
		}
	})
	t.Run("/status without a number lists my documents", func(t *testing.T) {
		fake.UserText(ivanova, "/status")
		m := s.msg(ivanova.ID, "Ваши документы")
		if !strings.Contains(m.Text, number+" «Поставка кресел» — На согласовании") {
			t.Fatalf("list = %q", m.Text)
		}
	})
	t.Run("/status with a number shows the card", func(t *testing.T) {
		fake.UserText(ivanova, "/status "+number)
		m := s.msg(ivanova.ID, "Состояние: На согласовании")
		for _, want := range []string{"⏳ Ждём: Пётр Петров", "⏳ Ждём: Сидор Сидоров", "Этап 1 из 2: Юристы"} {
			if !strings.Contains(m.Text, want) {
				t.Fatalf("card lacks %q:\n%s", want, m.Text)
			}
		}
		if m.Button("hi:") == "" {
			t.Fatal("card without a history button")
		}
	})
	t.Run("Remind on the card reminds the holders at most hourly", func(t *testing.T) {
		chat := fake.Chat(ivanova.ID)
		s.cursor[ivanova.ID] = chat[len(chat)-1].MessageID
		fake.UserText(ivanova, "/status "+number)
		card := s.next(ivanova.ID, "Состояние: На согласовании")
		data := card.Button("nd:")
		if data == "" {
			t.Fatalf("no Remind button for the initiator: %v", card.Buttons())
		}
		_, cb := fake.UserTap(ivanova, card.MessageID, data)
		tgfake.Until(wait, func() bool { return fake.Answered(cb) })
		if ans := lastAnswer(fake, cb); ans != "Напоминание отправлено: 2" {
			t.Fatalf("remind answered %q", ans)
		}
		rem := s.msg(sidorov.ID, "⏰ Напоминание")
		if rem.Button("ap:") == "" {
			t.Fatalf("a reminder must repeat the task's buttons: %v", rem.Buttons())
		}
		_, cb2 := fake.UserTap(ivanova, card.MessageID, data)
		tgfake.Until(wait, func() bool { return fake.Answered(cb2) })
		if ans := lastAnswer(fake, cb2); !strings.Contains(ans, "в течение последнего часа") {
			t.Fatalf("second remind answered %q", ans)
		}
		fake.UserText(sidorov, "/status "+number)
		if sc := s.msg(sidorov.ID, "Состояние: На согласовании"); sc.Button("nd:") != "" {
			t.Fatal("an approver must not get the Remind button")
		}
	})
	t.Run("/history shows versions with checksums and decisions", func(t *testing.T) {
		fake.UserText(ivanova, "/history "+number)
		m := s.msg(ivanova.ID, "🗂 История")
		if !strings.Contains(m.Text, "v1 · Поставка кресел.pdf") || !strings.Contains(m.Text, "SHA-256 ") {
			t.Fatalf("history = %q", m.Text)
		}
	})
	t.Run("a stranger asking for a number learns nothing", func(t *testing.T) {
		fake.UserText(volkov, "/history "+number)
		s.msg(volkov.ID, "не найден или у вас нет к нему доступа")
		fake.UserText(volkov, "/status Д-2099-0001")
		if !tgfake.Until(wait, func() bool {
			c := fake.Chat(volkov.ID)
			return len(c) == 2 && c[0].Text == c[1].Text
		}) {
			t.Fatalf("existing and missing numbers must answer alike: %+v", fake.Chat(volkov.ID))
		}
		fake.UserText(director, "/status "+number) // a viewer sees every document
		s.msg(director.ID, "Состояние: На согласовании")
	})
	t.Run("/sheet sends the approval sheet to participants only", func(t *testing.T) {
		fake.UserText(ivanova, "/sheet "+number)
		if !tgfake.Until(wait, func() bool {
			return strings.Contains(strings.Join(filesIn(fake, ivanova.ID), ","), "sheet_"+number+".pdf")
		}) {
			t.Fatalf("no sheet: %v", filesIn(fake, ivanova.ID))
		}
		for _, m := range fake.Chat(ivanova.ID) {
			if m.FileName == "sheet_"+number+".pdf" {
				if pdf, _ := fake.FileContent(m.FileID); !strings.HasPrefix(string(pdf), "%PDF") {
					t.Fatalf("sheet is not a PDF: %.20q", pdf)
				}
			}
		}
		fake.UserText(volkov, "/sheet "+number)
		if !tgfake.Until(wait, func() bool { return len(fake.Chat(volkov.ID)) == 3 }) {
			t.Fatalf("volkov: %+v", fake.Chat(volkov.ID))
		}
		if last := fake.Chat(volkov.ID)[2]; last.FileID != "" || !strings.Contains(last.Text, "нет к нему доступа") {
			t.Fatalf("a stranger got %+v", last)
		}
	})
	t.Run("/list shows a table with filters and paging", func(t *testing.T) {
		fake.UserText(director, "/list")
		m := s.msg(director.ID, "📋 Документы")
		if !strings.Contains(m.Text, number+" · Поставка кресел · На согласовании · ждём: Пётр Петров, Сидор Сидоров") {
			t.Fatalf("list = %q", m.Text)
		}
		if m.Button("ls:o:0") == "" || m.Button("ls:t.supply:0") == "" {
			t.Fatalf("filters = %v", m.Buttons())
		}
		s.tap(director, m, "ls:o:0")
		if !tgfake.Until(wait, func() bool {
			e, _ := fake.Message(m.MessageID)
			return strings.Contains(e.Text, "Просроченные") && strings.Contains(e.Text, "Таких документов нет")
		}) {
			t.Fatal("the overdue filter did not edit the list")
		}
		fake.UserText(volkov, "/list")
		if vm := s.msg(volkov.ID, "📋 Документы"); strings.Contains(vm.Text, number) {
			t.Fatalf("a stranger sees others' documents: %q", vm.Text)
		}
	})
	t.Run("/export sends an XLSX of what the person may see", func(t *testing.T) {
		fake.UserText(director, "/export")
		s.msg(director.ID, "Готовлю реестр")
		if !tgfake.Until(wait, func() bool { return strings.Contains(strings.Join(filesIn(fake, director.ID), ","), ".xlsx") }) {
			t.Fatalf("no export: %v", filesIn(fake, director.ID))
		}
		s.msg(director.ID, "Реестр документов: ")
	})
	t.Run("a number or a counterparty typed alone answers with the card", func(t *testing.T) {
		chat := fake.Chat(ivanova.ID)
		s.cursor[ivanova.ID] = chat[len(chat)-1].MessageID
		fake.UserText(ivanova, number)
		s.next(ivanova.ID, "Состояние: На согласовании")
		fake.UserText(ivanova, "Бумага")
		s.next(ivanova.ID, "Пришлите файл") // no counterparty matches: the usual hint
		if _, err := s.m.Engine.Start(context.Background(), flows.StartCmd{Key: "cp", Actor: "ivanova", TypeID: "memo", Title: "Картон", Approvers: []flows.PersonID{"director"},
			Counterparty: "ООО «Картонный двор»", File: flows.Upload{Name: "k.pdf", Content: strings.NewReader("%PDF k")}}); err != nil {
			t.Fatal(err)
		}
		fake.UserText(ivanova, "картонный")
		s.next(ivanova.ID, "Контрагент: ООО «Картонный двор»")
		fake.UserText(volkov, "картонный")
		if !tgfake.Until(wait, func() bool {
			c := fake.Chat(volkov.ID)
			return strings.Contains(c[len(c)-1].Text, "Пришлите файл")
		}) {
			t.Fatal("a stranger must not find others' documents by counterparty")
		}
		fake.UserText(volkov, number)
		if !tgfake.Until(wait, func() bool {
			c := fake.Chat(volkov.ID)
			return strings.Contains(c[len(c)-1].Text, "Пришлите файл")
		}) {
			t.Fatal("a stranger typing a number must learn nothing about it")
		}
	})
	t.Run("/lang switches the language", func(t *testing.T) {
		fake.UserText(sidorov, "/lang")
		m := s.msg(sidorov.ID, "Выберите язык")
		s.tap(sidorov, m, "lg:en")
		fake.UserText(sidorov, "/my")
		s.msg(sidorov.ID, "Open tasks: 1")
	})
	t.Run("/cancel ends a dialogue", func(t *testing.T) {
		fake.UserText(ivanova, "/cancel")
		s.msg(ivanova.ID, "Отменять нечего")
		fake.UserText(ivanova, "/new")
		s.msg(ivanova.ID, "Пришлите файл документа")
		fake.UserText(ivanova, "/cancel")
		s.msg(ivanova.ID, "Отменено.")
	})
}

func TestTelegramDialogues(t *testing.T) {
	fake := tgfake.New("123456:TEST-token")
	defer fake.Close()
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startTelegramService(t, fake, dataDir, "polling")

	t.Run("amount is asked when the route depends on it", func(t *testing.T) {
		fake.UserDocument(ivanova, "contract.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", []byte("PK docx"), "", 0, 0)
		s.tap(ivanova, s.next(ivanova.ID, "Какой это документ?"), "ty:contract")
		s.next(ivanova.ID, "Как назвать документ?")
		fake.UserText(ivanova, "Аренда склада")
		s.tap(ivanova, s.next(ivanova.ID, "Кто контрагент?"), "sk:")
		s.next(ivanova.ID, "Какая сумма?")
		fake.UserText(ivanova, "очень много")
		s.next(ivanova.ID, "Не понял сумму «очень много»")
		fake.UserText(ivanova, "1,5 млн")
		m := s.next(ivanova.ID, "Запустить согласование?")
		if !strings.Contains(m.Text, "1\u00a0500\u00a0000,00 ₽") || !strings.Contains(m.Text, "2. Финансы: Ксения Кузнецова") {
			t.Fatalf("summary = %q", m.Text)
		}
	})
	// A restart in the middle of a dialogue loses nothing: it lives in SQLite.
	s.stop()
	s = startTelegramService(t, fake, dataDir, "polling")
	t.Run("the dialogue survives a restart", func(t *testing.T) {
		s.tap(ivanova, s.next(ivanova.ID, "Запустить согласование?"), "go:")
		m := s.next(ivanova.ID, "отправлен на согласование")
		if !strings.Contains(m.Text, "Д-") {
			t.Fatalf("started = %q", m.Text)
		}
	})
	t.Run("ad-hoc approvers are picked by name", func(t *testing.T) {
		fake.UserDocument(ivanova, "memo.txt", "text/plain", []byte("служебка"), "Командировка", 0, 0)
		s.tap(ivanova, s.next(ivanova.ID, "Какой это документ?"), "ty:memo")
		s.tap(ivanova, s.next(ivanova.ID, "Кто контрагент?"), "sk:")
		s.next(ivanova.ID, "Кого позвать на согласование?")
		fake.UserText(ivanova, "Шмидт")
		s.next(ivanova.ID, "Никого не нашёл по «Шмидт»")
		fake.UserText(ivanova, "кузн")
		s.tap(ivanova, s.next(ivanova.ID, "Найдено по «кузн»"), "pa:kuznetsova")
		fake.UserText(ivanova, "орлов")
		s.tap(ivanova, s.next(ivanova.ID, "Найдено по «орлов»"), "pa:director")
		s.tap(ivanova, s.next(ivanova.ID, "Согласующие: Ксения Кузнецова, Дмитрий Орлов"), "do:0")
		m := s.next(ivanova.ID, "Запустить согласование?")
		if !strings.Contains(m.Text, "1. Этап 1: Ксения Кузнецова") || !strings.Contains(m.Text, "2. Этап 2: Дмитрий Орлов") {
			t.Fatalf("summary = %q", m.Text)
		}
		s.tap(ivanova, m, "go:")
		s.next(ivanova.ID, "СЗ-001 отправлен")
		s.msg(kuznetsova.ID, "Служебная записка СЗ-001")
	})
	t.Run("a stale draft expires after a day", func(t *testing.T) {
		fake.UserDocument(ivanova, "old.pdf", "application/pdf", []byte("%PDF old"), "", 0, 0)
		s.next(ivanova.ID, "Какой это документ?")
		d, ok, err := s.m.DB.StateGet(context.Background(), "telegram", "dialog:111111111")
		if err != nil || !ok {
			t.Fatalf("dialogue not stored: %v", err)
		}
		old := time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339Nano)
		d = replaceJSONField(d, "started", old)
		if err := s.m.DB.StatePut(context.Background(), "telegram", "dialog:111111111", d); err != nil {
			t.Fatal(err)
		}
		fake.UserText(ivanova, "Название")
		s.next(ivanova.ID, "Черновик устарел")
	})
	s.stop()
}

func replaceJSONField(js, field, value string) string {
	i := strings.Index(js, `"`+field+`":"`)
	if i < 0 {
		return js
	}
	start := i + len(field) + 4
	end := strings.Index(js[start:], `"`)
	return js[:start] + value + js[start+end:]
}

func TestTelegramReadAndSignWithScan(t *testing.T) {
	fake, s := startPolling(t)
	out, err := s.m.Engine.Start(context.Background(), flows.StartCmd{Key: "scan", Actor: "ivanova", TypeID: "order", Title: "Приказ об отпуске",
		File: flows.Upload{Name: "p.pdf", Content: strings.NewReader("%PDF p")}})
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledge tasks show Read (no Reject); sign tasks show Done.
	var read tgfake.Sent
	if !tgfake.Until(wait, func() bool {
		for _, m := range fake.Chat(kuznetsova.ID) {
			if strings.Contains(m.Text, out.Number) && m.Button("rd:") != "" {
				read = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no Read card: %+v", fake.Chat(kuznetsova.ID))
	}
	if read.Button("rj:") != "" || read.Button("ap:") != "" {
		t.Fatalf("an acknowledge task must not offer approve/reject: %v", read.Buttons())
	}
	s.tap(kuznetsova, read, "rd:")
	var sign tgfake.Sent
	if !tgfake.Until(wait, func() bool {
		for _, m := range fake.Chat(director.ID) {
			if strings.Contains(m.Text, out.Number) && m.Button("dn:") != "" {
				sign = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no Done card: %+v", fake.Chat(director.ID))
	}
	// The director answers the card with the signed scan.
	fake.UserDocument(director, "scan.pdf", "application/pdf", []byte("%PDF signed"), "подписано", sign.MessageID, 0)
	if !tgfake.Until(wait, func() bool {
		d, _ := s.m.DB.Document(context.Background(), out.DocID)
		return d.State == flows.StateDone
	}) {
		t.Fatal("the scan did not complete the signature")
	}
	d, _ := s.m.DB.Document(context.Background(), out.DocID)
	if len(d.Versions) != 2 || !d.Versions[1].Scan || d.Versions[1].FileName != "scan.pdf" || d.CurrentVersion() != 1 {
		t.Fatalf("versions = %+v", d.Versions)
	}
	s.msg(director.ID, "Выполнено вами")
}
