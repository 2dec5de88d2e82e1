package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/viza-app/viza/flows"
)

// Placement checks what a portal posted to the page it opens inside
// itself (a Bitrix24 application's placement) and names the person it
// vouches for and the page to show: ErrNotFromPlatform for a visit the
// portal does not vouch for, a flows error with code unknown_person for a
// portal user the directory does not know.
type Placement func(ctx context.Context, form url.Values) (p flows.PersonID, next string, err error)

// placementPage is the handler the portal posts to when a person opens
// Viza in its menu or on a company's card: it starts an ordinary session
// and shows the page, inside the portal's frame.
func (s *Server) placementPage(w http.ResponseWriter, r *http.Request) {
	if s.Placement == nil {
		s.fail(w, nil, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "not_found", "placements off"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.fail(w, nil, http.StatusBadRequest, flows.Errorf(flows.KindInvalid, "bad_request", "placement form: %v", err))
		return
	}
	p, next, err := s.Placement(r.Context(), r.PostForm)
	if err != nil {
		if !errors.Is(err, ErrNotFromPlatform) && flows.ErrorCode(err) != "unknown_person" {
			err = flows.Errorf(flows.KindInternal, "internal", "placement sign-in: %v", err)
		}
		s.fail(w, nil, statusOf(err), err)
		return
	}
	if err := s.startFramedSession(w, r, p); err != nil {
		s.fail(w, nil, http.StatusInternalServerError, err)
		return
	}
	if !localPath(next) {
		next = "/inbox"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// startFramedSession is startSession for pages shown in another site's
// frame: the browser sends a cookie there only when it is SameSite=None
// (and so Secure), kept apart for that site (Partitioned, CHIPS). Over
// plain HTTP no browser keeps such a cookie; the ordinary one is tried.
func (s *Server) startFramedSession(w http.ResponseWriter, r *http.Request, p flows.PersonID) error {
	if !strings.HasPrefix(s.PublicURL, "https://") {
		return s.startSession(w, r, p)
	}
	return s.startSessionWith(w, r, p, func(c *http.Cookie) {
		c.SameSite, c.Secure, c.Partitioned = http.SameSiteNoneMode, true, true
	})
}

// frameAncestors is the CSP directive saying who may show the pages in a
// frame: nobody, unless a portal's placements are on.
func (s *Server) frameAncestors() string {
	if len(s.FrameAncestors) == 0 {
		return "frame-ancestors 'none'"
	}
	return "frame-ancestors 'self' " + strings.Join(s.FrameAncestors, " ")
}
