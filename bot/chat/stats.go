package chat

import (
	"context"
	"sort"
	"strings"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/stats"
)

// statsWidth is the chart's width in pixels: twice a phone's 390, so
// that it stays sharp when the messenger shrinks it.
const statsWidth = 780

// onStats answers /stats [period] [type] with three headline numbers and
// one chart: where a decision takes longest. A viewer sees the company, a
// manager their people, anyone else their own tasks.
func (m *Messenger) onStats(ctx context.Context, p *flows.Person, lang, conv, arg string) {
	if m.Stats == nil {
		return
	}
	period, typ, ok := m.parseStatsArgs(arg)
	if !ok {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.stats.usage", map[string]any{"Types": m.typeIDs()}))
		return
	}
	from, to := period.Span(m.Clock.Now())
	r, scope, err := m.Stats.For(ctx, p.ID, stats.Query{From: from, To: to, Type: typ}, lang)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	headline := messages.StatsHeadline(r, scope, period, lang)
	if len(r.ByStage) == 0 {
		m.text(ctx, p.ID, conv, headline)
		return
	}
	png, err := stats.Render(messages.StageChart(r, lang), stats.PNG, statsWidth)
	if err != nil {
		m.log.Warn("draw the stats chart", "err", err)
		m.text(ctx, p.ID, conv, headline)
		return
	}
	m.text(ctx, p.ID, conv, headline)
	name := "stats_" + string(period) + ".png"
	if err := m.sendFile(ctx, p.ID, conv, memFile(name, png, m.t(lang, "stats.chart.stages", nil))); err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
	}
}

// parseStatsArgs reads "[period] [type]" in either order.
func (m *Messenger) parseStatsArgs(arg string) (stats.Period, string, bool) {
	period, typ := stats.Month, ""
	for _, f := range strings.Fields(arg) {
		if p, ok := stats.ParsePeriod(f); ok {
			period = p
			continue
		}
		if _, ok := m.Engine.Directory().Type(f); ok && typ == "" {
			typ = f
			continue
		}
		return "", "", false
	}
	return period, typ, true
}

func (m *Messenger) typeIDs() string {
	var ids []string
	for _, t := range m.Engine.Directory().Types {
		ids = append(ids, t.ID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}
