package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

// The secrets every channel is configured with in TestNoSecretInLogs.
var testSecrets = map[string]string{
	"VIZA_TEST_TG_TOKEN":        "123456:SECRETtgTOKENxyz",
	"VIZA_SLACK_BOT_TOKEN":      "xoxb-SECRETslackBOT",
	"VIZA_SLACK_APP_TOKEN":      "xapp-SECRETslackAPP",
	"VIZA_SLACK_SIGNING_SECRET": "SECRETslackSIGNING",
	"VIZA_BITRIX24_APP_TOKEN":   "SECRETb24APPTOKEN",
	"VIZA_SMS_API_KEY":          "SECRETsmsKEY",
}

const b24Key = "SECRETb24WEBHOOKkey"

// hostile is a platform that fails every call in one way: it drops the
// connection, answers 500 with the whole request (URL, headers, body)
// echoed in its page as some proxies do, or hangs and then drops.
func hostile(t *testing.T, mode string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// What a channel asks at start is answered, so that the service
		// runs and its every other call meets the failure.
		for suffix, answer := range startupAnswers {
			if strings.HasSuffix(r.URL.Path, suffix) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, answer)
				return
			}
		}
		switch mode {
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(700 * time.Millisecond):
			}
			fallthrough
		case "drop":
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
		case "500":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"ok":false,"error":"internal","error_description":%q,"description":%q,"message":%q}`,
				r.URL.String()+" "+string(body)+" "+r.Header.Get("Authorization"), r.URL.String(), string(body))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

var startupAnswers = map[string]string{
	"/getMe":                     `{"ok":true,"result":{"id":42,"is_bot":true,"first_name":"Viza","username":"viza_bot"}}`,
	"/setMyCommands":             `{"ok":true,"result":true}`,
	"/deleteWebhook":             `{"ok":true,"result":true}`,
	"/auth.test":                 `{"ok":true,"url":"https://romashka.slack.com/","team":"R","user":"viza","team_id":"T0","user_id":"U0BOT"}`,
	"/imbot.v2.Revision.get":     `{"result":{"revision":1}}`,
	"/imbot.v2.Bot.register":     `{"result":{"bot":{"id":5,"code":"viza"}}}`,
	"/imbot.v2.Command.register": `{"result":{"command":{"id":1}}}`,
	"/server.time":               `{"result":"2026-12-06T09:00:00+03:00"}`,
}

// TestNoSecretInLogs runs each channel against a platform that drops
// connections, answers 500 echoing the request, or hangs; whatever the
// service logs and whatever error it returns names none of the secrets it
// was configured with — the whole URL of a Bitrix24 inbound webhook
// included.
func TestNoSecretInLogs(t *testing.T) {
	for k, v := range testSecrets {
		t.Setenv(k, v)
	}
	for _, mode := range []string{"drop", "500", "hang"} {
		for _, channel := range []string{"telegram", "slack", "bitrix24", "sms"} {
			t.Run(mode+"/"+channel, func(t *testing.T) {
				srv := hostile(t, mode)
				webhook := srv.URL + "/rest/1/" + b24Key + "/"
				t.Setenv("VIZA_BITRIX24_WEBHOOK", webhook)
				section := map[string]string{
					"telegram": fmt.Sprintf("telegram: {token_env: VIZA_TEST_TG_TOKEN, api_url: %q}\n", srv.URL),
					"slack":    fmt.Sprintf("slack: {mode: socket, api_url: %q}\n", srv.URL+"/api/"),
					"bitrix24": fmt.Sprintf("bitrix24: {portal_url: %q}\n", srv.URL),
					"sms":      fmt.Sprintf("sms: {provider: smsru, api_url: %q}\n", srv.URL),
				}[channel]
				dir := t.TempDir()
				path := filepath.Join(dir, "viza.yaml")
				// Everyone is on the channel, so that the requests go out
				// through it (and fail).
				ident := func(p flows.PersonID) string {
					switch channel {
					case "telegram":
						return fmt.Sprint("telegram: ", suiteTelegramIDs[p])
					case "slack":
						return "slack: " + slackUsers[p].ID
					case "bitrix24":
						return b24Ident(p)
					}
					return ""
				}
				os.WriteFile(path, []byte(chattest.Config(filepath.Join(dir, "data"), ident, section)), 0o600)
				cfg, err := config.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				var logs syncBuffer
				log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
				defer cancel()
				var errs []string
				m, err := NewMain(ctx, cfg, path, log)
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					runCtx, stop := context.WithCancel(ctx)
					done := make(chan error, 1)
					go func() { done <- m.Run(runCtx) }()
					if _, err := m.Engine.Start(ctx, flows.StartCmd{Key: "s", Actor: chattest.Ivanova, TypeID: "supply", Title: "Секреты",
						File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF")}}); err != nil {
						t.Fatal(err)
					}
					// Some call to the platform must have failed and been
					// logged before the logs are read.
					// (Bitrix24's client waits out a failing portal itself before
					// the delivery is retried.)
					if !until(func() bool {
						l := logs.String()
						return strings.Contains(l, "delivery will be retried") || strings.Contains(l, "trying again") ||
							strings.Contains(l, "delivery held until the channel is back")
					}) {
						t.Fatalf("no failure logged:\n%s", logs.String())
					}
					stop()
					if err := <-done; err != nil {
						errs = append(errs, err.Error())
					}
					m.Close()
				}
				texts := append(errs, logs.String())
				for _, text := range texts {
					for name, secret := range testSecrets {
						for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
							if strings.Contains(text, form) {
								t.Errorf("%s leaked:\n%s", name, text)
							}
						}
					}
					if strings.Contains(text, b24Key) {
						t.Errorf("the Bitrix24 webhook's key leaked:\n%s", text)
					}
				}
			})
		}
	}
}
