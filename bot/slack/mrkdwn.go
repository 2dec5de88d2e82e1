package slack

import (
	"strings"

	"github.com/viza-app/viza/messages/rich"
)

// Slack has no escape for its formatting characters; the way that keeps
// the text as typed (copy and paste included) is a zero-width space after
// each, so that no delimiter stands at a word's edge. &, < and > are the
// three characters Slack itself asks to be escaped: with them escaped,
// nothing typed can become a link or a mention (<!here>, <@U…>).
var typedEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	"*", "*\u200b", "_", "_\u200b", "~", "~\u200b", "`", "`\u200b",
	"@", "@\u200b", "#", "#\u200b", ":", "\u200b:",
)

// linkEscaper keeps a URL whole inside <url|label>: only the three
// characters Slack asks to be escaped, and "|", which would end the URL.
// The zero-width spaces typed text gets would break the address.
var linkEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "%7C")

// escapeTyped makes what a person typed show literally in mrkdwn.
func escapeTyped(s string) string {
	s = typedEscaper.Replace(s)
	// "&gt;" at a line's start would be read as a quote.
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n&gt;", "\n\u200b&gt;"), "\n\u200b\u200b", "\n\u200b")
}

// Mrkdwn renders rich text in Slack's mrkdwn.
func Mrkdwn(t rich.Text) string {
	var b strings.Builder
	for _, s := range t.Spans {
		text := escapeTyped(s.Text)
		if strings.HasPrefix(text, "&gt;") && b.Len() == 0 {
			text = "\u200b" + text
		}
		if s.Link != "" {
			// A link's label cannot carry styles in mrkdwn; | ends the URL.
			b.WriteString("<" + linkEscaper.Replace(s.Link) + "|" + text + ">")
			continue
		}
		// Styles wrap each line on its own: mrkdwn styles do not cross line
		// ends, and a delimiter next to a space does not count.
		lines := strings.Split(text, "\n")
		for i, ln := range lines {
			if i > 0 {
				b.WriteByte('\n')
			}
			core := strings.TrimSpace(ln)
			if core == "" || s.Style == 0 {
				b.WriteString(ln)
				continue
			}
			lead := ln[:strings.Index(ln, core)]
			trail := ln[len(lead)+len(core):]
			// A closing delimiter must follow a visible character.
			if trimmed := strings.TrimRight(core, "\u200b"); trimmed != core {
				trail = core[len(trimmed):] + trail
				core = trimmed
			}
			open, close := "", ""
			if s.Style&rich.Code != 0 {
				open, close = "`", "`"
			} else {
				if s.Style&rich.Bold != 0 {
					open, close = open+"*", "*"+close
				}
				if s.Style&rich.Italic != 0 {
					open, close = open+"_", "_"+close
				}
				// mrkdwn strikes through but cannot underline: what a
				// version put in shows in bold.
				if s.Style&rich.Deleted != 0 {
					open, close = open+"~", "~"+close
				}
				if s.Style&rich.Inserted != 0 {
					open, close = open+"*", "*"+close
				}
			}
			b.WriteString(lead + open + core + close + trail)
		}
	}
	return b.String()
}

// plain is rich text as plain text for places that show no markup
// (notification previews, button labels, modal titles).
func plain(t rich.Text) string { return t.String() }
