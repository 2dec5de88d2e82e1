package slackfake

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Run is a styled part of a displayed text.
type Run struct {
	Text  string
	Style string // bold, italic, strike, code, link, mention
}

// Display reads mrkdwn as a Slack client shows it: &amp; &lt; &gt; decoded,
// <…> as links and mentions, *bold*, _italic_, ~strike~ and `code` where
// the delimiters stand at a word's edge. It returns the text a person
// reads (zero-width spaces, which show as nothing, taken out) and its
// styled runs.
func Display(mrkdwn string) (string, []Run) {
	var out strings.Builder
	var runs []Run
	s := mrkdwn
	for len(s) > 0 {
		switch {
		case s[0] == '<':
			end := strings.IndexByte(s, '>')
			if end < 0 {
				out.WriteByte('<')
				s = s[1:]
				continue
			}
			inner := s[1:end]
			s = s[end+1:]
			target, label, hasLabel := strings.Cut(inner, "|")
			style := "link"
			switch {
			case strings.HasPrefix(target, "!"), strings.HasPrefix(target, "@"), strings.HasPrefix(target, "#"):
				style = "mention"
			}
			if !hasLabel {
				label = target
			}
			text := decode(label)
			out.WriteString(text)
			runs = append(runs, Run{Text: text, Style: style})
		case s[0] == '*' || s[0] == '_' || s[0] == '~' || s[0] == '`':
			d := s[0]
			prev, _ := utf8.DecodeLastRuneInString(out.String())
			next, _ := utf8.DecodeRuneInString(s[1:])
			closeAt := -1
			if opens(prev, out.Len() == 0) && next != utf8.RuneError && !unicode.IsSpace(next) && next != '\u200b' {
				for i := 1; i < len(s); i++ {
					if s[i] == '\n' && d != '`' {
						break
					}
					if s[i] == d {
						before, _ := utf8.DecodeLastRuneInString(s[:i])
						after, _ := utf8.DecodeRuneInString(s[i+1:])
						if !unicode.IsSpace(before) && before != '\u200b' && (i+1 == len(s) || closes(after)) {
							closeAt = i
							break
						}
					}
				}
			}
			if closeAt < 0 {
				out.WriteByte(d)
				s = s[1:]
				continue
			}
			inner, _ := Display(s[1:closeAt])
			out.WriteString(inner)
			runs = append(runs, Run{Text: inner, Style: map[byte]string{'*': "bold", '_': "italic", '~': "strike", '`': "code"}[d]})
			s = s[closeAt+1:]
		case s[0] == '&':
			done := false
			for _, e := range []string{"&amp;", "&lt;", "&gt;"} {
				if strings.HasPrefix(s, e) {
					out.WriteString(decode(e))
					s, done = s[len(e):], true
					break
				}
			}
			if !done {
				out.WriteByte('&')
				s = s[1:]
			}
		default:
			r, n := utf8.DecodeRuneInString(s)
			if r != '\u200b' {
				out.WriteRune(r)
			}
			s = s[n:]
		}
	}
	return out.String(), runs
}

func opens(prev rune, atStart bool) bool {
	return atStart || unicode.IsSpace(prev) || strings.ContainsRune("([{\"'«„“", prev)
}

func closes(after rune) bool {
	return unicode.IsSpace(after) || unicode.IsPunct(after)
}

func decode(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "\u200b", "").Replace(s)
}

