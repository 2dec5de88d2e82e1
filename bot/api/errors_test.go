package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/viza-app/viza/flows"
)

// TestEveryDocumentedError provokes the answers openapi.yaml documents
// that the other tests do not reach, each validated against it like every
// answer (see record): missing keys, unknown numbers, another type's key,
// bodies over the limit, a missing Idempotency-Key, a withdrawn document,
// a comment over its length.
func TestEveryDocumentedError(t *testing.T) {
	r := newRig(t, 1000)
	r.api.MaxUpload = 1 << 10
	res := r.post("/api/v1/documents", r.keys["write"], "s", contract("Ошибки"), "d.pdf", "%PDF small")
	var s struct{ Number string }
	res.json(t, &s)
	doc := "/api/v1/documents/" + esc(s.Number)
	missing := "/api/v1/documents/" + esc("НЕТ-1")
	big := strings.Repeat("x", 1<<20+2<<10) // over MaxUpload and the 1 MB of form around it
	memoKey := r.newKey("memos only", "read", []string{"memo"})
	withdraw := func(path, idem, body string) response {
		req := r.request(http.MethodPost, path, r.keys["write"], strings.NewReader(body), "application/json")
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		return r.do(req)
	}
	cases := []struct {
		name string
		do   func() response
		want int
	}{
		{"list without a key", func() response { return r.get("/api/v1/documents", "") }, http.StatusUnauthorized},
		{"an unknown number", func() response { return r.get(missing, r.keys["read"]) }, http.StatusNotFound},
		{"the sheet of an unknown number", func() response { return r.get(missing+"/sheet.pdf", r.keys["read"]) }, http.StatusNotFound},
		{"a file with another type's key", func() response { return r.get(doc+"/versions/1/file", memoKey) }, http.StatusForbidden},
		{"a start over the size", func() response {
			return r.post("/api/v1/documents", r.keys["write"], "big", contract("Большой"), "big.pdf", big)
		}, http.StatusRequestEntityTooLarge},
		{"a version without Idempotency-Key", func() response { return r.post(doc+"/versions", r.keys["write"], "", nil, "v.pdf", "%PDF v") }, http.StatusBadRequest},
		{"a version without a key", func() response { return r.post(doc+"/versions", "", "v0", nil, "v.pdf", "%PDF v") }, http.StatusUnauthorized},
		{"a version of an unknown number", func() response { return r.post(missing+"/versions", r.keys["write"], "v1", nil, "v.pdf", "%PDF v") }, http.StatusNotFound},
		{"a version over the size", func() response { return r.post(doc+"/versions", r.keys["write"], "v2", nil, "v.pdf", big) }, http.StatusRequestEntityTooLarge},
		{"a withdrawal without Idempotency-Key", func() response { return withdraw(doc+"/withdraw", "", "{}") }, http.StatusBadRequest},
		{"a withdrawal of an unknown number", func() response { return withdraw(missing+"/withdraw", "w0", "{}") }, http.StatusNotFound},
		{"a withdrawal over the size", func() response {
			return withdraw(doc+"/withdraw", "w1", `{"comment":"`+strings.Repeat("я", 40<<10)+`"}`)
		}, http.StatusRequestEntityTooLarge},
		{"a withdrawal's comment over its length", func() response {
			return withdraw(doc+"/withdraw", "w2", `{"comment":"`+strings.Repeat("я", flows.MaxComment+1)+`"}`)
		}, http.StatusUnprocessableEntity},
		{"withdrawn", func() response { return withdraw(doc+"/withdraw", "w3", `{"comment":"отменён"}`) }, http.StatusOK},
		{"a version of a withdrawn document", func() response { return r.post(doc+"/versions", r.keys["write"], "v3", nil, "v.pdf", "%PDF v") }, http.StatusConflict},
	}
	for _, c := range cases {
		if res := c.do(); res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.name, res.StatusCode, c.want, res.body)
		} else if c.want >= 400 {
			res.problem(t)
		}
	}
	if d, _ := r.DB.DocumentByNumber(context.Background(), s.Number); d.State != flows.StateWithdrawn || len(d.Versions) != 1 {
		t.Fatalf("state %s, versions %d", d.State, len(d.Versions))
	}
}
