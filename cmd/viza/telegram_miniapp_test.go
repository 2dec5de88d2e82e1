package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/telegram/tgfake"
)

// TestTelegramMiniAppButtons: with an HTTPS public address the bot's menu
// button opens Viza's pages as a Mini App, and a status card gets an Open
// button that opens the document there; over plain HTTP (Telegram refuses
// it) neither is offered.
func TestTelegramMiniAppButtons(t *testing.T) {
	for _, tc := range []struct {
		public string
		want   string
	}{
		{"https://viza.example.ru", "https://viza.example.ru/tg/app"},
		{"", ""},
	} {
		t.Run("public="+tc.public, func(t *testing.T) {
			fake := tgfake.New("123456:TEST-token")
			t.Cleanup(fake.Close)
			s := startTelegramServiceWith(t, fake, filepath.Join(t.TempDir(), "data"), "polling", func(y string) string {
				if tc.public == "" {
					return y
				}
				return strings.Replace(y, `http: {listen: "127.0.0.1:0"}`, `http: {listen: "127.0.0.1:0", public_url: "`+tc.public+`"}`, 1)
			})
			t.Cleanup(s.stop)
			if got := fake.MenuButton(); got != tc.want {
				t.Fatalf("menu button opens %q, want %q", got, tc.want)
			}
			out := suiteStart(t, s.m, "Мини-приложение")
			fake.UserText(ivanova, "/status "+out.Number)
			card := s.msg(ivanova.ID, "Мини-приложение")
			apps := card.WebApps()
			if tc.want == "" {
				if len(apps) != 0 {
					t.Fatalf("Mini App buttons over plain HTTP: %v", apps)
				}
				return
			}
			if len(apps) != 1 || apps[0] != tc.want+"?next="+url.QueryEscape("/doc/"+url.PathEscape(out.Number)) {
				t.Fatalf("the status card's Open button opens %v", apps)
			}
		})
	}
}
