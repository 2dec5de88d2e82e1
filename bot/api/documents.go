package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

// idempotency reads the Idempotency-Key every POST must carry and turns it
// into the engine's key, which is the key's own: two integrations may use
// the same string without meeting.
func (s *Server) idempotency(w http.ResponseWriter, r *http.Request, c caller) (string, bool) {
	k := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if k == "" || len(k) > 200 {
		s.problem(w, r, http.StatusBadRequest, "idempotency_key_required")
		return "", false
	}
	return "api:" + c.key.ID + ":" + k, true
}

// fingerprint names a request by what it asks, not by its bytes: a
// multipart body has a new boundary each time a client sends it.
func fingerprint(r *http.Request, fields url.Values, file *upload) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range fields[k] {
			fmt.Fprintf(h, "%q=%q\n", k, v)
		}
	}
	if file != nil {
		fmt.Fprintf(h, "file %q %s\n", file.name, file.sha256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// replayed answers a repeated key: the first answer when the request is
// the same, 422 when the key was used for another one.
func (s *Server) replayed(w http.ResponseWriter, r *http.Request, out flows.Outcome, fp string) bool {
	if !out.Repeated {
		return false
	}
	if out.Request != fp {
		s.problem(w, r, http.StatusUnprocessableEntity, "idempotency_key_reused")
		return true
	}
	w.Header().Set("Idempotent-Replayed", "true")
	return false
}

// upload is the file of a multipart request, hashed and ready to read
// again.
type upload struct {
	name, mime, sha256 string
	file               multipart.File
}

// form reads a multipart request: fields and the one file (required when
// wantFile). It answers the request itself when it cannot.
func (s *Server) form(w http.ResponseWriter, r *http.Request, wantFile bool) (url.Values, *upload, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxUpload+1<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.problem(w, r, http.StatusRequestEntityTooLarge, "too_large")
		} else {
			s.Log.Info("api: unreadable form", "path", r.URL.Path, "err", err)
			s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"multipart", nil})
		}
		return nil, nil, false
	}
	fields := url.Values(r.MultipartForm.Value)
	files := r.MultipartForm.File["file"]
	if len(files) == 0 {
		if wantFile {
			s.problem(w, r, http.StatusUnprocessableEntity, "file_required")
			return nil, nil, false
		}
		return fields, nil, true
	}
	fh := files[0]
	f, err := fh.Open()
	if err != nil {
		s.internal(w, r, fmt.Errorf("open upload: %w", err))
		return nil, nil, false
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		s.internal(w, r, fmt.Errorf("read upload: %w", err))
		return nil, nil, false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		s.internal(w, r, fmt.Errorf("rewind upload: %w", err))
		return nil, nil, false
	}
	return fields, &upload{name: fh.Filename, mime: fh.Header.Get("Content-Type"), sha256: hex.EncodeToString(h.Sum(nil)), file: f}, true
}

