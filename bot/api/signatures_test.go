package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

// TestSignaturesThroughTheConnector: a document signed with an uploaded
// КЭП lists its signature, and the .sig is served to a key that may read
// the document or to a signed link, and to nobody else.
func TestSignaturesThroughTheConnector(t *testing.T) {
	r := newRig(t, 1000)
	ctx := context.Background()
	r.SignByUpload(flows.SignatureCheck{Owner: "Дмитрий Орлов", Serial: "0A1B", Issuer: "Тестовый УЦ", Verifier: "test",
		SignedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	d := r.SignedContract(t, "Поставка с КЭП", "%PDF договор")
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