// messageLocked reads chat.postMessage / chat.update parameters.
func (s *Server) messageLocked(p map[string]string) (*Message, string) {
	m := &Message{Channel: p["channel"], TS: s.ts(), User: BotUser, Thread: p["thread_ts"], raw: map[string]any{}}
	var blocks []map[string]any
	if b := p["blocks"]; b != "" {
		if err := json.Unmarshal([]byte(b), &blocks); err != nil {
			return nil, "invalid_blocks"
		}
	}
	if len(blocks) == 0 {
		if p["text"] == "" {
			return nil, "no_text"
		}
		m.Text, m.Styled = Display(p["text"])
		return m, ""
	}
	if len(blocks) > 50 {
		return nil, "invalid_blocks"
	}
	var texts []string
	ids := map[string]bool{}
	for _, b := range blocks {
		id, _ := b["block_id"].(string)
		if id != "" {
			if ids[id] || len(id) > 255 {
				return nil, "invalid_blocks"
			}
			ids[id] = true
		}
		switch b["type"] {
		case "section":
			t, runs, ok := textObject(b["text"], 3000)
			if !ok {
				return nil, "invalid_blocks"
			}
			texts = append(texts, t)
			m.Styled = append(m.Styled, runs...)
		case "context":
			els, _ := b["elements"].([]any)
			var parts []string
			for _, e := range els {
				t, _, ok := textObject(e, 3000)
				if !ok {
					return nil, "invalid_blocks"
				}
				parts = append(parts, t)
			}
			m.Context = strings.Join(parts, " ")
		case "actions":
			els, _ := b["elements"].([]any)
			if len(els) == 0 || len(els) > 25 {
				return nil, "invalid_blocks"
			}
			for _, e := range els {
				btn, ok := button(e, id)
				if !ok {
					return nil, "invalid_blocks"
				}
				m.Buttons = append(m.Buttons, btn)
			}
		case "divider", "header":
		default:
			return nil, "invalid_blocks"
		}
	}
	m.Text = strings.Join(texts, "\n")
	return m, ""
}

// textObject reads a Block Kit text object.
func textObject(v any, max int) (string, []Run, bool) {
	o, ok := v.(map[string]any)
	if !ok {
		return "", nil, false
	}
	t, _ := o["text"].(string)
	if t == "" || utf8.RuneCountInString(t) > max {
		return "", nil, false
	}
	switch o["type"] {
	case "mrkdwn":
		text, runs := Display(t)
		return text, runs, true
	case "plain_text":
		return t, nil, true
	}
	return "", nil, false
}

func button(v any, block string) (Button, bool) {
	o, ok := v.(map[string]any)
	if !ok || o["type"] != "button" {
		return Button{}, false
	}
	label, _, ok := textObject(o["text"], 75)
	if !ok {
		return Button{}, false
	}
	b := Button{BlockID: block, Label: label}
	b.ActionID, _ = o["action_id"].(string)
	b.Value, _ = o["value"].(string)
	b.Style, _ = o["style"].(string)
	if b.ActionID == "" || len(b.ActionID) > 255 || len(b.Value) > 2000 || (b.Style != "" && b.Style != "primary" && b.Style != "danger") {
		return Button{}, false
	}
	return b, true
}

// viewLocked reads a modal or home view.
func (s *Server) viewLocked(v any, kind string) (*View, string) {
	raw, ok := v.(map[string]any)
	if !ok || raw["type"] != kind {
		return nil, "invalid_arguments"
	}
	view := &View{ID: s.id("V"), Type: kind, Raw: raw}
	view.Metadata, _ = raw["private_metadata"].(string)
	if len(view.Metadata) > 3000 {
		return nil, "invalid_arguments"
	}
	if kind == "modal" {
		title, _, ok := textObject(raw["title"], 24)
		if !ok {
			return nil, "invalid_arguments"
		}
		view.Title = title
	}
	blocks, _ := raw["blocks"].([]any)
	var texts []string
	for _, bv := range blocks {
		b, _ := bv.(map[string]any)
		id, _ := b["block_id"].(string)
		switch b["type"] {
		case "input":
			view.Inputs = append(view.Inputs, id)
			if t, _, ok := textObject(b["label"], 2000); ok {
				texts = append(texts, t)
			}
		case "section":
			if t, _, ok := textObject(b["text"], 3000); ok {
				texts = append(texts, t)
			}
		case "context":
			els, _ := b["elements"].([]any)
			for _, e := range els {
				if t, _, ok := textObject(e, 3000); ok {
					texts = append(texts, t)
				}
			}
		case "actions":
			els, _ := b["elements"].([]any)
			for _, e := range els {
				if btn, ok := button(e, id); ok {
					view.Buttons = append(view.Buttons, btn)
				}
			}
		}
	}
	view.Text = strings.Join(texts, "\n")
	return view, ""
}
