// Command list prints every string of a catalogue, one per line in key
// order, plural forms each on their own line, so that a reviewer reads the
// wording in one place: go run ./locales/list ru (make ru-strings).
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/viza-app/viza/locales"
)

func main() {
	lang := "ru"
	if len(os.Args) > 1 {
		lang = os.Args[1]
	}
	if err := list(os.Stdout, lang); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func list(w io.Writer, lang string) error {
	raw, err := locales.Raw(lang)
	if err != nil {
		return fmt.Errorf("catalogue %q: %w (languages: %s)", lang, err, strings.Join(locales.Languages, ", "))
	}
	var cat map[string]any
	if err := yaml.Unmarshal(raw, &cat); err != nil {
		return fmt.Errorf("read catalogue %s: %w", lang, err)
	}
	keys := make([]string, 0, len(cat))
	for k := range cat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := cat[k].(type) {
		case map[string]any:
			forms := make([]string, 0, len(v))
			for f := range v {
				forms = append(forms, f)
			}
			sort.Strings(forms)
			for _, f := range forms {
				fmt.Fprintf(w, "%s[%s]\t%s\n", k, f, oneLine(fmt.Sprint(v[f])))
			}
		default:
			fmt.Fprintf(w, "%s\t%s\n", k, oneLine(fmt.Sprint(v)))
		}
	}
	return nil
}

// oneLine keeps a multi-line message on its key's line, its breaks shown.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ⏎ ") }
