package web

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/viza-app/viza/messages/rich/richtest"
)

var tagRE = regexp.MustCompile(`<[^>]*>`)

// TestRichHTMLShowsTypedTextLiterally: on the pages, typed text is text —
// the only element is the catalogue's bold label.
func TestRichHTMLShowsTypedTextLiterally(t *testing.T) {
	for _, s := range richtest.Hostile {
		out := string(richHTML(richtest.Message(s)))
		if tags := tagRE.FindAllString(out, -1); strings.Join(tags, "") != "<b></b>" {
			t.Errorf("%q rendered with elements %v", s, tags)
		}
		if got := html.UnescapeString(tagRE.ReplaceAllString(out, "")); got != "Title: "+s {
			t.Errorf("%q reads %q", s, got)
		}
	}
}