var amountRE = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,2})?$`)

// parseAmount reads "1500000.00" into hundredths. The API takes one
// spelling only: systems, unlike people, can send it.
func parseAmount(s string) (int64, bool) {
	if !amountRE.MatchString(s) {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/200 {
		return 0, false
	}
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	return w*100 + f, true
}

func splitIDs(s string) []flows.PersonID {
	var out []flows.PersonID
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, flows.PersonID(p))
		}
	}
	return out
}

func (s *Server) start(w http.ResponseWriter, r *http.Request, c caller) {
	key, ok := s.idempotency(w, r, c)
	if !ok {
		return
	}
	fields, file, ok := s.form(w, r, true)
	if !ok {
		return
	}
	defer file.file.Close()
	typ := strings.TrimSpace(fields.Get("type"))
	if !c.mayType(typ) {
		s.problem(w, r, http.StatusForbidden, "forbidden_type", detail{"types", map[string]any{"Types": strings.Join(c.key.Types, ", ")}})
		return
	}
	cmd := flows.StartCmd{Key: key, Actor: flows.PersonID(strings.TrimSpace(fields.Get("initiator"))), TypeID: typ,
		Title: fields.Get("title"), Counterparty: fields.Get("counterparty"), Currency: strings.ToUpper(strings.TrimSpace(fields.Get("currency"))),
		Comment: fields.Get("comment"), ExternalID: fields.Get("external_id"), Approvers: splitIDs(fields.Get("approvers")),
		File:   flows.Upload{Name: file.name, MIME: file.mime, Content: file.file},
		Origin: flows.Origin{Via: c.key.Name, Request: fingerprint(r, fields, file)}}
	if cmd.Actor == "" {
		s.problem(w, r, http.StatusUnprocessableEntity, "initiator_required")
		return
	}
	if a := strings.TrimSpace(fields.Get("amount")); a != "" {
		if cmd.AmountMinor, cmd.HasAmount = parseAmount(a); !cmd.HasAmount {
			s.problem(w, r, http.StatusUnprocessableEntity, "bad_amount")
			return
		}
	}
	if p := fields.Get("parallel"); p != "" {
		var err error
		if cmd.Parallel, err = strconv.ParseBool(p); err != nil {
			s.problem(w, r, http.StatusUnprocessableEntity, "bad_request", detail{"parallel", nil})
			return
		}
	}
	out, err := s.Engine.Start(r.Context(), cmd)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	if s.replayed(w, r, out, cmd.Request) {
		return
	}
	d, err := s.Store.DocumentByNumber(r.Context(), out.Number)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !out.Repeated {
		s.Log.Info("api: document started", "number", out.Number, "integration", c.key.Name, "initiator", cmd.Actor)
	}
	// The answer is made of what the first request's outcome recorded and
	// the route, which never changes: a repeat gets the same answer.
	w.Header().Set("Location", s.documentURL(out.Number))
	writeJSON(w, http.StatusCreated, startedView{Number: out.Number, State: out.State, Version: out.Version, URL: s.documentURL(out.Number),
		Route: stages(&flows.Document{Stages: d.Stages})}) // the plan alone: the same on a replay
}

// load finds the document of the path, in the caller's types.
func (s *Server) load(w http.ResponseWriter, r *http.Request, c caller) (*flows.Document, bool) {
	number := r.PathValue("number")
	d, err := s.Store.DocumentByNumber(r.Context(), number)
	if flows.ErrorKind(err) == flows.KindNotFound {
		s.problem(w, r, http.StatusNotFound, "not_found")
		return nil, false
	}
	if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	if !c.mayType(d.TypeID) {
		s.problem(w, r, http.StatusForbidden, "forbidden_type")
		return nil, false
	}
	return d, true
}

func (s *Server) sheetHash(r *http.Request, d *flows.Document) (string, error) {
	events, err := s.Store.DocumentEvents(r.Context(), d.ID)
	if err != nil || len(events) == 0 {
		return "", err
	}
	return events[len(events)-1].Hash, nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, c caller) {
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	updated, err := s.Store.DocumentUpdatedAt(r.Context(), d.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	hash, err := s.sheetHash(r, d)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.document(d, updated, hash, s.Clock.Now()))
}

func encodeCursor(at, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + ":" + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (at, id int64, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, false
	}
	a, b, found := strings.Cut(string(raw), ":")
	at, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	return at, id, found && err1 == nil && err2 == nil
}

var states = []string{flows.StateDraft, flows.StateInApproval, flows.StateChangesRequested, flows.StateApproved, flows.StateSigning,
	flows.StateDone, flows.StateWithdrawn}

func (s *Server) list(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	f := storage.DocumentFilter{State: q.Get("state"), ExternalID: q.Get("external_id"), Types: c.key.Types, Limit: 50}
	if f.State != "" && !slices.Contains(states, f.State) {
		s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"state", map[string]any{"States": strings.Join(states, ", ")}})
		return
	}
	if t := q.Get("type"); t != "" {
		if !c.mayType(t) {
			s.problem(w, r, http.StatusForbidden, "forbidden_type")
			return
		}
		f.Types = []string{t}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"limit", nil})
			return
		}
		f.Limit = n
	}
	if since := q.Get("updated_since"); since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"updated_since", nil})
			return
		}
		// At or after the moment: after one nanosecond before it.
		f.AfterAt, f.AfterID = t.UnixNano()-1, math.MaxInt64
	}
	if cur := q.Get("cursor"); cur != "" {
		at, id, ok := decodeCursor(cur)
		if !ok {
			s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"cursor", nil})
			return
		}
		f.AfterAt, f.AfterID = at, id
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	docs, err := s.Store.ListDocuments(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := listView{Items: []summaryView{}}
	for i, cd := range docs {
		if i == limit {
			last := docs[i-1]
			out.NextCursor = encodeCursor(last.UpdatedAt, last.Doc.ID)
			break
		}
		out.Items = append(out.Items, summary(cd.Doc, cd.UpdatedAt))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, c caller) {
	key, ok := s.idempotency(w, r, c)
	if !ok {
		return
	}
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	fields, file, ok := s.form(w, r, true)
	if !ok {
		return
	}
	defer file.file.Close()
	author := d.Initiator
	if a := strings.TrimSpace(fields.Get("author")); a != "" {
		author = flows.PersonID(a)
	}
	cmd := flows.VersionCmd{Key: key, Actor: author, DocID: d.ID, Comment: fields.Get("comment"), Rework: fields.Get("rework"),
		File: flows.Upload{Name: file.name, MIME: file.mime, Content: file.file}, Origin: flows.Origin{Via: c.key.Name, Request: fingerprint(r, fields, file)}}
	out, err := s.Engine.UploadVersion(r.Context(), cmd)
	s.changed(w, r, http.StatusCreated, out, err, cmd.Request)
}

// changed answers a command on a document: the engine's refusal, a reused
// key, or what the document is now (the first answer again on a replay).
func (s *Server) changed(w http.ResponseWriter, r *http.Request, status int, out flows.Outcome, err error, request string) {
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	if s.replayed(w, r, out, request) {
		return
	}
	writeJSON(w, status, changedView{Number: out.Number, State: out.State, Version: out.Version, Round: out.Round})
}

func (s *Server) withdraw(w http.ResponseWriter, r *http.Request, c caller) {
	key, ok := s.idempotency(w, r, c)
	if !ok {
		return
	}
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	var body struct {
		Comment string `json:"comment"`
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		s.problem(w, r, http.StatusRequestEntityTooLarge, "too_large")
		return
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			s.problem(w, r, http.StatusBadRequest, "bad_request", detail{"body", nil})
			return
		}
	}
	cmd := flows.WithdrawCmd{Key: key, Actor: d.Initiator, DocID: d.ID, Comment: body.Comment,
		Origin: flows.Origin{Via: c.key.Name, Request: fingerprint(r, url.Values{"comment": {body.Comment}}, nil)}}
	out, err := s.Engine.Withdraw(r.Context(), cmd)
	s.changed(w, r, http.StatusOK, out, err, cmd.Request)
}

func (s *Server) file(w http.ResponseWriter, r *http.Request, c caller) {
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	v, found := d.Version(n)
	if err != nil || !found {
		s.problem(w, r, http.StatusNotFound, "not_found")
		return
	}
	f, err := s.Files.Open(v.SHA256)
	if err != nil {
		s.internal(w, r, fmt.Errorf("open version %d of %s: %w", n, d.Number, err))
		return
	}
	defer f.Close()
	ctype := v.MIME
	if _, _, err := mime.ParseMediaType(ctype); err != nil || ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.FileName}))
	w.Header().Set("Content-Length", strconv.FormatInt(v.Size, 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Viza-SHA256", v.SHA256)
	if _, err := io.Copy(w, f); err != nil {
		s.Log.Warn("api: file download cut short", "number", d.Number, "version", n, "err", err)
	}
}

func (s *Server) sheet(w http.ResponseWriter, r *http.Request, c caller) {
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	lang := r.URL.Query().Get("lang")
	if lang != "ru" && lang != "en" {
		lang = s.Engine.Directory().Language
	}
	hash, err := s.sheetHash(r, d)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := s.Sheet(r.Context(), d, lang, &buf); err != nil {
		s.internal(w, r, fmt.Errorf("sheet of %s: %w", d.Number, err))
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Number + ".pdf"}))
	w.Header().Set("X-Viza-Sheet-Hash", hash)
	w.Write(buf.Bytes())
}

// signature sends the file of the document's n-th verified electronic
// signature (1-based), as the signer uploaded it.
func (s *Server) signature(w http.ResponseWriter, r *http.Request, c caller) {
	d, ok := s.load(w, r, c)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("s"))
	if err != nil || n < 1 || n > len(d.Signatures) {
		s.problem(w, r, http.StatusNotFound, "not_found")
		return
	}
	sg := d.Signatures[n-1]
	f, err := s.Files.Open(sg.SHA256)
	if err != nil {
		s.internal(w, r, fmt.Errorf("open signature %d of %s: %w", n, d.Number, err))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/pkcs7-signature")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": flows.CleanFileName(sg.FileName)}))
	w.Header().Set("Content-Length", strconv.FormatInt(sg.Size, 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Viza-SHA256", sg.SHA256)
	io.Copy(w, f)
}
