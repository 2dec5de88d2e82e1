package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/bitrix24/b24fake"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/config"
)

// TestBitrix24ApplicationPages: a local application is installed; Viza's
// pages are bound once to the portal's left menu and company cards; a
// portal user opening them is signed in as the person the directory
// links, inside the portal's frame; a forged token and a user the
// directory does not know get a page saying so, and no session.
func TestBitrix24ApplicationPages(t *testing.T) {
	fake := newB24Fake(t, true)
	fake.AddCompany("ООО «Бумага»")
	t.Setenv("VIZA_TEST_B24_SECRET", fake.ClientSecret)
	dir := t.TempDir()
	path := filepath.Join(dir, "viza.yaml")
	channel := "bitrix24: {mode: fetch, fetch_interval: 20ms, portal_url: \"" + fake.URL + "\", client_id: \"" + fake.ClientID +
		"\", client_secret_env: VIZA_TEST_B24_SECRET, api_url: \"" + fake.RESTURL + "\", oauth_url: \"" + fake.OAuthURL + "\"}\n"
	if err := os.WriteFile(path, []byte(chattest.Config(filepath.Join(dir, "data"), b24Ident, channel)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMain(ctx, cfg, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; m.Close() })
	base := "http://" + m.Listener.Addr().String()

	access, refresh := fake.Install(time.Hour)
	if code := fake.PostInstall(base+"/bitrix24/install", access, refresh, fake.ApplicationToken); code != http.StatusOK {
		t.Fatalf("installation: %d", code)
	}
	waitChannelsUp(t, m)
	if !until(func() bool { return len(fake.Placements()) == 2 }) {
		t.Fatalf("placements %v", fake.Placements())
	}
	for _, p := range fake.Placements() {
		if p[1] != base+"/bitrix24/app" {
			t.Errorf("placement %s opens %s", p[0], p[1])
		}
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visit := func(user int64, token, placement, options string) *http.Response {
		t.Helper()
		if token == "" {
			token = fake.UserToken(user, time.Hour)
		}
		res, err := noFollow.PostForm(base+"/bitrix24/app", url.Values{"AUTH_ID": {token}, "AUTH_EXPIRES": {"3600"}, "member_id": {b24fake.MemberID},
			"DOMAIN": {strings.TrimPrefix(fake.URL, "http://")}, "PROTOCOL": {"0"}, "LANG": {"ru"}, "APP_SID": {"x"}, "status": {"L"},
			"PLACEMENT": {placement}, "PLACEMENT_OPTIONS": {options}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	res := visit(b24Users[chattest.Petrov].ID, "", bitrix24.PlacementMenu, "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/inbox" || len(res.Cookies()) == 0 {
		t.Fatalf("the menu page: %d to %q, cookies %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != "" && !strings.Contains(csp, "frame-ancestors") {
		t.Errorf("CSP %q", csp)
	}
	res = visit(b24Users[chattest.Petrov].ID, "", bitrix24.PlacementCompanyTab, `{"ID":"1"}`)
	if want := "/dashboard?q=" + url.QueryEscape("ООО «Бумага»"); res.Header.Get("Location") != want {
		t.Errorf("the company tab opens %q, want %q", res.Header.Get("Location"), want)
	}
	// A page shown there may be framed by the portal, and by nobody else.
	page, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+fake.URL) {
		t.Errorf("pages' CSP %q does not let the portal frame them", csp)
	}
	for name, res := range map[string]*http.Response{
		"forged":   visit(0, "usr-forged", bitrix24.PlacementMenu, ""),
		"stranger": visit(b24Stranger, "", bitrix24.PlacementMenu, ""),
	} {
		if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
			t.Errorf("%s: %d, cookies %v", name, res.StatusCode, res.Cookies())
		}
	}
}
