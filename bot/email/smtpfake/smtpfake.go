// Package smtpfake is an SMTP server for tests, built on
// github.com/emersion/go-smtp: it speaks real SMTP (EHLO, STARTTLS or
// implicit TLS, AUTH PLAIN, MAIL, RCPT, DATA), keeps what it receives, and
// can be told to go down or to answer with 4xx or 5xx.
package smtpfake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message as the server took it.
type Received struct {
	From string
	To   []string
	Data []byte
}

// Server is a running fake.
type Server struct {
	// Addr is host:port; it stays the same across Down and Up.
	Addr     string
	Host     string
	Port     int
	Username string
	Password string

	mode   string // none | starttls | tls
	tlsCfg *tls.Config
	pool   *x509.CertPool

	mu      sync.Mutex
	srv     *smtp.Server
	msgs    []Received
	refuse  int // answer MAIL FROM with this code; 0 accepts
	attempt int
}

// Start runs a server on 127.0.0.1 in mode none, starttls or tls; with a
// username, AUTH PLAIN is required.
func Start(mode, username, password string) (*Server, error) {
	s := &Server{mode: mode, Username: username, Password: password}
	if mode != "none" {
		cert, pool, err := selfSigned()
		if err != nil {
			return nil, err
		}
		s.tlsCfg, s.pool = &tls.Config{Certificates: []tls.Certificate{cert}}, pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.serve(l)
	return s, nil
}

// ClientTLS trusts the server's certificate.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1"}
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 50 << 20
	srv.AllowInsecureAuth = s.mode == "none"
	if s.mode == "starttls" {
		srv.TLSConfig = s.tlsCfg
	}
	if s.mode == "tls" {
		l = tls.NewListener(l, s.tlsCfg)
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(l)
}

// Down stops listening: connections are refused, as from a server that is
// off.
func (s *Server) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Up listens again on the same address.
func (s *Server) Up() error {
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", s.Addr, err)
	}
	s.serve(l)
	return nil
}

// Close stops the server.
func (s *Server) Close() { s.Down() }

// Refuse answers every next MAIL FROM with code (451: try later; 550: no);
// 0 accepts again.
func (s *Server) Refuse(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = code
}

// Messages returns what was received, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Attempts counts MAIL FROM commands, accepted or not.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempt
}

type session struct {
	s    *Server
	auth bool
	from string
	to   []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != se.s.Username || password != se.s.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		se.auth = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	se.s.attempt++
	if se.s.Username != "" && !se.auth {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	switch code := se.s.refuse; {
	case code >= 500:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected by policy"}
	case code >= 400:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if se.from == "" {
		return errors.New("no MAIL FROM")
	}
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	se.s.msgs = append(se.s.msgs, Received{From: se.from, To: se.to, Data: b})
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtpfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool, nil
}
