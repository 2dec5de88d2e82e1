// Package rich is the neutral rich text that every channel renders in its
// own markup (Telegram HTML, Slack mrkdwn, Bitrix24 BB-code, the web's
// HTML, plain text for SMS and logs): a sequence of spans, each plain,
// bold, italic, monospace or a link.
//
// Texts are written in a tiny trusted markup — the locale catalogues use
// <b>, <i>, <code> and <a href="…"> and the entities &lt; &gt; &amp; &quot;
// — and parsed into spans. What people typed (titles, comments, file names,
// names) is escaped before it meets that markup, so it can only ever become
// text, never a tag; each channel then escapes the span texts for its own
// dialect. Injection is therefore stopped twice: once here, once at the
// channel.
package rich

import (
	"fmt"
	"html"
	"strings"
	"unicode/utf8"
)

// Style is a set of text styles.
type Style uint8

// Styles a span may have.
const (
	Bold Style = 1 << iota
	Italic
	Code
	// Deleted and Inserted mark what a new version took out and put in:
	// struck through and underlined where the platform can.
	Deleted
	Inserted
)

// tagStyles are the neutral markup's style tags.
var tagStyles = []struct {
	tag   string
	style Style
}{{"b", Bold}, {"i", Italic}, {"code", Code}, {"del", Deleted}, {"ins", Inserted}}

func styleOf(tag string) (Style, bool) {
	for _, t := range tagStyles {
		if t.tag == tag {
			return t.style, true
		}
	}
	return 0, false
}

// Span is a run of text with one style. A span with Link is a hyperlink
// whose label is Text.
type Span struct {
	Text  string `json:"t"`
	Style Style  `json:"s,omitzero"`
	Link  string `json:"l,omitzero"`
}

// Text is rich text. The zero value is empty text.
type Text struct {
	Spans []Span
}

// Markup is text already in the neutral markup: localization passes it
// into a template unescaped, as a piece of a larger message.
type Markup string

// Plain is text that people or the record supplied, shown exactly as it is.
func Plain(s string) Text {
	if s == "" {
		return Text{}
	}
	return Text{Spans: []Span{{Text: s}}}
}

// Styled is s in one style.
func Styled(s string, st Style) Text {
	if s == "" {
		return Text{}
	}
	return Text{Spans: []Span{{Text: s, Style: st}}}
}

// Link is a hyperlink labelled label.
func Link(label, url string) Text { return Text{Spans: []Span{{Text: label, Link: url}}} }

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// Escape makes s safe to put into markup: it reads back as the same text.
func Escape(s string) string { return escaper.Replace(s) }

var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&amp;", "&")

// Parse reads the neutral markup. Unknown or unbalanced tags are errors:
// markup comes from the catalogues, whose tests parse every message.
func Parse(markup string) (Text, error) {
	var t Text
	var style Style
	var link string
	var stack []string
	rest := markup
	for rest != "" {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			t.add(Span{Text: unescaper.Replace(rest), Style: style, Link: link})
			break
		}
		if i > 0 {
			t.add(Span{Text: unescaper.Replace(rest[:i]), Style: style, Link: link})
		}
		end := strings.IndexByte(rest[i:], '>')
		if end < 0 {
			return Text{}, fmt.Errorf("rich: unterminated tag at byte %d", len(markup)-len(rest)+i)
		}
		tag := rest[i+1 : i+end]
		rest = rest[i+end+1:]
		if name, ok := strings.CutPrefix(tag, "/"); ok {
			if len(stack) == 0 || stack[len(stack)-1] != name {
				return Text{}, fmt.Errorf("rich: unexpected </%s>", name)
			}
			stack = stack[:len(stack)-1]
			if st, ok := styleOf(name); ok {
				style &^= st
			} else if name == "a" {
				link = ""
			}
			continue
		}
		name, attr, _ := strings.Cut(tag, " ")
		st, isStyle := styleOf(name)
		switch {
		case isStyle:
			style |= st
		case name == "a":
			href, ok := strings.CutPrefix(strings.TrimSpace(attr), `href="`)
			if !ok || !strings.HasSuffix(href, `"`) || link != "" {
				return Text{}, fmt.Errorf("rich: bad link tag <%s>", tag)
			}
			link = unescaper.Replace(strings.TrimSuffix(href, `"`))
		default:
			return Text{}, fmt.Errorf("rich: unknown tag <%s>", tag)
		}
		if name != "a" && attr != "" {
			return Text{}, fmt.Errorf("rich: tag <%s> takes no attributes", tag)
		}
		stack = append(stack, name)
	}
	if len(stack) > 0 {
		return Text{}, fmt.Errorf("rich: <%s> is not closed", stack[len(stack)-1])
	}
	return t, nil
}

// MustParse parses markup known to be valid (a literal in code or tests).
func MustParse(markup string) Text {
	t, err := Parse(markup)
	if err != nil {
		panic(err)
	}
	return t
}

