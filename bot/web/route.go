package web

import (
	"net/http"
	"strconv"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// routeView is the document page's form for changing approvers in
// flight: the stages that may still change, who on each may be taken off
// (and why not, for the others), and whom the directory offers to add.
type routeView struct {
	Stages []routeStageView
	People []personOption
}

type routeStageView struct {
	Index     int
	Label     string
	Approvers []routeApprover
}

type routeApprover struct {
	ID, Name string
	Why      string // why they may not be taken off; "" when they may
}

type personOption struct{ ID, Name string }

// routeForm builds the form for a person who may change the route; nil
// for anyone else.
func (s *Server) routeForm(d *flows.Document, p flows.PersonID, lang string) *routeView {
	dir := s.Engine.Directory()
	if !flows.MayChangeRoute(dir, d, p) {
		return nil
	}
	rd := messages.Renderer{Dir: dir}
	l := mustLocalizer(lang)
	v := &routeView{}
	for _, i := range flows.ChangeableStages(d) {
		st := d.Stages[i]
		n, _ := d.StagePosition(i)
		sv := routeStageView{Index: i, Label: l.T("web.route.stage_option", map[string]any{"N": n, "Name": messages.StageName(l, st, lang)})}
		for _, a := range st.Approvers {
			ra := routeApprover{ID: string(a), Name: rd.Name(a)}
			if why := flows.Removable(d, i, a); why != "" {
				ra.Why = messages.Error(flows.Errorf(flows.KindConflict, why, ""), lang)
			}
			sv.Approvers = append(sv.Approvers, ra)
		}
		v.Stages = append(v.Stages, sv)
	}
	if len(v.Stages) == 0 {
		return nil
	}
	for _, person := range dir.People {
		v.People = append(v.People, personOption{ID: string(person.ID), Name: person.Name})
	}
	return v
}

// docRoute adds an approver to a stage or takes one off, as the document
// page's route form asks.
func (s *Server) docRoute(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	s.docCommand(w, r, p, func(d *flows.Document) (string, error) {
		stage, err := strconv.Atoi(r.FormValue("stage"))
		if err != nil {
			return "", flows.Errorf(flows.KindInvalid, "bad_stage", "stage %q", r.FormValue("stage"))
		}
		action := r.FormValue("action")
		if action != "add" && action != "remove" {
			return "", flows.Errorf(flows.KindInvalid, "unknown_action", "%q", action)
		}
		_, err = s.Engine.ChangeRoute(r.Context(), flows.RouteCmd{Key: formKey(r, p.ID), Actor: p.ID, DocID: d.ID, Stage: stage,
			Person: flows.PersonID(r.FormValue("person")), Remove: action == "remove", Reason: r.FormValue("reason")})
		return "route", err
	})
}
