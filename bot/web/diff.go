package web

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
)

// diffWait bounds how long the page waits for versions' texts; past it
// the page says the comparison is being prepared, with a link to look
// again.
const diffWait = 10 * time.Second

type diffView struct {
	Doc      *flows.Document
	From, To int
	Versions []flows.Version // the ones a comparison can take: no signed scans
	Headline template.HTML
	Notes    []template.HTML
	Changes  []compare.Change
	Pending  bool
}

// diffPage is /doc/{number}/diff?from=1&to=2: every change between two
// versions, with the words around it, the old struck out and the new
// underlined — as <del> and <ins>, with their meaning spelled out for
// screen readers — and a picker of the versions. No script.
func (s *Server) diffPage(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	d, err := s.visible(r, p)
	if err == nil && s.Compare == nil {
		err = flows.Errorf(flows.KindNotFound, "not_found", "comparison is off")
	}
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	lang := s.lang(p)
	v := diffView{Doc: d}
	for _, ver := range d.Versions {
		if !ver.Scan {
			v.Versions = append(v.Versions, ver)
			v.To = max(v.To, ver.No)
		}
	}
	if to, err := strconv.Atoi(r.URL.Query().Get("to")); err == nil {
		v.To = to
	}
	v.From = compare.Previous(d, v.To)
	if from, err := strconv.Atoi(r.URL.Query().Get("from")); err == nil {
		v.From = from
	}
	if v.From > v.To {
		v.From, v.To = v.To, v.From
	}
	if v.From == 0 || v.From == v.To {
		v.Headline = richHTML(messages.Say(lang, "diff.one_version", map[string]any{"Number": d.Number}))
		s.render(w, http.StatusOK, "diff.html", page{Person: p, Data: v})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), diffWait)
	defer cancel()
	c, err := s.Compare.Between(ctx, d, v.From, v.To, compare.Options{Context: 12, Bridge: 2})
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	v.Headline = richHTML(withoutIcon(messages.ChangesHeadline(c, d.Number, lang, "/")))
	for _, n := range messages.ChangesNotes(c, lang) {
		v.Notes = append(v.Notes, richHTML(n))
	}
	v.Changes, v.Pending = c.Changes, c.Status == compare.StatusPending
	s.render(w, http.StatusOK, "diff.html", page{Person: p, Data: v})
}

// withoutIcon drops the emoji a chat line begins with: a page heading
// needs none, and a screen reader would read its name first.
func withoutIcon(t rich.Text) rich.Text {
	if len(t.Spans) > 0 {
		t.Spans = slices.Clone(t.Spans)
		t.Spans[0].Text = strings.TrimPrefix(t.Spans[0].Text, "🔁 ")
	}
	return t
}
