package bitrix24_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/bitrix24/b24fake"
)

// TestOAuthRefreshIsOneGETForManyCallers: eight callers find the access
// token expired at once; the refresh token, which works once, is spent by
// exactly one GET (as settings/oauth/auto-renewal.md documents), and every
// call goes through with the new pair.
func TestOAuthRefreshIsOneGETForManyCallers(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"})
	defer fake.Close()
	db := openDB(t)
	c, o := oauthClient(t, fake, db)
	ctx := context.Background()
	access, refresh := fake.Install(time.Hour)
	if err := o.Set(ctx, bitrix24.Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	fake.ExpireTokens()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = c.Call(ctx, "user.get", map[string]any{}, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := fake.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes for one expired token", n)
	}
	for _, m := range fake.TokenCalls() {
		if m != http.MethodGet {
			t.Fatalf("the OAuth server was called with %s: %v", m, fake.TokenCalls())
		}
	}
}

// TestOAuthRefreshAcrossReplicas: two replicas (two clients over one
// database) find the token expired together; one claims the refresh in
// the store, the other waits for its pair, and neither spends the refresh
// token the other spent.
func TestOAuthRefreshAcrossReplicas(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"})
	defer fake.Close()
	db := openDB(t)
	ctx := context.Background()
	c1, o1 := oauthClient(t, fake, db)
	c2, _ := oauthClient(t, fake, db)
	access, refresh := fake.Install(time.Hour)
	if err := o1.Set(ctx, bitrix24.Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Both have used the pair before the portal expires it.
	for _, c := range []*bitrix24.Client{c1, c2} {
		if err := c.Call(ctx, "user.get", map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 5 {
		fake.ExpireTokens()
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			c := []*bitrix24.Client{c1, c2}[i%2]
			wg.Go(func() { errs[i] = c.Call(ctx, "user.get", map[string]any{}, nil) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, caller %d: %v", round, i, err)
			}
		}
		if n := fake.Refreshes(); n != round+1 {
			t.Fatalf("round %d: %d refreshes in all", round, n)
		}
	}
}

// TestOAuthInvalidGrantRereadsTheStore: a refresh token spent behind our
// back (another process wrote the new pair) is not taken for a lost
// installation: the stored pair is read again and used.
func TestOAuthInvalidGrantRereadsTheStore(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"})
	defer fake.Close()
	db := openDB(t)
	ctx := context.Background()
	c, o := oauthClient(t, fake, db)
	access, refresh := fake.Install(time.Hour)
	if err := o.Set(ctx, bitrix24.Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "user.get", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	// Another process refreshes with the same refresh token and stores
	// the pair without this one's knowledge: the one in memory is spent.
	fake.ExpireTokens()
	q := "?grant_type=refresh_token&client_id=" + fake.ClientID + "&client_secret=" + fake.ClientSecret + "&refresh_token=" + refresh
	resp, err := http.Get(fake.OAuthURL + q)
	if err != nil {
		t.Fatal(err)
	}
	var pair struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	json.NewDecoder(resp.Body).Decode(&pair)
	resp.Body.Close()
	other := bitrix24.StateTokens{Store: db}
	if err := other.SaveTokens(ctx, bitrix24.Tokens{Access: pair.Access, Refresh: pair.Refresh, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "user.get", map[string]any{}, nil); err != nil {
		t.Fatalf("the call after someone else's refresh: %v", err)
	}
	if n := fake.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes: the spent token was tried again", n)
	}
}

// TestOAuthTokensMaskedWhenEchoed: a portal (or a proxy before it) that
// echoes the request, the access token in the body's auth parameter
// included, and an OAuth server that echoes its query string, get neither
// token into an error or a log line.
func TestOAuthTokensMaskedWhenEchoed(t *testing.T) {
	var srvURL string
	const access, refresh = "acc-live-0123456789", "ref-live-0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/oauth/") {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "bad " + r.URL.RawQuery})
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		code := "expired_token"
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "request was " + string(body)})
	}))
	defer srv.Close()
	srvURL = srv.URL
	db := openDB(t)
	var logs bytes.Buffer
	o := &bitrix24.OAuth{ClientID: "app.1", ClientSecret: "client-secret-xyz", TokenURL: srvURL + "/oauth/token/", Store: bitrix24.StateTokens{Store: db}}
	c, err := bitrix24.NewClient(bitrix24.ClientConfig{RESTURL: srvURL + "/rest/", OAuth: o}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := o.Set(ctx, bitrix24.Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	err = c.Call(ctx, "user.get", map[string]any{}, nil)
	if err == nil {
		t.Fatal("the call succeeded")
	}
	for _, text := range []string{err.Error(), logs.String()} {
		for _, s := range []string{access, refresh, "client-secret-xyz"} {
			if strings.Contains(text, s) {
				t.Fatalf("%s leaked: %s", s, text)
			}
		}
	}
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("the error does not say what happened: %v", err)
	}
}
