package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/viza-app/viza/bot/api"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage/storagetest"
)

// rig is the API over a fresh database with the example company, every
// answer checked against the OpenAPI document.
type rig struct {
	*storagetest.Rig
	t     *testing.T
	srv   *httptest.Server
	api   *api.Server
	check validator.Validator
	keys  map[string]string // scope → key
}

func newRig(t *testing.T, perMinute int) *rig {
	t.Helper()
	r := &rig{Rig: storagetest.NewRig(t, false), t: t, keys: map[string]string{}}
	r.api = &api.Server{Engine: r.Engine, Store: r.DB, Files: r.Files, Clock: r.Clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RequestsPerMinute: perMinute,
		Sheet: func(_ context.Context, d *flows.Document, lang string, w io.Writer) error {
			_, err := fmt.Fprintf(w, "%%PDF-1.4 sheet of %s in %s", d.Number, lang)
			return err
		}}
	r.api.Stats = &stats.Service{Source: r.DB, Dir: r.Engine.Directory, Clock: r.Clock}
	r.srv = httptest.NewServer(nil)
	r.api.PublicURL = r.srv.URL
	if err := r.api.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.srv.Config.Handler = r.api.Handler()
	t.Cleanup(r.srv.Close)
	spec, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("openapi.yaml: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	r.check = v
	for _, scope := range api.Scopes {
		r.keys[scope] = r.newKey(scope+"-integration", scope, nil)
	}
	return r
}

func (r *rig) newKey(name, scope string, types []string) string {
	r.t.Helper()
	key, _, err := r.DB.CreateAPIKey(context.Background(), name, scope, types, r.Clock.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	return key
}

// response is an answer read whole.
type response struct {
	*http.Response
	body []byte
}

func (resp response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(resp.body, v); err != nil {
		t.Fatalf("%s: %v\n%s", resp.Request.URL, err, resp.body)
	}
}

func (resp response) problem(t *testing.T) api.Problem {
	t.Helper()
	var p api.Problem
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s %s: content type %q, want application/problem+json", resp.Request.Method, resp.Request.URL.Path, ct)
	}
	resp.json(t, &p)
	if p.Status != resp.StatusCode || p.Code == "" || p.Title == "" {
		t.Errorf("problem %+v for status %d", p, resp.StatusCode)
	}
	return p
}

// do sends a request and validates the answer against the OpenAPI
// document: the document cannot drift from the code.
func (r *rig) do(req *http.Request) response {
	r.t.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	record(req.Method, req.URL.Path, res.StatusCode)
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	if ok, errs := r.check.ValidateHttpResponse(vreq, res); !ok {
		for _, e := range errs {
			r.t.Errorf("%s %s → %d does not match openapi.yaml: %s: %s (%v)", req.Method, req.URL.Path, res.StatusCode, e.Message, e.Reason,
				e.SchemaValidationErrors)
		}
	}
	// A request the API took must be one the document describes.
	if res.StatusCode < 300 {
		vreq := req.Clone(context.Background())
		vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
		if ok, errs := r.check.ValidateHttpRequest(vreq); !ok {
			for _, e := range errs {
				r.t.Errorf("%s %s was taken but does not match openapi.yaml: %s: %s", req.Method, req.URL.Path, e.Message, e.Reason)
			}
		}
	}
	return response{Response: res, body: body}
}

func (r *rig) request(method, path, key string, body io.Reader, ctype string) *http.Request {
	r.t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

func (r *rig) get(path, key string) response {
	r.t.Helper()
	return r.do(r.request(http.MethodGet, path, key, nil, ""))
}

// multipartBody builds a form with fields and a file.
func multipartBody(t *testing.T, fields map[string]string, fileName, content string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if fileName != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": fileName}))
		h.Set("Content-Type", mime.TypeByExtension(filepath.Ext(fileName)))
		fw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, content)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (r *rig) post(path, key, idem string, fields map[string]string, fileName, content string) response {
	r.t.Helper()
	body, ctype := multipartBody(r.t, fields, fileName, content)
	req := r.request(http.MethodPost, path, key, body, ctype)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	return r.do(req)
}

func contract(title string) map[string]string {
	return map[string]string{"type": "contract", "title": title, "counterparty": "ООО «Север»", "amount": "150000.00",
		"currency": "RUB", "initiator": "ivanova", "external_id": "1C-" + title}
}

// state counts what a refused request must not change.
type state struct {
	docs  int
	head  int64
	files int
}

func (r *rig) state() state {
	r.t.Helper()
	docs, err := r.DB.AllDocuments(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	head, _, err := r.DB.Head(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return state{docs: len(docs), head: head}
}

func esc(number string) string { return url.PathEscape(number) }

func TestStartWatchFetch(t *testing.T) {
	r := newRig(t, 1000)
	res := r.post("/api/v1/documents", r.keys["start"], "k1", contract("Поставка"), "Договор.pdf", "%PDF-1.4 draft")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("start: %d %s", res.StatusCode, res.body)
	}
	var started struct {
		Number, State, URL string
		Version            int
		Route              []struct {
			Index     int
			Approvers []string
			Skipped   bool
		}
	}
	res.json(t, &started)
	if started.State != flows.StateInApproval || started.Version != 1 || len(started.Route) != 4 || !started.Route[1].Skipped ||
		started.Route[0].Skipped || res.Header.Get("Location") != started.URL {
		t.Errorf("started = %+v, location %q", started, res.Header.Get("Location"))
	}

	res = r.get("/api/v1/documents/"+esc(started.Number), r.keys["read"])
	if res.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", res.StatusCode, res.body)
	}
	var doc struct {
		Number, State, Amount, Initiator string
		ExternalID                       string `json:"external_id"`
		SheetHash                        string `json:"sheet_hash"`
		Stages                           []struct{ State string }
		OpenTasks                        []struct {
			Assignee string
			Stage    int
			OpenedAt time.Time `json:"opened_at"`
			Due      *time.Time
		} `json:"open_tasks"`
		Versions []struct {
			No     int
			SHA256 string
			URL    string
		}
	}
	res.json(t, &doc)
	sum := sha256.Sum256([]byte("%PDF-1.4 draft"))
	if doc.Amount != "150000.00" || doc.ExternalID != "1C-Поставка" || len(doc.Stages) != 4 || doc.Stages[0].State != "active" ||
		doc.Stages[1].State != "skipped" || doc.Stages[2].State != "pending" || len(doc.OpenTasks) != 2 || doc.OpenTasks[0].Stage != 1 || doc.OpenTasks[0].Due == nil ||
		len(doc.Versions) != 1 || doc.Versions[0].SHA256 != hex.EncodeToString(sum[:]) || len(doc.SheetHash) != 64 {
		t.Errorf("document = %+v", doc)
	}

	// The file, by key and by address.
	res = r.get(strings.TrimPrefix(doc.Versions[0].URL, r.srv.URL), r.keys["read"])
	if res.StatusCode != http.StatusOK || string(res.body) != "%PDF-1.4 draft" || !strings.Contains(res.Header.Get("Content-Disposition"), "filename*=utf-8''") {
		t.Errorf("file: %d %q %v", res.StatusCode, res.body, res.Header)
	}
	res = r.get("/api/v1/documents/"+esc(started.Number)+"/sheet.pdf?lang=en", r.keys["read"])
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(string(res.body), "%PDF") || res.Header.Get("X-Viza-Sheet-Hash") != doc.SheetHash {
		t.Errorf("sheet: %d %q %v", res.StatusCode, res.body, res.Header)
	}
	res = r.get("/api/v1/documents/"+esc(started.Number)+"/versions/7/file", r.keys["read"])
	if res.StatusCode != http.StatusNotFound || res.problem(t).Code != "not_found" {
		t.Errorf("missing version: %d", res.StatusCode)
	}

	// The audit log names the integration and whom it acted for.
	d, err := r.DB.DocumentByNumber(context.Background(), started.Number)
	if err != nil {
		t.Fatal(err)
	}
	events, err := r.DB.DocumentEvents(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := events[0]; e.Kind != "created" || e.Actor != flows.IntegrationActor("start-integration") || e.For != "ivanova" {
		t.Errorf("first event = %+v", e)
	}
}

func TestListPagesAndFilters(t *testing.T) {
	r := newRig(t, 1000)
	var numbers []string
	for i := range 5 {
		res := r.post("/api/v1/documents", r.keys["start"], fmt.Sprint("k", i), contract(fmt.Sprint("Договор ", i)), "d.pdf", fmt.Sprint("%PDF ", i))
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("start %d: %d %s", i, res.StatusCode, res.body)
		}
		var s struct{ Number string }
		res.json(t, &s)
		numbers = append(numbers, s.Number)
		r.Clock.Advance(time.Second)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		path := "/api/v1/documents?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		res := r.get(path, r.keys["read"])
		var page struct {
			Items      []struct{ Number string }
			NextCursor string `json:"next_cursor"`
		}
		res.json(t, &page)
		for _, it := range page.Items {
			seen = append(seen, it.Number)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(seen) != fmt.Sprint(numbers) {
		t.Errorf("pages gave %v, want %v", seen, numbers)
	}
	tests := []struct {
		query string
		want  int
	}{
		{"external_id=" + url.QueryEscape("1C-Договор 3"), 1},
		{"state=in_approval", 5},
		{"state=done", 0},
		{"type=memo", 0},
		{"updated_since=2100-01-01T00:00:00Z", 0},
		{"updated_since=2000-01-01T00:00:00Z", 5},
	}
	for _, tc := range tests {
		res := r.get("/api/v1/documents?"+tc.query, r.keys["read"])
		var page struct{ Items []struct{ Number string } }
		res.json(t, &page)
		if res.StatusCode != http.StatusOK || len(page.Items) != tc.want {
			t.Errorf("%s: %d, %d items, want %d", tc.query, res.StatusCode, len(page.Items), tc.want)
		}
	}
	req := r.request("GET", "/api/v1/documents?state=lost", r.keys["read"], nil, "")
	req.Header.Set("Accept-Language", "ru-RU,ru;q=0.9")
	if p := r.do(req).problem(t); p.Title != "Неверный запрос" || !strings.Contains(p.Detail, "нужно одно из draft, in_approval") {
		t.Errorf("a problem in Russian: %+v", p)
	}
	for _, bad := range []string{"state=lost", "limit=0", "cursor=bm90LWEtY3Vyc29y", "updated_since=yesterday"} {
		if res := r.get("/api/v1/documents?"+bad, r.keys["read"]); res.StatusCode != http.StatusBadRequest || res.problem(t).Code != "bad_request" {
			t.Errorf("%s: %d, want 400", bad, res.StatusCode)
		}
	}
}

// TestAuthMatrix: each way a key can be wrong gets its status, and
// changes nothing.
func TestAuthMatrix(t *testing.T) {
	r := newRig(t, 1000)
	revoked := r.newKey("old 1C", "write", nil)
	if ok, err := r.DB.RevokeAPIKey(context.Background(), "old 1C", r.Clock.Now()); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	memoOnly := r.newKey("memo portal", "write", []string{"memo"})
	// The scheme's case does not matter (RFC 9110).
	lower := r.request(http.MethodGet, "/api/v1/documents", "", nil, "")
	lower.Header.Set("Authorization", "bearer "+r.keys["read"])
	if res := r.do(lower); res.StatusCode != http.StatusOK {
		t.Fatalf("Authorization: bearer … answered %d", res.StatusCode)
	}
	res := r.post("/api/v1/documents", r.keys["write"], "seed", contract("Поставка"), "d.pdf", "%PDF")
	var seed struct{ Number string }
	res.json(t, &seed)
	doc := "/api/v1/documents/" + esc(seed.Number)
	tests := []struct {
		name, method, path, key string
		status                  int
		code                    string
	}{
		{"no key", "POST", "/api/v1/documents", "", 401, "unauthorized"},
		{"wrong key", "POST", "/api/v1/documents", "viza_000000000000_wrong", 401, "unauthorized"},
		{"not a key", "GET", doc, "hello", 401, "unauthorized"},
		{"wrong secret", "GET", doc, r.keys["read"][:len(r.keys["read"])-2] + "xx", 401, "unauthorized"},
		{"revoked", "POST", doc + "/withdraw", revoked, 401, "unauthorized"},
		{"read starts", "POST", "/api/v1/documents", r.keys["read"], 403, "forbidden_scope"},
		{"start withdraws", "POST", doc + "/withdraw", r.keys["start"], 403, "forbidden_scope"},
		{"read uploads", "POST", doc + "/versions", r.keys["read"], 403, "forbidden_scope"},
		{"wrong type starts", "POST", "/api/v1/documents", memoOnly, 403, "forbidden_type"},
		{"wrong type reads", "GET", doc, memoOnly, 403, "forbidden_type"},
		{"wrong type withdraws", "POST", doc + "/withdraw", memoOnly, 403, "forbidden_type"},
		{"wrong type lists", "GET", "/api/v1/documents?type=contract", memoOnly, 403, "forbidden_type"},
		{"wrong type sheet", "GET", doc + "/sheet.pdf", memoOnly, 403, "forbidden_type"},
		{"no key file", "GET", doc + "/versions/1/file", "", 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.state()
			var res response
			if tc.method == "POST" && strings.HasSuffix(tc.path, "/withdraw") {
				req := r.request("POST", tc.path, tc.key, strings.NewReader(`{"comment":"x"}`), "application/json")
				req.Header.Set("Idempotency-Key", "m-"+tc.name)
				res = r.do(req)
			} else if tc.method == "POST" {
				res = r.post(tc.path, tc.key, "m-"+tc.name, contract("Чужой"), "x.pdf", "%PDF x")
			} else {
				res = r.get(tc.path, tc.key)
			}
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, res.body)
			}
			if p := res.problem(t); p.Code != tc.code {
				t.Errorf("code %q, want %q", p.Code, tc.code)
			}
			if after := r.state(); after != before {
				t.Errorf("state changed: %+v → %+v", before, after)
			}
		})
	}
	// A key limited to memos lists only memos.
	res = r.get("/api/v1/documents", memoOnly)
	var page struct{ Items []struct{ Number string } }
	res.json(t, &page)
	if len(page.Items) != 0 {
		t.Errorf("a memo key lists %v", page.Items)
	}
}

// TestIdempotency: twenty identical starts at once make one document and
// get one answer; the key reused for another request is refused; a POST
// without a key is refused before anything happens.
func TestIdempotency(t *testing.T) {
	r := newRig(t, 100000)
	const n = 20
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ctype := multipartBody(t, contract("Поставка"), "Договор.pdf", "%PDF-1.4 same")
			req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/documents", body)
			req.Header.Set("Authorization", "Bearer "+r.keys["start"])
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("Idempotency-Key", "same-key")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			answers[i] = response{Response: res, body: b}
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if a.Response == nil {
			t.Fatal("a request failed")
		}
		if a.StatusCode != http.StatusCreated || string(a.body) != string(answers[0].body) {
			t.Errorf("answer %d: %d %s\nfirst: %s", i, a.StatusCode, a.body, answers[0].body)
		}
	}
	if st := r.state(); st.docs != 1 {
		t.Fatalf("%d documents from %d identical requests", st.docs, n)
	}
	// The same again later: the first answer, marked as a replay.
	res := r.post("/api/v1/documents", r.keys["start"], "same-key", contract("Поставка"), "Договор.pdf", "%PDF-1.4 same")
	if res.StatusCode != http.StatusCreated || string(res.body) != string(answers[0].body) || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %s %v", res.StatusCode, res.body, res.Header)
	}
	before := r.state()
	res = r.post("/api/v1/documents", r.keys["start"], "same-key", contract("Аренда"), "Договор.pdf", "%PDF-1.4 same")
	if res.StatusCode != http.StatusUnprocessableEntity || res.problem(t).Code != "idempotency_key_reused" {
		t.Errorf("reuse: %d %s", res.StatusCode, res.body)
	}
	res = r.post("/api/v1/documents", r.keys["start"], "", contract("Аренда"), "Договор.pdf", "%PDF-1.4 other")
	if res.StatusCode != http.StatusBadRequest || res.problem(t).Code != "idempotency_key_required" {
		t.Errorf("no key: %d %s", res.StatusCode, res.body)
	}
	// Another integration's identical key is its own.
	res = r.post("/api/v1/documents", r.keys["write"], "same-key", contract("Поставка"), "Договор.pdf", "%PDF-1.4 same")
	if res.StatusCode != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("other integration: %d %s", res.StatusCode, res.body)
	}
	if after := r.state(); after.docs != before.docs+1 {
		t.Errorf("documents %d → %d, want one more", before.docs, after.docs)
	}
}

