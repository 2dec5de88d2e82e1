// Package locales holds every user-visible string of Viza (ru and en) and
// loads them into a go-i18n bundle with CLDR plural rules. It is a Go
// package because go:embed cannot reach files outside the package folder.
package locales

import (
	"embed"
	"fmt"
	"strings"
	"sync"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

//go:embed *.yaml
var files embed.FS

// Languages are the catalogues shipped, the first being the fallback.
var Languages = []string{"en", "ru"}

var (
	once   sync.Once
	bundle *i18n.Bundle
	errB   error
)

// Bundle returns the loaded catalogues.
func Bundle() (*i18n.Bundle, error) {
	once.Do(func() {
		b := i18n.NewBundle(language.English)
		b.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
		for _, l := range Languages {
			if _, err := b.LoadMessageFileFS(files, l+".yaml"); err != nil {
				errB = fmt.Errorf("load locale %s: %w", l, err)
				return
			}
		}
		bundle = b
	})
	return bundle, errB
}

// Raw returns a catalogue's file, for tests of the catalogues as data.
func Raw(lang string) ([]byte, error) { return files.ReadFile(lang + ".yaml") }

// Localizer translates into one language, falling back to English.
type Localizer struct {
	Lang string
	l    *i18n.Localizer
}

// For returns a localizer for lang.
func For(lang string) (*Localizer, error) {
	b, err := Bundle()
	if err != nil {
		return nil, err
	}
	return &Localizer{Lang: lang, l: i18n.NewLocalizer(b, lang, "en")}, nil
}

// T renders message id with data. A missing key renders as the id itself,
// so a gap shows in the chat instead of breaking a delivery; the catalogue
// tests keep that from happening.
func (l *Localizer) T(id string, data any) string {
	s, err := l.l.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return id
	}
	if l.Lang == "ru" {
		s = NestQuotes(s)
	}
	return s
}

// NestQuotes writes quotes inside quotes the Russian way: «…„…“…». A
// catalogue puts a title in «», and the title itself often holds a name in
// «» (Поставка оборудования «Север»), which would read «…«Север»». Text
// whose «» do not pair up is returned as it was.
func NestQuotes(s string) string {
	if !strings.Contains(s, "«") {
		return s
	}
	out := []rune(s)
	depth := 0
	for i, r := range out {
		switch r {
		case '«':
			if depth > 0 {
				out[i] = '„'
			}
			depth++
		case '»':
			depth--
			if depth < 0 {
				return s
			}
			if depth > 0 {
				out[i] = '“'
			}
		}
	}
	if depth != 0 {
		return s
	}
	return string(out)
}

// Plural renders a message with plural forms for count.
func (l *Localizer) Plural(id string, count int) string {
	s, err := l.l.Localize(&i18n.LocalizeConfig{MessageID: id, PluralCount: count, TemplateData: map[string]any{"Count": count}})
	if err != nil {
		return id
	}
	return s
}

var (
	configOnce    sync.Once
	configFormats map[string]map[string]string
	configErr     error
)

// ConfigFormat is a text of the configuration checker in lang. The checker
// writes English — its errors and logs stay English — and check-config
// speaks the administrator's language: config.<lang>.yaml maps each
// English text, %-verbs and all, to the same in lang. A text without a
// translation, or English, comes back as it is.
func ConfigFormat(lang, format string) string {
	configOnce.Do(func() {
		configFormats = map[string]map[string]string{}
		for _, l := range Languages {
			raw, err := files.ReadFile("config." + l + ".yaml")
			if err != nil {
				continue // English needs none
			}
			m := map[string]string{}
			if err := yaml.Unmarshal(raw, &m); err != nil {
				configErr = fmt.Errorf("load config.%s.yaml: %w", l, err)
				return
			}
			configFormats[l] = m
		}
	})
	if t, ok := configFormats[lang][format]; ok && configErr == nil {
		return t
	}
	return format
}

// ConfigFormats is the translation table of lang, for its tests.
func ConfigFormats(lang string) (map[string]string, error) {
	ConfigFormat(lang, "")
	return configFormats[lang], configErr
}
