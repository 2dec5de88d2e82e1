package bitrix24

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// StateTokens keeps an OAuth application's tokens in the channel's state in
// SQLite, so that a restart goes on with the refresh token.
type StateTokens struct{ Store Store }

// LoadTokens implements TokenStore.
func (s StateTokens) LoadTokens(ctx context.Context) (Tokens, bool, error) {
	v, ok, err := s.Store.StateGet(ctx, Name, "oauth")
	if err != nil || !ok {
		return Tokens{}, false, err
	}
	var t Tokens
	ok = json.Unmarshal([]byte(v), &t) == nil
	t.raw = v
	return t, ok, nil
}

// SwapTokens implements TokenStore with a conditional write on the stored
// text: on PostgreSQL, two replicas that read one pair cannot both claim
// its refresh.
func (s StateTokens) SwapTokens(ctx context.Context, old, next Tokens) (bool, error) {
	b, _ := json.Marshal(next)
	return s.Store.StateSwap(ctx, Name, "oauth", old.raw, string(b))
}

// SaveTokens implements TokenStore.
func (s StateTokens) SaveTokens(ctx context.Context, t Tokens) error {
	b, _ := json.Marshal(t)
	return s.Store.StatePut(ctx, Name, "oauth", string(b))
}

// InstallHandler takes what the portal posts when a local application is
// installed (ONAPPINSTALL, PHP bracket keys): the OAuth tokens and the
// application_token events will carry. The tokens are believed only when
// they work on the configured portal for this application (app.info
// answers with its client id), and a stored application_token is never
// replaced by another: a forged installation changes nothing.
func InstallHandler(oauth *OAuth, restURL string, store Store, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}, installed func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		q, err := url.ParseQuery(string(body))
		if err != nil || q.Get("event") != "ONAPPINSTALL" {
			http.Error(w, "not an installation", http.StatusBadRequest)
			return
		}
		access, refresh, appToken := q.Get("auth[access_token]"), q.Get("auth[refresh_token]"), q.Get("auth[application_token]")
		ttl, _ := strconv.Atoi(q.Get("auth[expires_in]"))
		if ttl == 0 {
			ttl = 3600
		}
		probe := &OAuth{ClientID: oauth.ClientID, ClientSecret: oauth.ClientSecret, TokenURL: oauth.TokenURL, Store: memTokens{&Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Duration(ttl) * time.Second)}}}
		c, err := NewClient(ClientConfig{RESTURL: restURL, OAuth: probe}, nil)
		if err == nil {
			c.MaxWait = 0
			var info struct {
				ClientID string `json:"CLIENT_ID"`
			}
			err = c.Call(r.Context(), "app.info", map[string]any{}, &info)
			if err == nil && (info.ClientID != oauth.ClientID || access == "" || refresh == "" || appToken == "") {
				err = errNotOurs
			}
		}
		if err != nil {
			log.Warn("bitrix24 installation refused: its tokens do not work for this application on this portal", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if old, ok, _ := store.StateGet(r.Context(), Name, "application_token"); ok && subtle.ConstantTimeCompare([]byte(old), []byte(appToken)) != 1 {
			log.Warn("bitrix24 installation refused: another application_token is kept already")
			http.Error(w, "conflict", http.StatusConflict)
			return
		}
		if err := store.StatePut(r.Context(), Name, "application_token", appToken); err == nil {
			err = oauth.Set(r.Context(), probe.tokens)
		}
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		log.Info("bitrix24 application installed; the bot connects now")
		if installed != nil {
			installed()
		}
		w.WriteHeader(http.StatusOK)
	})
}

type memTokens struct{ t *Tokens }

func (m memTokens) LoadTokens(context.Context) (Tokens, bool, error) { return *m.t, true, nil }
func (m memTokens) SaveTokens(_ context.Context, t Tokens) error     { *m.t = t; return nil }
func (m memTokens) SwapTokens(_ context.Context, _, next Tokens) (bool, error) {
	*m.t = next
	return true, nil
}

type notOurs struct{}

func (notOurs) Error() string { return "bitrix24: the tokens belong to another application" }

var errNotOurs error = notOurs{}