func TestBadStarts(t *testing.T) {
	r := newRig(t, 1000)
	with := func(k, v string) map[string]string {
		f := contract("Поставка")
		if v == "" {
			delete(f, k)
		} else {
			f[k] = v
		}
		return f
	}
	tests := []struct {
		name   string
		fields map[string]string
		file   string
		status int
		code   string
	}{
		{"unknown type", with("type", "lease"), "d.pdf", 422, "unknown_type"},
		{"unknown initiator", with("initiator", "nobody"), "d.pdf", 422, "unknown_person"},
		{"no initiator", with("initiator", ""), "d.pdf", 422, "initiator_required"},
		{"no title", with("title", " "), "d.pdf", 422, "title_required"},
		{"bad amount", with("amount", "1,5 млн"), "d.pdf", 422, "bad_amount"},
		{"no file", contract("Поставка"), "", 422, "file_required"},
		{"bad file", contract("Поставка"), "run.exe", 422, "bad_file_type"},
		{"memo without approvers", map[string]string{"type": "memo", "title": "Записка", "initiator": "ivanova"}, "m.pdf", 422, "approvers_required"},
		{"title over its limit", with("title", strings.Repeat("Я", flows.MaxTitle+1)), "d.pdf", 422, "too_long"},
		{"counterparty over its limit", with("counterparty", strings.Repeat("x", flows.MaxCounterparty+1)), "d.pdf", 422, "too_long"},
		{"external id over its limit", with("external_id", strings.Repeat("1", flows.MaxExternalID+1)), "d.pdf", 422, "too_long"},
		{"comment over its limit", with("comment", strings.Repeat("ё", flows.MaxComment+1)), "d.pdf", 422, "too_long"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.state()
			res := r.post("/api/v1/documents", r.keys["start"], fmt.Sprint("bad", i), tc.fields, tc.file, "%PDF content")
			if res.StatusCode != tc.status || res.problem(t).Code != tc.code {
				t.Errorf("%d %s, want %d %s", res.StatusCode, res.body, tc.status, tc.code)
			}
			if after := r.state(); after != before {
				t.Errorf("state changed: %+v → %+v", before, after)
			}
		})
	}
	// An ad-hoc route names its approvers.
	res := r.post("/api/v1/documents", r.keys["start"], "memo", map[string]string{"type": "memo", "title": "Записка", "initiator": "ivanova",
		"approvers": "sidorov, petrov", "parallel": "true"}, "m.pdf", "%PDF memo")
	var s struct {
		Route []struct{ Approvers []string }
	}
	res.json(t, &s)
	if res.StatusCode != http.StatusCreated || len(s.Route) != 1 || len(s.Route[0].Approvers) != 2 {
		t.Errorf("memo: %d %s", res.StatusCode, res.body)
	}
}

