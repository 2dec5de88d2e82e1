// Package compare tells what changed between two versions of a document:
// a word-level difference of their text (see package extract), cleaned up
// to changes a person would name — "100 000 → 120 000", not a digit here
// and a space there — each with a little of the text around it.
package compare

import (
	"strings"
	"unicode"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// Change is one place where the versions differ. Old is what the earlier
// version said there ("" for an insertion), New what the later one says
// ("" for a deletion); Before and After are the words around it.
type Change struct {
	Before string `json:"before"`
	Old    string `json:"old"`
	New    string `json:"new"`
	After  string `json:"after"`
}

// Options shape a comparison.
type Options struct {
	// Context is how many words are kept on each side of a change.
	Context int
	// Bridge joins two changes separated by at most this many unchanged
	// words into one: "ten days → fifteen working days" reads better as
	// one change than as two around "days".
	Bridge int
}

// DefaultOptions are what a card and the page use.
var DefaultOptions = Options{Context: 6, Bridge: 2}

// token is a word, a number or a punctuation mark, and whether a space
// came before it in the text.
type token struct {
	text  string
	space bool
}

// Diff compares two texts word by word.
func Diff(old, new string, opt Options) []Change {
	a, b := tokenize(old), tokenize(new)
	// go-diff compares runes; each distinct token becomes one rune (its
	// "lines" mode), so the difference is computed, and cleaned up
	// semantically, at the level of whole words and numbers.
	dmp := diffmatchpatch.New()
	ra, rb, _ := dmp.DiffLinesToRunes(joinLines(a), joinLines(b))
	diffs := dmp.DiffMainRunes(ra, rb, false)
	diffs = dmp.DiffCleanupSemantic(diffs)
	return changes(diffs, a, b, opt)
}

func joinLines(ts []token) string {
	var s strings.Builder
	for _, t := range ts {
		s.WriteString(t.text)
		s.WriteByte('\n')
	}
	return s.String()
}

// span is a run of one kind in both token lists: [i0,i1) of the old and
// [j0,j1) of the new.
type span struct {
	equal          bool
	i0, i1, j0, j1 int
}

func changes(diffs []diffmatchpatch.Diff, a, b []token, opt Options) []Change {
	var spans []span
	i, j := 0, 0
	for _, d := range diffs {
		n := len([]rune(d.Text))
		switch d.Type {
		case diffmatchpatch.DiffEqual:
			spans = append(spans, span{equal: true, i0: i, i1: i + n, j0: j, j1: j + n})
			i, j = i+n, j+n
		case diffmatchpatch.DiffDelete:
			spans = appendChange(spans, span{i0: i, i1: i + n, j0: j, j1: j})
			i += n
		case diffmatchpatch.DiffInsert:
			spans = appendChange(spans, span{i0: i, i1: i, j0: j, j1: j + n})
			j += n
		}
	}
	// Bridge small unchanged gaps between changes.
	var merged []span
	for k := 0; k < len(spans); k++ {
		s := spans[k]
		if s.equal && len(merged) > 0 && !merged[len(merged)-1].equal && k+1 < len(spans) &&
			s.i1-s.i0 <= opt.Bridge {
			next := spans[k+1]
			last := &merged[len(merged)-1]
			last.i1, last.j1 = next.i1, next.j1
			k++
			continue
		}
		merged = append(merged, s)
	}
	var out []Change
	for _, s := range merged {
		if s.equal {
			continue
		}
		out = append(out, Change{
			Before: join(a[max(0, s.i0-opt.Context):s.i0]),
			Old:    join(a[s.i0:s.i1]),
			New:    join(b[s.j0:s.j1]),
			After:  join(b[s.j1:min(len(b), s.j1+opt.Context)]),
		})
	}
	return out
}

// appendChange adds a deletion or an insertion, joining it to the change
// just before it: a deletion followed by an insertion is a replacement.
func appendChange(spans []span, s span) []span {
	if n := len(spans); n > 0 && !spans[n-1].equal {
		last := &spans[n-1]
		last.i1, last.j1 = s.i1, s.j1
		return spans
	}
	return append(spans, s)
}

func join(ts []token) string {
	var b strings.Builder
	for k, t := range ts {
		if k > 0 && t.space {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// tokenize splits text into words, numbers and marks. A number keeps its
// group separators and its decimal or date punctuation ("100 000",
// "1 250,50", "01.02.2026", "2026-02-01", "12:30"), so that a changed sum
// or date shows whole.
func tokenize(s string) []token {
	rs := []rune(s)
	var out []token
	space := false
	for k := 0; k < len(rs); {
		r := rs[k]
		switch {
		case unicode.IsSpace(r):
			space = true
			k++
			continue
		case unicode.IsDigit(r):
			end := numberEnd(rs, k)
			out = append(out, token{string(rs[k:end]), space})
			k = end
		case unicode.IsLetter(r):
			end := k + 1
			for end < len(rs) && (unicode.IsLetter(rs[end]) || unicode.Is(unicode.Mn, rs[end]) ||
				((rs[end] == '-' || rs[end] == '\'' || rs[end] == '’') && end+1 < len(rs) && unicode.IsLetter(rs[end+1]))) {
				end++
			}
			out = append(out, token{string(rs[k:end]), space})
			k = end
		default:
			out = append(out, token{string(r), space})
			k++
		}
		space = false
	}
	return out
}

// numberEnd finds where the number starting at k ends.
func numberEnd(rs []rune, k int) int {
	end := k
	for end < len(rs) && unicode.IsDigit(rs[end]) {
		end++
	}
	for end < len(rs) {
		r := rs[end]
		switch {
		case (r == '.' || r == ',' || r == ':' || r == '/' || r == '-') && end+1 < len(rs) && unicode.IsDigit(rs[end+1]):
			// 1,5 · 01.02.2026 · 12:30 · 2026-02-01 · 1/2
			end++
		case isGroupSpace(r) && groupOfThree(rs, end+1):
			// 100 000 · 1 250 000 (a space, no-break or thin, then three digits)
			end++
		default:
			return end
		}
		for end < len(rs) && unicode.IsDigit(rs[end]) {
			end++
		}
	}
	return end
}

func isGroupSpace(r rune) bool { return r == ' ' || r == '\u00a0' || r == '\u202f' || r == '\u2009' }

// groupOfThree tells whether exactly three digits start at k.
func groupOfThree(rs []rune, k int) bool {
	if k+3 > len(rs) {
		return false
	}
	for _, r := range rs[k : k+3] {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return k+3 == len(rs) || !unicode.IsDigit(rs[k+3])
}
