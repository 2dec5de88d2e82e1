package dss

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/viza-app/viza/signcheck"
)

// Resource is the signing service as DSS's identity service (STS) names
// it in a token request.
const Resource = "urn:cryptopro:dss:signserver:signserver"

// OAuthPassword gets the token of one DSS account from DSS's identity
// service: POST <URL>/token with grant_type=password, the OAuth client's
// id, the account's login and password, and the signing service as the
// resource (dss.cryptopro.ru, "Аутентификация пользователя"). It keeps
// the token until shortly before expires_in says it ends. One account:
// the company whose documents one person signs in DSS.
type OAuthPassword struct {
	URL      string // the identity service's OAuth root, https://host/STS/oauth
	ClientID string
	Username string
	Password string
	Client   *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
	now     func() time.Time
}

// Token implements TokenSource; the signer's login is not asked: the
// account is the configured one.
func (o *OAuthPassword) Token(ctx context.Context, _ string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	if o.token != "" && now().Before(o.expires) {
		return o.token, nil
	}
	form := url.Values{"grant_type": {"password"}, "client_id": {o.ClientID}, "username": {o.Username}, "password": {o.Password},
		"resource": {Resource}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(o.URL, "/")+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	hc := o.Client
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("DSS identity service: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var answer struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || resp.StatusCode != http.StatusOK || answer.AccessToken == "" {
		return "", fmt.Errorf("DSS identity service: HTTP %d %s", resp.StatusCode, cmp.Or(answer.Description, answer.Error, signcheck.Excerpt(body)))
	}
	life := time.Duration(answer.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Minute // none said: ask again soon
	}
	// Renewed a little before its end, so that a request never carries a
	// token that ends on the way.
	o.token, o.expires = answer.AccessToken, now().Add(life-min(life/10, 30*time.Second))
	return o.token, nil
}
