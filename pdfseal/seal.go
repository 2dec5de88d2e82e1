// Package pdfseal puts the company's electronic seal on the PDFs Viza makes
// (the approval sheet): a PDF signature with the company's certificate,
// with an RFC 3161 timestamp when a TSA is configured. It is a seal of the
// organisation that the sheet came from Viza unchanged, not a person's
// qualified signature (КЭП): Viza never holds a person's key.
//
// The signing is github.com/digitorus/pdfsign's: an adbe.pkcs7.detached
// signature (CMS with signed attributes, SHA-256), the timestamp token in
// its unsigned attributes.
package pdfseal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"software.sslmate.com/src/go-pkcs12"
)

// Seal is the certificate and key that seal, and the TSA that dates.
type Seal struct {
	Signer crypto.Signer
	// Chain is the seal's certificate first, then its issuers.
	Chain []*x509.Certificate
	// TSA is an RFC 3161 time-stamping service's address; "" for none.
	TSA string
	// TSATimeout bounds one round trip to the TSA (10 s when 0).
	TSATimeout time.Duration
	// Name and Location are written into the signature.
	Name, Location string
	Log            *slog.Logger

	mu      sync.Mutex
	relay   *relay
	tsaDown atomic.Value // string: why the last timestamp failed; "" when it worked
	failed  atomic.Value // string: why the last sealing failed; "" when it worked
}

// Result says what a sealing did.
type Result struct {
	Timestamped bool
	// Problem says why the sheet went without a timestamp, when a TSA is
	// configured and did not answer.
	Problem string
}

// Apply seals pdf. A TSA that is down or slow does not stop the seal: the
// sheet is sealed without a timestamp and Result says why.
func (s *Seal) Apply(ctx context.Context, doc []byte, reason string, at time.Time) ([]byte, Result, error) {
	out, res, err := s.apply(ctx, doc, reason, at)
	if err != nil {
		s.failed.Store(err.Error())
	} else {
		s.failed.Store("")
	}
	return out, res, err
}

// Problem is why the last sealing failed ("" when it worked), for /readyz.
func (s *Seal) Problem() string {
	v, _ := s.failed.Load().(string)
	return v
}

func (s *Seal) apply(_ context.Context, doc []byte, reason string, at time.Time) ([]byte, Result, error) {
	if err := s.valid(at); err != nil {
		return nil, Result{}, err
	}
	if s.TSA != "" {
		out, err := s.sign(doc, reason, at, true)
		if err == nil {
			s.tsaDown.Store("")
			return out, Result{Timestamped: true}, nil
		}
		s.tsaDown.Store(err.Error())
		if s.Log != nil {
			s.Log.Warn("seal: no timestamp; sealing without it", "tsa", shown(s.TSA), "err", err)
		}
		out, err2 := s.sign(doc, reason, at, false)
		if err2 != nil {
			return nil, Result{}, err2
		}
		return out, Result{Problem: err.Error()}, nil
	}
	out, err := s.sign(doc, reason, at, false)
	return out, Result{}, err
}

// TSAProblem is why the last timestamp failed ("" when it worked or none
// was asked), for /readyz.
func (s *Seal) TSAProblem() string {
	v, _ := s.tsaDown.Load().(string)
	return v
}

func (s *Seal) valid(at time.Time) error {
	if s.Signer == nil || len(s.Chain) == 0 {
		return errors.New("seal: no certificate or key")
	}
	c := s.Chain[0]
	if at.Before(c.NotBefore) || at.After(c.NotAfter) {
		return fmt.Errorf("seal: the certificate %q is valid %s to %s, not at %s", c.Subject.CommonName,
			c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly), at.Format(time.DateOnly))
	}
	return nil
}

