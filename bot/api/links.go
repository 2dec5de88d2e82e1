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
// has none. They are signed with a key derived from the audit key, which
// is kept outside the database (LinkKey): whoever reads a backup, a
// pg_dump or a read-only role cannot make links. Rotating it (viza api-key
// rotate-links) moves the key to its next generation, and every link made
// before dies. The key earlier versions kept in the database is accepted
// only until the links it signed would have expired anyway, then deleted.

const linkState = "api"

// loadLinkKeys settles the keys links are signed and checked with.
func (s *Server) loadLinkKeys(ctx context.Context) error {
	legacy, ok, err := s.Store.StateGet(ctx, linkState, "link-key")
	if err != nil {
		return fmt.Errorf("read api link key: %w", err)
	}
	if s.LinkKey == nil {
		// No audit key to derive from (a test's server): a key of the
		// database's own, as before.
		if !ok {
			b := make([]byte, 32)
			rand.Read(b)
			if legacy, err = s.Store.StateKeep(ctx, linkState, "link-key", hex.EncodeToString(b)); err != nil {
				return fmt.Errorf("store api link key: %w", err)
			}
		}
		key, err := hex.DecodeString(legacy)
		if err != nil {
			return fmt.Errorf("api link key: %w", err)
		}
		s.LinkKey = func(int64) []byte { return key }
		return nil
	}
	if !ok {
		return nil
	}
	// The transition: links signed with the stored key work until the
	// longest of them could have expired, counted from the first start
	// with a derived key; then the stored key is gone.
	until, _, err := s.Store.StateGet(ctx, linkState, "link-key-until")
	if err != nil {
		return err
	}
	end, _ := strconv.ParseInt(until, 10, 64)
	if end == 0 {
		end = s.Clock.Now().Add(s.linkTTL()).Unix()
		if _, err := s.Store.StateKeep(ctx, linkState, "link-key-until", strconv.FormatInt(end, 10)); err != nil {
			return err
		}
	}
	if s.Clock.Now().Unix() > end {
		for _, k := range []string{"link-key", "link-key-until"} {
			if err := s.Store.StatePut(ctx, linkState, k, ""); err != nil {
				return fmt.Errorf("forget the stored api link key: %w", err)
			}
		}
		s.Log.Info("the download-link key kept in the database is gone; links are signed with the key derived from the audit key")
		return nil
	}
	if key, err := hex.DecodeString(legacy); err == nil && len(key) > 0 {
		s.legacyKey, s.legacyUntil = key, end
	}
	return nil
}

// generation is the link key's current generation (0 until the first
// rotation).
func (s *Server) generation(ctx context.Context) int64 {
	v, _, err := s.Store.StateGet(ctx, linkState, "link-generation")
	if err != nil {
		s.Log.Warn("read the link key's generation", "err", err)
	}
	g, _ := strconv.ParseInt(v, 10, 64)
	return g
}

// RotateLinkKey moves the link key to its next generation: every download
// link made so far stops working.
func RotateLinkKey(ctx context.Context, store Store) (int64, error) {
	v, _, err := store.StateGet(ctx, linkState, "link-generation")
	if err != nil {
		return 0, err
	}
	g, _ := strconv.ParseInt(v, 10, 64)
	g++
	if err := store.StatePut(ctx, linkState, "link-generation", strconv.FormatInt(g, 10)); err != nil {
		return 0, err
	}
	// The key of earlier versions goes at once too.
	for _, k := range []string{"link-key", "link-key-until"} {
		if err := store.StatePut(ctx, linkState, k, ""); err != nil {
			return 0, err
		}
	}
	return g, nil
}

func (s *Server) linkTTL() time.Duration {
	if s.LinkTTL > 0 {
		return s.LinkTTL
	}
	return 7 * 24 * time.Hour
}

// pathEscape escapes a document number as one path segment (a number may
// hold a slash: "Д/2026/0001").
func pathEscape(number string) string { return url.PathEscape(number) }

// signature signs what a link opens (the resource, unescaped, so that
// encodings cannot differ) and until when, with key.
func signature(key []byte, resource string, expires int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\n%d", resource, expires)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) signedURL(ctx context.Context, path, resource string, expires time.Time) string {
	// Never longer than the links' lifetime allows.
	if limit := s.Clock.Now().Add(s.linkTTL()); expires.After(limit) {
		expires = limit
	}
	exp := expires.Unix()
	key := s.LinkKey(s.generation(ctx))
	return strings.TrimRight(s.PublicURL, "/") + path + "?expires=" + strconv.FormatInt(exp, 10) + "&signature=" + signature(key, resource, exp)
}

// validLink checks a link's signature and expiry: signed with the
// current generation's key (or, during the transition, the key earlier
// versions stored), unexpired, and expiring no later than the links'
// lifetime from now — a signature cannot buy a longer one.
func (s *Server) validLink(ctx context.Context, resource, sig string, exp int64) bool {
	now := s.Clock.Now()
	if now.Unix() > exp || exp > now.Add(s.linkTTL()+time.Minute).Unix() {
		return false
	}
	if hmac.Equal([]byte(sig), []byte(signature(s.LinkKey(s.generation(ctx)), resource, exp))) {
		return true
	}
	return s.legacyKey != nil && now.Unix() <= s.legacyUntil && hmac.Equal([]byte(sig), []byte(signature(s.legacyKey, resource, exp)))
}

// VersionURL is a download link of a version that works until expires.
func (s *Server) VersionURL(ctx context.Context, number string, version int, expires time.Time) string {
	return s.signedURL(ctx, fmt.Sprintf("%s/documents/%s/versions/%d/file", Prefix, pathEscape(number), version),
		fmt.Sprintf("version:%s:%d", number, version), expires)
}

// SignatureURL is a download link of the document's n-th verified
// signature file (1-based) that works until expires.
func (s *Server) SignatureURL(ctx context.Context, number string, n int, expires time.Time) string {
	return s.signedURL(ctx, fmt.Sprintf("%s/documents/%s/signatures/%d", Prefix, pathEscape(number), n),
		fmt.Sprintf("signature:%s:%d", number, n), expires)
}

// SheetURL is a download link of the approval sheet that works until
// expires.
func (s *Server) SheetURL(ctx context.Context, number string, expires time.Time) string {
	return s.signedURL(ctx, fmt.Sprintf("%s/documents/%s/sheet.pdf", Prefix, pathEscape(number)), "sheet:"+number, expires)
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
		if n := r.PathValue("s"); n != "" {
			resource = "signature:" + r.PathValue("number") + ":" + n
		}
		exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		if err != nil || !s.validLink(r.Context(), resource, sig, exp) {
			s.problem(w, r, http.StatusUnauthorized, "link_expired")
			return
		}
		h(w, r, caller{})
	})
}
