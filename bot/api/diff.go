package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
)

// diffWait bounds how long a request waits for versions' texts; past it
// the answer says "pending" and the caller asks again.
const diffWait = 20 * time.Second

// diff answers GET …/versions/{n}/diff?from=M: what version n changed
// against version M, by default the version before it.
func (s *Server) diff(w http.ResponseWriter, r *http.Request, c caller) {
	if s.Compare == nil {
		s.problem(w, r, http.StatusNotFound, "not_found")
		return
	}
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	to, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || to < 1 {
		s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"version", nil})
		return
	}
	from := compare.Previous(d, to)
	if q := r.URL.Query().Get("from"); q != "" {
		if from, err = strconv.Atoi(q); err != nil || from < 1 || from == to {
			s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"version", nil})
			return
		}
	}
	if _, ok := d.Version(to); !ok || from == 0 {
		s.problem(w, r, http.StatusNotFound, "not_found")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), diffWait)
	defer cancel()
	cmp, err := s.Compare.Between(ctx, d, from, to, compare.DefaultOptions)
	if flows.ErrorKind(err) == flows.KindNotFound {
		s.problem(w, r, http.StatusNotFound, "not_found")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cmp)
}
