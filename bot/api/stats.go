package api

import (
	"net/http"
	"time"

	"github.com/viza-app/viza/stats"
)

// statsView is GET /stats's answer: the period, then the figures.
type statsView struct {
	Period string    `json:"period"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Type   string    `json:"type,omitempty"`
	stats.Report
}

// stats answers where approvals stall, everyone's figures, for the period
// and the type asked (a key limited to types must name one of them).
func (s *Server) stats(w http.ResponseWriter, r *http.Request, c caller) {
	if s.Stats == nil {
		s.problem(w, r, http.StatusNotFound, "not_found")
		return
	}
	q := r.URL.Query()
	period, ok := stats.ParsePeriod(q.Get("period"))
	if !ok {
		s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"period", nil})
		return
	}
	typ := q.Get("type")
	if (typ == "" && len(c.key.Types) > 0) || (typ != "" && !c.mayType(typ)) {
		s.problem(w, r, http.StatusForbidden, "forbidden_type")
		return
	}
	from, to := period.Span(s.Clock.Now())
	rep, err := s.Stats.All(r.Context(), stats.Query{From: from, To: to, Type: typ}, "ru")
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statsView{Period: string(period), From: from.UTC(), To: to.UTC(), Type: typ, Report: rep})
}
