// Package webtest has helpers for tests that drive the web channel over
// HTTP: plain requests that return status and body, and the CSRF token of a
// page's forms.
package webtest

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// Get fetches u and returns the status and the body.
func Get(tb testing.TB, c *http.Client, u string) (int, string) {
	tb.Helper()
	resp, err := c.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	return read(tb, resp)
}

// Post submits form to u and returns the status and the body.
func Post(tb testing.TB, c *http.Client, u string, form url.Values) (int, string) {
	tb.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		tb.Fatal(err)
	}
	return read(tb, resp)
}

func read(tb testing.TB, resp *http.Response) (int, string) {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read %s: %v", resp.Request.URL, err)
	}
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9]+\.[0-9a-f]+)"`)

// CSRF returns the token of the first form on page.
func CSRF(tb testing.TB, page string) string {
	tb.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		tb.Fatalf("no csrf in page:\n%.500s", page)
	}
	return m[1]
}
