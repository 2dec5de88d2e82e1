package webhooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// TestDoneCarriesSignatures: document.done of a document signed with an
// uploaded КЭП carries the signature's facts and a link to its file, as
// openapi.yaml declares it.
func TestDoneCarriesSignatures(t *testing.T) {
	rig, s, rc := newSender(t, func(int) string { return "ok" })
	ctx := context.Background()
	rig.SignByUpload(flows.SignatureCheck{Owner: "Дмитрий Орлов", Serial: "0A1B", Issuer: "УЦ", Verifier: "svs"})
	rig.SignedContract(t, "Договор", "%PDF d")
	for range 20 {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conformsToSpec(t, rc)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, ev := range rc.got {
		if ev.Type != flows.EventDocumentDone {
			continue
		}
		r := ev.Data.Result
		if r == nil || len(r.Signatures) != 1 || r.Signatures[0].Serial != "0A1B" || r.Signatures[0].Owner != "Дмитрий Орлов" ||
			!strings.Contains(r.Signatures[0].URL, "/signatures/1?expires=") || len(r.Signatures[0].SHA256) != 64 {
			t.Fatalf("document.done result %+v", r)
		}
		return
	}
	t.Fatal("no document.done event")
}
