package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const root = "../.."

// pages are README.md and every page under docs/.
func pages(t *testing.T) []string {
	t.Helper()
	out := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	linkRe    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRe = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	makeRe    = regexp.MustCompile("`make ([a-z][a-z0-9-]*)")
	targetRe  = regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`)
)

// slug is a heading's anchor as GitHub makes it.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ' || r == '-':
			b.WriteRune('-')
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestLinksLeadSomewhere: every relative link of the documentation names
// a file (or folder) of the repository, and an anchor a heading of it.
func TestLinksLeadSomewhere(t *testing.T) {
	for _, page := range pages(t) {
		body, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRe.FindAllStringSubmatch(string(body), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), file)
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: the link %q leads nowhere", page, link)
				continue
			}
			if anchor == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			doc, _ := os.ReadFile(target)
			found := false
			for _, h := range headingRe.FindAllStringSubmatch(string(doc), -1) {
				found = found || slug(h[1]) == anchor
			}
			if !found {
				t.Errorf("%s: the link %q names no heading of %s", page, link, target)
			}
		}
	}
}

// TestMakeTargetsExist: every `make X` the documentation names is a target
// of the Makefile.
func TestMakeTargetsExist(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range targetRe.FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = true
	}
	named := 0
	for _, page := range pages(t) {
		body, _ := os.ReadFile(page)
		for _, m := range makeRe.FindAllStringSubmatch(string(body), -1) {
			named++
			if !targets[m[1]] {
				t.Errorf("%s names `make %s`, which the Makefile does not have", page, m[1])
			}
		}
	}
	if named < 5 {
		t.Fatalf("only %d make targets named: the pattern no longer finds them", named)
	}
}

// keys lists the keys of a YAML tree: "a", "a.b", "list[].c".
func keys(prefix string, n *yaml.Node, out map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			keys(prefix, c, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			full := k
			if prefix != "" {
				full = prefix + "." + k
			}
			out[full] = true
			keys(full, n.Content[i+1], out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			keys(prefix+"[]", c, out)
		}
	}
}

// TestExampleKeysDocumented: each key of deploy/viza.example.yaml is
// named in the documentation (docs/configuration.md, or a channel's page
// for its own keys) — by its dotted path, as the parent of documented
// keys, or, inside a table row about its parent, by its own name.
func TestExampleKeysDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "viza.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	keys("", &doc, all)
	// The keys are documented in configuration.md, a channel's keys on
	// the channel's page.
	var docs strings.Builder
	for _, page := range pages(t) {
		b, _ := os.ReadFile(page)
		docs.Write(b)
	}
	text := docs.String()
	var missing []string
	for k := range all {
		// Values under a map the administrator names freely (the fields of
		// the registry list, a method's limit) are not keys of Viza's.
		if strings.Contains(k, ".fields.") || strings.Contains(k, ".method_limits.") || strings.Contains(k, ".name.") || strings.Contains(k, ".stage.") {
			continue
		}
		leaf := k[strings.LastIndexAny(k, ".]")+1:]
		names := []string{k, strings.ReplaceAll(k, "[]", ""), leaf}
		if _, rel, ok := strings.Cut(k, "."); ok {
			names = append(names, rel) // as its section's page writes it
		}
		documented := false
		for _, n := range names {
			// `key`, `key.child`, `key[]`, or `key: value`
			documented = documented || regexp.MustCompile("`"+regexp.QuoteMeta(n)+"([`.:]|\\[\\]| )").MatchString(text)
		}
		if documented {
			continue
		}
		missing = append(missing, k)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("keys of deploy/viza.example.yaml documented nowhere:\n%s", strings.Join(missing, "\n"))
	}
	if len(all) < 30 {
		t.Fatalf("only %d keys read from the example", len(all))
	}
}

// TestReadmeIsShort: the README says what Viza is, how to start it and
// where to read on; the rest lives in docs/.
func TestReadmeIsShort(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n >= 250 {
		t.Fatalf("README.md has %d lines", n)
	}
	for _, want := range []string{"make run", "make test", "docs/configuration.md", "docs/operations.md"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("README.md does not mention %s", want)
		}
	}
}
