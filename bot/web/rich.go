package web

import (
	"html/template"

	"github.com/viza-app/viza/messages/rich"
)

// richHTML renders rich text as HTML for the pages; every span's text is
// escaped, so what people typed stays text.
func richHTML(t rich.Text) template.HTML { return template.HTML(t.HTML()) }