// add appends a span, merging it with the previous one of the same kind.
func (t *Text) add(s Span) {
	if s.Text == "" {
		return
	}
	if n := len(t.Spans); n > 0 && t.Spans[n-1].Style == s.Style && t.Spans[n-1].Link == s.Link {
		t.Spans[n-1].Text += s.Text
		return
	}
	t.Spans = append(t.Spans, s)
}

// String is the text as a person reads it, without styles.
func (t Text) String() string {
	if len(t.Spans) == 1 {
		return t.Spans[0].Text
	}
	var b strings.Builder
	for _, s := range t.Spans {
		b.WriteString(s.Text)
	}
	return b.String()
}

// Markup writes the text back in the neutral markup, for storage.
func (t Text) Markup() string {
	var b strings.Builder
	for _, s := range t.Spans {
		var open, close string
		for _, t := range tagStyles {
			if s.Style&t.style != 0 {
				open, close = open+"<"+t.tag+">", "</"+t.tag+">"+close
			}
		}
		if s.Link != "" {
			open, close = open+`<a href="`+Escape(s.Link)+`">`, "</a>"+close
		}
		b.WriteString(open + Escape(s.Text) + close)
	}
	return b.String()
}

// IsZero reports whether the text is empty.
func (t Text) IsZero() bool { return len(t.Spans) == 0 }

// Len counts the characters a person reads.
func (t Text) Len() int {
	n := 0
	for _, s := range t.Spans {
		n += utf8.RuneCountInString(s.Text)
	}
	return n
}

// Concat joins texts one after another.
func Concat(parts ...Text) Text {
	var out Text
	for _, p := range parts {
		for _, s := range p.Spans {
			out.add(s)
		}
	}
	return out
}

// Join joins texts with a plain separator.
func Join(parts []Text, sep string) Text {
	var out Text
	for i, p := range parts {
		if i > 0 {
			out.add(Span{Text: sep})
		}
		for _, s := range p.Spans {
			out.add(s)
		}
	}
	return out
}

// TrimSpace drops white space at both ends.
func (t Text) TrimSpace() Text {
	spans := append([]Span(nil), t.Spans...)
	for len(spans) > 0 {
		spans[0].Text = strings.TrimLeft(spans[0].Text, " \t\r\n")
		if spans[0].Text != "" {
			break
		}
		spans = spans[1:]
	}
	for len(spans) > 0 {
		last := &spans[len(spans)-1]
		last.Text = strings.TrimRight(last.Text, " \t\r\n")
		if last.Text != "" {
			break
		}
		spans = spans[:len(spans)-1]
	}
	return Text{Spans: spans}
}

// Split cuts the text into pieces of at most n characters, at a line end
// where one falls in the second half of a piece, so that a channel with a
// message limit sends it as several messages without losing a character.
func (t Text) Split(n int) []Text {
	if n <= 0 || t.Len() <= n {
		return []Text{t}
	}
	type char struct {
		r    rune
		span int
	}
	var chars []char
	for i, s := range t.Spans {
		for _, r := range s.Text {
			chars = append(chars, char{r, i})
		}
	}
	var out []Text
	for len(chars) > 0 {
		cut := len(chars)
		if cut > n {
			cut = n
			for i := n; i > n/2; i-- {
				if chars[i].r == '\n' {
					cut = i
					break
				}
			}
		}
		var piece Text
		var b strings.Builder
		for i, c := range chars[:cut] {
			b.WriteRune(c.r)
			if i == cut-1 || chars[i+1].span != c.span {
				s := t.Spans[c.span]
				piece.add(Span{Text: b.String(), Style: s.Style, Link: s.Link})
				b.Reset()
			}
		}
		out = append(out, piece)
		chars = chars[cut:]
	}
	return out
}

// HTML renders the text as HTML (the web pages, mail): every span's text
// is escaped, so what people typed stays text; a link keeps only an
// http(s) or mailto target, or a path on the same site.
func (t Text) HTML() string {
	var b strings.Builder
	for _, s := range t.Spans {
		var open, close string
		if s.Link != "" && safeLink(s.Link) {
			open, close = `<a href="`+html.EscapeString(s.Link)+`">`, "</a>"
		}
		if s.Style&Bold != 0 {
			open, close = open+"<b>", "</b>"+close
		}
		if s.Style&Italic != 0 {
			open, close = open+"<i>", "</i>"+close
		}
		if s.Style&Code != 0 {
			open, close = open+"<code>", "</code>"+close
		}
		if s.Style&Deleted != 0 {
			open, close = open+"<del>", "</del>"+close
		}
		if s.Style&Inserted != 0 {
			open, close = open+"<ins>", "</ins>"+close
		}
		b.WriteString(open + html.EscapeString(s.Text) + close)
	}
	return b.String()
}

func safeLink(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "mailto:") ||
		(strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//"))
}
