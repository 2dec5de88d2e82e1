package webhooks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/webhooks"
	"github.com/viza-app/viza/bot/webhooks/webhookstest"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage/storagetest"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // 24 bytes, the spec's example

// receiver is an integrator's endpoint: down, flaky or fine as the test
// says, keeping each message once by its webhook-id.
type receiver struct {
	t     *testing.T
	clock interface{ Now() time.Time }
	mu    sync.Mutex
	// behave decides each request: "down" drops the connection, "500",
	// "slow" answers after the client gave up, "410", else accepts.
	behave   func(n int) string
	requests int
	seen     map[string]bool
	got      []webhooks.Event // first copies, in arrival order
	raw      [][]byte         // their bodies as sent
	ids      []string
	badSigs  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	arrived := rc.clock.Now()
	rc.mu.Lock()
	rc.requests++
	mode := rc.behave(rc.requests)
	rc.mu.Unlock()
	switch mode {
	case "down":
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
		return
	case "500":
		http.Error(w, "oops", http.StatusInternalServerError)
		return
	case "410":
		w.WriteHeader(http.StatusGone)
		return
	case "slow":
		// Answers only once the sender has given up waiting; kept anyway,
		// as a real receiver that was merely slow would.
		<-r.Context().Done()
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhookstest.Verify(secret, r.Header, body, arrived); err != nil {
		rc.badSigs++
		rc.t.Errorf("signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("webhook-id")
	if !rc.seen[id] {
		var ev webhooks.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			rc.t.Errorf("payload: %v", err)
		}
		rc.seen[id] = true
		rc.got = append(rc.got, ev)
		rc.raw = append(rc.raw, body)
		rc.ids = append(rc.ids, id)
	}
	w.WriteHeader(http.StatusNoContent)
}

type links struct{}

func (links) VersionURL(_ context.Context, number string, v int, exp time.Time) string {
	return fmt.Sprintf("https://viza.example/api/v1/documents/%s/versions/%d/file?expires=%d", number, v, exp.Unix())
}
func (links) SheetURL(_ context.Context, number string, exp time.Time) string {
	return fmt.Sprintf("https://viza.example/api/v1/documents/%s/sheet.pdf?expires=%d", number, exp.Unix())
}
func (links) SignatureURL(_ context.Context, number string, n int, exp time.Time) string {
	return fmt.Sprintf("https://viza.example/api/v1/documents/%s/signatures/%d?expires=%d", number, n, exp.Unix())
}

func newSender(t *testing.T, behave func(int) string) (*storagetest.Rig, *webhooks.Sender, *receiver) {
	t.Helper()
	rig := storagetest.NewRig(t, false)
	rc := &receiver{t: t, clock: rig.Clock, behave: behave, seen: map[string]bool{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	key, err := webhooks.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	s := &webhooks.Sender{Store: rig.DB, Subs: []webhooks.Subscription{{URL: srv.URL + "/hook", Secret: key}}, Links: links{},
		Client: &http.Client{Timeout: 150 * time.Millisecond}, Clock: rig.Clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MinBackoff: time.Second, MaxBackoff: 10 * time.Minute}
	// Subscribing starts the subscription at the log's head.
	if err := s.Subscribe(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rig, s, rc
}

func start(t *testing.T, rig *storagetest.Rig, key, title string) flows.Outcome {
	t.Helper()
	out, err := rig.Engine.Start(context.Background(), flows.StartCmd{Key: key, Actor: "ivanova", TypeID: "contract", Title: title,
		Counterparty: "ООО «Север»", AmountMinor: 150_000_00, HasAmount: true, Currency: "RUB", ExternalID: "1C-" + key,
		File: flows.Upload{Name: "draft.pdf", Content: strings.NewReader("%PDF-1.4 " + title)}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decide(t *testing.T, rig *storagetest.Rig, number string, who flows.PersonID, action, comment string) {
	t.Helper()
	ctx := context.Background()
	d, err := rig.DB.DocumentByNumber(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range d.OpenTasks() {
		if tk.Assignee == who {
			if _, err := rig.Engine.Decide(ctx, flows.DecideCmd{Key: fmt.Sprintf("%s-%d-%s", number, tk.ID, action), Actor: who,
				TaskID: tk.ID, Action: action, Comment: comment}); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s holds no open task on %s", who, number)
}

// expected lists the events the audit log stands for, per document, in
// order, as webhook ids.
func expected(t *testing.T, rig *storagetest.Rig) map[int64][]string {
	t.Helper()
	events, err := rig.DB.AuditSince(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]string{}
	for _, e := range events {
		for _, typ := range flows.IntegrationEventsOf(e) {
			out[e.DocID] = append(out[e.DocID], webhooks.MessageID(e.ID, typ))
		}
	}
	return out
}

// TestDownThenFlaky: the receiver is down for an hour, then fails one
// request in three with a 500 and one in five by answering too late.
// Every event still arrives, each document's in the order they happened,
// every signature checks out, and nothing is left pending or failed.
func TestDownThenFlaky(t *testing.T) {
	var rig *storagetest.Rig
	var downUntil time.Time
	rig, s, rc := newSender(t, func(n int) string {
		switch {
		case rig.Clock.Now().Before(downUntil):
			return "down"
		case n%3 == 0:
			return "500"
		case n%5 == 0:
			return "slow"
		}
		return "ok"
	})
	downUntil = rig.Clock.Now().Add(time.Hour)
	ctx := context.Background()
	a := start(t, rig, "a", "Поставка")
	b := start(t, rig, "b", "Аренда")
	decide(t, rig, a.Number, "sidorov", flows.ActionApprove, "")
	decide(t, rig, b.Number, "sidorov", flows.ActionReject, "Нет реквизитов")
	decide(t, rig, a.Number, "director", flows.ActionApprove, "Согласен")
	if _, err := rig.Engine.UploadVersion(ctx, flows.VersionCmd{Key: "b-v2", Actor: "ivanova", DocID: b.DocID,
		File: flows.Upload{Name: "draft2.pdf", Content: strings.NewReader("%PDF-1.4 v2")}, Comment: "Реквизиты"}); err != nil {
		t.Fatal(err)
	}
	decide(t, rig, a.Number, "director", flows.ActionDone, "")
	if _, err := rig.Engine.Withdraw(ctx, flows.WithdrawCmd{Key: "b-w", Actor: "ivanova", DocID: b.DocID, Comment: "Не нужен"}); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 400; i++ {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := rig.DB.WebhookStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == 0 && i > 0 {
			if st.Failed != 0 {
				t.Fatalf("%d deliveries failed", st.Failed)
			}
			break
		}
		rig.Clock.Advance(30 * time.Second)
	}
	want := expected(t, rig)
	got := map[int64][]string{}
	conformsToSpec(t, rc) // every type of event, as openapi.yaml declares it
	rc.mu.Lock()
	defer rc.mu.Unlock()
	byNumber := map[string]int64{a.Number: a.DocID, b.Number: b.DocID}
	for i, ev := range rc.got {
		id := byNumber[ev.Data.Document.Number]
		got[id] = append(got[id], rc.ids[i])
	}
	for doc, ids := range want {
		if !slices.Equal(got[doc], ids) {
			t.Errorf("document %d: received\n%v\nwant\n%v", doc, got[doc], ids)
		}
	}
	if rc.requests <= len(rc.got) {
		t.Errorf("%d requests for %d events: the receiver was never down or flaky", rc.requests, len(rc.got))
	}
	var types []string
	for _, ev := range rc.got {
		if ev.Data.Document.Number == a.Number {
			types = append(types, ev.Type)
		}
	}
	// Two lawyers, either may approve; then the director approves and signs.
	wantTypes := []string{flows.EventDocumentStarted, flows.EventTaskAssigned, flows.EventTaskAssigned, flows.EventDecisionRecorded, flows.EventTaskAssigned,
		flows.EventDecisionRecorded, flows.EventDocumentApproved, flows.EventTaskAssigned, flows.EventDecisionRecorded, flows.EventDocumentDone}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("events of %s:\n%v\nwant\n%v", a.Number, types, wantTypes)
	}
	for _, ev := range rc.got {
		switch ev.Type {
		case flows.EventDocumentApproved:
			r := ev.Data.Result
			if r == nil || r.Version != 1 || !strings.Contains(r.FileURL, "/versions/1/file?expires=") || !strings.Contains(r.SheetURL, "sheet.pdf") ||
				!r.Expires.After(rig.Clock.Now()) || len(r.SHA256) != 64 {
				t.Errorf("approved event result = %+v", r)
			}
			if ev.Data.Document.ExternalID != "1C-a" || ev.Data.Document.Amount != "150000.00" || ev.Data.Document.State != flows.StateApproved {
				t.Errorf("approved event document = %+v", ev.Data.Document)
			}
		case flows.EventChangesRequested:
			if d := ev.Data.Decision; d == nil || d.Actor != "sidorov" || d.Comment != "Нет реквизитов" || d.Kind != flows.ActionReject {
				t.Errorf("changes requested decision = %+v", d)
			}
		case flows.EventTaskAssigned:
			if ev.Data.Task == nil || ev.Data.Task.Assignee == "" || ev.Data.Task.Stage < 1 {
				t.Errorf("task event task = %+v", ev.Data.Task)
			}
		}
		// Every body says where the document stands, tasks and decisions
		// included.
		want := map[string]string{flows.EventTaskAssigned: flows.StateInApproval, flows.EventDecisionRecorded: flows.StateInApproval}[ev.Type]
		if ev.Data.Task != nil && ev.Data.Task.Kind == flows.KindSign || ev.Type == flows.EventDecisionRecorded && ev.Data.Decision != nil && ev.Data.Decision.Kind == flows.ActionDone {
			want = flows.StateSigning
		}
		if ev.Data.Document.State == "" || (want != "" && ev.Data.Document.State != want) {
			t.Errorf("%s: document state %q, want %q", ev.Type, ev.Data.Document.State, want)
		}
	}
}

// TestGiveUpAndRetry: a receiver that never answers well has each event
// retried for three days, then marked failed — after which the next event
// of the document is tried; "webhooks retry" queues the failed ones again
// and they arrive once the receiver is back. 410 Gone fails at once.
func TestGiveUpAndRetry(t *testing.T) {
	var broken = true
	var gone bool
	rig, s, rc := newSender(t, func(int) string {
		if gone {
			return "410"
		}
		if broken {
			return "500"
		}
		return "ok"
	})
	s.MaxBackoff = time.Hour
	ctx := context.Background()
	a := start(t, rig, "a", "Поставка")
	attempts := 0
	for i := 0; i < 200; i++ {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		rig.Clock.Advance(10 * time.Minute)
	}
	st, err := rig.DB.WebhookStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 200 × 10 min is 33 hours: still retrying the first event, the rest
	// waiting behind it.
	if st.Failed != 0 || st.Pending != int64(len(expected(t, rig)[a.DocID])) {
		t.Fatalf("after 33 h: %+v", st)
	}
	for i := 0; i < 300; i++ {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		rig.Clock.Advance(10 * time.Minute)
	}
	if st, _ = rig.DB.WebhookStats(ctx); st.Failed < 2 {
		t.Fatalf("after 83 h: %+v, want the first events failed", st)
	}
	rc.mu.Lock()
	attempts = rc.requests
	rc.mu.Unlock()
	if attempts > 150 { // 500 steps of ten minutes
		t.Errorf("%d attempts: backoff does not grow", attempts)
	}

	broken = false
	n, err := rig.DB.RetryFailedWebhooks(ctx, rig.Clock.Now())
	if err != nil || n < 2 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	for i := 0; i < 20; i++ {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
		rig.Clock.Advance(time.Minute)
	}
	if st, _ = rig.DB.WebhookStats(ctx); st.Failed != 0 || st.Pending != 0 {
		t.Fatalf("after retry: %+v", st)
	}
	rc.mu.Lock()
	if len(rc.got) != len(expected(t, rig)[a.DocID]) {
		t.Errorf("received %d events, want %d", len(rc.got), len(expected(t, rig)[a.DocID]))
	}
	rc.mu.Unlock()

	gone = true
	decide(t, rig, a.Number, "sidorov", flows.ActionApprove, "")
	if _, err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ = rig.DB.WebhookStats(ctx); st.Failed != 1 {
		t.Errorf("after 410: %+v, want one failed at once", st)
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		in   string
		want int // key length; 0: refused
	}{
		{secret, 24},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0},
		{"whsec_not base64!", 0},
		{"whsec_" + base64.StdEncoding.EncodeToString([]byte("short")), 0},
	}
	for _, tc := range tests {
		key, err := webhooks.ParseSecret(tc.in)
		if (err == nil) != (tc.want > 0) || len(key) != tc.want {
			t.Errorf("ParseSecret(%q) = %d bytes, %v", tc.in, len(key), err)
		}
	}
}

// TestNewSubscriptionStartsNow: a subscription added to a running company
// is told what happens from then on, not its history.
func TestNewSubscriptionStartsNow(t *testing.T) {
	rig, s, rc := newSender(t, func(int) string { return "ok" })
	ctx := context.Background()
	start(t, rig, "old", "Старый договор")
	key, _ := webhooks.ParseSecret(secret)
	s.Subs = append(s.Subs, webhooks.Subscription{URL: s.Subs[0].URL + "/new", Secret: key, Events: []string{flows.EventDocumentStarted}})
	if err := s.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := start(t, rig, "new", "Новый договор")
	for range 3 {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	newSub, err := rig.DB.WebhookDeliveries(ctx, s.Subs[1].URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(newSub) != 1 || newSub[0].DocID != fresh.DocID || newSub[0].Type != flows.EventDocumentStarted {
		t.Errorf("the new subscription got %+v", newSub)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) < 2 {
		t.Errorf("the first subscription got %d events", len(rc.got))
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/services/T000/B000/XXXXSECRET": "https://hooks.example.com/…",
		"https://crm.example/viza?token=abc":                      "https://crm.example/…",
		"::not a url":                                             "(a webhook address)",
	} {
		if got := webhooks.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFailureKeepsNoAddressPath: a failed attempt's reason, stored and
// logged, names the receiver's host but not its path, where hook
// addresses often carry a token.
func TestFailureKeepsNoAddressPath(t *testing.T) {
	rig, s, _ := newSender(t, func(int) string { return "down" })
	start(t, rig, "a", "Поставка")
	if _, err := s.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds, err := rig.DB.WebhookDeliveries(context.Background(), s.Subs[0].URL)
	if err != nil || len(ds) == 0 {
		t.Fatalf("deliveries: %v %v", ds, err)
	}
	if r := ds[0].LastError; !strings.Contains(r, "127.0.0.1") || strings.Contains(r, "/hook") {
		t.Errorf("reason %q", r)
	}
}
