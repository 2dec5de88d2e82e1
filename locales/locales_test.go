package locales

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/viza-app/viza/messages/rich"
)

var placeholderRE = regexp.MustCompile(`\{\{[^}]*?\.([A-Za-z]+)[^}]*\}\}`)

func placeholders(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, m := range placeholderRE.FindAllStringSubmatch(x, -1) {
				if !slices.Contains(out, m[1]) {
					out = append(out, m[1])
				}
			}
		case map[string]any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	slices.Sort(out)
	return out
}

func catalogue(t *testing.T, lang string) map[string]any {
	t.Helper()
	raw, err := Raw(lang)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", lang, err)
	}
	return m
}

// TestCataloguesMatch: every key in every language, no empty values, the
// same placeholders.
func TestCataloguesMatch(t *testing.T) {
	if _, err := Bundle(); err != nil {
		t.Fatal(err)
	}
	cats := map[string]map[string]any{}
	for _, l := range Languages {
		cats[l] = catalogue(t, l)
	}
	for _, a := range Languages {
		for _, b := range Languages {
			for key, va := range cats[a] {
				vb, ok := cats[b][key]
				if !ok {
					t.Errorf("%s has %q, %s does not", a, key, b)
					continue
				}
				if pa, pb := placeholders(va), placeholders(vb); !slices.Equal(pa, pb) {
					t.Errorf("%q: placeholders %s %v, %s %v", key, a, pa, b, pb)
				}
				if s, ok := va.(string); ok && s == "" {
					t.Errorf("%s: %q is empty", a, key)
				}
			}
		}
	}
}

func TestRussianPlurals(t *testing.T) {
	ru, err := For("ru")
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{1: "1 день", 2: "2 дня", 5: "5 дней", 11: "11 дней", 21: "21 день", 22: "22 дня"} {
		if got := ru.Plural("days", n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
	en, _ := For("en")
	if got := en.Plural("days", 1); got != "1 day" {
		t.Errorf("en 1: %q", got)
	}
	if got := en.Plural("days", 3); got != "3 days" {
		t.Errorf("en 3: %q", got)
	}
}

var actionRE = regexp.MustCompile(`\{\{[^}]*\}\}`)

// TestMessagesAreNeutralMarkup: every message, with its placeholders taken
// out, parses as the neutral rich-text markup the channels render, and
// has the same tags in every language.
func TestMessagesAreNeutralMarkup(t *testing.T) {
	tags := map[string]map[string]string{}
	for _, lang := range Languages {
		tags[lang] = map[string]string{}
		for key, v := range catalogue(t, lang) {
			forms := map[string]any{"": v}
			if m, ok := v.(map[string]any); ok {
				forms = m
			}
			for form, text := range forms {
				s, _ := text.(string)
				txt, err := rich.Parse(actionRE.ReplaceAllString(s, "x"))
				if err != nil {
					t.Errorf("%s %s%s: %v", lang, key, form, err)
					continue
				}
				var styles []string
				for _, sp := range txt.Spans {
					if sp.Style != 0 || sp.Link != "" {
						styles = append(styles, fmt.Sprint(sp.Style, sp.Link != ""))
					}
				}
				tags[lang][key+form] = fmt.Sprint(styles)
			}
		}
	}
	for key, want := range tags["en"] {
		if got := tags["ru"][key]; got != want {
			t.Errorf("%s: styles en %s, ru %s", key, want, got)
		}
	}
}

func TestNestQuotes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Договор «Поставка «Север»»", "Договор «Поставка „Север“»"},
		{"«a «b «c»» d»", "«a „b „c““ d»"},
		{"«простые»", "«простые»"},
		{"«непарные «кавычки»", "«непарные «кавычки»"},
		{"» наоборот «", "» наоборот «"},
		{"без кавычек", "без кавычек"},
	} {
		if got := NestQuotes(tc.in); got != tc.want {
			t.Errorf("NestQuotes(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
