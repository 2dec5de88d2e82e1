package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
)

// TestMiniAppSignIn: what the platform vouches for starts an ordinary
// session with that person's rights; forged data and strangers get a page
// that says so and no session; the theme keeps only colours.
func TestMiniAppSignIn(t *testing.T) {
	r := newRig(t)
	r.srv.MiniApp = func(_ context.Context, data string) (flows.PersonID, error) {
		switch data {
		case "petrov-signed":
			return "petrov", nil
		case "stranger-signed":
			return "", flows.Errorf(flows.KindForbidden, "unknown_person", "telegram user 999")
		}
		return "", web.ErrNotFromPlatform
	}
	// The page Telegram opens carries the one script and the form it posts.
	code, page := webtest.Get(t, client(), r.http.URL+"/tg/app?next=/dashboard")
	if code != http.StatusOK || !strings.Contains(page, `<script src="/static/tma.js">`) || !strings.Contains(page, `name="next" value="/dashboard"`) {
		t.Fatalf("%d %s", code, page)
	}
	if _, page := webtest.Get(t, client(), r.http.URL+"/tg/app?next=https://evil.example/"); !strings.Contains(page, `value="/inbox"`) {
		t.Error("the Mini App page passes on an address off the site")
	}
	res, err := http.Get(r.http.URL + "/static/tma.js")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") || !strings.Contains(string(js), "tgWebAppData") {
		t.Errorf("tma.js: %q %.60s", ct, js)
	}

	post := func(c *http.Client, data, theme string) (int, string, *http.Response) {
		res, err := c.PostForm(r.http.URL+"/tg/session", url.Values{"init_data": {data}, "theme": {theme}, "next": {"/dashboard"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b), res
	}
	c := client()
	theme := `{"bg_color":"#ffffff","text_color":"#000000","button_color":"#5288c1","button_text_color":"#ffffff","link_color":"red;}body{x"}`
	code, _, res = post(c, "petrov-signed", theme)
	if code != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard" {
		t.Fatalf("valid data: %d to %q", code, res.Header.Get("Location"))
	}
	if code, page := webtest.Get(t, c, r.http.URL+"/inbox"); code != http.StatusOK || !strings.Contains(page, "Петров") {
		t.Errorf("no session for petrov: %d", code)
	}
	res, err = c.Get(r.http.URL + "/theme.css")
	if err != nil {
		t.Fatal(err)
	}
	css, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(css), "--tg-bg:#ffffff") || strings.Contains(string(css), "5288c1") || strings.Contains(string(css), "red") {
		t.Errorf("theme.css keeps what it should not, or drops what it should keep:\n%s", css)
	}
	for _, tc := range []struct {
		data string
		want string
	}{
		{"forged", "Telegram"},
		{"stranger-signed", "администратора"},
	} {
		c := client()
		code, page, _ := post(c, tc.data, "")
		if code != http.StatusForbidden || !strings.Contains(page, tc.want) {
			t.Errorf("%s: %d %s", tc.data, code, page)
		}
		if code, _ := webtest.Get(t, c, r.http.URL+"/inbox"); code == http.StatusOK {
			t.Errorf("%s: a session was started", tc.data)
		}
	}
}
