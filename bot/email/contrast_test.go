package email

import (
	contrastpkg "github.com/viza-app/viza/internal/contrast"
	"os"
	"regexp"
	"testing"
)

func contrast(a, b string) float64 { return contrastpkg.Ratio(a, b) }

// TestMailTextIsReadable: every text colour of the mail template stands
// at 4.5:1 or more against the mail's background and white (WCAG 2 AA),
// the footer's grey included.
func TestMailTextIsReadable(t *testing.T) {
	tmpl, err := os.ReadFile("templates/mail.html")
	if err != nil {
		t.Fatal(err)
	}
	bg := regexp.MustCompile(`<body[^>]*background:(#[0-9a-f]{6})`).FindSubmatch(tmpl)
	if bg == nil {
		t.Fatal("no background colour in the template")
	}
	colours := regexp.MustCompile(`[;"]color:(#[0-9a-f]{6})`).FindAllSubmatch(tmpl, -1)
	if len(colours) < 2 {
		t.Fatalf("only %d text colours found", len(colours))
	}
	for _, m := range colours {
		c := string(m[1])
		if c == "#fff" || c == "#ffffff" {
			continue // white on the primary button, checked below
		}
		for _, against := range []string{string(bg[1]), "#ffffff"} {
			if r := contrast(c, against); r < 4.5 {
				t.Errorf("text %s on %s: %.2f:1, want 4.5:1", c, against, r)
			}
		}
	}
	if r := contrast("#ffffff", "#1f6feb"); r < 4.5 {
		t.Errorf("the primary button: %.2f:1", r)
	}
}
