package pdfseal_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/digitorus/pdfsign/verify"
	"github.com/digitorus/timestamp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/viza-app/viza/pdfseal"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// issue makes a certificate for key, signed by parent (itself when nil).
func issue(t testing.TB, cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer, from, to time.Time,
	mod func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"ООО «Ромашка»"}},
		NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	if mod != nil {
		mod(tmpl)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// company is a seal certificate issued by a CA of the test's.
func company(t testing.TB, from, to time.Time) *pdfseal.Seal {
	caKey, key := newKey(t), newKey(t)
	ca := issue(t, "Тестовый УЦ", caKey, nil, nil, from.AddDate(-1, 0, 0), to.AddDate(1, 0, 0), func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
	})
	cert := issue(t, "ООО «Ромашка» — печать", key, ca, caKey, from, to, nil)
	return &pdfseal.Seal{Signer: key, Chain: []*x509.Certificate{cert, ca}, Name: "ООО «Ромашка»", Location: "Москва"}
}

// sheet is a small PDF with Cyrillic, as the sheet is made.
func sheet(t testing.TB) []byte {
	f := fpdf.New("P", "mm", "A4", "")
	f.AddPage()
	f.SetFont("Helvetica", "", 12)
	f.Cell(40, 10, "Approval sheet D-2026-0001")
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func verified(t *testing.T, doc []byte) verify.Signer {
	t.Helper()
	res, err := verify.Verify(bytes.NewReader(doc), int64(len(doc)))
	if err != nil && (res == nil || len(res.Signers) == 0) {
		t.Fatalf("verify: %v", err)
	}
	if len(res.Signers) != 1 || !res.Signers[0].ValidSignature {
		t.Fatalf("signers %+v (%s)", res.Signers, res.Error)
	}
	return res.Signers[0]
}

// pdfsig checks the seal with poppler, a verifier that is not Viza's.
func pdfsig(t *testing.T, doc []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdfsig")
	if err != nil {
		if os.Getenv("VIZA_TEST_ALL") != "" {
			t.Fatal("pdfsig is missing: apt-get install poppler-utils")
		}
		t.Skip("pdfsig is missing: apt-get install poppler-utils")
	}
	path := filepath.Join(t.TempDir(), "sheet.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, path).CombinedOutput()
	return string(out)
}

// TestSealedSheet: a sealed sheet's signature is valid for Viza's
// verifier and for poppler's pdfsig.
func TestSealedSheet(t *testing.T) {
	s := company(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0))
	out, res, err := s.Apply(context.Background(), sheet(t), "Лист согласования Д-2026-0001", now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Timestamped || res.Problem != "" {
		t.Fatalf("result %+v without a TSA", res)
	}
	sg := verified(t, out)
	if len(sg.Certificates) == 0 {
		t.Fatalf("no certificate in the signature: %+v", sg)
	}
	if got := pdfsig(t, out); !strings.Contains(got, "Signature is Valid") || !strings.Contains(got, "Total document signed") {
		t.Fatalf("pdfsig:\n%s", got)
	}
	// A byte of the sheet changed after sealing breaks it.
	broken := bytes.Clone(out)
	i := bytes.Index(broken, []byte("/Producer"))
	if i < 0 {
		t.Fatal("no /Producer to change")
	}
	broken[i+12]++
	if res, _ := verify.Verify(bytes.NewReader(broken), int64(len(broken))); res != nil && len(res.Signers) == 1 && res.Signers[0].ValidSignature {
		t.Fatal("a changed sheet still verifies")
	}
}

// tsa is an RFC 3161 time-stamping service of the test's.
func tsa(t testing.TB, delay time.Duration) *httptest.Server {
	key := newKey(t)
	cert := issue(t, "Тестовая служба штампов времени", key, nil, nil, now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0), func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: now, Nonce: req.Nonce,
			Policy: asn1.ObjectIdentifier{1, 2, 3, 4, 1}, SerialNumber: big.NewInt(42), AddTSACertificate: true}
		reply, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(reply)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTimestamps: with a TSA the seal carries its timestamp; a TSA that is
// down or does not answer in time leaves the sheet sealed without one,
// said in the result and in TSAProblem, and never holds it longer than the
// timeout.
func TestTimestamps(t *testing.T) {
	s := company(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0))
	defer s.Close()
	s.TSA = tsa(t, 0).URL
	out, res, err := s.Apply(context.Background(), sheet(t), "Лист", now)
	if err != nil || !res.Timestamped || s.TSAProblem() != "" {
		t.Fatalf("%+v, %v, %q", res, err, s.TSAProblem())
	}
	if sg := verified(t, out); sg.TimeStamp == nil || !sg.TimeStamp.Time.Equal(now) {
		t.Fatalf("timestamp %+v", sg.TimeStamp)
	}
	down := tsa(t, 0)
	down.Close()
	slow := tsa(t, 2*time.Second)
	for name, url := range map[string]string{"down": down.URL, "slow": slow.URL} {
		t.Run(name, func(t *testing.T) {
			s := company(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0))
			defer s.Close()
			s.TSA, s.TSATimeout = url, 300*time.Millisecond
			began := time.Now()
			out, res, err := s.Apply(context.Background(), sheet(t), "Лист", now)
			if err != nil || res.Timestamped || res.Problem == "" || s.TSAProblem() == "" {
				t.Fatalf("%+v, %v", res, err)
			}
			if took := time.Since(began); took > 3*time.Second {
				t.Fatalf("the TSA held the sheet %v", took)
			}
			verified(t, out)
		})
	}
	// A TSA address with credentials: what is said of its failure does
	// not carry them.
	s2 := company(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0))
	defer s2.Close()
	s2.TSA = strings.Replace(down.URL, "http://", "http://user:s3cret@", 1) + "/tsp?token=t0ken"
	if _, res, err := s2.Apply(context.Background(), sheet(t), "Лист", now); err != nil || strings.Contains(res.Problem, "s3cret") ||
		strings.Contains(res.Problem, "t0ken") || res.Problem == "" {
		t.Errorf("the problem shows the TSA's credentials: %q, %v", res.Problem, err)
	}
}

