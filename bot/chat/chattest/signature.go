package chattest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/internal/needs"
	"github.com/viza-app/viza/signcheck"
	"github.com/viza-app/viza/signcheck/dss"
	"github.com/viza-app/viza/signcheck/dss/dsstest"
	"github.com/viza-app/viza/signcheck/signtest"
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
	eng.SetVerifier(&signcheck.Checker{Verifier: &signcheck.Command{Args: []string{openssl, "cms", "-verify", "-binary", "-inform", "DER",
		"-in", "{sig}", "-content", "{data}", "-noverify", "-out", "/dev/null"}}})
	content := []byte("%PDF-1.4 приказ о премии")
	d := startOrder(t, env, "kep-start", "Приказ о премии", content)
	dir := env.User(Director)
	card, _ := s.WithButton(dir, d.Number, "uv:")
	if _, ok := card.Button("dn:"); ok {
		t.Fatalf("the card offers to close the signature without a file: %+v", card.Buttons)
	}
	if !strings.Contains(card.Text, ".sig") {
		t.Fatalf("the card does not ask for the signature file:\n%s", card.Text)
	}
	signer := signtest.NewSigner(t, "Дмитрий Орлов", time.Now().AddDate(1, 0, 0))
	env.ReplyFile(dir, card, File{Name: "Приказ.pdf.sig", MIME: "application/pkcs7-signature", Data: signer.Sign(t, []byte("другой файл"), true)})
	s.Find(dir, Say("ru", "error.signature_invalid", nil))
	if after := env.Document(d.Number); after.State != flows.StateSigning || len(after.Signatures) != 0 {
		t.Fatalf("a refused signature changed the document: %s, %+v", after.State, after.Signatures)
	}
	env.ReplyFile(dir, card, File{Name: "Приказ.pdf.sig", MIME: "application/pkcs7-signature", Data: signer.Sign(t, content, true)})
	s.Find(dir, Say("ru", "chat.signature_accepted", nil))
	after := env.Document(d.Number)
	if after.State != flows.StateDone || len(after.Signatures) != 1 || !strings.HasPrefix(after.Signatures[0].Owner, "Дмитрий Орлов") ||
		after.Signatures[0].Verifier != "command" || after.Signatures[0].By != Director {
		t.Fatalf("after the signature: %s, %+v", after.State, after.Signatures)
	}
}

// signatureInDSS: the director, asked to sign an order in КриптоПро DSS,
// gets a card whose button sends the version to DSS; refusing in myDSS
// brings a message saying so, with the button to send it again; confirming
// closes the task by itself, the signature recorded. DSS is the fake
// signing service behind the real client, as a company configures it.
func signatureInDSS(t *testing.T, s *Session) {
	env := s.Env()
	eng := env.Engine()
	dt, _ := eng.Directory().Type("order")
	dt.Route[0].Method = flows.SignDSS
	signer := signtest.NewSigner(t, "Дмитрий Орлов", time.Now().AddDate(1, 0, 0))
	fake := dsstest.New(t, signer, map[string]string{"tok-director": "orlov"})
	eng.SetDSS(flows.DSSSettings{Signer: &dss.Client{URL: fake.API(), Tokens: dss.EnvToken{Value: "tok-director"}, Timeout: 5 * time.Second},
		PollEvery: 20 * time.Millisecond, Expiry: time.Minute})
	t.Cleanup(func() { eng.SetDSS(flows.DSSSettings{}) })
	content := []byte("%PDF-1.4 приказ об отпуске")
	d := startOrder(t, env, "dss-start", "Приказ об отпуске", content)
	dir := env.User(Director)
	card, btn := s.WithButton(dir, d.Number, "sd:")
	if _, ok := card.Button("dn:"); ok {
		t.Fatalf("the card offers to close the signature without DSS: %+v", card.Buttons)
	}
	if !strings.Contains(card.Text, "myDSS") {
		t.Fatalf("the card does not say where to confirm:\n%s", card.Text)
	}
	env.Tap(dir, card, btn.Action)
	s.Find(dir, sayTo(Director, "chat.dss_sent", map[string]any{"Version": 1, "Number": d.Number}))
	first := fake.Last()
	if first == "" || string(fake.Op(first).Data) != string(content) {
		t.Fatalf("DSS did not get the version to sign: %q", first)
	}
	fake.Decline(first)
	refused, again := s.WithButton(dir, sayTo(Director, "dss.declined", nil), "sd:")
	if after := env.Document(d.Number); after.State != flows.StateSigning || len(after.Signatures) != 0 {
		t.Fatalf("a refusal changed the document: %s, %+v", after.State, after.Signatures)
	}
	env.Tap(dir, refused, again.Action)
	if !until(func() bool { return fake.Last() != first }) {
		t.Fatal("the second request did not reach DSS")
	}
	fake.Confirm(fake.Last())
	if !until(func() bool { return env.Document(d.Number).State == flows.StateDone }) {
		t.Fatalf("the document is %s after the signer confirmed", env.Document(d.Number).State)
	}
	after := env.Document(d.Number)
	if len(after.Signatures) != 1 || !strings.HasPrefix(after.Signatures[0].Owner, "Дмитрий Орлов") || after.Signatures[0].Verifier != "dss" ||
		after.Signatures[0].By != Director {
		t.Fatalf("after the signature: %+v", after.Signatures)
	}
}

// startOrder starts an order with the file content, as Ivanova, through
// the engine: the scenarios are about signing it.
func startOrder(t *testing.T, env Env, key, title string, content []byte) *flows.Document {
	t.Helper()
	out, err := env.Engine().Start(context.Background(), flows.StartCmd{Key: key, Actor: Ivanova, TypeID: "order", Title: title,
		File: flows.Upload{Name: "Приказ.pdf", Content: bytes.NewReader(content)}})
	if err != nil {
		t.Fatal(err)
	}
	return env.Document(out.Number)
}
