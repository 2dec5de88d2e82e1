package bitrix24

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
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
// application_token events will carry. It believes an installation only
// when its tokens work on the configured portal for this application
// (app.info answers with its client id) and belong to one of the portal's
// administrators (user.admin): any user may hold a token for the
// application, only an administrator installs it. Once installed the
// handler is closed; `viza bitrix24 reinstall` opens it for one new
// installation (see OpenReinstall), which then replaces the tokens, the
// application_token and the portal's member_id.
func InstallHandler(oauth *OAuth, restURL string, store Store, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}, installed func()) http.Handler {
	var mu sync.Mutex // one installation at a time
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
		mu.Lock()
		defer mu.Unlock()
		ctx := r.Context()
		reinstall := reinstallOpen(ctx, store)
		if _, had, _ := store.StateGet(ctx, Name, "application_token"); had && !reinstall {
			log.Warn("bitrix24 installation refused: the application is installed already; run `viza bitrix24 reinstall` first to take a new one",
				"remote", r.RemoteAddr)
			http.Error(w, "installed already; see viza bitrix24 reinstall", http.StatusForbidden)
			return
		}
		access, refresh, appToken := q.Get("auth[access_token]"), q.Get("auth[refresh_token]"), q.Get("auth[application_token]")
		ttl, _ := strconv.Atoi(q.Get("auth[expires_in]"))
		if ttl == 0 {
			ttl = 3600
		}
		probe := &OAuth{ClientID: oauth.ClientID, ClientSecret: oauth.ClientSecret, TokenURL: oauth.TokenURL,
			Store: memTokens{&Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Duration(ttl) * time.Second)}}}
		why := "its tokens do not work for this application on this portal"
		c, err := NewClient(ClientConfig{RESTURL: restURL, OAuth: probe}, nil)
		if err == nil {
			c.MaxWait = 0
			var info struct {
				ClientID string `json:"CLIENT_ID"`
			}
			err = c.Call(ctx, "app.info", map[string]any{}, &info)
			if err == nil && (info.ClientID != oauth.ClientID || access == "" || refresh == "" || appToken == "") {
				err = errNotOurs
			}
			if err == nil {
				var admin bool
				if err = c.Call(ctx, "user.admin", map[string]any{}, &admin); err == nil && !admin {
					why, err = "the user who installed it is not one of the portal's administrators", errNotOurs
				}
			}
		}
		if err != nil {
			log.Warn("bitrix24 installation refused: "+why, "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		for k, v := range map[string]string{"application_token": appToken, "member_id": q.Get("auth[member_id]"), "domain": q.Get("auth[domain]")} {
			if err == nil {
				err = store.StatePut(ctx, Name, k, v)
			}
		}
		if err == nil {
			err = oauth.Set(ctx, probe.snapshot())
		}
		if err == nil && reinstall {
			err = store.StatePut(ctx, Name, reinstallKey, "")
		}
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		log.Info("bitrix24 application installed; the bot connects now", "reinstall", reinstall)
		if installed != nil {
			installed()
		}
		w.WriteHeader(http.StatusOK)
	})
}

// reinstallKey holds until when the installation handler takes a new
// installation in place of the one kept.
const reinstallKey = "reinstall_until"

// ReinstallWindow is how long `viza bitrix24 reinstall` keeps the
// installation handler open.
const ReinstallWindow = time.Hour

// OpenReinstall opens the installation handler for one new installation
// until ReinstallWindow from now: the administrator then reinstalls the
// application on the portal (or presses Reinstall in its settings), and
// the new tokens replace the old.
func OpenReinstall(ctx context.Context, store Store, now time.Time) (time.Time, error) {
	until := now.Add(ReinstallWindow)
	return until, store.StatePut(ctx, Name, reinstallKey, strconv.FormatInt(until.Unix(), 10))
}

func reinstallOpen(ctx context.Context, store Store) bool {
	v, ok, err := store.StateGet(ctx, Name, reinstallKey)
	if err != nil || !ok || v == "" {
		return false
	}
	until, err := strconv.ParseInt(v, 10, 64)
	return err == nil && time.Now().Unix() < until
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
