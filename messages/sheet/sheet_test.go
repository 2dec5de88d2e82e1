package sheet_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/internal/needs"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/sheet"
	"github.com/viza-app/viza/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

type fixture struct {
	doc  *flows.Document
	hash string
	r    messages.Renderer
}

// approvedContract plays a fixed approval with a fixed clock: a rejection
// with a remark, a new version, a deputy, a skipped stage, a signature.
func approvedContract(t testing.TB) fixture {
	t.Helper()
	rig := storagetest.NewRig(t, true)
	db, dir, clock, eng := rig.DB, rig.Dir, rig.Clock, rig.Engine
	ctx := context.Background()
	n := 0
	key := func() string { n++; return fmt.Sprint("k", n) }
	must := func(_ flows.Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step := func() { clock.Advance(47 * time.Minute) }
	out, err := eng.Start(ctx, flows.StartCmd{Key: key(), Actor: "ivanova", TypeID: "contract", Title: "Поставка оборудования «Север»",
		Counterparty: "ООО «Северный ветер»", AmountMinor: 45_000_000, HasAmount: true,
		File: flows.Upload{Name: "Договор_поставки_№17_ООО_Северный_ветер_окончательная_редакция.docx", Content: strings.NewReader("версия 1")}, Comment: "Первая редакция"})
	if err != nil {
		t.Fatal(err)
	}
	task := func(who flows.PersonID) int64 {
		d, _ := db.Document(ctx, out.DocID)
		for _, tk := range d.OpenTasks() {
			if tk.Assignee == who || tk.OnBehalfOf == who {
				return tk.ID
			}
		}
		t.Fatalf("%s has no task; state %s, open %+v", who, d.State, d.OpenTasks())
		return 0
	}
	step()
	must(eng.Decide(ctx, flows.DecideCmd{Key: key(), Actor: "petrov", TaskID: task("petrov"), Action: flows.ActionReject,
		Comment: "Неустойка 1% в день — слишком много; предлагаю 0,1%. Ещё: ёмкость склада не указана"}))
	step()
	must(eng.UploadVersion(ctx, flows.VersionCmd{Key: key(), Actor: "ivanova", DocID: out.DocID,
		File: flows.Upload{Name: "Договор_v2.docx", Content: strings.NewReader("версия 2")}, Comment: "Неустойка 0,1%, ёмкость указана"}))
	step()
	must(eng.Decide(ctx, flows.DecideCmd{Key: key(), Actor: "petrov", TaskID: task("petrov"), Action: flows.ActionApprove, Comment: "Согласовано с замечанием: проверьте реквизиты"}))
	step()
	if err := eng.SetAway(ctx, flows.AwayCmd{Key: key(), Actor: "director", Person: "director", Deputy: "kuznetsova", From: clock.Now(), To: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// director is away only for the moment; his task went to him before.
	must(eng.Decide(ctx, flows.DecideCmd{Key: key(), Actor: "kuznetsova", TaskID: task("director"), Action: flows.ActionApprove}))
	clock.Advance(2 * time.Hour)
	must(eng.Decide(ctx, flows.DecideCmd{Key: key(), Actor: "director", TaskID: task("director"), Action: flows.ActionDone, Comment: "Подписано"}))
	doc, _ := db.Document(ctx, out.DocID)
	events, _ := db.DocumentEvents(ctx, out.DocID)
	return fixture{doc: doc, hash: events[len(events)-1].Hash, r: messages.Renderer{Dir: dir}}
}

func render(t testing.TB, f fixture, lang string) []byte {
	t.Helper()
	var buf bytes.Buffer
	now := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	if err := sheet.Render(&buf, sheet.Input{Doc: f.doc, Lang: lang, Renderer: f.r, Now: now, LastHash: f.hash}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pdftotext(t testing.TB, pdf []byte) string {
	t.Helper()
	needs.Program(t, "poppler-utils", "pdftotext")
	in := filepath.Join(t.TempDir(), "s.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestSheetGolden(t *testing.T) {
	f := approvedContract(t)
	for _, lang := range []string{"ru", "en"} {
		t.Run(lang, func(t *testing.T) {
			text := pdftotext(t, render(t, f, lang))
			path := filepath.Join("testdata", "sheet."+lang+".txt")
			if *update {
				os.WriteFile(path, []byte(text), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./messages/sheet -update)", err)
			}
			if text != string(want) {
				t.Fatalf("sheet text changed:\n%s", text)
			}
			for _, must := range []string{f.doc.Number, f.hash[:16], f.doc.Versions[0].SHA256[:16]} {
				if !strings.Contains(strings.ReplaceAll(text, "\n", ""), must) {
					t.Errorf("sheet lacks %q", must)
				}
			}
		})
	}
}

func TestSheetLongDocumentRepeatsHeaders(t *testing.T) {
	f := approvedContract(t)
	d := f.doc.Clone()
	for i := range 200 {
		d.Decisions = append(d.Decisions, flows.Decision{TaskID: d.Tasks[0].ID, Round: 1, Stage: 0, Kind: flows.ActionComment,
			Actor: "petrov", At: d.CreatedAt.Add(time.Duration(i) * time.Minute), Comment: fmt.Sprintf("Комментарий %d: %s", i, strings.Repeat("длинный текст ", i%7))})
	}
	f.doc = d
	text := pdftotext(t, render(t, f, "ru"))
	pages := strings.Count(text, "\f")
	if pages < 4 {
		t.Fatalf("%d pages for 200 decisions", pages)
	}
	if headers := strings.Count(text, "Согласующий"); headers < pages-1 {
		t.Fatalf("table header printed %d times on %d pages", headers, pages)
	}
	if !strings.Contains(text, fmt.Sprintf("Стр. %d из %d", pages, pages)) {
		t.Fatalf("no 'page X of Y' footer for the last page")
	}
	if !strings.Contains(text, "Комментарий 199") {
		t.Fatal("the last decision is missing")
	}
}

func TestSheetConcurrentRenders(t *testing.T) {
	f := approvedContract(t)
	var wg sync.WaitGroup
	sizes := make([]int, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sizes[i] = len(render(t, f, []string{"ru", "en"}[i%2]))
		}()
	}
	wg.Wait()
	for i := range sizes {
		if sizes[i] == 0 || sizes[i] != sizes[i%2] {
			t.Fatalf("render %d: %d bytes, first of its language %d", i, sizes[i], sizes[i%2])
		}
	}
}

// BenchmarkSheet renders a sheet of 3 rounds × 6 approvers × 5 versions.
func BenchmarkSheet(b *testing.B) {
	f := approvedContract(b)
	d := f.doc.Clone()
	people := []flows.PersonID{"ivanova", "petrov", "sidorov", "kuznetsova", "director", "petrov"}
	d.Versions, d.Rounds, d.Tasks, d.Decisions = nil, nil, nil, nil
	at := d.CreatedAt
	for v := 1; v <= 5; v++ {
		d.Versions = append(d.Versions, flows.Version{No: v, FileName: fmt.Sprintf("Договор_v%d.docx", v), Size: int64(100000 * v),
			SHA256: strings.Repeat(fmt.Sprint(v), 64), UploadedBy: "ivanova", At: at, Comment: "Правки по замечаниям юристов"})
	}
	for r := 1; r <= 3; r++ {
		d.Rounds = append(d.Rounds, flows.Round{No: r, Version: r, StartedAt: at, Outcome: "rejected", EndedAt: at})
		for i, p := range people {
			at = at.Add(13 * time.Minute)
			id := int64(r*10 + i)
			d.Tasks = append(d.Tasks, flows.Task{ID: id, Round: r, Stage: i % 3, Kind: flows.KindApprove, Assignee: p, State: flows.TaskApproved, ClosedAt: at})
			d.Decisions = append(d.Decisions, flows.Decision{TaskID: id, Round: r, Stage: i % 3, Kind: flows.ActionApprove, Actor: p, At: at,
				Comment: "Согласовано, замечаний нет, но уточните реквизиты банка", Version: r})
		}
	}
	f.doc = d
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		size = len(render(b, f, "ru"))
	}
	b.ReportMetric(float64(size)/1024, "KB")
}

// TestSheetMidway: a sheet printed while the document is still on its way
// shows the whole route — the stages not reached yet with whom they will
// ask — in route order, with the skipped stage said in words.
func TestSheetMidway(t *testing.T) {
	rig := storagetest.NewRig(t, true)
	ctx := context.Background()
	out, err := rig.Engine.Start(ctx, flows.StartCmd{Key: "m1", Actor: "ivanova", TypeID: "contract", Title: "Аренда склада",
		AmountMinor: 45_000_000, HasAmount: true, File: flows.Upload{Name: "Аренда.pdf", Content: strings.NewReader(strings.Repeat("x", 16597))}})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := rig.DB.Document(ctx, out.DocID)
	for _, tk := range d.OpenTasks() {
		if tk.Assignee == "petrov" {
			if _, err := rig.Engine.Decide(ctx, flows.DecideCmd{Key: "m2", Actor: "petrov", TaskID: tk.ID, Action: flows.ActionApprove, Comment: "Реквизиты сверены"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	d, _ = rig.DB.Document(ctx, out.DocID)
	events, _ := rig.DB.DocumentEvents(ctx, out.DocID)
	f := fixture{doc: d, hash: events[len(events)-1].Hash, r: messages.Renderer{Dir: rig.Engine.Directory()}}
	text := strings.Join(strings.Fields(pdftotext(t, render(t, f, "ru"))), " ")
	for _, want := range []string{"предстоит", "Подпись директора", "Дмитрий Орлов, Генеральный директор", "16,2 КБ",
		"только если сумма ≥ 1 000 000", "Подпись"} {
		if !strings.Contains(text, want) {
			t.Errorf("midway sheet lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "Реквизиты сверены"); n != 1 {
		t.Errorf("the approval comment is printed %d times", n)
	}
	if strings.Contains(text, "amount >=") {
		t.Errorf("the skip reason is raw code:\n%s", text)
	}
	// Route order: the skipped finance stage (second in the route) comes
	// after legal review and before the director.
	legal, finance, director := strings.Index(text, "Юридическая"), strings.Index(text, "Финансы"), strings.Index(text, "Директор")
	if !(legal < finance && finance < director) {
		t.Errorf("stages out of route order: legal %d, finance %d, director %d", legal, finance, director)
	}
}

// TestSheetSaysWhatChanged: the round of a new version says how many
// places it changed against the version before, or why it cannot.
func TestSheetSaysWhatChanged(t *testing.T) {
	f := approvedContract(t)
	now := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	three := []compare.Change{{Old: "1%", New: "0,1%"}, {Old: "", New: "ёмкость"}, {Old: "a", New: "b"}}
	cases := []struct {
		lang  string
		c     compare.Comparison
		wants []string
	}{
		{"ru", compare.Comparison{From: 1, To: 2, Status: compare.StatusOK, Changes: three, Revisions: 2},
			[]string{"Изменения относительно версии 1: 3 места.", "В файле непринятые исправления: 2."}},
		{"en", compare.Comparison{From: 1, To: 2, Status: compare.StatusNoText}, []string{"Comparison with version 1 is not available: a version has no text layer."}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := sheet.Render(&buf, sheet.Input{Doc: f.doc, Lang: c.lang, Renderer: f.r, Now: now, LastHash: f.hash,
			Changes: map[int]compare.Comparison{2: c.c}}); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(pdftotext(t, buf.Bytes())), " ")
		for _, want := range c.wants {
			if strings.Count(text, want) != 1 {
				t.Errorf("%s: the sheet says %q %d times:\n%s", c.lang, want, strings.Count(text, want), text)
			}
		}
	}
}

// TestSheetSaysApprovedInBulk: an approval made with others in one action
// says so on the sheet.
func TestSheetSaysApprovedInBulk(t *testing.T) {
	f := approvedContract(t)
	doc := *f.doc
	doc.Decisions = append([]flows.Decision(nil), f.doc.Decisions...)
	marked := -1
	for i, dc := range doc.Decisions {
		if dc.Kind == flows.ActionApprove && dc.TaskID != 0 {
			doc.Decisions[i].Bulk, marked = true, i
			break
		}
	}
	if marked < 0 {
		t.Fatal("the fixture has no approval")
	}
	f.doc = &doc
	text := strings.Join(strings.Fields(pdftotext(t, render(t, f, "ru"))), " ")
	if strings.Count(text, "(вместе с другими)") != 1 {
		t.Fatalf("the sheet does not mark the one approval in bulk:\n%s", text)
	}
}

// TestSheetShowsRouteChanges: an approver added in flight is on the sheet
// in the stage it changed — who added whom, when and why — once.
func TestSheetShowsRouteChanges(t *testing.T) {
	f := approvedContract(t)
	doc := *f.doc
	last := doc.Rounds[len(doc.Rounds)-1]
	doc.Decisions = append(append([]flows.Decision(nil), f.doc.Decisions...), flows.Decision{Round: last.No, Stage: 0,
		Kind: flows.DecisionApproverAdded, Actor: "ivanova", Person: "kuznetsova", At: last.StartedAt.Add(time.Minute),
		Comment: "Сумма выросла до лимита"})
	f.doc = &doc
	for lang, want := range map[string]string{"ru": "добавил(а) в маршрут: Ксения Кузнецова, Финансовый директор", "en": "added Ксения Кузнецова, Финансовый директор to the route"} {
		text := strings.Join(strings.Fields(pdftotext(t, render(t, f, lang))), " ")
		if strings.Count(text, want) != 1 || strings.Count(text, "Сумма выросла до лимита") != 1 {
			t.Errorf("%s: the sheet does not show the change once:\n%s", lang, text)
		}
	}
}

// TestSheetListsSignatures: the electronic signatures verified at a sign
// stage are on the sheet: whose, which certificate, when, checked by whom.
func TestSheetListsSignatures(t *testing.T) {
	f := approvedContract(t)
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f.doc.Signatures = []flows.Signature{{TaskID: 1, Version: 2, By: "director", FileName: "v2.sig", SHA256: strings.Repeat("ab", 32),
		SignatureCheck: flows.SignatureCheck{Owner: "Орлов Дмитрий, ООО «Ромашка»", Serial: "0A1B2C", Issuer: "УЦ «Тест»", SignedAt: at,
			Verifier: "svs"}, At: at.Add(time.Minute), Method: flows.SignUpload},
		// Made in КриптоПро DSS: said as signed there, not uploaded.
		{TaskID: 2, Version: 2, By: "director", FileName: "v2.sig", SHA256: strings.Repeat("cd", 32), Method: flows.SignDSS,
			SignatureCheck: flows.SignatureCheck{Owner: "Орлов Дмитрий", Serial: "77AA", Issuer: "УЦ DSS", Verifier: "dss"}, At: at.Add(2 * time.Minute)}}
	text := strings.Join(strings.Fields(pdftotext(t, render(t, f, "ru"))), " ")
	for _, want := range []string{"Электронные подписи", "Орлов Дмитрий", "0A1B2C", "УЦ «Тест»", "svs", "abababab", "загрузил(а)",
		"подписал(а) в КриптоПро DSS", "77AA", "cdcdcdcd"} {
		if !strings.Contains(text, want) {
			t.Errorf("the sheet lacks %q:\n%s", want, text)
		}
	}
}