// TestRefusals: a certificate out of its validity, a key that is not the
// certificate's, a wrong PKCS#12 password and bytes that are not a PDF
// are refused with what is wrong.
func TestRefusals(t *testing.T) {
	expired := company(t, now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0))
	if _, _, err := expired.Apply(context.Background(), sheet(t), "Лист", now); err == nil || !strings.Contains(err.Error(), "valid") {
		t.Errorf("an expired certificate: %v", err)
	}
	good := company(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0))
	if _, _, err := good.Apply(context.Background(), []byte("not a pdf at all"), "Лист", now); err == nil {
		t.Error("garbage sealed")
	}
	dir := t.TempDir()
	p12, err := pkcs12.Modern.Encode(good.Signer, good.Chain[0], good.Chain[1:], "верный пароль")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "seal.p12")
	os.WriteFile(path, p12, 0o600)
	if _, _, err := pdfseal.LoadPKCS12(path, "не тот"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("a wrong password: %v", err)
	}
	key, chain, err := pdfseal.LoadPKCS12(path, "верный пароль")
	if err != nil || len(chain) != 2 || key == nil {
		t.Fatalf("the right password: %v", err)
	}
	// PEM, with another key than the certificate's.
	certPath, keyPath := filepath.Join(dir, "seal.crt"), filepath.Join(dir, "seal.key")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: good.Chain[0].Raw}), 0o600)
	der, _ := x509.MarshalPKCS8PrivateKey(newKey(t))
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if _, _, err := pdfseal.LoadPEM(certPath, keyPath); err == nil || !strings.Contains(err.Error(), "not the certificate") {
		t.Errorf("a key of another certificate: %v", err)
	}
	der, _ = x509.MarshalPKCS8PrivateKey(good.Signer)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if _, _, err := pdfseal.LoadPEM(certPath, keyPath); err != nil {
		t.Errorf("the right PEM pair: %v", err)
	}
}

// BenchmarkSeal: sealing adds at most 30 ms to a sheet without a TSA
// (issue 32).
func BenchmarkSeal(b *testing.B) {
	s := company(b, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0))
	doc := sheet(b)
	for b.Loop() {
		if _, _, err := s.Apply(context.Background(), doc, "Лист", now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDemo: the demo seal is made once, named as a demo, kept across
// restarts, and made anew when it has expired.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	_, chain, err := pdfseal.Demo(dir, "ООО «Ромашка»", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(chain[0].Subject.CommonName, pdfseal.DemoName) {
		t.Errorf("not named as a demo: %q", chain[0].Subject.CommonName)
	}
	_, again, err := pdfseal.Demo(dir, "ООО «Ромашка»", now.AddDate(1, 0, 0))
	if err != nil || !again[0].Equal(chain[0]) {
		t.Errorf("made anew while valid: %v", err)
	}
	_, later, err := pdfseal.Demo(dir, "ООО «Ромашка»", now.AddDate(3, 0, 0))
	if err != nil || later[0].Equal(chain[0]) {
		t.Errorf("an expired demo seal kept: %v", err)
	}
}
