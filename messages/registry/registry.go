// Package registry exports the contract registry — one row per document —
// as XLSX (github.com/xuri/excelize/v2) or CSV, so that nobody retypes it.
package registry

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
)

// WorkingDays counts working days between two times (a calendar's).
type WorkingDays func(from, to time.Time) int

// Row is one document as the registry shows it.
type Row struct {
	Number, Type, Title, Counterparty string
	Amount                            float64
	HasAmount                         bool
	Currency, Initiator, State        string
	Started, Finished                 time.Time
	WorkingDays                       int
	Stage, WaitingOn                  string
	Versions                          int
	LastComment                       string
}

var columns = []string{"number", "type", "title", "counterparty", "amount", "currency", "initiator", "state", "started", "finished",
	"working_days", "stage", "waiting_on", "versions", "last_comment"}

// Source yields the registry's rows in order, calling yield for each and
// stopping at the first error it returns: a registry of any size is
// written a row at a time, never held whole.
type Source func(yield func(Row) error) error

// FromRows is a Source over rows in memory.
func FromRows(rows []Row) Source {
	return func(yield func(Row) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// Rower builds the registry row of a document in lang.
func Rower(r messages.Renderer, lang string, now time.Time, days WorkingDays) (func(*flows.Document) Row, error) {
	l, err := locales.For(lang)
	if err != nil {
		return nil, err
	}
	return func(d *flows.Document) Row {
		row := Row{Number: d.Number, Type: messages.Localized(d.TypeName, lang), Title: d.Title, Counterparty: d.Counterparty,
			Amount: float64(d.AmountMinor) / 100, HasAmount: d.HasAmount, Currency: d.Currency, Initiator: r.Name(d.Initiator),
			State: messages.State(d.State, lang), Started: d.CreatedAt, Finished: d.FinishedAt, Versions: d.CurrentVersion()}
		end := d.FinishedAt
		if end.IsZero() {
			end = now
		}
		if days != nil {
			row.WorkingDays = days(d.CreatedAt, end)
		}
		if rd := d.CurrentRound(); rd != nil && rd.Outcome == "" && rd.Stage < len(d.Stages) {
			row.Stage = messages.StageName(l, d.Stages[rd.Stage], lang)
		}
		var waiting []string
		for _, t := range d.OpenTasks() {
			waiting = append(waiting, r.Name(t.Assignee))
		}
		row.WaitingOn = strings.Join(waiting, ", ")
		for i := len(d.Decisions) - 1; i >= 0; i-- {
			if d.Decisions[i].Comment != "" {
				row.LastComment = d.Decisions[i].Comment
				break
			}
		}
		return row
	}, nil
}

// Rows builds the registry rows of docs in lang.
func Rows(docs []*flows.Document, r messages.Renderer, lang string, now time.Time, days WorkingDays) ([]Row, error) {
	row, err := Rower(r, lang, now, days)
	if err != nil {
		return nil, err
	}
	out := make([]Row, 0, len(docs))
	for _, d := range docs {
		out = append(out, row(d))
	}
	return out, nil
}

func headers(lang string) ([]string, error) {
	l, err := locales.For(lang)
	if err != nil {
		return nil, err
	}
	h := make([]string, len(columns))
	for i, c := range columns {
		h[i] = l.T("registry."+c, nil)
	}
	return h, nil
}

// widths are column widths in characters, chosen for the usual content.
var widths = []float64{16, 18, 40, 28, 16, 9, 22, 18, 17, 17, 12, 22, 28, 9, 40}

// WriteXLSX writes the registry: a frozen header row with filter buttons,
// dates as real Excel dates in loc, amounts as numbers. Rows are streamed
// (excelize's StreamWriter keeps them on disk past a bound), so a register
// of a hundred thousand documents costs no more memory than a small one.
func WriteXLSX(w io.Writer, src Source, lang string, loc *time.Location) error {
	hdr, err := headers(lang)
	if err != nil {
		return err
	}
	f := excelize.NewFile()
	defer f.Close()
	sheet := "Registry"
	if lang == "ru" {
		sheet = "Реестр"
	}
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return fmt.Errorf("name sheet: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Color: []string{"DDDDDD"}, Pattern: 1}})
	if err != nil {
		return err
	}
	dateFmt := "dd.mm.yyyy hh:mm"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt})
	if err != nil {
		return err
	}
	moneyFmt := "#,##0.00"
	moneyStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &moneyFmt})
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return fmt.Errorf("stream xlsx: %w", err)
	}
	for i := range hdr {
		if err := sw.SetColWidth(i+1, i+1, widths[i]); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("freeze header: %w", err)
	}
	head := make([]any, len(hdr))
	for i, h := range hdr {
		head[i] = excelize.Cell{StyleID: bold, Value: h}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return err
	}
	local := func(t time.Time) time.Time {
		// Excel dates have no zone: write the company's wall-clock time.
		lt := t.In(loc)
		return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, time.UTC)
	}
	n := 1
	err = src(func(row Row) error {
		n++
		vals := []any{row.Number, row.Type, row.Title, row.Counterparty, excelize.Cell{StyleID: moneyStyle}, row.Currency, row.Initiator,
			row.State, excelize.Cell{StyleID: dateStyle}, excelize.Cell{StyleID: dateStyle}, row.WorkingDays, row.Stage, row.WaitingOn,
			row.Versions, row.LastComment}
		if row.HasAmount {
			vals[4] = excelize.Cell{StyleID: moneyStyle, Value: row.Amount}
		}
		if !row.Started.IsZero() {
			vals[8] = excelize.Cell{StyleID: dateStyle, Value: local(row.Started)}
		}
		if !row.Finished.IsZero() {
			vals[9] = excelize.Cell{StyleID: dateStyle, Value: local(row.Finished)}
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		if err := sw.SetRow(cell, vals); err != nil {
			return fmt.Errorf("write row %d: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A table gives the header its filter buttons; it needs a row below.
	end, _ := excelize.CoordinatesToCellName(len(hdr), max(n, 2))
	noStripes := false
	if err := sw.AddTable(&excelize.Table{Range: "A1:" + end, Name: "Registry", ShowRowStripes: &noStripes}); err != nil {
		return fmt.Errorf("filter buttons: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("stream xlsx: %w", err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write xlsx: %w", err)
	}
	return nil
}

// neutralize keeps a text cell from being read as a formula by a
// spreadsheet (CSV injection, OWASP): a value that starts with =, +, -, @,
// a tab or a carriage return gets a leading apostrophe, which Excel and
// LibreOffice show as text and do not evaluate. Every text column goes
// through it — titles, counterparties and comments are typed by people, and
// names and stage names come from a configuration others may edit.
func neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CSVStyle is how a spreadsheet in a language reads CSV when a person
// double-clicks the file: Excel takes the list separator, the decimal
// mark and the date order from the system's regional settings, so a file
// made for Russian Excel uses ";" and "1500000,50" and 31.12.2026 — with
// "," Excel puts a whole row in one cell.
type CSVStyle struct {
	Comma   rune
	Decimal byte
	Date    string // time.Format layout Excel reads as a date and time
}

// CSVStyleFor is the style of the language's spreadsheets.
func CSVStyleFor(lang string) CSVStyle {
	if lang == "ru" {
		return CSVStyle{Comma: ';', Decimal: ',', Date: "02.01.2006 15:04:05"}
	}
	return CSVStyle{Comma: ',', Decimal: '.', Date: "2006-01-02 15:04:05"}
}

// utf8BOM tells Excel the file is UTF-8; without it Excel reads the bytes
// as the system's code page (cp1251 in Russia) and every Cyrillic letter
// comes out garbled.
const utf8BOM = "\ufeff"

// WriteCSV writes the same table as CSV for the language's spreadsheets
// (see CSVStyle): UTF-8 with a BOM, times in loc without a zone so that
// Excel reads them as dates; a row at a time.
func WriteCSV(w io.Writer, src Source, lang string, loc *time.Location) error {
	hdr, err := headers(lang)
	if err != nil {
		return err
	}
	style := CSVStyleFor(lang)
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = style.Comma
	if err := cw.Write(hdr); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format(style.Date)
	}
	err = src(func(row Row) error {
		amount := ""
		if row.HasAmount {
			amount = strconv.FormatFloat(row.Amount, 'f', 2, 64)
			if style.Decimal != '.' {
				amount = strings.Replace(amount, ".", string(style.Decimal), 1)
			}
		}
		typed := neutralize
		return cw.Write([]string{typed(row.Number), typed(row.Type), typed(row.Title), typed(row.Counterparty), amount, typed(row.Currency),
			typed(row.Initiator), typed(row.State), ts(row.Started), ts(row.Finished), strconv.Itoa(row.WorkingDays), typed(row.Stage),
			typed(row.WaitingOn), strconv.Itoa(row.Versions), typed(row.LastComment)})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
