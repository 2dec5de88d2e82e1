// Package api is the connector's HTTP API under /api/v1: other systems (1C,
// Directum, a CRM) start approvals, watch them and download the result. It
// is described by openapi.yaml, served as /api/v1/openapi.json, and every
// test response is validated against it. Keys come from "viza api-key
// create"; the key says which integration acts, the request names the
// person it acts for, and the audit log records both.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// Scopes, each including the one before.
const (
	ScopeRead  = "read"
	ScopeStart = "start"
	ScopeWrite = "write"
)

// Scopes lists the scopes from least to most.
var Scopes = []string{ScopeRead, ScopeStart, ScopeWrite}

func scopeAllows(have, need string) bool {
	return slices.Index(Scopes, have) >= slices.Index(Scopes, need) && slices.Contains(Scopes, have)
}

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the API's description as JSON.
func OpenAPI() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("read openapi.yaml: %w", err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi.json: %w", err)
	}
	return b, nil
}

// Store is what the API reads.
type Store interface {
	CheckAPIKey(ctx context.Context, presented string) (storage.APIKey, error)
	DocumentByNumber(ctx context.Context, number string) (*flows.Document, error)
	ListDocuments(ctx context.Context, f storage.DocumentFilter) ([]storage.ChangedDocument, error)
	DocumentUpdatedAt(ctx context.Context, id int64) (int64, error)
	DocumentEvents(ctx context.Context, docID int64) ([]flows.AuditEvent, error)
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
	StateKeep(ctx context.Context, channel, key, value string) (string, error)
}

// Server serves the API.
type Server struct {
	Engine *flows.Engine
	Store  Store
	Files  flows.FileStore
	// Sheet renders a document's approval sheet.
	Sheet     func(ctx context.Context, d *flows.Document, lang string, w io.Writer) error
	Clock     flows.Clock
	Log       *slog.Logger
	PublicURL string
	// Compare answers …/versions/{n}/diff (nil: not found).
	Compare compare.Comparer
	// Stats answers /stats (nil: not found).
	Stats *stats.Service
	// RequestsPerMinute is each key's rate limit.
	RequestsPerMinute int
	MaxUpload         int64 // bytes; default flows.MaxFileSize

	// LinkKey is the key download links are signed with, by generation
	// (derived from the audit key; nil: one kept in the database, for a
	// server without an audit key). LinkTTL caps how long a link works.
	LinkKey func(generation int64) []byte
	LinkTTL time.Duration

	legacyKey   []byte // the key earlier versions stored, during the transition
	legacyUntil int64
	openapi     []byte
	mu          sync.Mutex
	limiters    map[string]*rate.Limiter
}

// Init reads (or makes) the key that signs download links and prepares
// the OpenAPI document.
func (s *Server) Init(ctx context.Context) error {
	if s.MaxUpload == 0 {
		s.MaxUpload = flows.MaxFileSize
	}
	if s.RequestsPerMinute == 0 {
		s.RequestsPerMinute = 120
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.limiters = map[string]*rate.Limiter{}
	if err := s.loadLinkKeys(ctx); err != nil {
		return err
	}
	var err error
	s.openapi, err = OpenAPI()
	return err
}

// Handler serves everything under Prefix.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.openapi)
	})
	mux.Handle("POST "+Prefix+"/documents", s.keyed(ScopeStart, s.start))
	mux.Handle("GET "+Prefix+"/documents", s.keyed(ScopeRead, s.list))
	mux.Handle("GET "+Prefix+"/documents/{number}", s.keyed(ScopeRead, s.get))
	mux.Handle("POST "+Prefix+"/documents/{number}/versions", s.keyed(ScopeWrite, s.upload))
	mux.Handle("POST "+Prefix+"/documents/{number}/withdraw", s.keyed(ScopeWrite, s.withdraw))
	mux.Handle("POST "+Prefix+"/documents/{number}/approvers", s.keyed(ScopeWrite, s.addApprover))
	mux.Handle("POST "+Prefix+"/documents/{number}/approvers/remove", s.keyed(ScopeWrite, s.removeApprover))
	mux.Handle("GET "+Prefix+"/documents/{number}/versions/{n}/file", s.linkOrKey(s.file))
	mux.Handle("GET "+Prefix+"/documents/{number}/versions/{n}/diff", s.keyed(ScopeRead, s.diff))
	mux.Handle("GET "+Prefix+"/documents/{number}/sheet.pdf", s.linkOrKey(s.sheet))
	mux.Handle("GET "+Prefix+"/documents/{number}/signatures/{s}", s.linkOrKey(s.signature))
	mux.Handle("GET "+Prefix+"/stats", s.keyed(ScopeRead, s.stats))
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, "not_found")
	})
	return mux
}

