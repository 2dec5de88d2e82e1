package flows_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// fakeVerifier holds a signature valid when it reads "sig:" and the
// sha256 of the data; it can be down.
type fakeVerifier struct {
	down  bool
	calls int
}

func (f *fakeVerifier) VerifyDetached(_ context.Context, data, sig []byte) (flows.SignatureCheck, error) {
	f.calls++
	if f.down {
		return flows.SignatureCheck{}, flows.Errorf(flows.KindTransient, "verifier_unavailable", "svs: connection refused")
	}
	if string(sig) != sigOf(data) {
		return flows.SignatureCheck{}, flows.Errorf(flows.KindInvalid, "signature_invalid", "Подпись не соответствует документу")
	}
	return flows.SignatureCheck{Owner: "Директор Д. Д., ООО «Ромашка»", Serial: "1234ABCD", Issuer: "Тестовый УЦ", Verifier: "fake",
		Message: "Подпись действительна"}, nil
}

func sigOf(data []byte) string {
	s := sha256.Sum256(data)
	return "sig:" + hex.EncodeToString(s[:])
}

func code(err error) string {
	var fe *flows.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return ""
}

// TestSignatureUpload: a sign stage with method upload closes only with a
// signature of the version current now that the verifier holds; what it
// refuses leaves the task open and nothing recorded.
func TestSignatureUpload(t *testing.T) {
	h := newHarness(t)
	v := &fakeVerifier{}
	h.eng.SetVerifier(v)
	d := h.start("ivanova", "kep", 100).DocID
	h.must(h.decide(d, "director", flows.ActionApprove, ""))
	task := h.task(d, "director")
	if n := v.calls; n != 0 {
		t.Fatalf("verified %d times before any signature", n)
	}
	current := func() []byte {
		doc := h.doc(d)
		ver, _ := doc.Version(doc.CurrentVersion())
		f, err := h.files().Open(ver.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return b
	}
	done := func(sig string) error {
		c := flows.DecideCmd{Key: h.key(), Actor: "director", TaskID: task, Action: flows.ActionDone}
		if sig != "" {
			c.Signature = &flows.Upload{Name: "договор.pdf.sig", Content: strings.NewReader(sig)}
		}
		_, err := h.eng.Decide(h.ctx, c)
		return err
	}
	refusals := []struct {
		name, sig, code string
		setup           func()
	}{
		{"no signature", "", "signature_required", nil},
		{"a signature of another file", sigOf([]byte("другой файл")), "signature_invalid", nil},
		{"the verifier down", sigOf(current()), "verifier_unavailable", func() { v.down = true }},
		{"too large", strings.Repeat("x", flows.MaxSignatureSize+1), "signature_too_large", nil},
	}
	for _, r := range refusals {
		v.down = false
		if r.setup != nil {
			r.setup()
		}
		if err := done(r.sig); code(err) != r.code {
			t.Fatalf("%s: %v, want %s", r.name, err, r.code)
		}
		if doc := h.doc(d); doc.State != flows.StateSigning || len(doc.Signatures) != 0 {
			t.Fatalf("%s: the document is %s with %d signatures", r.name, doc.State, len(doc.Signatures))
		}
	}
	v.down = false

	// Without a verifier configured, a signature cannot be taken.
	h.eng.SetVerifier(nil)
	if err := done(sigOf(current())); code(err) != "no_verifier" {
		t.Fatalf("no verifier: %v", err)
	}
	h.eng.SetVerifier(v)

	sig := sigOf(current())
	h.must(done(sig))
	doc := h.doc(d)
	if doc.State != flows.StateDone || len(doc.Signatures) != 1 {
		t.Fatalf("after a valid signature: %s, %+v", doc.State, doc.Signatures)
	}
	s := doc.Signatures[0]
	if s.By != "director" || s.Version != doc.CurrentVersion() || s.Owner == "" || s.Serial != "1234ABCD" || s.FileName != "договор.pdf.sig" ||
		s.TaskID != task || s.At.IsZero() {
		t.Fatalf("signature %+v", s)
	}
	f, err := h.files().Open(s.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := io.ReadAll(f)
	f.Close()
	if string(kept) != sig {
		t.Fatalf("the .sig kept is %q", kept)
	}
	events, err := h.db.DocumentEvents(h.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var audited bool
	for _, e := range events {
		if e.Kind == "signature_verified" && strings.Contains(e.Detail, "1234ABCD") && strings.Contains(e.Detail, s.SHA256) {
			audited = true
		}
	}
	if !audited {
		t.Fatalf("no signature_verified event in %+v", events)
	}

	// A task that is no signature by upload takes none.
	other := h.start("ivanova", "kep", 100).DocID
	_, err = h.eng.Decide(h.ctx, flows.DecideCmd{Key: h.key(), Actor: "director", TaskID: h.task(other, "director"), Action: flows.ActionDone,
		Signature: &flows.Upload{Name: "v.sig", Content: strings.NewReader(sig)}})
	if code(err) != "signature_not_expected" {
		t.Fatalf("a signature on an approval: %v", err)
	}
}
