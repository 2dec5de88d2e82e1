package rich_test

import (
	"strings"
	"testing"

	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/messages/rich/richtest"
)

func TestParse(t *testing.T) {
	cases := []struct {
		markup string
		want   []rich.Span
	}{
		{"plain", []rich.Span{{Text: "plain"}}},
		{"a <b>bold</b> c", []rich.Span{{Text: "a "}, {Text: "bold", Style: rich.Bold}, {Text: " c"}}},
		{"<b><i>both</i></b>", []rich.Span{{Text: "both", Style: rich.Bold | rich.Italic}}},
		{`<a href="https://x.example/?a=1&amp;b=2">go</a>`, []rich.Span{{Text: "go", Link: "https://x.example/?a=1&b=2"}}},
		{"&lt;b&gt; &amp; &quot;", []rich.Span{{Text: `<b> & "`}}},
		{"<code>x</code>", []rich.Span{{Text: "x", Style: rich.Code}}},
		{"<del>100</del> → <ins>120</ins>", []rich.Span{{Text: "100", Style: rich.Deleted}, {Text: " → "}, {Text: "120", Style: rich.Inserted}}},
	}
	for _, c := range cases {
		got, err := rich.Parse(c.markup)
		if err != nil {
			t.Fatalf("%q: %v", c.markup, err)
		}
		if len(got.Spans) != len(c.want) {
			t.Fatalf("%q: %+v, want %+v", c.markup, got.Spans, c.want)
		}
		for i := range c.want {
			if got.Spans[i] != c.want[i] {
				t.Fatalf("%q: span %d = %+v, want %+v", c.markup, i, got.Spans[i], c.want[i])
			}
		}
	}
}

func TestParseRefusesBadMarkup(t *testing.T) {
	for _, bad := range []string{"<b>open", "</b>", "<script>x</script>", "<b>x</i>", "<a>x</a>", "a < b", `<b class="x">y</b>`} {
		if _, err := rich.Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestEscapedTextStaysText: whatever people type, escaped into markup and
// parsed back, is the same text without any style.
func TestEscapedTextStaysText(t *testing.T) {
	for _, s := range richtest.Hostile {
		got, err := rich.Parse("<b>T:</b> " + rich.Escape(s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got.String() != "T: "+s {
			t.Errorf("%q read back as %q", s, got.String())
		}
		for _, sp := range got.Spans[1:] {
			if sp.Style != 0 || sp.Link != "" {
				t.Errorf("%q: typed text got a style: %+v", s, sp)
			}
		}
		// And through storage: Markup and Parse again.
		again, err := rich.Parse(got.Markup())
		if err != nil || again.String() != got.String() || len(again.Spans) != len(got.Spans) {
			t.Errorf("%q: markup round trip %+v → %+v (%v)", s, got.Spans, again.Spans, err)
		}
	}
}

func TestSplitKeepsEveryCharacterAndStyle(t *testing.T) {
	long := rich.Concat(rich.Styled(strings.Repeat("жирный ", 30), rich.Bold), rich.Plain("\n"+strings.Repeat("текст\n", 40)))
	parts := long.Split(50)
	var joined []rich.Text
	for _, p := range parts {
		if p.Len() > 50 {
			t.Fatalf("a part of %d characters", p.Len())
		}
		joined = append(joined, p)
	}
	back := rich.Concat(joined...)
	if back.String() != long.String() || back.Markup() != long.Markup() {
		t.Fatal("splitting lost text or styles")
	}
	if len(long.Split(0)) != 1 || len(rich.Plain("short").Split(100)) != 1 {
		t.Fatal("a text within the limit must stay one part")
	}
}

func TestTrimSpaceAndJoin(t *testing.T) {
	got := rich.Join([]rich.Text{rich.Plain("  a"), rich.Styled("b  ", rich.Bold)}, "\n").TrimSpace()
	if got.String() != "a\nb" || got.Spans[len(got.Spans)-1].Style != rich.Bold {
		t.Fatalf("%+v", got.Spans)
	}
}
