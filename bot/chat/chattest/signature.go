package chattest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/internal/needs"
	"github.com/viza-app/viza/signcheck"
)

// signatureByUpload: the director, asked to sign an order with his own
// КЭП, gets a card that asks for the signature file and has no "signed"
// button; a signature of another file is refused with the reason, and the
// right one closes the task. The verifier is a real command (openssl
// standing in for cryptcp) behind signcheck, as a company configures it.
func signatureByUpload(t *testing.T, s *Session) {
	env := s.Env()
	eng := env.Engine()
	openssl := needs.Program(t, "openssl", "openssl")
	dt, _ := eng.Directory().Type("order")
	dt.Route[0].Method = flows.SignUpload
	eng.SetVerifier(signcheck.Checker{Verifier: &signcheck.Command{Args: []string{openssl, "cms", "-verify", "-binary", "-inform", "DER",
		"-in", "{sig}", "-content", "{data}", "-noverify", "-out", "/dev/null"}}})
	content := []byte("%PDF-1.4 приказ о премии")
	out, err := eng.Start(context.Background(), flows.StartCmd{Key: "kep-start", Actor: Ivanova, TypeID: "order", Title: "Приказ о премии",
		File: flows.Upload{Name: "Приказ.pdf", Content: bytes.NewReader(content)}})
	if err != nil {
		t.Fatal(err)
	}
	d := env.Document(out.Number)
	dir := env.User(Director)
	card, _ := s.WithButton(dir, d.Number, "uv:")
	if _, ok := card.Button("dn:"); ok {
		t.Fatalf("the card offers to close the signature without a file: %+v", card.Buttons)
	}
	if !strings.Contains(card.Text, ".sig") {
		t.Fatalf("the card does not ask for the signature file:\n%s", card.Text)
	}
	key, cert := testSigner(t, "Дмитрий Орлов")
	env.ReplyFile(dir, card, File{Name: "Приказ.pdf.sig", MIME: "application/pkcs7-signature", Data: detached(t, key, cert, []byte("другой файл"))})
	s.Find(dir, Say("ru", "error.signature_invalid", nil))
	if after := env.Document(d.Number); after.State != flows.StateSigning || len(after.Signatures) != 0 {
		t.Fatalf("a refused signature changed the document: %s, %+v", after.State, after.Signatures)
	}
	env.ReplyFile(dir, card, File{Name: "Приказ.pdf.sig", MIME: "application/pkcs7-signature", Data: detached(t, key, cert, content)})
	s.Find(dir, Say("ru", "chat.signature_accepted", nil))
	after := env.Document(d.Number)
	if after.State != flows.StateDone || len(after.Signatures) != 1 || !strings.HasPrefix(after.Signatures[0].Owner, "Дмитрий Орлов") ||
		after.Signatures[0].Verifier != "command" || after.Signatures[0].By != Director {
		t.Fatalf("after the signature: %s, %+v", after.State, after.Signatures)
	}
}

// testSigner makes a self-signed certificate for a person, in the test.
func testSigner(t *testing.T, name string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: name, Organization: []string{"ООО «Ромашка»"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

// detached is a detached CMS signature of data, as a signer's tools make.
func detached(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate, data []byte) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	b, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
