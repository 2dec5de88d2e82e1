package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The download links a result event carries work without a key until
// they expire: the receiver of a webhook may hand them to a system that
// has none. They are signed with a key kept in the database, made on first
// start.

const linkState = "api"

func (s *Server) loadLinkKey(ctx context.Context) ([]byte, error) {
	raw, ok, err := s.Store.StateGet(ctx, linkState, "link-key")
	if err != nil {
		return nil, fmt.Errorf("read api link key: %w", err)
	}
	if !ok {
		b := make([]byte, 32)
		rand.Read(b)
		if raw, err = s.Store.StateKeep(ctx, linkState, "link-key", hex.EncodeToString(b)); err != nil {
			return nil, fmt.Errorf("store api link key: %w", err)
		}
	}
	key, err := hex.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("api link key: %w", err)
	}
	return key, nil
}

// pathEscape escapes a document number as one path segment (a number may
// hold a slash: "Д/2026/0001").
func pathEscape(number string) string { return url.PathEscape(number) }

// signature signs what a link opens (the resource, unescaped, so that
// encodings cannot differ) and until when.
func (s *Server) signature(resource string, expires int64) string {
	m := hmac.New(sha256.New, s.linkKey)
	fmt.Fprintf(m, "%s\n%d", resource, expires)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) signedURL(path, resource string, expires time.Time) string {
	exp := expires.Unix()
	return strings.TrimRight(s.PublicURL, "/") + path + "?expires=" + strconv.FormatInt(exp, 10) + "&signature=" + s.signature(resource, exp)
}

// VersionURL is a download link of a version that works until expires.
func (s *Server) VersionURL(number string, version int, expires time.Time) string {
	return s.signedURL(fmt.Sprintf("%s/documents/%s/versions/%d/file", Prefix, pathEscape(number), version),
		fmt.Sprintf("version:%s:%d", number, version), expires)
}

// SheetURL is a download link of the approval sheet that works until
// expires.
func (s *Server) SheetURL(number string, expires time.Time) string {
	return s.signedURL(fmt.Sprintf("%s/documents/%s/sheet.pdf", Prefix, pathEscape(number)), "sheet:"+number, expires)
}

// linkOrKey serves h to a signed, unexpired link, or else to a key with
// the read scope.
func (s *Server) linkOrKey(h handler) http.Handler {
	keyed := s.keyed(ScopeRead, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sig := q.Get("signature")
		if sig == "" {
			keyed.ServeHTTP(w, r)
			return
		}
		resource := "sheet:" + r.PathValue("number")
		if n := r.PathValue("n"); n != "" {
			resource = "version:" + r.PathValue("number") + ":" + n
		}
		exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		if err != nil || !hmac.Equal([]byte(sig), []byte(s.signature(resource, exp))) || s.Clock.Now().Unix() > exp {
			s.problem(w, r, http.StatusUnauthorized, "link_expired")
			return
		}
		h(w, r, caller{})
	})
}
