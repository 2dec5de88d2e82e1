package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/internal/contrast"
)

// ErrNotFromPlatform is a Mini App or placement sign-in whose data the
// platform did not sign, or signed too long ago.
var ErrNotFromPlatform = flows.Errorf(flows.KindForbidden, "not_from_platform", "sign-in data not vouched for by the platform")

// MiniApp checks a Telegram Mini App's initData and names the person it
// vouches for: ErrNotFromPlatform when it is forged, stale or another
// bot's, a flows error with code unknown_person for a user the directory
// does not know.
type MiniApp func(ctx context.Context, initData string) (flows.PersonID, error)

//go:embed static/tma.js
var tmaJS []byte

// miniAppPage is what Telegram opens (the bot's menu button, a card's
// Open button): a page whose one script posts the launch data to
// /tg/session. next says which page to show then.
func (s *Server) miniAppPage(w http.ResponseWriter, r *http.Request) {
	if s.MiniApp == nil {
		s.fail(w, nil, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "not_found", "mini app off"))
		return
	}
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = "/inbox"
	}
	s.render(w, http.StatusOK, "miniapp.html", page{Data: next, Title: mustLocalizer(s.lang(nil)).T("web.miniapp.title", nil)})
}

func (s *Server) miniAppScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(tmaJS)
}

// miniAppSession starts a session for the person Telegram vouches for,
// keeps Telegram's theme for the pages, and shows the page asked for.
func (s *Server) miniAppSession(w http.ResponseWriter, r *http.Request) {
	if s.MiniApp == nil {
		s.fail(w, nil, http.StatusNotFound, flows.Errorf(flows.KindNotFound, "not_found", "mini app off"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	p, err := s.MiniApp(r.Context(), r.PostFormValue("init_data"))
	if err != nil {
		if !errors.Is(err, ErrNotFromPlatform) && flows.ErrorCode(err) != "unknown_person" {
			err = flows.Errorf(flows.KindInternal, "internal", "mini app sign-in: %v", err)
		}
		s.Log.Info("mini app sign-in refused", "err", err)
		s.fail(w, nil, statusOf(err), err)
		return
	}
	if err := s.startSession(w, r, p); err != nil {
		s.fail(w, nil, http.StatusInternalServerError, err)
		return
	}
	if css := themeCSS(r.PostFormValue("theme")); css != "" {
		http.SetCookie(w, &http.Cookie{Name: themeCookie, Value: css, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
			Secure: strings.HasPrefix(s.PublicURL, "https://")})
	}
	next := r.PostFormValue("next")
	if !localPath(next) {
		next = "/inbox"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

const themeCookie = "viza_theme"

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// themeCSS keeps of Telegram's theme (JSON of colours) the colours the
// pages use, for the theme cookie ("bg=17212b&text=f5f5f5…").
func themeCSS(raw string) string {
	var theme map[string]string
	if raw == "" || len(raw) > 4096 || json.Unmarshal([]byte(raw), &theme) != nil {
		return ""
	}
	kept := url.Values{}
	for _, k := range []string{"bg_color", "text_color", "button_color", "button_text_color", "link_color"} {
		if v := theme[k]; colorRE.MatchString(v) {
			kept.Set(strings.ReplaceAll(strings.TrimSuffix(k, "_color"), "_", "-"), strings.ToLower(v[1:]))
		}
	}
	return kept.Encode()
}

// themeStyle serves the theme the Mini App brought (empty elsewhere):
// every page links it, so the pages follow Telegram's colours without a
// script of their own.
func (s *Server) themeStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-cache")
	w.Header().Add("Vary", "Cookie")
	c, err := r.Cookie(themeCookie)
	if err != nil {
		return
	}
	kept, err := url.ParseQuery(c.Value)
	if err != nil {
		return
	}
	// Telegram's pairs are not always readable (its dark theme puts white
	// on a mid blue at 3.7:1): a pair below WCAG AA is left out, and the
	// page keeps its own colours there.
	var vars []string
	for _, pair := range [][2]string{{"bg", "text"}, {"button", "button-text"}} {
		fg, bg := "#"+kept.Get(pair[1]), "#"+kept.Get(pair[0])
		if colorRE.MatchString(fg) && colorRE.MatchString(bg) && contrast.Ratio(fg, bg) >= contrast.AA {
			vars = append(vars, "--tg-"+pair[0]+":"+bg, "--tg-"+pair[1]+":"+fg)
		}
	}
	if len(vars) == 0 {
		return
	}
	w.Write([]byte(":root{" + strings.Join(vars, ";") + "}\n" + themeRules))
}

// themeRules recolour only what sits on the page's background — the body,
// the heading and the header bar — in Telegram's pairs of colours, which
// Telegram keeps readable together; cards keep their own.
const themeRules = `body{background:var(--tg-bg,#f4f5f7)}
main>h1,.page-title{color:var(--tg-text,#1d232b)}
header{background:var(--tg-button,#24364b);color:var(--tg-button-text,#fff)}
header a{color:var(--tg-button-text,#fff)}
`
