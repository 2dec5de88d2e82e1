package web

import (
	"html/template"
	"net/http"
	"strconv"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

type bulkView struct {
	Approved int
	Refused  []bulkLine
}

type bulkLine struct {
	Number, Title string
	Why           template.HTML
}

// bulkApprove approves the tasks ticked in the inbox, each its own
// decision, and says per task what came of it.
func (s *Server) bulkApprove(w http.ResponseWriter, r *http.Request, p *flows.Person, _ string) {
	lang := s.lang(p)
	var ids []int64
	for _, v := range r.Form["task"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	res, err := s.Engine.BulkApprove(r.Context(), flows.BulkApproveCmd{Key: formKey(r, p.ID), Actor: p.ID, TaskIDs: ids})
	if err != nil {
		s.fail(w, p, statusOf(err), err)
		return
	}
	var v bulkView
	for _, x := range res {
		if x.Err == nil {
			v.Approved++
			continue
		}
		line := bulkLine{Why: template.HTML(template.HTMLEscapeString(messages.Error(x.Err, lang)))}
		if d, err := s.Store.DocumentOfTask(r.Context(), x.TaskID); err == nil && s.Engine.MayRead(d, p.ID) {
			line.Number, line.Title = d.Number, d.Title
		}
		v.Refused = append(v.Refused, line)
	}
	s.render(w, http.StatusOK, "bulk.html", page{Person: p, Data: v, Title: mustLocalizer(lang).T("web.bulk.result", nil)})
}
