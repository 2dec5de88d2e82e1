package bitrix24

import (
	"strings"

	"github.com/viza-app/viza/messages/rich"
)

// Bitrix24's chat has no escape for its BB-code: a zero-width space after
// every "[" keeps what a person typed from opening a tag ([B], [URL=…],
// [USER=1] mentions, [SEND=…] and [PUT=…] buttons, [ICON=…]) while it
// reads, and copies, as typed. The portal escapes HTML itself.
var typedEscaper = strings.NewReplacer("[", "[\u200b")

// escapeTyped makes what a person typed show literally in BB-code.
func escapeTyped(s string) string { return typedEscaper.Replace(s) }

// BBCode renders rich text in Bitrix24's BB-code.
func BBCode(t rich.Text) string {
	var b strings.Builder
	for _, s := range t.Spans {
		text := escapeTyped(s.Text)
		if s.Link != "" {
			// "]" would end the URL early, and a space the tag.
			link := strings.NewReplacer("]", "%5D", "[", "%5B", " ", "%20").Replace(s.Link)
			b.WriteString("[URL=" + link + "]" + text + "[/URL]")
			continue
		}
		open, close := "", ""
		if s.Style&rich.Bold != 0 {
			open, close = open+"[B]", "[/B]"+close
		}
		if s.Style&rich.Italic != 0 {
			open, close = open+"[I]", "[/I]"+close
		}
		if s.Style&rich.Code != 0 {
			open, close = open+"[CODE]", "[/CODE]"+close
		}
		if s.Style&rich.Deleted != 0 {
			open, close = open+"[S]", "[/S]"+close
		}
		if s.Style&rich.Inserted != 0 {
			open, close = open+"[U]", "[/U]"+close
		}
		b.WriteString(open + text + close)
	}
	return b.String()
}
