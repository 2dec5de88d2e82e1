package telegram

import (
	"testing"
	"unicode/utf16"

	"github.com/viza-app/viza/bot/telegram/tgfake"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/messages/rich/richtest"
)

// TestHTMLShowsTypedTextLiterally renders each hostile string as Telegram
// HTML and reads it back the way the Bot API does: the person sees exactly
// what was typed, and only the catalogue's label is bold.
func TestHTMLShowsTypedTextLiterally(t *testing.T) {
	for _, s := range richtest.Hostile {
		msg := richtest.Message(s)
		text, ents, err := tgfake.ParseHTML(HTML(msg))
		if err != nil {
			t.Fatalf("%q: Telegram would refuse the message: %v", s, err)
		}
		if text != msg.String() {
			t.Errorf("%q shows as %q", s, text)
		}
		label := len(utf16.Encode([]rune("Title:")))
		if len(ents) != 1 || ents[0].Type != "bold" || ents[0].Offset != 0 || ents[0].Length != label {
			t.Errorf("%q: entities %+v, want only the bold label", s, ents)
		}
	}
}

func TestHTMLStyles(t *testing.T) {
	msg := rich.Concat(rich.Styled("b", rich.Bold), rich.Styled("i", rich.Italic), rich.Styled("c", rich.Code),
		rich.Link("link", `https://x.example/?q="1"&r=<2>`), rich.Styled("d", rich.Deleted), rich.Styled("n", rich.Inserted))
	text, ents, err := tgfake.ParseHTML(HTML(msg))
	if err != nil || text != "bicl"+"inkdn" {
		t.Fatalf("%q %v", text, err)
	}
	want := map[string]bool{"bold": true, "italic": true, "code": true, "text_link": true, "strikethrough": true, "underline": true}
	for _, e := range ents {
		delete(want, e.Type)
		if e.Type == "text_link" && e.URL != `https://x.example/?q="1"&r=<2>` {
			t.Errorf("link url %q", e.URL)
		}
	}
	if len(want) > 0 {
		t.Fatalf("missing entities %v in %+v", want, ents)
	}
}
