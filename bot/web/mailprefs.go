package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/viza-app/viza/flows"
)

// A person may stop the mails that only tell (an approval, a decision, a
// remark) and keep the ones that ask for their decision: one click in the
// mail client (List-Unsubscribe, RFC 8058), or the settings page. The
// wish is kept in the database (channel "email", QuietKey).

const (
	mailChannel = "email"
	quietPrefix = "quiet:" // bot/email.QuietKey
)

// UnsubscribeURL is the one-click address of a person's informational
// mail: the person's id with its HMAC under the link key, so that no one
// can stop someone else's mail.
func (s *Server) UnsubscribeURL(p flows.PersonID) string {
	return strings.TrimRight(s.PublicURL, "/") + "/mail/unsubscribe/" + base64.RawURLEncoding.EncodeToString([]byte(p)) + "." + s.unsubscribeMAC(p)
}

func (s *Server) unsubscribeMAC(p flows.PersonID) string {
	m := hmac.New(sha256.New, s.LinkKey)
	m.Write([]byte("mail-unsubscribe:" + string(p)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// unsubscriber reads a token back: the person, if the MAC holds.
func (s *Server) unsubscriber(token string) (*flows.Person, bool) {
	id, mac, ok := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if !ok || err != nil || s.LinkKey == nil || !hmac.Equal([]byte(mac), []byte(s.unsubscribeMAC(flows.PersonID(raw)))) {
		return nil, false
	}
	return s.Engine.Directory().Person(flows.PersonID(raw))
}

func (s *Server) setQuiet(ctx context.Context, p flows.PersonID, quiet bool) error {
	v := ""
	if quiet {
		v = "1"
	}
	return s.Store.StatePut(ctx, mailChannel, quietPrefix+string(p), v)
}

func (s *Server) quiet(ctx context.Context, p flows.PersonID) bool {
	v, _, err := s.Store.StateGet(ctx, mailChannel, quietPrefix+string(p))
	return err == nil && v != ""
}

type mailPrefsView struct {
	Quiet bool
	// Token is set on the page reached by the mail's link (no session).
	Token string
}

// unsubscribe is the mail's link: a POST (the mail client's one click,
// or the page's button) stops the informational mail at once; a GET
// shows the page with the button, so that a link scanner opening it
// changes nothing.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	p, ok := s.unsubscriber(r.PathValue("token"))
	if !ok {
		s.fail(w, nil, http.StatusForbidden, flows.Errorf(flows.KindForbidden, "link_expired", "unsubscribe link"))
		return
	}
	flash, ok := s.applyMailChoice(w, r, p)
	if !ok {
		return
	}
	s.render(w, http.StatusOK, "settings.html", page{Person: p, Guest: true, Flash: flash,
		Title: mustLocalizer(s.lang(p)).T("web.settings", nil), Data: mailPrefsView{Quiet: s.quiet(r.Context(), p.ID), Token: r.PathValue("token")}})
}

// settings is the signed-in person's page of what mail they get.
func (s *Server) settings(w http.ResponseWriter, r *http.Request, p *flows.Person, scope string) {
	flash, ok := s.applyMailChoice(w, r, p)
	if !ok {
		return
	}
	s.render(w, http.StatusOK, "settings.html", page{Person: p, CSRF: s.csrf(scope), Flash: flash,
		Title: mustLocalizer(s.lang(p)).T("web.settings", nil), Data: mailPrefsView{Quiet: s.quiet(r.Context(), p.ID)}})
}

// applyMailChoice keeps what a POST chose ("all", or anything else —
// a mail client's one click says nothing — for requests only) and returns
// the notice to show; false when it answered with an error.
func (s *Server) applyMailChoice(w http.ResponseWriter, r *http.Request, p *flows.Person) (string, bool) {
	if r.Method != http.MethodPost {
		return "", true
	}
	quiet := r.FormValue("mail") != "all"
	if err := s.setQuiet(r.Context(), p.ID, quiet); err != nil {
		s.fail(w, p, http.StatusInternalServerError, err)
		return "", false
	}
	s.Log.Info("informational mail preference changed", "person", p.ID, "quiet", quiet)
	return map[bool]string{true: "mail_quiet", false: "mail_all"}[quiet], true
}
