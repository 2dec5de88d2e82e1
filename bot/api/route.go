package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/viza-app/viza/flows"
)

// routeChange is the body of the approvers calls: the stage as the route
// numbers it (1-based, as in Started.route[].index), the person, and why.
type routeChange struct {
	Stage  int    `json:"stage"`
	Person string `json:"person"`
	Reason string `json:"reason"`
}

func (s *Server) addApprover(w http.ResponseWriter, r *http.Request, c caller) {
	s.changeRoute(w, r, c, false)
}

func (s *Server) removeApprover(w http.ResponseWriter, r *http.Request, c caller) {
	s.changeRoute(w, r, c, true)
}

// changeRoute adds an approver to a stage or takes one off, in the name
// of the document's initiator, as the other calls that change a document
// do; the audit log names the integration.
func (s *Server) changeRoute(w http.ResponseWriter, r *http.Request, c caller, remove bool) {
	key, ok := s.idempotency(w, r, c)
	if !ok {
		return
	}
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		s.problem(w, r, http.StatusRequestEntityTooLarge, "too_large")
		return
	}
	var body routeChange
	if err := json.Unmarshal(bytes.TrimSpace(raw), &body); err != nil || body.Stage < 1 || body.Person == "" {
		s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"body", nil})
		return
	}
	op := "add"
	if remove {
		op = "remove"
	}
	cmd := flows.RouteCmd{Key: key, Actor: d.Initiator, DocID: d.ID, Stage: body.Stage - 1, Person: flows.PersonID(body.Person),
		Remove: remove, Reason: body.Reason, Origin: flows.Origin{Via: c.key.Name, Request: fingerprint(r,
			url.Values{"op": {op}, "stage": {strconv.Itoa(body.Stage)}, "person": {body.Person}, "reason": {body.Reason}}, nil)}}
	out, err := s.Engine.ChangeRoute(r.Context(), cmd)
	s.changed(w, r, http.StatusOK, out, err, cmd.Request)
}
