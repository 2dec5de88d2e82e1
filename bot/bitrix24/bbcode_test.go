package bitrix24

import (
	"regexp"
	"strings"
	"testing"

	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/messages/rich/richtest"
)

// tag is any BB-code tag Bitrix24's chat would read.
var tag = regexp.MustCompile(`(?i)\[/?[a-z]+(=[^\]]*)?\]`)

// TestBBCodeShowsTypedTextLiterally: no hostile string becomes a tag, a
// mention or a button; with the zero-width spaces taken away it reads as
// typed.
func TestBBCodeShowsTypedTextLiterally(t *testing.T) {
	for _, h := range richtest.Hostile {
		got := BBCode(richtest.Message(h))
		tags := tag.FindAllString(got, -1)
		if len(tags) != 2 || tags[0] != "[B]" || tags[1] != "[/B]" {
			t.Errorf("%q rendered with tags %q: %q", h, tags, got)
		}
		if plain := strings.ReplaceAll(got, "\u200b", ""); plain != "[B]Title:[/B] "+h {
			t.Errorf("%q reads %q", h, plain)
		}
	}
}

func TestBBCodeStyles(t *testing.T) {
	tests := []struct {
		in   rich.Text
		want string
	}{
		{rich.MustParse("<b>Договор</b> №5"), "[B]Договор[/B] №5"},
		{rich.MustParse("<i>срок</i> <code>abc</code>"), "[I]срок[/I] [CODE]abc[/CODE]"},
		{rich.Link("открыть", "https://viza.example/t/x]y z"), "[URL=https://viza.example/t/x%5Dy%20z]открыть[/URL]"},
		{rich.Styled("[b]x", rich.Bold), "[B][\u200bb]x[/B]"},
		// What a new version changed: [S] and [U], as the portal documents.
		{rich.MustParse("<del>100 000</del> → <ins>120 000</ins>"), "[S]100 000[/S] → [U]120 000[/U]"},
	}
	for _, tc := range tests {
		if got := BBCode(tc.in); got != tc.want {
			t.Errorf("BBCode(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
