package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pdfsign/verify"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/pdfseal"
)

// TestDemoSealsTheSheet: the demo seals every sheet with a certificate it
// made and named as a demo; Viza's verifier and poppler's pdfsig both find
// the signature valid, and /readyz says the seal is up. A TSA that does not
// answer leaves the sheet sealed without a timestamp, said by /readyz.
func TestDemoSealsTheSheet(t *testing.T) {
	m, _, _ := startDemoWith(t, func(cfg *config.Config) { cfg.Seal.TSAURL = "http://127.0.0.1:1/tsa" })
	d, err := firstDoc(m)
	if err != nil || d == nil {
		t.Fatalf("no demo document: %v", err)
	}
	var buf bytes.Buffer
	if err := m.reports().Sheet(context.Background(), d, "ru", &buf); err != nil {
		t.Fatal(err)
	}
	pdf := buf.Bytes()
	res, err := verify.Verify(bytes.NewReader(pdf), int64(len(pdf)))
	if res == nil || len(res.Signers) != 1 || !res.Signers[0].ValidSignature {
		t.Fatalf("the sheet is not sealed: %+v, %v", res, err)
	}
	if cn := res.Signers[0].Certificates[0].Certificate.Subject.CommonName; !strings.Contains(cn, pdfseal.DemoName) {
		t.Errorf("the demo seal is not named as one: %q", cn)
	}
	if res.Signers[0].TimeStamp != nil {
		t.Error("a timestamp from a TSA that is not there")
	}
	if bin, err := exec.LookPath("pdfsig"); err == nil {
		path := filepath.Join(t.TempDir(), "sheet.pdf")
		os.WriteFile(path, pdf, 0o600)
		out, _ := exec.Command(bin, path).CombinedOutput()
		if !strings.Contains(string(out), "Signature is Valid") {
			t.Errorf("pdfsig:\n%s", out)
		}
	} else if os.Getenv("VIZA_TEST_ALL") != "" {
		t.Fatal("pdfsig is missing: apt-get install poppler-utils")
	}
	resp, err := http.Get("http://" + m.Listener.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "seal up: sealed without a timestamp") {
		t.Errorf("/readyz does not say the seal goes without timestamps:\n%s", body)
	}
	// The demo seal is kept: a restart seals with the same certificate.
	again, err := openSeal(m.Config, m.Clock.Now())
	if err != nil || !again.Chain[0].Equal(res.Signers[0].Certificates[0].Certificate) {
		t.Errorf("the demo seal changed on reopening: %v", err)
	}
}

// TestSealThatCannotLoad: a seal whose file is missing does not stop the
// service; sheets go out unsealed and /readyz says why.
func TestSealThatCannotLoad(t *testing.T) {
	t.Setenv("VIZA_TEST_SEAL_PASSWORD", "x")
	m, _, _ := startDemoWith(t, func(cfg *config.Config) {
		cfg.Seal = &config.Seal{PKCS12: "/no/such/seal.p12", PasswordEnv: "VIZA_TEST_SEAL_PASSWORD", TSATimeout: "10s"}
	})
	d, _ := firstDoc(m)
	var buf bytes.Buffer
	if err := m.reports().Sheet(context.Background(), d, "ru", &buf); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("%PDF")) {
		t.Fatalf("no sheet: %v", err)
	}
	if res, _ := verify.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len())); res != nil && len(res.Signers) > 0 {
		t.Fatal("sealed with a seal that did not load")
	}
	resp, err := http.Get("http://" + m.Listener.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "seal failed:") {
		t.Errorf("/readyz does not say the seal failed:\n%s", body)
	}
}

