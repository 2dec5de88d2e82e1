package bitrix24

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/viza-app/viza/bot/secret"
)

// Client calls Bitrix24 REST methods: JSON in, the {"result": …, "time": …}
// envelope out, {"error", "error_description"} for failures. Every call
// passes one client-side leaky bucket (the portal's own is 2 requests a
// second with a burst of 50, 5 and 250 on Enterprise), waits and tries
// again on QUERY_LIMIT_EXCEEDED (503) and OPERATION_TIME_LIMIT (429), and
// with OAuth refreshes the access token before it expires and when the
// portal says it has.
type Client struct {
	base    string // ends in "/": an inbound webhook's URL, or the portal's /rest/
	http    *secret.Client
	bucket  *rate.Limiter
	oauth   *OAuth // nil for an inbound webhook
	user    string // a user's access token, for a client made with UserToken
	log     *slog.Logger
	secrets []string
	// MaxWait bounds how long one call keeps waiting out the portal's
	// limits; the default is a minute.
	MaxWait time.Duration

	memory    BucketMemory // nil: nothing kept across restarts
	memoryMu  sync.Mutex
	savedCall time.Time
}

// BucketMemory keeps when the client last called the portal. The portal's
// leaky bucket outlives the process: after a restart it may still be
// full of the calls made just before, and a client whose own bucket
// started empty of them would be refused (QUERY_LIMIT_EXCEEDED) until it
// learnt otherwise.
type BucketMemory interface {
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
}

// Remember makes the client keep its last call's time in mem, and starts
// it as if the portal's bucket were as full as calls until then could have
// left it: full at that moment, drained since at the documented rate.
func (c *Client) Remember(ctx context.Context, mem BucketMemory) error {
	c.memoryMu.Lock()
	c.memory = mem
	c.memoryMu.Unlock()
	v, ok, err := mem.StateGet(ctx, Name, "bucket_at")
	if err != nil || !ok {
		return err
	}
	nanos, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	now := time.Now()
	free := now.Sub(time.Unix(0, nanos)).Seconds() * float64(c.bucket.Limit())
	if used := c.bucket.Burst() - int(min(free, float64(c.bucket.Burst()))); used > 0 {
		c.bucket.AllowN(now, used)
	}
	return nil
}

// called notes a call's time, in the memory now and again (every few
// seconds, not every call).
func (c *Client) called(ctx context.Context) {
	c.memoryMu.Lock()
	mem, now := c.memory, time.Now()
	due := mem != nil && now.Sub(c.savedCall) >= 2*time.Second
	if due {
		c.savedCall = now
	}
	c.memoryMu.Unlock()
	if due {
		if err := mem.StatePut(context.WithoutCancel(ctx), Name, "bucket_at", strconv.FormatInt(now.UnixNano(), 10)); err != nil {
			c.log.Warn("keep the time of the last call to the portal", "err", err)
		}
	}
}

// ClientConfig is how to reach the portal.
type ClientConfig struct {
	// Webhook is an inbound webhook's URL, https://portal/rest/<user>/<secret>/:
	// it carries its own key and is a secret as a whole.
	Webhook string
	// RESTURL is the portal's REST endpoint for an OAuth application
	// (https://portal/rest/); OAuth holds its tokens.
	RESTURL string
	OAuth   *OAuth
	// UserToken, instead of OAuth, is one user's access token (a
	// placement's AUTH_ID) to call the portal as that user: never
	// refreshed, and kept out of errors like every secret.
	UserToken string
	// Rate and Burst are the portal's leaky bucket (default 2 and 50).
	Rate    float64
	Burst   int
	Secrets []string // more values to keep out of errors and logs
}

