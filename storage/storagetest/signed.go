package storagetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// ByteVerifier holds a signature valid when it reads "signed:" and the
// signed bytes, for tests of what comes after a signature is verified.
type ByteVerifier struct{ Check flows.SignatureCheck }

// VerifyDetached implements flows.SignatureVerifier.
func (v ByteVerifier) VerifyDetached(_ context.Context, data, sig []byte) (flows.SignatureCheck, error) {
	if string(sig) != "signed:"+string(data) {
		return flows.SignatureCheck{}, flows.Errorf(flows.KindInvalid, "signature_invalid", "does not match")
	}
	return v.Check, nil
}

// SignByUpload makes the example contract's signature stage one signed
// by an uploaded signature, checked by ByteVerifier{check}.
func (r *Rig) SignByUpload(check flows.SignatureCheck) {
	dt, _ := r.Engine.Directory().Type("contract")
	dt.Route[len(dt.Route)-1].Method = flows.SignUpload
	r.Engine.SetVerifier(ByteVerifier{Check: check})
}

// SignedContract starts the example contract with content as its file
// and takes it through lawyer, director and the director's signature
// (ByteVerifier's, after SignByUpload): a document done with one verified
// signature.
func (r *Rig) SignedContract(tb testing.TB, title, content string) *flows.Document {
	tb.Helper()
	ctx := context.Background()
	out, err := r.Engine.Start(ctx, flows.StartCmd{Key: "start " + title, Actor: "ivanova", TypeID: "contract", Title: title,
		AmountMinor: 100, HasAmount: true, File: flows.Upload{Name: "v1.pdf", Content: strings.NewReader(content)}})
	if err != nil {
		tb.Fatal(err)
	}
	for i, p := range []flows.PersonID{"petrov", "director", "director"} {
		d, err := r.DB.Document(ctx, out.DocID)
		if err != nil {
			tb.Fatal(err)
		}
		for _, tk := range d.OpenTasks() {
			if tk.Assignee != p {
				continue
			}
			c := flows.DecideCmd{Key: fmt.Sprint(title, i), Actor: p, TaskID: tk.ID, Action: flows.ActionApprove}
			if tk.Kind == flows.KindSign {
				c.Action, c.Signature = flows.ActionDone, &flows.Upload{Name: "договор.sig", Content: strings.NewReader("signed:" + content)}
			}
			if _, err := r.Engine.Decide(ctx, c); err != nil {
				tb.Fatal(err)
			}
			break
		}
	}
	d, err := r.DB.Document(ctx, out.DocID)
	if err != nil {
		tb.Fatal(err)
	}
	if d.State != flows.StateDone || len(d.Signatures) != 1 {
		tb.Fatalf("the signed contract is %s with %d signatures", d.State, len(d.Signatures))
	}
	return d
}