func TestVersionAndWithdraw(t *testing.T) {
	r := newRig(t, 1000)
	res := r.post("/api/v1/documents", r.keys["write"], "s", contract("Поставка"), "d.pdf", "%PDF v1")
	var s struct{ Number string }
	res.json(t, &s)
	d, _ := r.DB.DocumentByNumber(context.Background(), s.Number)
	task := d.OpenTasks()[0]
	if _, err := r.Engine.Decide(context.Background(), flows.DecideCmd{Key: "rej", Actor: task.Assignee, TaskID: task.ID,
		Action: flows.ActionReject, Comment: "Нет реквизитов"}); err != nil {
		t.Fatal(err)
	}
	doc := "/api/v1/documents/" + esc(s.Number)
	res = r.post(doc+"/versions", r.keys["write"], "v2", map[string]string{"comment": "Реквизиты добавлены"}, "d2.pdf", "%PDF v2")
	var ch struct {
		State          string
		Version, Round int
	}
	res.json(t, &ch)
	if res.StatusCode != http.StatusCreated || ch.State != flows.StateInApproval || ch.Version != 2 || ch.Round != 2 {
		t.Errorf("version: %d %s", res.StatusCode, res.body)
	}
	res = r.post(doc+"/versions", r.keys["write"], "v3", map[string]string{"author": "nobody"}, "d3.pdf", "%PDF v3")
	if res.StatusCode != http.StatusUnprocessableEntity || res.problem(t).Code != "unknown_person" {
		t.Errorf("unknown author's version: %d %s", res.StatusCode, res.body)
	}
	res = r.post("/api/v1/documents", r.keys["write"], "memo", map[string]string{"type": "memo", "title": "Записка", "initiator": "ivanova",
		"approvers": "sidorov"}, "m.pdf", "%PDF memo")
	var memo struct{ Number string }
	res.json(t, &memo)
	res = r.post("/api/v1/documents/"+esc(memo.Number)+"/versions", r.keys["write"], "v4", map[string]string{"author": "petrov"}, "m2.pdf", "%PDF m2")
	if res.StatusCode != http.StatusForbidden || res.problem(t).Code != "not_participant" {
		t.Errorf("stranger's version: %d %s", res.StatusCode, res.body)
	}
	withdraw := func(idem string) response {
		req := r.request("POST", doc+"/withdraw", r.keys["write"], strings.NewReader(`{"comment":"Отменили в 1С"}`), "application/json")
		req.Header.Set("Idempotency-Key", idem)
		return r.do(req)
	}
	if res = withdraw("w1"); res.StatusCode != http.StatusOK {
		t.Fatalf("withdraw: %d %s", res.StatusCode, res.body)
	}
	if res = withdraw("w1"); res.StatusCode != http.StatusOK || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("withdraw replay: %d %s", res.StatusCode, res.body)
	}
	if res = withdraw("w2"); res.StatusCode != http.StatusConflict || res.problem(t).Code != "wrong_state" {
		t.Errorf("withdraw twice: %d %s", res.StatusCode, res.body)
	}
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, 8) // a burst of two, then one every 7.5 s
	for i := range 2 {
		if res := r.get("/api/v1/documents", r.keys["read"]); res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
	}
	res := r.get("/api/v1/documents", r.keys["read"])
	if res.StatusCode != http.StatusTooManyRequests || res.problem(t).Code != "rate_limited" || res.Header.Get("Retry-After") != "8" {
		t.Errorf("third: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := r.get("/api/v1/documents", r.keys["write"]); res.StatusCode != http.StatusOK {
		t.Errorf("another key: %d", res.StatusCode)
	}
	r.Clock.Advance(8 * time.Second)
	if res := r.get("/api/v1/documents", r.keys["read"]); res.StatusCode != http.StatusOK {
		t.Errorf("after the wait: %d", res.StatusCode)
	}
}

