package webhooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// acceptAll holds any signature that is "signed:" and the data.
type acceptAll struct{}

func (acceptAll) VerifyDetached(_ context.Context, data, sig []byte) (flows.SignatureCheck, error) {
	if string(sig) != "signed:"+string(data) {
		return flows.SignatureCheck{}, flows.Errorf(flows.KindInvalid, "signature_invalid", "no")
	}
	return flows.SignatureCheck{Owner: "Дмитрий Орлов", Serial: "0A1B", Issuer: "УЦ", Verifier: "svs"}, nil
}

// TestDoneCarriesSignatures: document.done of a document signed with an
// uploaded КЭП carries the signature's facts and a link to its file, as
// openapi.yaml declares it.
func TestDoneCarriesSignatures(t *testing.T) {
	rig, s, rc := newSender(t, func(int) string { return "ok" })
	ctx := context.Background()
	dt, _ := rig.Engine.Directory().Type("contract")
	dt.Route[len(dt.Route)-1].Method = flows.SignUpload
	rig.Engine.SetVerifier(acceptAll{})
	out, err := rig.Engine.Start(ctx, flows.StartCmd{Key: "s", Actor: "ivanova", TypeID: "contract", Title: "Договор", AmountMinor: 100,
		HasAmount: true, File: flows.Upload{Name: "d.pdf", Content: strings.NewReader("%PDF d")}})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []flows.PersonID{"petrov", "director", "director"} {
		d, _ := rig.DB.Document(ctx, out.DocID)
		for _, tk := range d.OpenTasks() {
			if tk.Assignee != p {
				continue
			}
			c := flows.DecideCmd{Key: "d" + itoa(i), Actor: p, TaskID: tk.ID, Action: flows.ActionApprove}
			if tk.Kind == flows.KindSign {
				c.Action, c.Signature = flows.ActionDone, &flows.Upload{Name: "d.sig", Content: strings.NewReader("signed:%PDF d")}
			}
			if _, err := rig.Engine.Decide(ctx, c); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
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
