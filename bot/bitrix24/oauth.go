package bitrix24

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/viza-app/viza/bot/secret"
)

// OAuth holds a local application's tokens. The access token lasts an
// hour; the refresh token works once (settings/oauth/auto-renewal.md), so
// every refresh is done by one caller at a time — one in the process
// (refreshMu) and one among replicas (a claim written by compare-and-swap
// on the stored pair) — and its result is kept before anyone else may
// refresh again.
type OAuth struct {
	ClientID     string
	ClientSecret string
	// TokenURL is the OAuth server (https://oauth.bitrix.info/oauth/token/).
	TokenURL string
	Store    TokenStore
	// ClaimFor is how long a refresh claimed by one replica keeps the
	// others waiting before they may take it over (default 30 s).
	ClaimFor time.Duration

	http      *secret.Client
	refreshMu sync.Mutex // one refresh at a time in this process
	mu        sync.Mutex
	tokens    Tokens
	loaded    bool
}

// Tokens are an application's OAuth tokens as they are stored. Claim and
// ClaimUntil mark a refresh under way in some replica.
type Tokens struct {
	Access     string    `json:"access"`
	Refresh    string    `json:"refresh"`
	Expires    time.Time `json:"expires"`
	Claim      string    `json:"claim,omitempty"`
	ClaimUntil time.Time `json:"claim_until,omitzero"`

	raw string // as stored, for the compare-and-swap
}

// TokenStore keeps the tokens. SwapTokens writes next only if what is
// stored is still old (as LoadTokens returned it), and reports whether it
// did: of two replicas that read the same pair, one wins.
type TokenStore interface {
	LoadTokens(ctx context.Context) (Tokens, bool, error)
	SaveTokens(ctx context.Context, t Tokens) error
	SwapTokens(ctx context.Context, old, next Tokens) (bool, error)
}

// ErrNotInstalled means the application has no tokens yet: it is
// installed on the portal, which hands them over (see InstallHandler).
var ErrNotInstalled = errors.New("bitrix24: the application has no OAuth tokens yet; install it on the portal")

// current is what must never reach a log: the tokens in use now.
func (o *OAuth) current() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return []string{o.tokens.Access, o.tokens.Refresh}
}

// Token returns a valid access token, refreshed when it is about to
// expire.
func (o *OAuth) Token(ctx context.Context) (string, error) {
	o.mu.Lock()
	if !o.loaded {
		t, ok, err := o.Store.LoadTokens(ctx)
		if err != nil {
			o.mu.Unlock()
			return "", err
		}
		o.tokens, o.loaded = t, ok
	}
	t := o.tokens
	o.mu.Unlock()
	if t.Refresh == "" {
		// Installed since (another replica, the install handler): look
		// again before saying it is not.
		if err := o.reload(ctx); err != nil {
			return "", err
		}
		if t = o.snapshot(); t.Refresh == "" {
			return "", ErrNotInstalled
		}
	}
	if time.Until(t.Expires) < 5*time.Minute {
		if err := o.Refresh(ctx, t.Access); err != nil {
			return "", err
		}
		t = o.snapshot()
	}
	return t.Access, nil
}

func (o *OAuth) snapshot() Tokens {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tokens
}

func (o *OAuth) reload(ctx context.Context) error {
	t, ok, err := o.Store.LoadTokens(ctx)
	if err != nil {
		return fmt.Errorf("bitrix24: load the OAuth tokens: %w", err)
	}
	if ok {
		o.mu.Lock()
		o.tokens, o.loaded = t, true
		o.mu.Unlock()
	}
	return nil
}

// Set keeps tokens the portal handed over (at installation).
func (o *OAuth) Set(ctx context.Context, t Tokens) error {
	t.Claim, t.ClaimUntil = "", time.Time{}
	o.mu.Lock()
	o.tokens, o.loaded = t, true
	o.mu.Unlock()
	return o.Store.SaveTokens(ctx, t)
}

