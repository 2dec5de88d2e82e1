package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/telegram/tgfake"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	clockRE = regexp.MustCompile(`\d\d\.\d\d(\.\d{4})? \d\d:\d\d( MSK)?`)
	yearRE  = regexp.MustCompile(`-20\d\d-`)
)

// transcript renders what a chat shows: each message with its buttons, with
// times and the year masked so the golden file does not age.
func transcript(fake *tgfake.Server, chat int64) string {
	var b strings.Builder
	for _, m := range fake.Chat(chat) {
		if m.FileID != "" {
			fmt.Fprintf(&b, "[file %s] %s\n", m.FileName, m.Text)
		} else {
			fmt.Fprintf(&b, "%s\n", m.Text)
		}
		var mk struct {
			InlineKeyboard [][]struct {
				Text string `json:"text"`
				Data string `json:"callback_data"`
			} `json:"inline_keyboard"`
			ForceReply bool `json:"force_reply"`
		}
		json.Unmarshal([]byte(m.Markup), &mk)
		for _, row := range mk.InlineKeyboard {
			for i, btn := range row {
				if i > 0 {
					b.WriteString(" ")
				}
				fmt.Fprintf(&b, "[%s → %s]", btn.Text, btn.Data)
			}
			b.WriteString("\n")
		}
		if mk.ForceReply {
			b.WriteString("(force reply)\n")
		}
		b.WriteString("---\n")
	}
	return yearRE.ReplaceAllString(clockRE.ReplaceAllString(b.String(), "DD.MM hh:mm"), "-YYYY-")
}

func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/viza -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Fatalf("%s changed:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
