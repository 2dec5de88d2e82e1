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

// Rows builds the registry rows in lang.
func Rows(docs []*flows.Document, r messages.Renderer, lang string, now time.Time, days WorkingDays) ([]Row, error) {
	l, err := locales.For(lang)
	if err != nil {
		return nil, err
	}
	var out []Row
	for _, d := range docs {
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
		out = append(out, row)
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

// WriteXLSX writes the registry: a frozen header row with an autofilter,
// dates as real Excel dates in loc, amounts as numbers.
func WriteXLSX(w io.Writer, rows []Row, lang string, loc *time.Location) error {
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
	for i, h := range hdr {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		if err := f.SetCellStr(sheet, cell, h); err != nil {
			return err
		}
		col, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(sheet, col, col, widths[i]); err != nil {
			return err
		}
	}
	last, _ := excelize.CoordinatesToCellName(len(hdr), 1)
	if err := f.SetCellStyle(sheet, "A1", last, bold); err != nil {
		return err
	}
	local := func(t time.Time) time.Time {
		// Excel dates have no zone: write the company's wall-clock time.
		lt := t.In(loc)
		return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, time.UTC)
	}
	for r, row := range rows {
		n := r + 2
		set := func(col int, v any) error {
			cell, _ := excelize.CoordinatesToCellName(col, n)
			return f.SetCellValue(sheet, cell, v)
		}
		vals := []any{row.Number, row.Type, row.Title, row.Counterparty, nil, row.Currency, row.Initiator, row.State, nil, nil,
			row.WorkingDays, row.Stage, row.WaitingOn, row.Versions, row.LastComment}
		if row.HasAmount {
			vals[4] = row.Amount
		}
		if !row.Started.IsZero() {
			vals[8] = local(row.Started)
		}
		if !row.Finished.IsZero() {
			vals[9] = local(row.Finished)
		}
		for i, v := range vals {
			if v == nil {
				continue
			}
			if err := set(i+1, v); err != nil {
				return fmt.Errorf("write row %d: %w", n, err)
			}
		}
		e, _ := excelize.CoordinatesToCellName(5, n)
		if err := f.SetCellStyle(sheet, e, e, moneyStyle); err != nil {
			return err
		}
		s1, _ := excelize.CoordinatesToCellName(9, n)
		s2, _ := excelize.CoordinatesToCellName(10, n)
		if err := f.SetCellStyle(sheet, s1, s2, dateStyle); err != nil {
			return err
		}
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, Split: false, XSplit: 0, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("freeze header: %w", err)
	}
	end, _ := excelize.CoordinatesToCellName(len(hdr), max(len(rows)+1, 2))
	if err := f.AutoFilter(sheet, "A1:"+end, nil); err != nil {
		return fmt.Errorf("autofilter: %w", err)
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

// WriteCSV writes the same table as CSV (UTF-8, dates as ISO 8601 in loc).
func WriteCSV(w io.Writer, rows []Row, lang string, loc *time.Location) error {
	hdr, err := headers(lang)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(hdr); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format("2006-01-02T15:04:05-07:00")
	}
	for _, row := range rows {
		amount := ""
		if row.HasAmount {
			amount = strconv.FormatFloat(row.Amount, 'f', 2, 64)
		}
		typed := neutralize
		if err := cw.Write([]string{typed(row.Number), typed(row.Type), typed(row.Title), typed(row.Counterparty), amount, typed(row.Currency),
			typed(row.Initiator), typed(row.State), ts(row.Started), ts(row.Finished), strconv.Itoa(row.WorkingDays), typed(row.Stage),
			typed(row.WaitingOn), strconv.Itoa(row.Versions), typed(row.LastComment)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
