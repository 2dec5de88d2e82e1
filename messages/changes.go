package messages

import (
	"strings"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/messages/rich"
)

// ChangeLimits say how much of a comparison a message shows.
type ChangeLimits struct {
	Changes int // places listed; the rest are counted
	Runes   int // of each piece of text (context, old, new), cut with "…"
	// Command is how the channel's commands begin ("/" where unset).
	Command string
	// NoCommands is for channels without chat commands (e-mail): the
	// lines that point to /diff do not.
	NoCommands bool
}

// CardChanges is what a request's card shows; a chat's /diff shows more.
var (
	CardChanges = ChangeLimits{Changes: 3, Runes: 60}
	ChatChanges = ChangeLimits{Changes: 20, Runes: 300}
)

// Changes renders what changed between two versions of document number:
// a headline, then the first places as "before old → new after", the old
// struck through and the new underlined in the channel's own markup. The
// clauses are the file's text: they go in as text, never as markup.
func Changes(c compare.Comparison, number, lang string, lim ChangeLimits) rich.Text {
	l := mustLocalizer(lang)
	cmd := lim.Command
	if cmd == "" {
		cmd = "/"
	}
	headline := ChangesHeadline(c, number, lang, cmd)
	if lim.NoCommands && c.Status == compare.StatusPending {
		headline = Rich(l, "diff.pending_plain", map[string]any{"From": c.From, "To": c.To})
	}
	lines := []rich.Text{headline}
	if c.Status == compare.StatusOK {
		for i, ch := range c.Changes {
			if i == lim.Changes {
				key := "diff.more"
				if lim.NoCommands {
					key = "diff.more_plain"
				}
				lines = append(lines, Rich(l, key, map[string]any{"N": len(c.Changes) - i, "Number": number, "C": cmd}))
				break
			}
			lines = append(lines, Rich(l, "diff.change", map[string]any{
				"Before": cutLeft(strings.TrimLeft(ch.Before, ".,;:!?)]»” "), lim.Runes), "Old": cut(ch.Old, lim.Runes),
				"New": cut(ch.New, lim.Runes), "After": cut(ch.After, lim.Runes)}))
		}
	}
	lines = append(lines, ChangesNotes(c, lang)...)
	return rich.Join(lines, "\n")
}

// ChangesHeadline is a comparison's first line: how many places changed,
// or why there is no comparison. cmd begins the channel's commands.
func ChangesHeadline(c compare.Comparison, number, lang, cmd string) rich.Text {
	l := mustLocalizer(lang)
	data := map[string]any{"From": c.From, "To": c.To, "Number": number, "C": cmd}
	switch {
	case c.Status == compare.StatusOK && len(c.Changes) == 0:
		return Rich(l, "diff.none", data)
	case c.Status == compare.StatusOK:
		data["Places"] = l.Plural("diff.places", len(c.Changes))
		return Rich(l, "diff.summary", data)
	case c.Status == compare.StatusPending:
		return Rich(l, "diff.pending", data)
	}
	return Rich(l, "diff."+c.Status, data)
}

// ChangesNotes are what the later version's file itself holds back:
// unaccepted tracked changes and comments.
func ChangesNotes(c compare.Comparison, lang string) []rich.Text {
	l := mustLocalizer(lang)
	var out []rich.Text
	if c.Revisions > 0 {
		out = append(out, Rich(l, "diff.revisions", map[string]any{"N": c.Revisions}))
	}
	if c.Comments > 0 {
		out = append(out, Rich(l, "diff.comments", map[string]any{"N": c.Comments}))
	}
	return out
}

// cut keeps the first n runes of s, marking the cut.
func cut(s string, n int) string {
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// cutLeft keeps the last n runes of s: the words nearest the change.
func cutLeft(s string, n int) string {
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n:])
}
