package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/stats"
)

// statsWidth is the drawn width of a chart on the page, a phone's: CSS
// scales it to the column, type and all.
const statsWidth = 390

type statsView struct {
	Period   string
	Periods  []stats.Period
	TypeID   string
	Types    []*flows.DocType
	Headline template.HTML
	Charts   []chartView
	Tables   []messages.StatsTable
	Oldest   []string
	// Links are each table's downloads, with the filters in force.
	Links map[string]downloads
}

type downloads struct{ CSV, XLSX template.URL }

type chartView struct {
	Title string
	SVG   template.HTML
	Table string // the table behind it
}

// statsPage is /stats?period=&type=: the headline, the charts as inline
// SVG with the table behind each, and the tables as CSV or XLSX. No
// script. The reader sees what their scope allows (stats.ScopeOf).
func (s *Server) statsPage(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	lang := s.lang(p)
	v, rep, err := s.statsReport(r, p, lang)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	for _, c := range []struct {
		bars  stats.Bars
		table string
	}{{messages.StageChart(rep, lang), "stages"}, {messages.WaitingChart(rep, lang), "waiting"}} {
		if len(c.bars.Values) == 0 {
			continue
		}
		// The figure's caption says what the chart shows; drawn again
		// inside, it would be read twice.
		title := c.bars.Title
		c.bars.Title = ""
		svg, err := stats.Render(c.bars, stats.SVG, statsWidth)
		if err != nil {
			s.fail(w, p, http.StatusInternalServerError, err)
			return
		}
		// The library escapes every text it draws (see TestChartEscapes).
		v.Charts = append(v.Charts, chartView{Title: title, SVG: template.HTML(svg), Table: c.table})
	}
	rd := messages.Renderer{Dir: s.Engine.Directory()}
	names := stats.StageNamer(s.Engine.Directory(), lang)
	for _, o := range rep.Oldest {
		number := fmt.Sprint(o.DocID)
		if d, err := s.Store.Document(r.Context(), o.DocID); err == nil {
			number = d.Number
		}
		v.Oldest = append(v.Oldest, mustLocalizer(lang).T("web.stats.oldest_line", map[string]any{"Number": number,
			"Stage": names(o.Type, o.Stage), "Name": rd.Name(o.Actor), "Hours": messages.Decimal(o.Hours, lang)}))
	}
	s.render(w, http.StatusOK, "stats.html", page{Person: p, Data: v})
}

// statsReport reads the filters and computes the report they ask for.
func (s *Server) statsReport(r *http.Request, p *flows.Person, lang string) (statsView, stats.Report, error) {
	if s.Stats == nil {
		return statsView{}, stats.Report{}, errNotFound
	}
	q := r.URL.Query()
	period, ok := stats.ParsePeriod(q.Get("period"))
	if !ok {
		return statsView{}, stats.Report{}, flows.Errorf(flows.KindInvalid, "bad_period", "%q", q.Get("period"))
	}
	v := statsView{Period: string(period), Periods: stats.Periods, TypeID: q.Get("type"), Types: s.Engine.Directory().Types}
	from, to := period.Span(s.Clock.Now())
	rep, scope, err := s.Stats.For(r.Context(), p.ID, stats.Query{From: from, To: to, Type: v.TypeID}, lang)
	if err != nil {
		return v, rep, err
	}
	v.Headline = richHTML(messages.StatsHeadline(rep, scope, period, lang))
	v.Tables = messages.StatsTables(rep, lang, s.Engine.Directory())
	query := url.Values{"period": {string(period)}}
	if v.TypeID != "" {
		query.Set("type", v.TypeID)
	}
	v.Links = map[string]downloads{}
	for _, t := range v.Tables {
		base := "/stats/" + t.Name
		v.Links[t.Name] = downloads{CSV: template.URL(base + ".csv?" + query.Encode()), XLSX: template.URL(base + ".xlsx?" + query.Encode())}
	}
	return v, rep, nil
}

// statsDownload is /stats/{table}.csv or .xlsx: one table of the page, as
// the reader may see it.
func (s *Server) statsDownload(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	lang := s.lang(p)
	v, _, err := s.statsReport(r, p, lang)
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	table, format, _ := strings.Cut(r.PathValue("file"), ".")
	i := slices.IndexFunc(v.Tables, func(t messages.StatsTable) bool { return t.Name == table })
	if i < 0 || (format != "csv" && format != "xlsx") {
		s.fail(w, p, http.StatusNotFound, errNotFound)
		return
	}
	t := v.Tables[i]
	var buf bytes.Buffer
	switch format {
	case "csv":
		buf.WriteString("\ufeff") // Excel opens UTF-8 CSV as such only with the mark
		cw := csv.NewWriter(&buf)
		cw.Write(t.Header)
		cw.WriteAll(t.Rows)
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case "xlsx":
		if err := writeXLSX(&buf, t); err != nil {
			s.fail(w, p, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "stats_"+t.Name+"_"+v.Period+"."+format))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(buf.Bytes())
}

func writeXLSX(buf *bytes.Buffer, t messages.StatsTable) error {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	for i, row := range append([][]string{t.Header}, t.Rows...) {
		cells := make([]any, len(row))
		for j, c := range row {
			cells[j] = c
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			return err
		}
		if err := f.SetSheetRow(sheet, cell, &cells); err != nil {
			return fmt.Errorf("write row %d: %w", i+1, err)
		}
	}
	return f.Write(buf)
}
