package registry_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/registry"
	"github.com/viza-app/viza/storage/storagetest"
)

func fixture(t *testing.T) ([]registry.Row, *time.Location) {
	t.Helper()
	rig := storagetest.NewRig(t, true)
	db, dir, clock, eng := rig.DB, rig.Dir, rig.Clock, rig.Engine
	cal, err := rig.Config.WorkCalendar()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := eng.Start(ctx, flows.StartCmd{Key: "a", Actor: "ivanova", TypeID: "memo", Title: "Командировка", Approvers: []flows.PersonID{"petrov"},
		File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Start(ctx, flows.StartCmd{Key: "b", Actor: "ivanova", TypeID: "contract", Title: "Поставка", Counterparty: "ООО «Бета»",
		AmountMinor: 150000050, HasAmount: true, File: flows.Upload{Name: "b.pdf", Content: strings.NewReader("b")}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(50 * time.Hour) // Monday 10:00 → Wednesday 12:00
	d, _ := db.Document(ctx, a.DocID)
	if _, err := eng.Decide(ctx, flows.DecideCmd{Key: "c", Actor: "petrov", TaskID: d.OpenTasks()[0].ID, Action: flows.ActionApprove, Comment: "ок"}); err != nil {
		t.Fatal(err)
	}
	docs, err := db.AllDocuments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := registry.Rows(docs, messages.Renderer{Dir: dir}, "ru", clock.Now(), cal.WorkingDaysBetween)
	if err != nil {
		t.Fatal(err)
	}
	return rows, dir.Location
}

func TestXLSXReadBack(t *testing.T) {
	rows, loc := fixture(t)
	var buf bytes.Buffer
	if err := registry.WriteXLSX(&buf, registry.FromRows(rows), "ru", loc); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	const sh = "Реестр"
	get := func(cell string) string {
		v, err := f.GetCellValue(sh, cell, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	typ := func(cell string) excelize.CellType {
		ct, err := f.GetCellType(sh, cell)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	tests := []struct{ cell, want string }{
		{"A1", "Номер"}, {"E1", "Сумма"}, {"O1", "Последний комментарий"},
		{"A2", "Д-2026-0001"}, {"B2", "Договор"}, {"D2", "ООО «Бета»"}, {"E2", "1500000.5"}, {"F2", "RUB"},
		{"H2", "На согласовании"}, {"K2", "2"}, {"L2", "Юридическая проверка"}, {"M2", "Пётр Петров, Сидор Сидоров"}, {"N2", "1"},
		{"A3", "memo-2026-0001"}, {"H3", "Согласован"}, {"K3", "2"}, {"O3", "ок"}, {"E3", ""}, {"M3", ""},
	}
	for _, tc := range tests {
		if got := get(tc.cell); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.cell, got, tc.want)
		}
	}
	if typ("E2") != excelize.CellTypeNumber && typ("E2") != excelize.CellTypeUnset {
		t.Errorf("amount cell type %v, want a number", typ("E2"))
	}
	// Dates are Excel serial numbers shown with a date format.
	serial, err := strconv.ParseFloat(get("I2"), 64)
	if err != nil {
		t.Fatalf("start date is not a number: %q", get("I2"))
	}
	if got, _ := excelize.ExcelDateToTime(serial, false); got.Format("2006-01-02 15:04") != "2026-11-30 10:00" {
		t.Errorf("start date = %s (Moscow wall time expected)", got)
	}
	if shown, _ := f.GetCellValue(sh, "I2"); shown != "30.11.2026 10:00" {
		t.Errorf("start date shown as %q", shown)
	}
	panes, err := f.GetPanes(sh)
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("header row not frozen: %+v %v", panes, err)
	}
	if tables, err := f.GetTables(sh); err != nil || len(tables) != 1 || !strings.HasPrefix(tables[0].Range, "A1:O") {
		t.Errorf("no filter table over the rows: %+v %v", tables, err)
	}
	if w, _ := f.GetColWidth(sh, "C"); w < 30 {
		t.Errorf("title column width %v", w)
	}
}

// TestCSV: the CSV opens in the language's Excel by a double click —
// UTF-8 with a BOM, that Excel's list separator and decimal mark, dates it
// reads as dates.
func TestCSV(t *testing.T) {
	rows, loc := fixture(t)
	for _, tc := range []struct {
		lang                 string
		comma                rune
		header, amount, date string
	}{
		{"en", ',', "Number", "1500000.50", "2026-11-30 10:00:00"},
		{"ru", ';', "Номер", "1500000,50", "30.11.2026 10:00:00"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			var buf bytes.Buffer
			if err := registry.WriteCSV(&buf, registry.FromRows(rows), tc.lang, loc); err != nil {
				t.Fatal(err)
			}
			body, ok := bytes.CutPrefix(buf.Bytes(), []byte("\xef\xbb\xbf"))
			if !ok {
				t.Fatalf("no UTF-8 BOM: % x", buf.Bytes()[:8])
			}
			r := csv.NewReader(bytes.NewReader(body))
			r.Comma = tc.comma
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 3 || len(recs[0]) != 15 || recs[0][0] != tc.header || recs[1][4] != tc.amount || recs[1][8] != tc.date {
				t.Fatalf("csv = %q", recs)
			}
		})
	}
}

// TestCSVNeutralizesFormulas: text that a spreadsheet would run as a
// formula is written so that it shows as typed instead.
func TestCSVNeutralizesFormulas(t *testing.T) {
	rows, loc := fixture(t)
	tests := []struct{ in, want string }{
		{`=HYPERLINK("http://evil.example","Договор")`, `'=HYPERLINK("http://evil.example","Договор")`},
		{"+7 900 111-22-33", "'+7 900 111-22-33"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tcmd", "'\tcmd"},
		{"\rcmd", "'\rcmd"},
		{"Поставка = 5", "Поставка = 5"},
		{"", ""},
	}
	for _, tc := range tests {
		r := rows[0]
		r.Title, r.Counterparty, r.LastComment = tc.in, tc.in, tc.in
		var buf bytes.Buffer
		if err := registry.WriteCSV(&buf, registry.FromRows([]registry.Row{r}), "en", loc); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\xef\xbb\xbf")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got := recs[1]; got[2] != tc.want || got[3] != tc.want || got[14] != tc.want {
			t.Errorf("%q written as %q / %q / %q, want %q", tc.in, got[2], got[3], got[14], tc.want)
		}
	}
}
