package messages

import (
	"fmt"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages/rich"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Amount formats hundredths with the reader's grouping and decimal marks.
func Amount(minor int64, currency, lang string) string {
	tag := language.English
	if lang == "ru" {
		tag = language.Russian
	}
	s := message.NewPrinter(tag).Sprintf("%.2f", float64(minor)/100)
	if currency != "" {
		// A currency's sign where the language has one («₽»), else its code.
		if l, err := locales.For(lang); err == nil {
			if sign := l.T("currency."+currency, nil); sign != "currency."+currency {
				currency = sign
			}
		}
		s += " " + currency
	}
	return s
}

func (r Renderer) names(ids []flows.PersonID) string {
	var out []string
	for _, id := range ids {
		out = append(out, r.Name(id))
	}
	return strings.Join(out, ", ")
}

// StageName is a stage's name in lang, or "Stage N".
func StageName(l *locales.Localizer, s flows.Stage, lang string) string {
	if n := Localized(s.Name, lang); n != "" {
		return n
	}
	return l.T("stage.unnamed", map[string]any{"N": s.Index + 1})
}

// ModeText says how many of a stage's approvers must approve ("any of").
func ModeText(l *locales.Localizer, s flows.Stage) string {
	if len(s.Approvers) < 2 {
		return ""
	}
	switch s.Mode.Kind {
	case "any":
		return l.T("mode.any", nil)
	case "quorum":
		return l.T("mode.quorum", map[string]any{"N": s.Mode.Quorum})
	}
	return l.T("mode.all", nil)
}

// Route lists a route's stages with their people, one per line.
func (r Renderer) Route(stages []flows.Stage, lang string) rich.Text {
	r = r.In(lang)
	l := mustLocalizer(lang)
	var lines []rich.Text
	passed := 0
	for _, s := range stages {
		data := map[string]any{"N": 0, "Name": StageName(l, s, lang), "People": r.names(s.Approvers),
			"Mode": ModeText(l, s), "Kind": "", "When": ""}
		if s.Skipped {
			data["When"] = StageCondition(s, lang)
		} else {
			passed++
			data["N"] = passed
		}
		if s.Kind != flows.KindApprove {
			data["Kind"] = l.T("task."+s.Kind, nil)
		}
		if s.Skipped {
			lines = append(lines, Rich(l, "route.skipped", data))
		} else {
			lines = append(lines, Rich(l, "route.stage", data))
		}
	}
	return rich.Join(lines, "\n")
}

func mustLocalizer(lang string) *locales.Localizer {
	l, err := locales.For(lang)
	if err != nil {
		// The catalogues are embedded and tested; failing to load them is
		// a build defect, not a runtime condition.
		panic(fmt.Sprintf("locales: %v", err))
	}
	return l
}

// stateSince is when the document entered its current state.
func stateSince(d *flows.Document) time.Time {
	r := d.CurrentRound()
	switch {
	case !d.FinishedAt.IsZero() && (d.IsFinal() || d.State == flows.StateWithdrawn):
		return d.FinishedAt
	case r == nil:
		return d.CreatedAt
	case d.State == flows.StateChangesRequested:
		return r.EndedAt
	case d.State == flows.StateSigning:
		if since := d.SigningSince(); !since.IsZero() {
			return since
		}
	}
	return r.StartedAt
}

// Card is a document's status: state and since when, the stage, whom it
// waits on and since when, and what is overdue.
func (r Renderer) Card(d *flows.Document, lang string, now time.Time) rich.Text {
	r = r.In(lang)
	l := mustLocalizer(lang)
	since := stateSince(d)
	days := int(now.Sub(since).Hours() / 24)
	lines := []rich.Text{
		Rich(l, "card.header", map[string]any{"Type": Localized(d.TypeName, lang), "Number": d.Number, "Title": d.Title}),
		Rich(l, "card.state", map[string]any{"State": State(d.State, lang), "Since": r.FormatTime(since), "Days": Days(l, days)}),
	}
	if d.Counterparty != "" {
		lines = append(lines, Rich(l, "card.counterparty", map[string]any{"Counterparty": d.Counterparty}))
	}
	if d.HasAmount {
		lines = append(lines, Rich(l, "card.amount", map[string]any{"Amount": Amount(d.AmountMinor, d.Currency, lang)}))
	}
	lines = append(lines, Rich(l, "card.initiator", map[string]any{"Name": r.Name(d.Initiator)}))
	if rd := d.CurrentRound(); rd != nil {
		lines = append(lines, Rich(l, "card.version", map[string]any{"Version": d.CurrentVersion(), "Round": rd.No}))
		if rd.Outcome == "" && rd.Stage < len(d.Stages) {
			s := d.Stages[rd.Stage]
			n, count := d.StagePosition(s.Index)
			lines = append(lines, Rich(l, "card.stage", map[string]any{"Stage": n, "StageCount": count, "StageName": StageName(l, s, lang)}))
		}
	}
	for _, t := range d.OpenTasks() {
		data := map[string]any{"Name": r.Name(t.Assignee), "Since": r.FormatTime(t.OpenedAt), "Due": r.FormatTime(t.Due), "For": r.Name(t.OnBehalfOf)}
		line := Rich(l, "card.waiting", data)
		if !t.Due.IsZero() && now.After(t.Due) {
			line = rich.Concat(line, rich.Plain(" "), Rich(l, "card.overdue", data))
		}
		lines = append(lines, line)
	}
	if open := d.OpenBlockingRemarks(); len(open) > 0 {
		lines = append(lines, Rich(l, "card.blocking", map[string]any{"Count": len(open)}))
	}
	return rich.Join(lines, "\n")
}

// History lists versions and decisions.
func (r Renderer) History(d *flows.Document, lang string) rich.Text {
	r = r.In(lang)
	l := mustLocalizer(lang)
	lines := []rich.Text{Rich(l, "history.header", map[string]any{"Number": d.Number, "Title": d.Title}), Rich(l, "history.versions", nil)}
	for _, v := range d.Versions {
		lines = append(lines, Rich(l, "history.version", map[string]any{"No": v.No, "File": v.FileName, "Size": Size(v.Size, lang),
			"SHA": v.SHA256, "Name": r.Name(v.UploadedBy), "At": r.FormatTime(v.At), "Comment": v.Comment}))
	}
	lines = append(lines, Rich(l, "history.decisions", nil))
	if len(d.Decisions) == 0 {
		lines = append(lines, Rich(l, "history.no_decisions", nil))
	}
	for _, dc := range d.Decisions {
		stage, _ := d.StagePosition(dc.Stage)
		data := map[string]any{"At": r.FormatTime(dc.At), "Round": dc.Round, "Stage": stage, "Name": r.Name(dc.Actor),
			"For": r.Name(dc.For), "Decision": DecisionOn(l, d, dc, r.Name), "Comment": dc.Comment, "Version": dc.Version}
		if dc.Timeout {
			data["Name"], data["For"] = r.Name(dc.For), ""
		}
		lines = append(lines, Rich(l, "history.decision", data))
	}
	return rich.Join(lines, "\n")
}

// ListLine is one document in a table of documents: number, short title,
// state, whom it waits on, days in that state, an overdue mark.
func (r Renderer) ListLine(d *flows.Document, lang string, now time.Time) rich.Text {
	r = r.In(lang)
	l := mustLocalizer(lang)
	title := []rune(d.Title)
	if len(title) > 32 {
		title = append(title[:31], '…')
	}
	var waiting []string
	overdue := false
	for _, t := range d.OpenTasks() {
		waiting = append(waiting, r.Name(t.Assignee))
		overdue = overdue || (!t.Due.IsZero() && now.After(t.Due))
	}
	days := int(now.Sub(stateSince(d)).Hours() / 24)
	return Rich(l, "list.line", map[string]any{"Number": d.Number, "Title": string(title), "State": State(d.State, lang),
		"Waiting": strings.Join(waiting, ", "), "Days": Days(l, days), "Overdue": overdue})
}

// Days is how long something has been so: "сегодня" rather than "0 дней".
func Days(l *locales.Localizer, days int) string {
	if days <= 0 {
		return l.T("days.today", nil)
	}
	return l.Plural("days", days)
}

// Size shows a file size the way people say it: bytes, then KB and MB
// with one decimal where it matters ("16,2 КБ", "20 MB").
func Size(n int64, lang string) string {
	l := mustLocalizer(lang)
	if n < 1024 {
		return l.Plural("bytes", int(n))
	}
	unit, v := "size.kb", float64(n)/1024
	if v >= 1024 {
		unit, v = "size.mb", v/1024
	}
	tag := language.English
	if lang == "ru" {
		tag = language.Russian
	}
	num := message.NewPrinter(tag).Sprintf("%.1f", v)
	if v >= 100 || v == float64(int64(v)) {
		num = message.NewPrinter(tag).Sprintf("%.0f", v)
	}
	return l.T(unit, map[string]any{"N": num})
}

// Decision names what someone did, in words: "done" on a signature task
// is a signature.
func Decision(l *locales.Localizer, action, taskKind string) string {
	if action == flows.ActionDone && taskKind == flows.KindSign {
		return l.T("decision.signed", nil)
	}
	return l.T("decision."+action, nil)
}

// DecisionOn is Decision for a recorded decision of d; name names the
// person a change of the route concerns.
func DecisionOn(l *locales.Localizer, d *flows.Document, dc flows.Decision, name func(flows.PersonID) string) string {
	if flows.IsRouteChange(dc.Kind) {
		return l.T("decision."+dc.Kind, map[string]any{"Person": name(dc.Person)})
	}
	kind := ""
	if dc.TaskID != 0 && dc.Stage < len(d.Stages) {
		kind = d.Stages[dc.Stage].Kind
	}
	s := Decision(l, dc.Kind, kind)
	if dc.Timeout {
		// Nobody decided: the stage's rule did, when the deadline passed.
		return l.T("decision.timeout."+dc.Kind, nil)
	}
	if dc.Bulk {
		s += " " + l.T("decision.bulk", nil)
	}
	return s
}