func TestSignedLinks(t *testing.T) {
	r := newRig(t, 1000)
	res := r.post("/api/v1/documents", r.keys["start"], "s", contract("Поставка"), "d.pdf", "%PDF v1")
	var s struct{ Number string }
	res.json(t, &s)
	exp := r.Clock.Now().Add(time.Hour)
	file := strings.TrimPrefix(r.api.VersionURL(context.Background(), s.Number, 1, exp), r.srv.URL)
	sheet := strings.TrimPrefix(r.api.SheetURL(context.Background(), s.Number, exp), r.srv.URL)
	if res := r.get(file, ""); res.StatusCode != http.StatusOK || string(res.body) != "%PDF v1" {
		t.Errorf("file link: %d %s", res.StatusCode, res.body)
	}
	if res := r.get(sheet, ""); res.StatusCode != http.StatusOK || !strings.HasPrefix(string(res.body), "%PDF") {
		t.Errorf("sheet link: %d %s", res.StatusCode, res.body)
	}
	tampered := []string{
		strings.Replace(file, "/versions/1/", "/versions/2/", 1),
		strings.Replace(file, "expires=", "expires=9", 1),
		strings.Replace(sheet, "signature=", "signature=A", 1),
	}
	for _, p := range tampered {
		if res := r.get(p, ""); res.StatusCode != http.StatusUnauthorized || res.problem(t).Code != "link_expired" {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	r.Clock.Advance(2 * time.Hour)
	if res := r.get(file, ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired link: %d", res.StatusCode)
	}
}

func TestOpenAPIServed(t *testing.T) {
	r := newRig(t, 1000)
	res := r.get("/api/v1/openapi.json", "")
	var doc struct {
		OpenAPI string
		Paths   map[string]any
	}
	res.json(t, &doc)
	if res.StatusCode != http.StatusOK || doc.OpenAPI != "3.1.0" || len(doc.Paths) < 6 {
		t.Errorf("openapi.json: %d %s %d paths", res.StatusCode, doc.OpenAPI, len(doc.Paths))
	}
	// Outside the document, so not validated against it.
	if res, err := http.Get(r.srv.URL + "/api/v1/nothing"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown address: %v %v", res, err)
	}
	// The validator does catch a drift: an answer without a required
	// field is reported.
	req := r.request("GET", "/api/v1/documents", r.keys["read"], nil, "")
	bad := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"next_cursor": 5}`)), Request: req}
	if ok, _ := r.check.ValidateHttpResponse(req, bad); ok {
		t.Error("the validator passes an answer that breaks openapi.yaml")
	}
}

// TestLinkKeyOutsideTheDatabase: links are signed with a key derived from
// the audit key, which the database does not hold. The key earlier
// versions kept in the database (readable in any backup) signs nothing
// once the transition — as long as the longest link lives — is over; no
// link works longer than the configured lifetime, whatever it says; and a
// rotation kills every link made before.
func TestLinkKeyOutsideTheDatabase(t *testing.T) {
	r := newRig(t, 1000)
	ctx := context.Background()
	res := r.post("/api/v1/documents", r.keys["start"], "s", contract("Ссылки"), "d.pdf", "%PDF v1")
	var s struct{ Number string }
	res.json(t, &s)
	get := func(link string) int { return r.get(strings.TrimPrefix(link, r.srv.URL), "").StatusCode }
	old := r.api.VersionURL(context.Background(), s.Number, 1, r.Clock.Now().Add(time.Hour)) // by the stored key, as before
	stored, _, _ := r.DB.StateGet(ctx, "api", "link-key")
	forge := func(key []byte, expires time.Time) string {
		exp := expires.Unix()
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s\n%d", "version:"+s.Number+":1", exp)
		return fmt.Sprintf("%s/api/v1/documents/%s/versions/1/file?expires=%d&signature=%s", r.srv.URL, url.PathEscape(s.Number), exp,
			base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
	}
	derived := func(gen int64) []byte {
		m := hmac.New(sha256.New, []byte("the audit key, kept outside"))
		fmt.Fprintf(m, "api-links:%d", gen)
		return m.Sum(nil)
	}
	r.api.LinkKey, r.api.LinkTTL = derived, 24*time.Hour
	if err := r.api.Init(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := r.api.VersionURL(context.Background(), s.Number, 1, r.Clock.Now().Add(time.Hour))
	if get(old) != http.StatusOK || get(fresh) != http.StatusOK {
		t.Fatalf("during the transition: old %d, new %d", get(old), get(fresh))
	}
	// Longer than the lifetime: capped when made, refused when forged.
	long := r.api.VersionURL(context.Background(), s.Number, 1, r.Clock.Now().Add(30*24*time.Hour))
	if exp := r.Clock.Now().Add(24 * time.Hour).Unix(); !strings.Contains(long, fmt.Sprintf("expires=%d", exp)) {
		t.Fatalf("a link for 30 days: %s", long)
	}
	if code := get(forge(derived(0), r.Clock.Now().Add(10*24*time.Hour))); code != http.StatusUnauthorized {
		t.Fatalf("a link for 10 days with a good signature: %d", code)
	}
	// The transition ends: the stored key signs nothing, and is gone.
	r.Clock.Advance(25 * time.Hour)
	if err := r.api.Init(ctx); err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(stored)
	if code := get(forge(key, r.Clock.Now().Add(time.Hour))); code != http.StatusUnauthorized {
		t.Fatalf("a link made with the key from a backup: %d", code)
	}
	if v, _, _ := r.DB.StateGet(ctx, "api", "link-key"); v != "" {
		t.Fatal("the stored key outlived the transition")
	}
	now := r.api.VersionURL(context.Background(), s.Number, 1, r.Clock.Now().Add(time.Hour))
	if get(now) != http.StatusOK {
		t.Fatal("a new link does not work")
	}
	if _, err := api.RotateLinkKey(ctx, r.DB); err != nil {
		t.Fatal(err)
	}
	if code := get(now); code != http.StatusUnauthorized {
		t.Fatalf("a link made before the rotation: %d", code)
	}
	if code := get(r.api.VersionURL(context.Background(), s.Number, 1, r.Clock.Now().Add(time.Hour))); code != http.StatusOK {
		t.Fatalf("a link made after the rotation: %d", code)
	}
}
