// Package smsfake is a local SMS gateway for tests: it answers SMS.ru's
// /sms/send, SMSC's /sys/send.php and Twilio's Messages API in their real
// formats — errors included — and records every request.
package smsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Request is one recorded call.
type Request struct {
	Method   string
	Path     string
	Form     map[string]string
	User     string
	Password string
}

// Answer is a canned reply.
type Answer struct {
	Status  int
	Body    string
	Headers map[string]string
}

// Server is the fake gateway.
type Server struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	requests []Request
	next     map[string][]Answer // by gateway: smsru, smsc, twilio
	seq      int
}

// New starts the fake.
func New() *Server {
	s := &Server{next: map[string][]Answer{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops it.
func (s *Server) Close() { s.srv.Close() }

// Then queues an answer for the gateway's next request; "{to}" in its body
// is replaced by the request's number.
func (s *Server) Then(gateway string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next[gateway] = append(s.next[gateway], a)
}

// Requests returns what was received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Form: map[string]string{}}
	for k, v := range r.Form {
		req.Form[k] = v[0]
	}
	req.User, req.Password, _ = r.BasicAuth()
	gateway := ""
	switch {
	case r.URL.Path == "/sms/send":
		gateway = "smsru"
	case r.URL.Path == "/sys/send.php":
		gateway = "smsc"
	case strings.HasPrefix(r.URL.Path, "/2010-04-01/Accounts/") && strings.HasSuffix(r.URL.Path, "/Messages.json"):
		gateway = "twilio"
	default:
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.seq++
	seq := s.seq
	var a *Answer
	if q := s.next[gateway]; len(q) > 0 {
		a, s.next[gateway] = &q[0], q[1:]
	}
	s.mu.Unlock()
	if a == nil {
		a = success(gateway, req, seq)
	}
	for k, v := range a.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.Status)
	// "{to}" in a canned body stands for the number asked for, so that a
	// per-number answer fits whichever request comes first.
	fmt.Fprint(w, strings.ReplaceAll(a.Body, "{to}", req.Form["to"]))
}

func success(gateway string, req Request, seq int) *Answer {
	var body any
	status := http.StatusOK
	switch gateway {
	case "smsru":
		body = map[string]any{"status": "OK", "status_code": 100, "balance": 4122.56,
			"sms": map[string]any{req.Form["to"]: map[string]any{"status": "OK", "status_code": 100, "sms_id": fmt.Sprintf("000000-%08d", seq)}}}
	case "smsc":
		body = map[string]any{"id": seq, "cnt": 1}
	case "twilio":
		status = http.StatusCreated
		body = map[string]any{"sid": fmt.Sprintf("SM%032d", seq), "status": "queued", "to": req.Form["To"], "from": req.Form["From"],
			"body": req.Form["Body"], "num_segments": "1", "error_code": nil}
	}
	b, _ := json.Marshal(body)
	return &Answer{Status: status, Body: string(b)}
}
