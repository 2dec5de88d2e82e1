// Package dsstest is a fake КриптоПро DSS signing service for tests: it
// speaks the v2 REST requests and statuses Viza uses (see package dss for
// which of them the documentation shows), and signs for real, with a test
// certificate, once a test confirms an operation as the signer would in
// myDSS.
package dsstest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/viza-app/viza/signcheck/signtest"
)

// Op is an operation the fake holds.
type Op struct {
	ID     string
	User   string
	Data   []byte
	Status string // Created, Completed, Declined, Error
	Words  string
}

// Server is the fake. Tokens maps a bearer token to its DSS user.
type Server struct {
	*httptest.Server
	t      testing.TB
	signer signtest.Signer

	mu      sync.Mutex
	tokens  map[string]string
	ops     map[string]*Op
	seq     int
	down    bool
	NoAsk   map[string]bool // users whose operations need no confirmation
	Created []string        // operation ids, in order
	// Passwords are the accounts the identity service (/STS/oauth/token)
	// knows, login → password; TokensIssued counts its tokens.
	Passwords    map[string]string
	TokensIssued int
}

// New starts a fake signing with signer's certificate.
func New(t testing.TB, signer signtest.Signer, tokens map[string]string) *Server {
	s := &Server{t: t, signer: signer, tokens: tokens, ops: map[string]*Op{}, NoAsk: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL of the signing service's REST root.
func (s *Server) API() string { return s.URL + "/SignServer/rest/api" }

// Down makes every request answer 503.
func (s *Server) Down(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// Confirm, Decline and Fail act on an operation as the signer in myDSS,
// or DSS itself, would.
func (s *Server) Confirm(id string) { s.set(id, "Completed", "") }
func (s *Server) Decline(id string) {
	s.set(id, "Declined", "Отклонено пользователем")
}
func (s *Server) Fail(id string, words string) { s.set(id, "Error", words) }

func (s *Server) set(id, status, words string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.ops[id]
	if !ok {
		s.t.Errorf("dsstest: no operation %q", id)
		return
	}
	op.Status, op.Words = status, words
}

// Op returns a copy of an operation.
func (s *Server) Op(id string) Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.ops[id]
}

// Last is the id of the operation created last ("" when none).
func (s *Server) Last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.Created) == 0 {
		return ""
	}
	return s.Created[len(s.Created)-1]
}

type request struct {
	BinaryData []struct {
		Content []byte `json:"Content"`
		RefID   string `json:"RefId"`
	} `json:"BinaryData"`
	Signature *struct {
		CertificateID        string `json:"CertificateId"`
		Type                 string `json:"Type"`
		ProcessingTemplateID string `json:"ProcessingTemplateId"`
	} `json:"Signature"`
	PinCode string `json:"PinCode"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/STS/oauth/token" {
		s.issueToken(w, r)
		return
	}
	user, ok := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Токен не действителен"})
		return
	}
	const root = "/SignServer/rest/api/v2/signature"
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, root) {
		http.NotFound(w, r)
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	if id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, root), "/"); id != "" {
		// Executing a confirmed operation: an empty object or a PIN.
		op, ok := s.ops[id]
		if !ok || op.User != user {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "operation_not_found", "error_description": "Операция не найдена"})
			return
		}
		s.answer(w, op)
		return
	}
	if len(req.BinaryData) != 1 || len(req.BinaryData[0].Content) == 0 || req.Signature == nil || req.Signature.CertificateID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_signature_params", "error_description": "Неверно указаны параметры подписи"})
		return
	}
	s.seq++
	op := &Op{ID: fmt.Sprintf("7e1c3a20-0000-4000-8000-%012d", s.seq), User: user, Data: req.BinaryData[0].Content, Status: "Created"}
	if s.NoAsk[user] {
		op.Status = "Completed"
	}
	s.ops[op.ID] = op
	s.Created = append(s.Created, op.ID)
	s.answer(w, op)
}

// answer is an OperationInfo: the operation's id and status, and its
// document with the signature once completed.
func (s *Server) answer(w http.ResponseWriter, op *Op) {
	doc := map[string]any{"Status": op.Status}
	if op.Words != "" {
		doc["Message"] = op.Words
	}
	if op.Status == "Completed" {
		doc["Content"] = base64.StdEncoding.EncodeToString(s.signer.Sign(s.t, op.Data, true))
	}
	writeJSON(w, http.StatusOK, map[string]any{"OperationId": op.ID, "Status": op.Status, "Documents": []any{doc}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// issueToken is the identity service's password grant: a form with the
// client, the account and the signing service as the resource; a token
// good for five minutes.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "password" || r.PostForm.Get("client_id") == "" ||
		r.PostForm.Get("resource") != "urn:cryptopro:dss:signserver:signserver" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Неверный запрос"})
		return
	}
	user := r.PostForm.Get("username")
	if want, ok := s.Passwords[user]; !ok || want != r.PostForm.Get("password") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Неверное имя пользователя или пароль"})
		return
	}
	s.TokensIssued++
	token := fmt.Sprintf("sts-%s-%d", user, s.TokensIssued)
	s.tokens[token] = user
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 300})
}