func (s *Seal) sign(doc []byte, reason string, at time.Time, stamp bool) ([]byte, error) {
	rdr, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return nil, fmt.Errorf("seal: read the PDF: %w", err)
	}
	data := sign.SignData{
		Signature: sign.SignDataSignature{Info: sign.SignDataSignatureInfo{Name: s.Name, Location: s.Location, Reason: reason, Date: at},
			CertType: sign.ApprovalSignature, DocMDPPerm: sign.AllowFillingExistingFormFieldsAndSignaturesPerms},
		Signer: s.Signer, DigestAlgorithm: crypto.SHA256, Certificate: s.Chain[0],
	}
	if len(s.Chain) > 1 {
		data.CertificateChains = [][]*x509.Certificate{s.Chain}
	}
	if stamp {
		u, err := s.tsaRelay()
		if err != nil {
			return nil, err
		}
		data.TSA = sign.TSA{URL: u}
	}
	var out bytes.Buffer
	if err := sign.Sign(bytes.NewReader(doc), &out, rdr, int64(len(doc)), data); err != nil {
		return nil, fmt.Errorf("seal: sign: %w", err)
	}
	return out.Bytes(), nil
}

// Close stops the TSA relay, if one was started.
func (s *Seal) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relay == nil {
		return nil
	}
	err := s.relay.close()
	s.relay = nil
	return err
}

// relay stands between the signing library and the TSA. The library asks
// the TSA with a client of its own that has no timeout; a TSA that
// accepts and never answers would hold the sheet forever. The relay, on
// loopback, asks the TSA with a bounded client and answers 502 when the
// TSA does not, so the sheet is sealed without a timestamp instead.
type relay struct {
	srv  *http.Server
	url  string
	done chan struct{}
}

func (s *Seal) tsaRelay() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relay != nil {
		return s.relay.url, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("seal: tsa relay: %w", err)
	}
	timeout := s.TSATimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	client := &http.Client{Timeout: timeout}
	target := s.TSA
	// An address may carry credentials: what the log and /readyz show of
	// an error names the service without them.
	clean := func(err error) string {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the address, which it names, is said without its secrets
		}
		return shown(target) + ": " + err.Error()
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			http.Error(w, clean(err), http.StatusBadGateway)
			return
		}
		req.Header.Set("Content-Type", "application/timestamp-query")
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, clean(err), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		reply, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || resp.StatusCode/100 != 2 {
			http.Error(w, fmt.Sprintf("tsa: %s %v", resp.Status, err), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(reply)
	})
	rl := &relay{srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, url: "http://" + l.Addr().String() + "/", done: make(chan struct{})}
	go func() {
		defer close(rl.done)
		rl.srv.Serve(l)
	}()
	s.relay = rl
	return rl.url, nil
}

// shown is a TSA's address as logs may show it: scheme, host and path,
// without a user, a password or a query that may hold a token.
func shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(the TSA address)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

func (r *relay) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	<-r.done
	return err
}

// LoadPEM reads a certificate chain and its private key from PEM files
// (the key unencrypted, PKCS#8, PKCS#1 or SEC 1).
func LoadPEM(certFile, keyFile string) (crypto.Signer, []*x509.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("seal certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("seal key: %w", err)
	}
	var chain []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("seal certificate %s: %w", certFile, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, nil, fmt.Errorf("seal certificate %s: no certificate in it", certFile)
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, nil, fmt.Errorf("seal key %s: no PEM block in it", keyFile)
	}
	key, err := parseKey(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("seal key %s: %w", keyFile, err)
	}
	return key, chain, matches(key, chain[0])
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("the key cannot sign")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or SEC 1 private key")
}

// LoadPKCS12 reads a .p12/.pfx file with its password.
func LoadPKCS12(file, password string) (crypto.Signer, []*x509.Certificate, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: %w", err)
	}
	key, cert, cas, err := pkcs12.DecodeChain(raw, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, fmt.Errorf("seal %s: the password is wrong", file)
		}
		return nil, nil, fmt.Errorf("seal %s: %w", file, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("seal %s: the key cannot sign", file)
	}
	return signer, append([]*x509.Certificate{cert}, cas...), matches(signer, cert)
}

// matches refuses a key that is not the certificate's.
func matches(key crypto.Signer, cert *x509.Certificate) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := key.Public().(equaler); !ok || !e.Equal(cert.PublicKey) {
		return fmt.Errorf("seal: the key is not the certificate %q's", cert.Subject.CommonName)
	}
	return nil
}
