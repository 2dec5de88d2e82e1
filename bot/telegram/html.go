package telegram

import (
	"strings"

	"github.com/viza-app/viza/messages/rich"
)

// htmlEscaper escapes what Telegram's HTML parse mode reads as markup. The
// Bot API knows only these named entities; everything else is text.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// HTML renders rich text in Telegram's HTML parse mode.
func HTML(t rich.Text) string {
	var b strings.Builder
	for _, s := range t.Spans {
		var open, close string
		if s.Link != "" {
			open, close = `<a href="`+htmlEscaper.Replace(s.Link)+`">`, "</a>"
		}
		if s.Style&rich.Bold != 0 {
			open, close = open+"<b>", "</b>"+close
		}
		if s.Style&rich.Italic != 0 {
			open, close = open+"<i>", "</i>"+close
		}
		if s.Style&rich.Code != 0 {
			open, close = open+"<code>", "</code>"+close
		}
		if s.Style&rich.Deleted != 0 {
			open, close = open+"<s>", "</s>"+close
		}
		if s.Style&rich.Inserted != 0 {
			open, close = open+"<u>", "</u>"+close
		}
		b.WriteString(open)
		b.WriteString(htmlEscaper.Replace(s.Text))
		b.WriteString(close)
	}
	return b.String()
}
