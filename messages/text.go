package messages

import (
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages/rich"
)

// Rich renders catalogue message id with data as rich text. Every string
// in data is escaped first — titles, comments and names are what people
// typed, and must stay text whatever they contain; rich.Text and
// rich.Markup values are pieces of message already rendered, and go in
// as they are.
func Rich(l *locales.Localizer, id string, data map[string]any) rich.Text {
	safe := make(map[string]any, len(data))
	for k, v := range data {
		switch v := v.(type) {
		case string:
			safe[k] = rich.Escape(v)
		case rich.Text:
			safe[k] = v.Markup()
		case rich.Markup:
			safe[k] = string(v)
		default:
			safe[k] = v
		}
	}
	s := l.T(id, safe)
	t, err := rich.Parse(s)
	if err != nil {
		// The catalogue tests parse every message, so this is a broken
		// build; the text is still worth showing as it is.
		return rich.Plain(s)
	}
	return t
}

// Say renders message id in lang as rich text.
func Say(lang, id string, data map[string]any) rich.Text {
	return Rich(mustLocalizer(lang), id, data)
}