// Refresh gets a new pair because refused (the access token the portal
// refused, or "" ) is no good. It first reloads the stored pair: another
// caller, in this process or another replica, may have refreshed already,
// and then that pair is taken instead of spending the refresh token again.
// Otherwise it claims the refresh in the store, trades the refresh token
// at the OAuth server (GET, as documented), and stores the new pair in
// place of its claim. A refusal of the refresh token (invalid_grant) is
// checked against the store once more before it is believed.
func (o *OAuth) Refresh(ctx context.Context, refused string) error {
	o.refreshMu.Lock()
	defer o.refreshMu.Unlock()
	claimFor := o.ClaimFor
	if claimFor == 0 {
		claimFor = 30 * time.Second
	}
	deadline := time.Now().Add(2 * claimFor)
	for {
		stored, ok, err := o.Store.LoadTokens(ctx)
		if err != nil {
			return fmt.Errorf("bitrix24: load the OAuth tokens: %w", err)
		}
		if !ok || stored.Refresh == "" {
			return ErrNotInstalled
		}
		fresh := stored.Access != refused && time.Until(stored.Expires) > 5*time.Minute
		claimed := stored.Claim != "" && time.Now().Before(stored.ClaimUntil)
		switch {
		case fresh && !claimed:
			o.keep(stored)
			return nil
		case claimed:
			// Another replica is refreshing: its pair will be stored soon.
			if time.Now().After(deadline) {
				return &unreachable{errors.New("bitrix24: another replica's token refresh did not finish")}
			}
			if err := pause(ctx, 200*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		claim := stored
		claim.Claim, claim.ClaimUntil = nonce(), time.Now().Add(claimFor)
		won, err := o.Store.SwapTokens(ctx, stored, claim)
		if err != nil {
			return fmt.Errorf("bitrix24: claim the token refresh: %w", err)
		}
		if !won {
			continue // someone else changed the pair: read it again
		}
		// The claim as stored is what the next swap must find.
		mine, _, err := o.Store.LoadTokens(ctx)
		if err != nil {
			return fmt.Errorf("bitrix24: load the claimed tokens: %w", err)
		}
		next, ferr := o.exchange(ctx, stored.Refresh)
		if ferr != nil {
			// Give the claim back with the old pair: the refresh token was
			// not spent, or it was refused and a person must reinstall.
			if _, err := o.Store.SwapTokens(ctx, mine, stored); err != nil {
				return fmt.Errorf("bitrix24: release the token refresh: %w", err)
			}
			var ae *APIError
			if errors.As(ferr, &ae) && ae.Code == "invalid_grant" {
				// Spent by someone we could not see (an older process, a
				// replica whose claim lapsed): believed only if the store
				// has no newer pair.
				if now, ok, err := o.Store.LoadTokens(ctx); err == nil && ok && now.Refresh != stored.Refresh && now.Claim == "" {
					o.keep(now)
					return nil
				}
			}
			return ferr
		}
		won, err = o.Store.SwapTokens(ctx, mine, next)
		if err != nil || !won {
			// The claim lapsed and someone took over: the pair we got is the
			// newest the OAuth server made, so it is kept all the same.
			if err := o.Store.SaveTokens(ctx, next); err != nil {
				return fmt.Errorf("bitrix24: keep the refreshed tokens: %w", err)
			}
		}
		o.keep(next)
		return nil
	}
}

func (o *OAuth) keep(t Tokens) {
	o.mu.Lock()
	o.tokens, o.loaded = t, true
	o.mu.Unlock()
}

// exchange trades a refresh token for a new pair: a GET with the
// parameters in the query string, as settings/oauth/auto-renewal.md and
// Bitrix24's own SDK do. The URL carries the client secret and the
// refresh token, so what an error says is masked.
func (o *OAuth) exchange(ctx context.Context, refresh string) (Tokens, error) {
	q := url.Values{"grant_type": {"refresh_token"}, "client_id": {o.ClientID}, "client_secret": {o.ClientSecret}, "refresh_token": {refresh}}
	mask := func(err error) error { return secret.Redact(err, o.ClientSecret, refresh) }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.TokenURL+"?"+q.Encode(), nil)
	if err != nil {
		return Tokens{}, mask(fmt.Errorf("bitrix24: refresh token: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.client().Do(req)
	if err != nil {
		return Tokens{}, &unreachable{mask(fmt.Errorf("bitrix24: refresh token: %w", err))}
	}
	defer resp.Body.Close()
	var out struct {
		Access      string `json:"access_token"`
		Refresh     string `json:"refresh_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Tokens{}, &unreachable{mask(fmt.Errorf("bitrix24: refresh token: read answer: %w", err))}
	}
	if jerr := json.Unmarshal(raw, &out); jerr != nil || out.Access == "" || out.Refresh == "" {
		code := out.Error
		if code == "" {
			code = "refresh_failed"
		}
		e := &APIError{Status: resp.StatusCode, Code: secret.String(code, o.ClientSecret, refresh),
			Description: secret.String(out.Description, o.ClientSecret, refresh)}
		if resp.StatusCode >= 500 || jerr != nil {
			return Tokens{}, &unreachable{e} // the OAuth server is in trouble: temporary
		}
		return Tokens{}, e
	}
	if out.ExpiresIn == 0 {
		out.ExpiresIn = 3600
	}
	return Tokens{Access: out.Access, Refresh: out.Refresh, Expires: time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)}, nil
}

func (o *OAuth) client() *secret.Client {
	if o.http != nil {
		return o.http
	}
	return &secret.Client{HTTP: &http.Client{Timeout: 30 * time.Second}, Secrets: []string{o.ClientSecret}}
}

func nonce() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
