package messages

import (
	"math"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

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
	b := stats.Bars{Title: l.T("stats.chart.waiting", nil), Unit: l.T("stats.unit.tasks", nil),
		Format: func(v float64) string { return Decimal(v, lang) }}
	for _, c := range r.Waiting {
		b.Labels, b.Values = append(b.Labels, c.Label), append(b.Values, float64(c.N))
	}
	return b
}