// NewClient makes a client for a portal.
func NewClient(cfg ClientConfig, log *slog.Logger) (*Client, error) {
	base := cfg.Webhook
	if base == "" {
		base = cfg.RESTURL
	}
	if base == "" {
		return nil, errors.New("bitrix24: neither an inbound webhook nor an OAuth application is configured")
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	if cfg.Rate == 0 {
		cfg.Rate = 2
	}
	if cfg.Burst == 0 {
		cfg.Burst = 50
	}
	secrets := append([]string{cfg.Webhook}, cfg.Secrets...)
	if u, err := url.Parse(cfg.Webhook); err == nil && cfg.Webhook != "" {
		// The path's last part is the webhook's key: masked on its own too,
		// wherever a library prints only the path.
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		secrets = append(secrets, parts[len(parts)-1])
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A little under the portal's own bucket: requests that leave evenly
	// may arrive bunched, and the portal counts them as they arrive.
	c := &Client{base: base, bucket: rate.NewLimiter(rate.Limit(cfg.Rate*0.95), max(1, cfg.Burst-2)), oauth: cfg.OAuth, log: log,
		MaxWait: time.Minute}
	if cfg.OAuth != nil {
		secrets = append(secrets, cfg.OAuth.ClientSecret)
	}
	if cfg.UserToken != "" {
		c.user = cfg.UserToken
		secrets = append(secrets, cfg.UserToken)
	}
	c.secrets = secrets
	c.http = &secret.Client{HTTP: &http.Client{Timeout: 60 * time.Second}, Secrets: secrets}
	if cfg.OAuth != nil {
		cfg.OAuth.http = c.http
	}
	return c, nil
}

// APIError is the portal's answer to a call that failed.
type APIError struct {
	Status      int
	Code        string
	Description string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("bitrix24: %s (HTTP %d): %s", e.Code, e.Status, e.Description)
}

// Temporary reports whether the call may succeed later as it is.
func (e *APIError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Code == "QUERY_LIMIT_EXCEEDED" || e.Code == "OPERATION_TIME_LIMIT"
}

// OAuth is the local application's tokens, nil over an inbound webhook.
func (c *Client) OAuth() *OAuth { return c.oauth }

// Secrets are the values the client keeps out of errors and logs (the
// webhook and its key, the client secret); the OAuth tokens, which
// change, are masked by Redact as they are.
func (c *Client) Secrets() []string { return append([]string(nil), c.secrets...) }

// Redact masks the client's secrets in a text, for logs: the fixed ones
// and the OAuth tokens as they are now (a portal or a proxy may echo the
// body's auth parameter back).
func (c *Client) Redact(s string) string { return secret.String(s, c.allSecrets()...) }

// RedactErr masks the client's secrets in an error's text, keeping its
// chain.
func (c *Client) RedactErr(err error) error { return secret.Redact(err, c.allSecrets()...) }

func (c *Client) allSecrets() []string {
	if c.oauth == nil {
		return c.secrets
	}
	return append(append([]string(nil), c.secrets...), c.oauth.current()...)
}

// Call runs one method with params (marshalled as JSON) and decodes the
// envelope's result into out (nil to ignore it).
func (c *Client) Call(ctx context.Context, method string, params any, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("bitrix24: encode %s: %w", method, err)
	}
	deadline := time.Now().Add(c.MaxWait)
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := c.bucket.Wait(ctx); err != nil {
			return err
		}
		raw, used, err := c.post(ctx, method, body)
		if !errors.As(err, new(*unreachable)) {
			c.called(ctx)
		}
		var ae *APIError
		switch {
		case err == nil:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(raw, out); err != nil {
				return fmt.Errorf("bitrix24: decode %s result: %w", method, err)
			}
			return nil
		case errors.As(err, &ae) && c.oauth != nil && !refreshed && (ae.Code == "expired_token" || ae.Code == "invalid_token"):
			refreshed = true
			if rerr := c.oauth.Refresh(ctx, used); rerr != nil {
				return fmt.Errorf("bitrix24: %s: %w", method, c.RedactErr(rerr))
			}
			continue
		case errors.As(err, &ae) && ae.Temporary(), errors.As(err, new(*unreachable)) && ctx.Err() == nil:
			// Over the limit, or the portal is unreachable for now: wait
			// with backoff, the same call again.
			wait := min(time.Duration(1<<min(attempt, 5))*500*time.Millisecond, 15*time.Second)
			if time.Now().Add(wait).After(deadline) {
				return err
			}
			c.log.Info("bitrix24 asked to slow down or is unreachable; trying again", "method", method, "wait", wait, "err", c.Redact(err.Error()))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		default:
			return err
		}
	}
}

