package web

import (
	"html"
	"html/template"
	"strings"

	"github.com/viza-app/viza/messages/rich"
)

// richHTML renders rich text as HTML for the pages; every span's text is
// escaped, so what people typed stays text.
func richHTML(t rich.Text) template.HTML {
	var b strings.Builder
	for _, s := range t.Spans {
		var open, close string
		if s.Link != "" {
			open, close = `<a href="`+html.EscapeString(s.Link)+`">`, "</a>"
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
		b.WriteString(open + html.EscapeString(s.Text) + close)
	}
	return template.HTML(b.String())
}
