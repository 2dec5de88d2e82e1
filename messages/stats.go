package messages

import (
	"fmt"
	"math"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/stats"
)

// Decimal writes a number the reader's way, with at most one decimal
// ("3,5" in Russian, "3.5" in English; "12" without a fraction).
func Decimal(v float64, lang string) string {
	tag := language.English
	if lang == "ru" {
		tag = language.Russian
	}
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return message.NewPrinter(tag).Sprintf("%.0f", v)
	}
	return message.NewPrinter(tag).Sprintf("%.1f", v)
}

// Percent writes a share as a whole percentage ("15 %" / "15%").
func Percent(share float64, lang string) string {
	return mustLocalizer(lang).T("stats.percent", map[string]any{"N": Decimal(math.Round(share*100), lang)})
}

// StatsHeadline is the three numbers a chat answer and the digest lead
// with: how long a decision takes, how many come late, how many documents
// come back.
func StatsHeadline(r stats.Report, scope stats.Scope, period stats.Period, lang string) rich.Text {
	l := mustLocalizer(lang)
	if r.Decision.Count == 0 && r.Rework.Docs == 0 {
		return Rich(l, "stats.empty", map[string]any{"Period": l.T("stats.period."+string(period), nil),
			"Scope": l.T("stats.scope."+string(scope), nil)})
	}
	return Rich(l, "stats.headline", map[string]any{
		"Period": l.T("stats.period."+string(period), nil), "Scope": l.T("stats.scope."+string(scope), nil),
		"Count": r.Decision.Count, "Median": Decimal(r.Decision.Median, lang), "P90": Decimal(r.Decision.P90, lang),
		"Late": Percent(r.Decision.LateShare(), lang), "Docs": r.Rework.Docs, "Rejected": Percent(r.Rework.RejectedShare, lang),
		"Rounds": Decimal(r.Rework.Rounds, lang),
	})
}

// StageChart is the chart of where documents wait: the median working
// hours to a decision at each stage, slowest first.
func StageChart(r stats.Report, lang string) stats.Bars {
	l := mustLocalizer(lang)
	b := stats.Bars{Title: l.T("stats.chart.stages", nil), Unit: l.T("stats.unit.hours", nil),
		Format: func(v float64) string { return Decimal(v, lang) }}
	for _, g := range r.ByStage {
		b.Labels, b.Values = append(b.Labels, g.Label), append(b.Values, g.Median)
	}
	return b
}

// WaitingChart is the chart of where documents wait now: the open tasks
// by stage, most first.
func WaitingChart(r stats.Report, lang string) stats.Bars {
	l := mustLocalizer(lang)
	// A count needs no unit: the title says what is counted.
	b := stats.Bars{Title: l.T("stats.chart.waiting", nil),
		Format: func(v float64) string { return Decimal(v, lang) }}
	for _, c := range r.Waiting {
		b.Labels, b.Values = append(b.Labels, c.Label), append(b.Values, float64(c.N))
	}
	return b
}

// StatsTable is the table behind a chart, as the page shows it and its
// CSV and XLSX give it.
type StatsTable struct {
	Name   string // stages, people, rework, cycle, waiting
	Title  string
	Header []string
	Rows   [][]string
}

// StatsTables are the report's tables in lang, numbers as the reader
// writes them.
func StatsTables(r stats.Report, lang string, dir *flows.Directory) []StatsTable {
	l := mustLocalizer(lang)
	rd := Renderer{Dir: dir}
	typeName := func(id string) string {
		if t, ok := dir.Type(id); ok {
			return Localized(t.Name, lang)
		}
		return id
	}
	h := func(keys ...string) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = l.T("stats.col."+k, nil)
		}
		return out
	}
	num := func(v float64) string { return Decimal(v, lang) }
	spread := func(s stats.Spread) []string {
		return []string{fmt.Sprint(s.Count), num(s.Median), num(s.P90), Percent(s.LateShare(), lang), num(s.RemindersEach()),
			Percent(s.EscalatedShare(), lang)}
	}
	stages := StatsTable{Name: "stages", Title: l.T("stats.table.stages", nil), Header: h("stage", "count", "median", "p90", "late",
		"reminders", "escalated")}
	for _, g := range r.ByStage {
		stages.Rows = append(stages.Rows, append([]string{g.Label}, spread(g.Spread)...))
	}
	people := StatsTable{Name: "people", Title: l.T("stats.table.people", nil), Header: h("person", "for", "count", "median", "p90", "late",
		"reminders", "escalated")}
	for _, g := range r.ByPerson {
		var for_ []string
		for _, p := range g.For {
			for_ = append(for_, rd.Name(p))
		}
		people.Rows = append(people.Rows, append([]string{g.Label, strings.Join(for_, ", ")}, spread(g.Spread)...))
	}
	rework := StatsTable{Name: "rework", Title: l.T("stats.table.rework", nil), Header: h("what", "value")}
	rework.Rows = append(rework.Rows,
		[]string{l.T("stats.row.documents", nil), fmt.Sprint(r.Rework.Docs)},
		[]string{l.T("stats.row.rejected_share", nil), Percent(r.Rework.RejectedShare, lang)},
		[]string{l.T("stats.row.rounds", nil), num(r.Rework.Rounds)})
	for _, c := range r.Rework.ByStage {
		rework.Rows = append(rework.Rows, []string{l.T("stats.row.rejections_at", map[string]any{"Name": c.Label}), fmt.Sprint(c.N)})
	}
	for _, c := range r.Rework.ByPerson {
		rework.Rows = append(rework.Rows, []string{l.T("stats.row.rejections_by", map[string]any{"Name": c.Label}), fmt.Sprint(c.N)})
	}
	cycle := StatsTable{Name: "cycle", Title: l.T("stats.table.cycle", nil), Header: h("type", "month", "approved_count", "approved_median", "approved_p90",
		"done_count", "done_median", "done_p90")}
	for _, c := range r.Cycle {
		cycle.Rows = append(cycle.Rows, []string{typeName(c.Type), c.Month, fmt.Sprint(c.Approved.Count), num(c.Approved.Median),
			num(c.Approved.P90), fmt.Sprint(c.Done.Count), num(c.Done.Median), num(c.Done.P90)})
	}
	waiting := StatsTable{Name: "waiting", Title: l.T("stats.table.waiting", nil), Header: h("stage", "open")}
	for _, c := range r.Waiting {
		waiting.Rows = append(waiting.Rows, []string{c.Label, fmt.Sprint(c.N)})
	}
	for _, b := range r.Stuck {
		waiting.Rows = append(waiting.Rows, []string{l.T("stats.row.waited_"+strings.NewReplacer("-", "_", "+", "_more").Replace(b.Key), nil),
			fmt.Sprint(b.N)})
	}
	return []StatsTable{stages, people, rework, cycle, waiting}
}
