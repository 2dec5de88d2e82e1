package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/bot/webhooks"
	"github.com/viza-app/viza/bot/webhooks/webhookstest"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/internal/needs"
)

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// inbox is the external system's webhook endpoint.
type inbox struct {
	t      *testing.T
	mu     sync.Mutex
	events []webhooks.Event
}

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := webhookstest.Verify(testWebhookSecret, r.Header, body, time.Now()); err != nil {
		in.t.Errorf("webhook signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev webhooks.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		in.t.Errorf("webhook body: %v", err)
	}
	in.mu.Lock()
	in.events = append(in.events, ev)
	in.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (in *inbox) find(typ string) (webhooks.Event, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, ev := range in.events {
		if ev.Type == typ {
			return ev, true
		}
	}
	return webhooks.Event{}, false
}

var footerHashRE = regexp.MustCompile(`[0-9a-f]{64}`)

// TestConnectorEndToEnd: an external system (1C) starts a contract through
// the API; a lawyer approves in Telegram, finance on the web; the system
// is told document.approved by a signed webhook, downloads the final
// version and the sheet from the event's links without its key, and the
// hash the sheet prints passes "viza verify --doc".
func TestConnectorEndToEnd(t *testing.T) {
	needs.Program(t, "poppler-utils", "pdftotext")
	receiver := &inbox{t: t}
	hook := httptest.NewServer(receiver)
	t.Cleanup(hook.Close)
	t.Setenv("VIZA_TEST_WEBHOOK_SECRET", testWebhookSecret)
	fake := tgfake.New("123456:TEST-token")
	t.Cleanup(fake.Close)
	s := startTelegramServiceWith(t, fake, t.TempDir(), "polling", func(yaml string) string {
		return yaml + "webhooks:\n  - url: " + hook.URL + "/viza\n    secret_env: VIZA_TEST_WEBHOOK_SECRET\n    allow_private: true\n"
	})
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.stop()
		}
	})
	ctx := context.Background()
	key, _, err := s.m.DB.CreateAPIKey(ctx, "1C connector", "write", []string{"contract"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.m.Listener.Addr().String()

	// 1C starts the contract.
	draft := []byte("%PDF-1.4 Договор аренды склада")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"type": "contract", "title": "Аренда склада", "counterparty": "ООО «Склад»", "amount": "2400000.00",
		"initiator": "ivanova", "external_id": "1C-000123"} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "Аренда.pdf")
	fw.Write(draft)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/documents", &body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Idempotency-Key", "1c-000123-start")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var started struct{ Number, State string }
	json.NewDecoder(res.Body).Decode(&started)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || started.State != flows.StateInApproval {
		t.Fatalf("start: %d %+v", res.StatusCode, started)
	}

	// A lawyer approves in Telegram.
	card := s.msg(sidorov.ID, "Нужно ваше решение")
	s.tap(sidorov, card, "ap:")
	s.msg(sidorov.ID, "Согласовано вами")

	// Finance approves on the web, through the one-tap page.
	var taskID int64
	if !tgfake.Until(wait, func() bool {
		d, _ := s.m.DB.DocumentByNumber(ctx, started.Number)
		for _, tk := range d.OpenTasks() {
			if tk.Assignee == "kuznetsova" {
				taskID = tk.ID
				return true
			}
		}
		return false
	}) {
		t.Fatal("finance never got a task")
	}
	link, err := s.m.Web.TaskLink(ctx, taskID, "kuznetsova")
	if err != nil {
		t.Fatal(err)
	}
	page := get(t, link)
	csrf := csrfRE.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF on the task page:\n%s", page)
	}
	res, err = http.PostForm(link+"/act", url.Values{"csrf": {csrf[1]}, "nonce": {"n1"}, "action": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	// 1C hears of it, and fetches the result by the event's links alone.
	var approved webhooks.Event
	if !tgfake.Until(wait, func() bool {
		var ok bool
		approved, ok = receiver.find(flows.EventDocumentApproved)
		return ok
	}) {
		t.Fatalf("no document.approved among %d events", len(receiver.events))
	}
	if _, ok := receiver.find(flows.EventDocumentStarted); !ok {
		t.Error("no document.started")
	}
	r := approved.Data.Result
	if approved.Data.Document.ExternalID != "1C-000123" || r == nil || r.FileURL == "" || r.SheetURL == "" {
		t.Fatalf("approved event = %+v", approved.Data)
	}
	file := getBytes(t, r.FileURL)
	sum := sha256.Sum256(draft)
	if !bytes.Equal(file, draft) || r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("final version: %d bytes, sha256 %s", len(file), r.SHA256)
	}
	sheet := getBytes(t, r.SheetURL)
	pdf := filepath.Join(t.TempDir(), "sheet.pdf")
	if err := os.WriteFile(pdf, sheet, 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := exec.Command("pdftotext", "-enc", "UTF-8", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	hashes := footerHashRE.FindAllString(string(text), -1)
	if len(hashes) == 0 || !strings.Contains(string(text), "1C-000123") && !strings.Contains(string(text), started.Number) {
		t.Fatalf("the sheet prints no hash:\n%s", text)
	}
	printed := hashes[len(hashes)-1]

	// The audit log says the integration started it for ivanova.
	d, _ := s.m.DB.DocumentByNumber(ctx, started.Number)
	events, _ := s.m.DB.DocumentEvents(ctx, d.ID)
	if events[0].Actor != flows.IntegrationActor("1C connector") || events[0].For != "ivanova" {
		t.Errorf("first audit event = %+v", events[0])
	}

	s.stop()
	stopped = true
	var out strings.Builder
	if code := run(ctx, []string{"verify", "--doc", started.Number, "--hash", printed, "-config", s.path, "-lang", "en"}, &out, &out); code != 0 {
		t.Fatalf("viza verify --doc %s --hash %s: exit %d\n%s", started.Number, printed, code, out.String())
	}
}

func getBytes(t *testing.T, u string) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return b
}

func get(t *testing.T, u string) string { return string(getBytes(t, u)) }

// TestAPIKeyCommands: a key is shown once, listed without its secret,
// revoked by name; wrong scopes and types are refused with the valid ones.
func TestAPIKeyCommands(t *testing.T) {
	_, path := testConfig(t)
	cli := func(args ...string) (int, string) {
		var out strings.Builder
		code := run(context.Background(), append(args, "-config", path, "-lang", "en"), &out, &out)
		return code, out.String()
	}
	code, out := cli("api-key", "create", "1C connector", "--scope", "start", "--types", "contract,memo")
	key := regexp.MustCompile(`viza_[0-9a-f]+_[A-Za-z0-9_-]+`).FindString(out)
	if code != 0 || key == "" || !strings.Contains(out, "shown only now") {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	code, out = cli("api-key", "list")
	if code != 0 || !strings.Contains(out, "1C connector") || !strings.Contains(out, "contract,memo") || strings.Contains(out, key[len(key)-20:]) {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, out := cli("api-key", "create", "x", "--scope", "admin"); code != 2 || !strings.Contains(out, "unknown scope “admin”") {
		t.Errorf("bad scope: exit %d\n%s", code, out)
	}
	if code, out := cli("api-key", "create", "x", "--types", "lease"); code != 2 || !strings.Contains(out, "unknown document type “lease”") ||
		!strings.Contains(out, "contract, memo") {
		t.Errorf("bad type: exit %d\n%s", code, out)
	}
	if code, out := cli("api-key", "revoke", "1C connector"); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("revoke: exit %d\n%s", code, out)
	}
	if code, out := cli("api-key", "revoke", "1C connector"); code != 1 || !strings.Contains(out, "no working API key") {
		t.Errorf("revoke twice: exit %d\n%s", code, out)
	}
	if code, _ := cli("api-key", "rotate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
	if code, out := cli("webhooks", "retry"); code != 0 || !strings.Contains(out, "0 failed webhook event(s) queued again") {
		t.Errorf("webhooks retry: exit %d\n%s", code, out)
	}
}

// TestWebhookSecretMissing: a subscription without its secret stops the
// service at start, naming the variable, instead of leaving events unsent.
func TestWebhookSecretMissing(t *testing.T) {
	tests := []struct{ env, want string }{
		{"", "put whsec_… in VIZA_TEST_HOOK_SECRET"},
		{"plain-secret", `starts with "whsec_"`},
	}
	for _, tc := range tests {
		_, path := testConfig(t)
		src, _ := os.ReadFile(path)
		os.WriteFile(path, append(src, "webhooks:\n  - url: https://crm.example/viza\n    secret_env: VIZA_TEST_HOOK_SECRET\n"...), 0o600)
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("VIZA_TEST_HOOK_SECRET", tc.env)
		m, err := NewMain(context.Background(), cfg, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			m.Close()
			t.Fatalf("secret %q: the service started", tc.env)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("secret %q: %v", tc.env, err)
		}
	}
}
