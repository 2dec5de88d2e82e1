package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitorus/pdfsign/verify"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/pdfseal"
)

// TestDemoSealsTheSheet: the demo seals every sheet with a certificate it
// made and named as a demo; Viza's verifier and poppler's pdfsig both find
// the signature valid, and /readyz says the seal is up. A TSA that does not
// answer leaves the sheet sealed without a timestamp, said by /readyz.
func TestDemoSealsTheSheet(t *testing.T) {
	m, _, _ := startDemoWith(t, func(cfg *config.Config) { cfg.Seal.TSAURL = "http://127.0.0.1:1/tsa" })
	d, err := firstDoc(m)
	if err != nil || d == nil {
		t.Fatalf("no demo document: %v", err)
	}
	var buf bytes.Buffer
	if err := m.reports().Sheet(context.Background(), d, "ru", &buf); err != nil {
		t.Fatal(err)
	}
	pdf := buf.Bytes()
	res, err := verify.Verify(bytes.NewReader(pdf), int64(len(pdf)))
	if res == nil || len(res.Signers) != 1 || !res.Signers[0].ValidSignature {
		t.Fatalf("the sheet is not sealed: %+v, %v", res, err)
	}
	if cn := res.Signers[0].Certificates[0].Certificate.Subject.CommonName; !strings.Contains(cn, pdfseal.DemoName) {
		t.Errorf("the demo seal is not named as one: %q", cn)
	}
	if res.Signers[0].TimeStamp != nil {
		t.Error("a timestamp from a TSA that is not there")
	}
	if bin, err := exec.LookPath("pdfsig"); err == nil {
		path := filepath.Join(t.TempDir(), "sheet.pdf")
		os.WriteFile(path, pdf, 0o600)
		out, _ := exec.Command(bin, path).CombinedOutput()
		if !strings.Contains(string(out), "Signature is Valid") {
			t.Errorf("pdfsig:\n%s", out)
		}
	} else if os.Getenv("VIZA_TEST_ALL") != "" {
		t.Fatal("pdfsig is missing: apt-get install poppler-utils")
	}
	resp, err := http.Get("http://" + m.Listener.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "seal up: sealed without a timestamp") {
		t.Errorf("/readyz does not say the seal goes without timestamps:\n%s", body)
	}
	// The demo seal is kept: a restart seals with the same certificate.
	again, err := openSeal(m.Config, m.Clock.Now())
	if err != nil || !again.Chain[0].Equal(res.Signers[0].Certificates[0].Certificate) {
		t.Errorf("the demo seal changed on reopening: %v", err)
	}
}

// TestSealThatCannotLoad: a seal whose file is missing does not stop the
// service; sheets go out unsealed and /readyz says why.
func TestSealThatCannotLoad(t *testing.T) {
	t.Setenv("VIZA_TEST_SEAL_PASSWORD", "x")
	m, _, _ := startDemoWith(t, func(cfg *config.Config) {
		cfg.Seal = &config.Seal{PKCS12: "/no/such/seal.p12", PasswordEnv: "VIZA_TEST_SEAL_PASSWORD", TSATimeout: "10s"}
	})
	d, _ := firstDoc(m)
	var buf bytes.Buffer
	if err := m.reports().Sheet(context.Background(), d, "ru", &buf); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("%PDF")) {
		t.Fatalf("no sheet: %v", err)
	}
	if res, _ := verify.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len())); res != nil && len(res.Signers) > 0 {
		t.Fatal("sealed with a seal that did not load")
	}
	resp, err := http.Get("http://" + m.Listener.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "seal failed:") {
		t.Errorf("/readyz does not say the seal failed:\n%s", body)
	}
}

// TestVerifySheet: viza verify --sheet checks the seal and the record:
// the sheet as made passes; one byte changed breaks the seal; a sheet of
// a record that moved on is told so; a PDF that is no sheet is refused.
func TestVerifySheet(t *testing.T) {
	m, _, _ := startDemo(t)
	d, _ := firstDoc(m)
	var buf bytes.Buffer
	if err := m.reports().Sheet(context.Background(), d, "en", &buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	good := write("sheet.pdf", buf.Bytes())
	broken := bytes.Clone(buf.Bytes())
	i := bytes.Index(broken, []byte("/Producer"))
	broken[i+12]++
	cases := []struct {
		name, path string
		code       int
		says       string
	}{
		{"as made", good, 0, "SEAL VALID"},
		{"changed after sealing", write("broken.pdf", broken), 1, "SEAL BROKEN"},
		{"not a PDF", write("note.txt", []byte("hello")), 1, "is not a PDF"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if code := m.reports().VerifySheet(context.Background(), c.path, "en", &out); code != c.code || !strings.Contains(out.String(), c.says) {
			t.Errorf("%s: %d\n%s", c.name, code, out.String())
		}
	}
	var out bytes.Buffer
	if code := m.reports().VerifySheet(context.Background(), good, "en", &out); !strings.Contains(out.String(), "OK: the record") || code != 0 {
		t.Errorf("the record check: %d\n%s", code, out.String())
	}
}
