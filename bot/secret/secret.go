// Package secret keeps secrets — bot tokens, API keys, passwords, webhook
// URLs that carry a key — out of errors and logs. Every outbound HTTP call
// the project makes goes through a Client, whose errors name the URL with
// each secret replaced; errors made elsewhere are passed through Redact.
package secret

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Mask is what a secret reads as in a redacted text.
const Mask = "[REDACTED]"

// minLen is the shortest value treated as a secret: shorter ones would
// blank out ordinary words.
const minLen = 6

// Redact returns err with every secret in its text masked. The chain is
// kept (errors.Is and errors.As still see the original), only the text
// changes.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := String(msg, secrets...)
	if clean == msg {
		return err
	}
	return &redacted{msg: clean, err: err}
}

// String masks every secret in s, also in its URL-escaped form.
func String(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < minLen {
			continue
		}
		s = strings.ReplaceAll(s, sec, Mask)
		if esc := url.PathEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, Mask)
		}
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, Mask)
		}
	}
	return s
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// Client is an HTTP client whose errors carry no secret: net/http puts the
// request's URL into every error, and a Bot API or inbound-webhook URL
// holds the key itself.
type Client struct {
	HTTP    *http.Client
	Secrets []string
}

// Do implements the Do method the platform libraries take.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// Rebuilt rather than wrapped: url.Error's own text is what
			// callers print.
			return nil, &url.Error{Op: ue.Op, URL: String(ue.URL, c.Secrets...), Err: Redact(ue.Err, c.Secrets...)}
		}
		return nil, Redact(err, c.Secrets...)
	}
	return resp, nil
}
