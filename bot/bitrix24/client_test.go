package bitrix24_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/bitrix24/b24fake"
	"github.com/viza-app/viza/storage"
)

func openDB(t testing.TB) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "viza.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func oauthClient(t *testing.T, fake *b24fake.Server, db *storage.DB) (*bitrix24.Client, *bitrix24.OAuth) {
	t.Helper()
	o := &bitrix24.OAuth{ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, TokenURL: fake.OAuthURL, Store: bitrix24.StateTokens{Store: db}}
	c, err := bitrix24.NewClient(bitrix24.ClientConfig{RESTURL: fake.RESTURL, OAuth: o}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c, o
}

// TestOAuthTokenRefreshed: an access token the portal calls expired is
// refreshed and the call made again, once; one about to expire is
// refreshed before the call; the new refresh token is kept in SQLite.
func TestOAuthTokenRefreshed(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"})
	defer fake.Close()
	db := openDB(t)
	c, o := oauthClient(t, fake, db)
	ctx := context.Background()
	if err := c.Call(ctx, "user.get", map[string]any{}, nil); !errors.Is(err, bitrix24.ErrNotInstalled) {
		t.Fatalf("a call before installation: %v", err)
	}
	access, refresh := fake.Install(time.Hour)
	if err := o.Set(ctx, bitrix24.Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var users []map[string]any
	if err := c.Call(ctx, "user.get", map[string]any{}, &users); err != nil || len(users) != 1 {
		t.Fatalf("user.get: %v %v", users, err)
	}
	fake.ExpireTokens()
	if err := c.Call(ctx, "user.get", map[string]any{}, &users); err != nil {
		t.Fatalf("the call after the token expired was lost: %v", err)
	}
	if fake.Refreshes() != 1 {
		t.Fatalf("%d refreshes", fake.Refreshes())
	}
	kept, ok, err := bitrix24.StateTokens{Store: db}.LoadTokens(ctx)
	if err != nil || !ok || kept.Refresh == refresh || kept.Access == access {
		t.Fatalf("the new tokens were not kept: %+v %v", kept, err)
	}
	// A token with a minute left is refreshed before it is used.
	kept.Expires = time.Now().Add(time.Minute)
	o.Set(ctx, kept)
	if err := c.Call(ctx, "user.get", map[string]any{}, nil); err != nil || fake.Refreshes() != 2 {
		t.Fatalf("refresh ahead of expiry: %d refreshes, %v", fake.Refreshes(), err)
	}
	for _, call := range fake.Calls("user.get") {
		if call.Status == 401 && call.At.After(time.Now().Add(-time.Second)) && fake.Refreshes() > 2 {
			t.Fatal("a token about to expire was used")
		}
	}
}

// TestInstallation: the portal's ONAPPINSTALL hands over the tokens and
// the application_token. A forged one (tokens that do not work for this
// application) and one by a user who is not the portal's administrator
// are refused; once installed the handler is closed, until
// OpenReinstall (viza bitrix24 reinstall) takes one new installation,
// whose tokens and application_token replace the old.
func TestInstallation(t *testing.T) {
	fake := b24fake.New(true)
	defer fake.Close()
	db := openDB(t)
	_, o := oauthClient(t, fake, db)
	var logs bytes.Buffer
	installed := 0
	srv := httptest.NewServer(bitrix24.InstallHandler(o, fake.RESTURL, db, slog.New(slog.NewTextHandler(&logs, nil)), func() { installed++ }))
	defer srv.Close()
	ctx := context.Background()

	if code := fake.PostInstall(srv.URL, "forged-access", "forged-refresh", "forged-app-token"); code != http.StatusUnauthorized {
		t.Fatalf("a forged installation answered %d", code)
	}
	if _, ok, _ := db.StateGet(ctx, bitrix24.Name, "application_token"); ok {
		t.Fatal("a forged installation kept its application_token")
	}
	userAccess, userRefresh := fake.InstallAs(time.Hour, false)
	if code := fake.PostInstall(srv.URL, userAccess, userRefresh, "users-app-token"); code != http.StatusUnauthorized {
		t.Fatalf("an installation by a user who is no administrator answered %d", code)
	}
	if !strings.Contains(logs.String(), "not one of the portal's administrators") {
		t.Fatalf("the refusal does not say why: %s", logs.String())
	}
	access, refresh := fake.Install(time.Hour)
	if code := fake.PostInstall(srv.URL, access, refresh, fake.ApplicationToken); code != http.StatusOK {
		t.Fatalf("the installation answered %d: %s", code, logs.String())
	}
	if v, _, _ := db.StateGet(ctx, bitrix24.Name, "application_token"); v != fake.ApplicationToken {
		t.Fatalf("application_token kept: %q", v)
	}
	if v, _, _ := db.StateGet(ctx, bitrix24.Name, "member_id"); v == "" {
		t.Fatal("the portal's member_id was not kept")
	}
	if tk, ok, _ := (bitrix24.StateTokens{Store: db}).LoadTokens(ctx); !ok || tk.Refresh != refresh {
		t.Fatalf("tokens kept: %+v", tk)
	}
	if installed != 1 {
		t.Fatalf("the channel was told of %d installations", installed)
	}
	access2, refresh2 := fake.Install(time.Hour)
	if code := fake.PostInstall(srv.URL, access2, refresh2, "another-app-token"); code != http.StatusForbidden {
		t.Fatalf("a second installation answered %d", code)
	}
	// The administrator asks for a reinstallation: one is taken.
	if _, err := bitrix24.OpenReinstall(ctx, db, time.Now()); err != nil {
		t.Fatal(err)
	}
	if code := fake.PostInstall(srv.URL, access2, refresh2, "another-app-token"); code != http.StatusOK {
		t.Fatalf("the reinstallation answered %d: %s", code, logs.String())
	}
	if v, _, _ := db.StateGet(ctx, bitrix24.Name, "application_token"); v != "another-app-token" {
		t.Fatalf("after the reinstallation application_token is %q", v)
	}
	if tk, _, _ := (bitrix24.StateTokens{Store: db}).LoadTokens(ctx); tk.Refresh != refresh2 {
		t.Fatal("the reinstallation's tokens were not kept")
	}
	access3, refresh3 := fake.Install(time.Hour)
	if code := fake.PostInstall(srv.URL, access3, refresh3, "third-app-token"); code != http.StatusForbidden {
		t.Fatalf("the handler stayed open after the reinstallation: %d", code)
	}
	for _, tok := range []string{access, refresh, access2, refresh2} {
		if strings.Contains(logs.String(), tok) {
			t.Fatal("a token reached the log")
		}
	}
}

// TestNoSecretInErrors: a portal that cannot be reached, answers 500 or
// times out yields errors that name neither the inbound webhook's key nor
// an OAuth secret.
func TestNoSecretInErrors(t *testing.T) {
	fake := b24fake.New(true)
	webhook := fake.Webhook
	fake.Close() // unreachable from now on
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c, err := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: webhook}, log)
	if err != nil {
		t.Fatal(err)
	}
	c.MaxWait = 1500 * time.Millisecond
	key := strings.Split(strings.Trim(webhook, "/"), "/")
	secret := key[len(key)-1]
	err = c.Call(context.Background(), "user.get", map[string]any{}, nil)
	if err == nil {
		t.Fatal("a call to a closed portal succeeded")
	}
	for _, text := range []string{err.Error(), logs.String()} {
		if strings.Contains(text, secret) {
			t.Fatalf("the webhook's key leaked: %s", text)
		}
	}
	if !strings.Contains(logs.String(), "trying again") {
		t.Fatalf("no retry was logged: %s", logs.String())
	}

	// A portal that answers 500 with the request's URL in the page.
	var page string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page = "error at " + r.URL.String()
		http.Error(w, page, http.StatusInternalServerError)
	}))
	defer srv.Close()
	c, _ = bitrix24.NewClient(bitrix24.ClientConfig{Webhook: srv.URL + "/rest/1/" + secret + "/"}, log)
	c.MaxWait = time.Second
	err = c.Call(context.Background(), "user.get", map[string]any{}, nil)
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Fatalf("after a 500: %v", err)
	}
}

// TestLeakyBucketKeptOnOurSide: a burst of calls larger than the portal's
// bucket is paced on our side, and the portal refuses none.
func TestLeakyBucketKeptOnOurSide(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"})
	defer fake.Close()
	fake.SetBucket(20, 10)
	c, err := bitrix24.NewClient(bitrix24.ClientConfig{Webhook: fake.Webhook, Rate: 20, Burst: 10}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const calls = 50
	errs := make(chan error, calls)
	for range calls {
		go func() { errs <- c.Call(context.Background(), "user.get", map[string]any{}, nil) }()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.Limited(); n != 0 {
		t.Fatalf("the portal refused %d calls", n)
	}
}