// post sends one call; with OAuth it also returns the access token it
// used, so that a refresh knows which token the portal refused.
func (c *Client) post(ctx context.Context, method string, body []byte) (json.RawMessage, string, error) {
	endpoint := c.base + method
	var token string
	if c.oauth != nil || c.user != "" {
		token = c.user
		if c.oauth != nil {
			var err error
			if token, err = c.oauth.Token(ctx); err != nil {
				return nil, "", err
			}
		}
		// The token goes as the body's auth parameter, not in the URL, so
		// that no error that names the URL can carry it.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
			fields = map[string]json.RawMessage{}
		}
		fields["auth"], _ = json.Marshal(token)
		body, _ = json.Marshal(fields)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, token, fmt.Errorf("bitrix24: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, token, &unreachable{fmt.Errorf("bitrix24: %s: %w", method, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, token, &unreachable{fmt.Errorf("bitrix24: %s: read answer: %w", method, err)}
	}
	var env struct {
		Result      json.RawMessage `json:"result"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	if jerr := json.Unmarshal(raw, &env); jerr != nil || env.Error != "" || resp.StatusCode >= 300 {
		// A portal, or a proxy before it, may echo the request: what it
		// says goes into errors and logs only with the secrets masked.
		e := &APIError{Status: resp.StatusCode, Code: c.Redact(env.Error), Description: c.Redact(env.Description)}
		if e.Code == "" {
			e.Code = http.StatusText(resp.StatusCode)
		}
		return nil, token, e
	}
	return env.Result, token, nil
}

// BatchCall is one call of a batch.
type BatchCall struct {
	Method string
	Params map[string]any
}

// Batch runs up to 50 calls in one request (the portal's batch method),
// which counts once against the leaky bucket. It returns each call's
// error, nil where it succeeded.
func (c *Client) Batch(ctx context.Context, calls []BatchCall) ([]error, error) {
	_, errs, err := c.BatchResults(ctx, calls)
	return errs, err
}

// BatchResults is Batch that also returns each call's result.
func (c *Client) BatchResults(ctx context.Context, calls []BatchCall) ([]json.RawMessage, []error, error) {
	results := make([]json.RawMessage, len(calls))
	errs := make([]error, len(calls))
	for start := 0; start < len(calls); start += 50 {
		part := calls[start:min(start+50, len(calls))]
		cmd := map[string]string{}
		for i, call := range part {
			q := url.Values{}
			buildQuery("", call.Params, q)
			cmd[batchKey(i)] = call.Method + "?" + q.Encode()
		}
		var res struct {
			Result json.RawMessage `json:"result"`
			Errors json.RawMessage `json:"result_error"`
		}
		if err := c.Call(ctx, "batch", map[string]any{"halt": 0, "cmd": cmd}, &res); err != nil {
			return nil, nil, err
		}
		// An empty result or result_error is [] in PHP's JSON, a filled
		// one an object.
		var byKey map[string]json.RawMessage
		json.Unmarshal(res.Result, &byKey)
		var errByKey map[string]struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(res.Errors, &errByKey)
		for i := range part {
			k := batchKey(i)
			if e, ok := errByKey[k]; ok {
				errs[start+i] = &APIError{Status: http.StatusBadRequest, Code: e.Error, Description: c.Redact(e.Description)}
				continue
			}
			results[start+i] = byKey[k]
		}
	}
	return results, errs, nil
}

// batchKey names a batch's i-th call so that the names sort as the calls
// go (c00, c01 … c49): the cmd object is sent with sorted keys, and the
// portal runs the calls in the order it reads them — messages to one
// person must not arrive c0, c1, c10, c2.
func batchKey(i int) string { return fmt.Sprintf("c%02d", i) }

// buildQuery writes params the way PHP's http_build_query does, which is
// how the portal reads a batch command's query: nested keys in brackets,
// lists by index, booleans as 1 and 0.
func buildQuery(prefix string, v any, out url.Values) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "[" + k + "]"
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			buildQuery(key(k), val, out)
		}
	case []map[string]any:
		for i, val := range x {
			buildQuery(key(strconv.Itoa(i)), val, out)
		}
	case []string:
		for i, val := range x {
			out.Set(key(strconv.Itoa(i)), val)
		}
	case []any:
		for i, val := range x {
			buildQuery(key(strconv.Itoa(i)), val, out)
		}
	case bool:
		out.Set(prefix, map[bool]string{true: "1", false: "0"}[x])
	case nil:
		out.Set(prefix, "")
	default:
		out.Set(prefix, fmt.Sprint(x))
	}
}

// Download fetches a portal URL (a file's DOWNLOAD_URL carries its own
// token), at most max bytes; errTooBig past that.
func (c *Client) Download(ctx context.Context, link string, max int64) ([]byte, error) {
	if err := c.bucket.Wait(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, errors.New("bitrix24: download: bad link")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// A download link carries a token of its own: the error names the
		// host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("bitrix24: download from %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{Status: resp.StatusCode, Code: "DOWNLOAD_FAILED", Description: http.StatusText(resp.StatusCode)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("bitrix24: download: %w", err)
	}
	if int64(len(data)) > max {
		return nil, errTooBig
	}
	return data, nil
}

var errTooBig = errors.New("bitrix24: file over the limit")

// unreachable is a call that never got the portal's answer: worth trying
// again, unlike a refusal.
type unreachable struct{ err error }

func (u *unreachable) Error() string { return u.err.Error() }
func (u *unreachable) Unwrap() error { return u.err }

// User is a portal user as user.get lists them.
type User struct {
	ID       string
	Name     string
	LastName string
	Email    string
	Phone    string
}

// Users lists the portal's active users, page by page (50 a page).
func Users(ctx context.Context, c *Client) ([]User, error) {
	var out []User
	for start := 0; ; start += 50 {
		var page []struct {
			ID       json.RawMessage `json:"ID"`
			Name     string          `json:"NAME"`
			LastName string          `json:"LAST_NAME"`
			Email    string          `json:"EMAIL"`
			Mobile   string          `json:"PERSONAL_MOBILE"`
			Work     string          `json:"WORK_PHONE"`
		}
		if err := c.Call(ctx, "user.get", map[string]any{"FILTER": map[string]any{"ACTIVE": true}, "start": start}, &page); err != nil {
			return nil, fmt.Errorf("bitrix24: list users: %w", err)
		}
		for _, u := range page {
			phone := u.Mobile
			if phone == "" {
				phone = u.Work
			}
			out = append(out, User{ID: strings.Trim(string(u.ID), `"`), Name: u.Name, LastName: u.LastName, Email: u.Email, Phone: phone})
		}
		if len(page) < 50 {
			return out, nil
		}
	}
}
