package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

// byteVerifier holds a signature valid when it is "signed:" and the data.
type byteVerifier struct{}

func (byteVerifier) VerifyDetached(_ context.Context, data, sig []byte) (flows.SignatureCheck, error) {
	if string(sig) != "signed:"+string(data) {
		return flows.SignatureCheck{}, flows.Errorf(flows.KindInvalid, "signature_invalid", "does not match")
	}
	return flows.SignatureCheck{Owner: "Дмитрий Орлов", Serial: "0A1B", Issuer: "Тестовый УЦ", Verifier: "test",
		SignedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, nil
}

// TestSignaturesThroughTheConnector: a document signed with an uploaded
// КЭП lists its signature, and the .sig is served to a key that may read
// the document or to a signed link, and to nobody else.
func TestSignaturesThroughTheConnector(t *testing.T) {
	r := newRig(t, 1000)
	ctx := context.Background()
	dt, _ := r.Engine.Directory().Type("contract")
	dt.Route[len(dt.Route)-1].Method = flows.SignUpload
	r.Engine.SetVerifier(byteVerifier{})
	out, err := r.Engine.Start(ctx, flows.StartCmd{Key: "kep", Actor: "ivanova", TypeID: "contract", Title: "Поставка с КЭП", AmountMinor: 100,
		HasAmount: true, File: flows.Upload{Name: "v1.pdf", Content: strings.NewReader("%PDF договор")}})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []flows.PersonID{"petrov", "director", "director"} {
		d, _ := r.DB.Document(ctx, out.DocID)
		for _, tk := range d.OpenTasks() {
			if tk.Assignee != p {
				continue
			}
			c := flows.DecideCmd{Key: "d" + string(rune('0'+i)), Actor: p, TaskID: tk.ID, Action: flows.ActionApprove}
			if tk.Kind == flows.KindSign {
				c.Action, c.Signature = flows.ActionDone, &flows.Upload{Name: "договор.sig", Content: strings.NewReader("signed:%PDF договор")}
			}
			if _, err := r.Engine.Decide(ctx, c); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	d, _ := r.DB.Document(ctx, out.DocID)
	if d.State != flows.StateDone || len(d.Signatures) != 1 {
		t.Fatalf("the document is %s with %d signatures", d.State, len(d.Signatures))
	}
	doc := "/api/v1/documents/" + esc(d.Number)
	res := r.get(doc, r.keys["read"])
	var view struct {
		Signatures []struct{ Owner, Serial, URL string }
	}
	res.json(t, &view)
	if res.StatusCode != http.StatusOK || len(view.Signatures) != 1 || view.Signatures[0].Serial != "0A1B" ||
		!strings.HasSuffix(view.Signatures[0].URL, doc+"/signatures/1") {
		t.Fatalf("the document: %d %s", res.StatusCode, res.body)
	}
	memoKey := r.newKey("memos only", "read", []string{"memo"})
	link := r.api.SignatureURL(ctx, d.Number, 1, r.Clock.Now().Add(time.Hour))
	cases := []struct {
		name, path, key string
		want            int
	}{
		{"with a read key", doc + "/signatures/1", r.keys["read"], http.StatusOK},
		{"by a signed link", strings.TrimPrefix(link, r.srv.URL), "", http.StatusOK},
		{"a link of another signature", strings.Replace(strings.TrimPrefix(link, r.srv.URL), "/signatures/1", "/signatures/2", 1), "",
			http.StatusUnauthorized},
		{"without a key", doc + "/signatures/1", "", http.StatusUnauthorized},
		{"with a key for memos", doc + "/signatures/1", memoKey, http.StatusForbidden},
		{"one that is not there", doc + "/signatures/2", r.keys["read"], http.StatusNotFound},
		{"not a number", doc + "/signatures/x", r.keys["read"], http.StatusNotFound},
	}
	for _, c := range cases {
		res := r.get(c.path, c.key)
		if res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.name, res.StatusCode, c.want, res.body)
			continue
		}
		if c.want == http.StatusOK && (string(res.body) != "signed:%PDF договор" || res.Header.Get("Content-Type") != "application/pkcs7-signature") {
			t.Errorf("%s: %q %s", c.name, res.body, res.Header.Get("Content-Type"))
		}
	}
}
