package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage/storagetest"
)

// TestSignatureUploadOnTheWeb: the director's signature task asks for the
// detached signature of the final version; a signature of something else
// is refused with the reason, a valid one closes the task, and the
// document page lists it with its file to download, in its own card and
// beside the version signed.
func TestSignatureUploadOnTheWeb(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	dt, _ := r.eng.Directory().Type("contract")
	dt.Route[len(dt.Route)-1].Method = flows.SignUpload
	r.eng.SetVerifier(storagetest.ByteVerifier{Check: flows.SignatureCheck{Owner: "Дмитрий Орлов, ООО «Ромашка»", Serial: "0A1B",
		Issuer: "Тестовый УЦ <b>", Verifier: "test"}})
	out, err := r.eng.Start(ctx, flows.StartCmd{Key: "kep", Actor: "ivanova", TypeID: "contract", Title: "Поставка с КЭП", AmountMinor: 100,
		HasAmount: true, File: flows.Upload{Name: "v1.pdf", Content: strings.NewReader("%PDF договор")}})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(p flows.PersonID) int64 {
		d, _ := r.db.Document(ctx, out.DocID)
		for _, tk := range d.OpenTasks() {
			if tk.Assignee == p {
				if tk.Kind == flows.KindSign {
					return tk.ID
				}
				if _, err := r.eng.Decide(ctx, flows.DecideCmd{Key: "d" + string(p), Actor: p, TaskID: tk.ID, Action: flows.ActionApprove}); err != nil {
					t.Fatal(err)
				}
				return 0
			}
		}
		t.Fatalf("%s has no task", p)
		return 0
	}
	decide("petrov")
	decide("director")
	task := decide("director")
	c := client()
	r.signIn(c, "director")
	taskURL := r.http.URL + "/task/" + itoa(task)
	_, page := webtest.Get(t, c, taskURL)
	if !strings.Contains(page, `name="signature"`) || strings.Contains(page, `name="scan"`) || !strings.Contains(page, "версии v1") {
		t.Fatalf("the signature task does not ask for the signature of v1:\n%s", page[strings.Index(page, "<main>"):])
	}
	csrf := webtest.CSRF(t, page)
	send := func(nonce, sig string) (int, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("csrf", csrf)
		mw.WriteField("nonce", nonce)
		mw.WriteField("action", "done")
		if sig != "" {
			fw, _ := mw.CreateFormFile("signature", "договор.pdf.sig")
			fw.Write([]byte(sig))
		}
		mw.Close()
		res, err := c.Post(taskURL+"/act", mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := send("n1", "signed:%PDF другой"); code != http.StatusBadRequest || !strings.Contains(body, "не прошла проверку") {
		t.Fatalf("a signature of another file: %d\n%s", code, body)
	}
	if code, _ := send("n2", ""); code != http.StatusBadRequest {
		t.Fatalf("no signature file: %d", code)
	}
	if d, _ := r.db.Document(ctx, out.DocID); d.State != flows.StateSigning || len(d.Signatures) != 0 {
		t.Fatalf("refused signatures changed the document: %s, %d", d.State, len(d.Signatures))
	}
	if code, _ := send("n3", "signed:%PDF договор"); code != http.StatusSeeOther {
		t.Fatalf("a valid signature: %d", code)
	}
	d, _ := r.db.Document(ctx, out.DocID)
	if d.State != flows.StateDone || len(d.Signatures) != 1 {
		t.Fatalf("after the signature: %s, %+v", d.State, d.Signatures)
	}
	docURL := r.http.URL + "/doc/" + url.PathEscape(d.Number)
	_, page = webtest.Get(t, c, docURL)
	if !strings.Contains(page, `id="signatures"`) || !strings.Contains(page, "Дмитрий Орлов, ООО «Ромашка»") ||
		!strings.Contains(page, "Тестовый УЦ &lt;b&gt;") || strings.Count(page, "/signature/1") != 2 {
		t.Fatalf("the document page does not list the signature:\n%s", page[strings.Index(page, "<main>"):])
	}
	res, err := c.Get(docURL + "/signature/1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(b) != "signed:%PDF договор" || res.Header.Get("Content-Type") != "application/pkcs7-signature" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("the signature file: %d %q %v", res.StatusCode, b, res.Header)
	}
	for _, n := range []string{"2", "0", "x"} {
		if code, _ := webtest.Get(t, c, docURL+"/signature/"+n); code != http.StatusNotFound {
			t.Errorf("signature %s: %d", n, code)
		}
	}
}

// waitingDSS is a DSS whose operations wait for confirmation.
type waitingDSS struct{ starts int }

func (w *waitingDSS) Start(context.Context, flows.PersonID, string, []byte) (flows.DSSStatus, error) {
	w.starts++
	return flows.DSSStatus{ID: "op-" + itoa(int64(w.starts)), State: flows.DSSPending}, nil
}

func (w *waitingDSS) Status(_ context.Context, _ flows.PersonID, id string) (flows.DSSStatus, error) {
	return flows.DSSStatus{ID: id, State: flows.DSSPending}, nil
}

// TestSignInDSSOnTheWeb: a task signed in КриптоПро DSS says so and sends
// the version there; the page then says the signature waits in myDSS, and
// a second send is refused with why.
func TestSignInDSSOnTheWeb(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	dt, _ := r.eng.Directory().Type("contract")
	dt.Route[len(dt.Route)-1].Method = flows.SignDSS
	w := &waitingDSS{}
	r.eng.SetDSS(flows.DSSSettings{Signer: w, Expiry: 15 * time.Minute})
	out, err := r.eng.Start(ctx, flows.StartCmd{Key: "dss", Actor: "ivanova", TypeID: "contract", Title: "Поставка в DSS", AmountMinor: 100,
		HasAmount: true, File: flows.Upload{Name: "v1.pdf", Content: strings.NewReader("%PDF договор")}})
	if err != nil {
		t.Fatal(err)
	}
	var task int64
	for _, p := range []flows.PersonID{"petrov", "director", "director"} {
		d, _ := r.db.Document(ctx, out.DocID)
		for _, tk := range d.OpenTasks() {
			if tk.Assignee == p && tk.Kind == flows.KindSign {
				task = tk.ID
			} else if tk.Assignee == p {
				if _, err := r.eng.Decide(ctx, flows.DecideCmd{Key: "d" + string(p), Actor: p, TaskID: tk.ID, Action: flows.ActionApprove}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if task == 0 {
		t.Fatal("no signature task")
	}
	c := client()
	r.signIn(c, "director")
	taskURL := r.http.URL + "/task/" + itoa(task)
	_, page := webtest.Get(t, c, taskURL)
	if !strings.Contains(page, `value="dss"`) || strings.Contains(page, `value="done"`) || strings.Contains(page, `name="scan"`) ||
		strings.Contains(page, `name="signature"`) || !strings.Contains(page, "myDSS") {
		t.Fatalf("the task does not offer DSS alone:\n%s", page[strings.Index(page, "<main>"):])
	}
	csrf := webtest.CSRF(t, page)
	send := func(nonce string) int {
		res, err := c.PostForm(taskURL+"/act", url.Values{"csrf": {csrf}, "nonce": {nonce}, "action": {"dss"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := send("n1"); code != http.StatusSeeOther || w.starts != 1 {
		t.Fatalf("sent to DSS: %d, %d starts", code, w.starts)
	}
	_, page = webtest.Get(t, c, taskURL+"?done=dss")
	if !strings.Contains(page, "Ждём вашего подтверждения в myDSS") || !strings.Contains(page, "Отправлено в КриптоПро DSS") {
		t.Fatalf("the page does not say the signature waits:\n%s", page[strings.Index(page, "<main>"):])
	}
	if code := send("n2"); code != http.StatusConflict || w.starts != 1 {
		t.Fatalf("a second send while the first waits: %d, %d starts", code, w.starts)
	}
	if d, _ := r.db.Document(ctx, out.DocID); d.State != flows.StateSigning {
		t.Fatalf("the document is %s before DSS signed", d.State)
	}
}