// caller is who is asking: an API key, or a signed link (no key).
type caller struct {
	key storage.APIKey
}

// mayType reports whether the caller's key covers a document type.
func (c caller) mayType(typ string) bool {
	return len(c.key.Types) == 0 || slices.Contains(c.key.Types, typ)
}

type handler func(w http.ResponseWriter, r *http.Request, c caller)

// keyed checks the key, its scope and its rate before h runs: a request
// that fails any of them changes nothing.
func (s *Server) keyed(scope string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !scopeAllows(c.key.Scope, scope) {
			s.problem(w, r, http.StatusForbidden, "forbidden_scope", detail{"scope", map[string]any{"Have": c.key.Scope, "Need": scope}})
			return
		}
		if !s.allow(w, r, c.key.ID) {
			return
		}
		h(w, r, c)
	})
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	// The scheme is case-insensitive (RFC 9110, 11.1): "bearer" is Bearer.
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	ok = ok && strings.EqualFold(scheme, "Bearer")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="viza"`)
		s.problem(w, r, http.StatusUnauthorized, "unauthorized")
		return caller{}, false
	}
	k, err := s.Store.CheckAPIKey(r.Context(), strings.TrimSpace(token))
	if errors.Is(err, storage.ErrBadAPIKey) {
		s.Log.Warn("api: key refused", "remote", r.RemoteAddr, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="viza", error="invalid_token"`)
		s.problem(w, r, http.StatusUnauthorized, "unauthorized")
		return caller{}, false
	}
	if err != nil {
		s.internal(w, r, err)
		return caller{}, false
	}
	return caller{key: k}, true
}

// allow spends one request of the key's rate; when there is none left it
// answers 429 with the seconds until there is.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, keyID string) bool {
	s.mu.Lock()
	lim := s.limiters[keyID]
	if lim == nil {
		// A burst of a quarter minute's worth lets an integration catch up
		// after an outage without being refused at once.
		lim = rate.NewLimiter(rate.Limit(float64(s.RequestsPerMinute)/60), max(1, s.RequestsPerMinute/4))
		s.limiters[keyID] = lim
	}
	s.mu.Unlock()
	now := s.Clock.Now()
	res := lim.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(delay.Seconds()))))
		s.problem(w, r, http.StatusTooManyRequests, "rate_limited")
		return false
	}
	return true
}

// Problem is an error answer (RFC 9457) with a stable code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// language picks the language of error texts from Accept-Language.
func language(r *http.Request) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Header.Get("Accept-Language"))), "ru") {
		return "ru"
	}
	return "en"
}

// detail names the catalogue's explanation of a problem (api.detail.<Key>)
// with its values.
type detail struct {
	Key  string
	Data map[string]any
}

func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, code string, explain ...detail) {
	l, err := locales.For(language(r))
	text, title := "", http.StatusText(status)
	if err == nil {
		title = l.T("api.status."+strconv.Itoa(status), nil)
		if len(explain) > 0 {
			text = l.T("api.detail."+explain[0].Key, explain[0].Data)
		}
		// The API's own wording next (an unknown person here is the
		// initiator named, not the caller), then the one people see.
		for _, id := range []string{"api.problem." + code, "error." + code} {
			if t := l.T(id, nil); text == "" && t != id {
				text = t
			}
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{Type: "https://viza.app/problems/" + code, Title: title, Status: status, Detail: text, Code: code})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.Log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.problem(w, r, http.StatusInternalServerError, "internal")
}

// requestCodes are the engine's refusals that are about what the request
// says, whatever kind the engine gives them: the integration sent a bad
// value, it is not forbidden from anything.
var requestCodes = map[string]bool{"unknown_person": true, "unknown_type": true}

// engineError answers an engine refusal with its own code.
func (s *Server) engineError(w http.ResponseWriter, r *http.Request, err error) {
	var e *flows.Error
	if !errors.As(err, &e) {
		s.internal(w, r, err)
		return
	}
	status := map[flows.Kind]int{flows.KindInvalid: http.StatusUnprocessableEntity, flows.KindNotFound: http.StatusNotFound,
		flows.KindForbidden: http.StatusForbidden, flows.KindConflict: http.StatusConflict}[e.Kind]
	if requestCodes[e.Code] {
		status = http.StatusUnprocessableEntity
	}
	if status == 0 {
		s.internal(w, r, err)
		return
	}
	// Detail goes to the log only; the caller gets the code's safe text.
	s.Log.Info("api: refused by the engine", "path", r.URL.Path, "err", err)
	s.problem(w, r, status, e.Code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) documentURL(number string) string {
	return strings.TrimRight(s.PublicURL, "/") + Prefix + "/documents/" + pathEscape(number)
}