// TestVerifySheet: viza verify --sheet checks the seal and the record:
// the sheet as made passes; one byte changed breaks the seal; a sheet of
// a record that moved on is told so; a PDF that is no sheet is refused.
func TestVerifySheet(t *testing.T) {
	m, _, _ := startDemo(t)
	d, _ := firstDoc(m)
	var buf bytes.Buffer
	if err := m.reports().Sheet(context.Background(), d, "en", &buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	good := write("sheet.pdf", buf.Bytes())
	broken := bytes.Clone(buf.Bytes())
	i := bytes.Index(broken, []byte("/Producer"))
	broken[i+12]++
	cases := []struct {
		name, path string
		code       int
		says       string
	}{
		{"as made", good, 0, "SEAL VALID"},
		{"changed after sealing", write("broken.pdf", broken), 1, "SEAL BROKEN"},
		{"not a PDF", write("note.txt", []byte("hello")), 1, "is not a PDF"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if code := m.reports().VerifySheet(context.Background(), c.path, "en", &out); code != c.code || !strings.Contains(out.String(), c.says) {
			t.Errorf("%s: %d\n%s", c.name, code, out.String())
		}
	}
	var out bytes.Buffer
	if code := m.reports().VerifySheet(context.Background(), good, "en", &out); !strings.Contains(out.String(), "OK: the record") || code != 0 {
		t.Errorf("the record check: %d\n%s", code, out.String())
	}
}

// TestFinalVersionSealed: with seal.final_version, the approved PDF goes
// out sealed — in chat with the approval, and from the document page —
// and the seal is an incremental update: the version's own bytes, whose
// checksum the sheet prints, are the start of the sealed file. Before
// approval there is no sealed copy.
func TestFinalVersionSealed(t *testing.T) {
	m, _, _ := startDemoWith(t, func(cfg *config.Config) { cfg.Seal.FinalVersion = true })
	ctx := context.Background()
	d, err := firstDoc(m)
	if err != nil || d == nil {
		t.Fatalf("no demo document: %v", err)
	}
	r := m.reports()
	if _, _, ok := r.SealedFinal(ctx, d, "ru"); ok {
		t.Fatal("a sealed final version before approval")
	}
	for d.State == flows.StateInApproval {
		tasks := d.OpenTasks()
		if len(tasks) == 0 {
			t.Fatalf("%s in approval with no open task", d.Number)
		}
		tk := tasks[0]
		action := map[string]string{flows.KindApprove: flows.ActionApprove, flows.KindAcknowledge: flows.ActionAcknowledge, flows.KindSign: flows.ActionDone}[tk.Kind]
		if _, err := m.Engine.Decide(ctx, flows.DecideCmd{Key: "final:" + strconv.FormatInt(tk.ID, 10), Actor: tk.Assignee, TaskID: tk.ID, Action: action}); err != nil {
			t.Fatal(err)
		}
		if d, err = m.DB.Document(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	name, sealed, ok := r.SealedFinal(ctx, d, "ru")
	if !ok || !strings.HasSuffix(name, ".pdf") || !strings.Contains(name, "с печатью") {
		t.Fatalf("no sealed final version of the approved %s: %q %v", d.Number, name, ok)
	}
	v, _ := d.Version(d.CurrentVersion())
	f, _ := m.Files.Open(v.SHA256)
	orig, _ := io.ReadAll(f)
	f.Close()
	if !bytes.HasPrefix(sealed, orig) || len(sealed) <= len(orig) {
		t.Fatal("the sealed copy does not keep the version's bytes as its start")
	}
	res, err := verify.Verify(bytes.NewReader(sealed), int64(len(sealed)))
	if res == nil || len(res.Signers) != 1 || !res.Signers[0].ValidSignature {
		t.Fatalf("the final version is not sealed: %+v, %v", res, err)
	}
	if bin, err := exec.LookPath("pdfsig"); err == nil {
		path := filepath.Join(t.TempDir(), "final.pdf")
		os.WriteFile(path, sealed, 0o600)
		out, _ := exec.Command(bin, path).CombinedOutput()
		if !strings.Contains(string(out), "Signature is Valid") {
			t.Errorf("pdfsig:\n%s", out)
		}
	} else if os.Getenv("VIZA_TEST_ALL") != "" {
		t.Fatal("pdfsig is missing: apt-get install poppler-utils")
	}
	// The document page links it, and the link serves it.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	link, err := m.Web.LoginLink(ctx, "ivanova", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Get(link); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	base := "http://" + m.Listener.Addr().String() + "/doc/" + url.PathEscape(d.Number)
	res2, err := c.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if want := `/final">🔏 ` + messages.Say("ru", "web.final_sealed", nil).String(); !strings.Contains(html.UnescapeString(string(page)), want) {
		t.Fatalf("the document page does not offer the sealed final version (%q)", want)
	}
	res3, err := c.Get(base + "/final")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res3.Body)
	res3.Body.Close()
	if res3.StatusCode != http.StatusOK || res3.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(got, orig) || len(got) <= len(orig) {
		t.Fatalf("GET …/final: %d %s, %d bytes", res3.StatusCode, res3.Header.Get("Content-Type"), len(got))
	}
}

// TestFinalVersionSealedInChat: with seal.final_version, the approval's
// message in chat carries the sealed copy of the final PDF.
func TestFinalVersionSealedInChat(t *testing.T) {
	mem := chattest.NewMem(chat.Caps{Edit: true, ReplyTo: true, Forms: true, MaxText: 4000, RowButtons: 5, Dialect: "plain"})
	m := startSuiteService(t, func(flows.PersonID) string { return "" }, "seal:\n  demo: true\n  final_version: true\n", Wire{Transport: mem})
	env := &memEnv{t: t, m: m, mem: mem, ms: m.Messengers[chattest.MemName]}
	ctx := context.Background()
	pdf, err := samplePDF("ru")
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Engine.Start(ctx, flows.StartCmd{Key: "sealed-final", Actor: chattest.Ivanova, TypeID: "supply", Title: "Поставка бумаги",
		File: flows.Upload{Name: "Поставка.pdf", MIME: "application/pdf", Content: bytes.NewReader(pdf)}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := m.DB.Document(ctx, out.DocID)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != flows.StateInApproval {
			break
		}
		for _, tk := range d.OpenTasks() {
			if _, err := m.Engine.Decide(ctx, flows.DecideCmd{Key: "final:" + strconv.FormatInt(tk.ID, 10), Actor: tk.Assignee, TaskID: tk.ID,
				Action: flows.ActionApprove}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(chattest.Wait)
	for {
		for _, msg := range env.Messages(env.User(chattest.Ivanova)) {
			if strings.Contains(msg.File, "с печатью") {
				if !bytes.HasPrefix(msg.Data, pdf) || len(msg.Data) <= len(pdf) {
					t.Fatal("the sealed copy does not start with the version's bytes")
				}
				res, err := verify.Verify(bytes.NewReader(msg.Data), int64(len(msg.Data)))
				if res == nil || len(res.Signers) != 1 || !res.Signers[0].ValidSignature {
					t.Fatalf("the final version in chat is not sealed: %+v, %v", res, err)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			var files []string
			for _, msg := range env.Messages(env.User(chattest.Ivanova)) {
				files = append(files, msg.File)
			}
			t.Fatalf("the initiator got no sealed final version; files: %q", files)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
