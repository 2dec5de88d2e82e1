package web_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/viza-app/viza/locales"
)

// TestTemplateKeysExist: every text a page asks the catalogues for is in
// every language — a missing key would show its id to the person.
func TestTemplateKeysExist(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v", err)
	}
	keyRE := regexp.MustCompile(`\bt \$?\.Lang "([^"]+)"`)
	for _, lang := range locales.Languages {
		l, err := locales.For(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range keyRE.FindAllStringSubmatch(string(src), -1) {
				if got := l.T(m[1], map[string]any{"Count": 1, "Page": 1, "Pages": 1, "Total": 1, "Done": 1}); got == m[1] {
					t.Errorf("%s asks for %q, which the %s catalogue lacks", f, m[1], lang)
				}
			}
		}
	}
}
