package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/health"
	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/config"
)

// deadAddr is a loopback address where nothing listens (now).
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestServeWithEveryPlatformDown starts the real binary with Telegram,
// Slack and Bitrix24 all unreachable, as in an outage or behind a
// firewall: the service starts at once, /readyz says the database is up
// and each channel is connecting, a person signs in to the web pages
// within seconds; then Telegram comes back at its address, and the
// request that waited in the outbox reaches the approver without a
// restart, while the other two channels still say they are connecting.
func TestServeWithEveryPlatformDown(t *testing.T) {
	tgAddr, slackAddr, b24Addr := deadAddr(t), deadAddr(t), deadAddr(t)
	src, err := os.ReadFile("testdata/telegram.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("DATA_DIR", filepath.Join(t.TempDir(), "data"), "API_URL", "http://"+tgAddr, "MODE", "polling").Replace(string(src)) +
		"slack: {mode: http, api_url: \"http://" + slackAddr + "/api/\"}\n" +
		"bitrix24: {portal_url: \"http://" + b24Addr + "\"}\n"
	cfgPath := filepath.Join(t.TempDir(), "viza.yaml")
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "4242:outage-test-token"
	// A request is waiting for the lawyers before the service starts.
	_, tasks := prepare(t, cfgPath, 1)
	if len(tasks) == 0 {
		t.Fatal("no task prepared")
	}
	started := time.Now()
	c := startChild(t, cfgPath, "VIZA_TEST_TG_TOKEN="+token, "VIZA_TEST_TG_SECRET=s3cret-token",
		"VIZA_SLACK_BOT_TOKEN=xoxb-outage-test", "VIZA_SLACK_SIGNING_SECRET=outage-signing-secret",
		"VIZA_BITRIX24_WEBHOOK=http://"+b24Addr+"/rest/1/outagewebhookkey/")
	defer c.kill()
	var addr string
	select {
	case addr = <-c.addr:
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not start with its platforms down")
	}
	base := "http://" + addr
	ready := func() map[string]string {
		req, _ := http.NewRequest("GET", base+"/readyz", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Components []struct {
				Name, State, Reason string
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("/readyz = %d, %v", resp.StatusCode, err)
		}
		states := map[string]string{}
		for _, c := range out.Components {
			states[c.Name] = c.State
			if strings.Contains(c.Reason, token) || strings.Contains(c.Reason, "outagewebhookkey") {
				t.Fatalf("a secret in /readyz: %s", c.Reason)
			}
		}
		return states
	}
	st := ready()
	for _, ch := range []string{"telegram", "slack", "bitrix24"} {
		if st[ch] != "connecting" {
			t.Fatalf("%s is %q, want connecting: %v", ch, st[ch], st)
		}
	}
	if st["database"] != "up" {
		t.Fatalf("database %q", st["database"])
	}

	// Signed in to the web pages within seconds of the start.
	var link bytes.Buffer
	if code := run(context.Background(), []string{"login-link", "ivanova", "-config", cfgPath}, &link, io.Discard); code != 0 {
		t.Fatalf("login-link = %d", code)
	}
	u, err := url.Parse(strings.TrimSpace(link.String()))
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(base + u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Анна Иванова") {
		t.Fatalf("signing in answered %d:\n%.400s", resp.StatusCode, page)
	}
	if took := time.Since(started); took > 15*time.Second {
		t.Fatalf("signed in after %s", took)
	}
	metrics, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	if !strings.Contains(string(mb), `viza_channel_up{channel="telegram"} 0`) {
		t.Fatalf("/metrics has no channel gauge:\n%s", mb)
	}

	// Telegram comes back where it was.
	l, err := net.Listen("tcp", tgAddr)
	if err != nil {
		t.Skipf("the address was taken meanwhile: %v", err)
	}
	fake := tgfake.NewAt(token, l)
	defer fake.Close()
	if _, err := fake.WaitMessage(222222222, "Поставка 0", 90*time.Second); err != nil {
		t.Fatalf("the queued request did not reach petrov once Telegram came back: %v", err)
	}
	if !tgfake.Until(10*time.Second, func() bool { return ready()["telegram"] == "up" }) {
		t.Fatalf("telegram is %s", ready()["telegram"])
	}
	if st := ready(); st["slack"] != "connecting" || st["bitrix24"] != "connecting" {
		t.Fatalf("the other channels: %v", st)
	}
}

// TestRefusedTokenParksTheChannel: Telegram refuses the token (a typo,
// a revoked bot): the channel is parked with one error line in the
// company's language saying what to check, /readyz says failed with the
// reason and no token, and the service goes on serving.
func TestRefusedTokenParksTheChannel(t *testing.T) {
	fake := tgfake.New("1111:the-real-token")
	defer fake.Close()
	src, err := os.ReadFile("testdata/telegram.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("DATA_DIR", filepath.Join(t.TempDir(), "data"), "API_URL", fake.URL, "MODE", "polling").Replace(string(src))
	path := filepath.Join(t.TempDir(), "viza.yaml")
	os.WriteFile(path, []byte(body), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	const wrong = "2222:a-typo-in-the-token"
	t.Setenv("VIZA_TEST_TG_TOKEN", wrong)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMain(ctx, cfg, path, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		m.Close()
	}()
	if !tgfake.Until(wait, func() bool { return m.Health.All()[0].State == health.Failed }) {
		t.Fatalf("telegram is %+v", m.Health.All())
	}
	resp, err := http.Get("http://" + m.Listener.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "telegram failed") || strings.Contains(string(page), wrong) {
		t.Fatalf("/readyz = %d:\n%s", resp.StatusCode, page)
	}
	l := logs.String()
	if strings.Count(l, "Telegram отказал Viza") != 1 || !strings.Contains(l, "VIZA_TEST_TG_TOKEN") || strings.Contains(l, wrong) {
		t.Fatalf("the parked line:\n%s", l)
	}
}
