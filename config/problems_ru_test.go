package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/viza-app/viza/locales"
)

// TestEveryProblemSpeaksRussian: every text the checker can write has a
// Russian form with the same %-verbs, so check-config never falls back to
// English for a Russian administrator.
func TestEveryProblemSpeaksRussian(t *testing.T) {
	table, err := locales.ConfigFormats("ru")
	if err != nil || len(table) == 0 {
		t.Fatalf("Russian table: %d entries, %v", len(table), err)
	}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	used := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "add" || len(call.Args) < 3 {
				return true
			}
			lit, ok := call.Args[2].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a problem whose text is not a literal cannot be translated", fset.Position(call.Pos()))
				return true
			}
			format, _ := strconv.Unquote(lit.Value)
			used[format] = true
			if _, ok := table[format]; !ok {
				t.Errorf("%s: no Russian for %q", fset.Position(call.Pos()), format)
			}
			return true
		})
	}
	verbs := regexp.MustCompile(`%(\[\d+\])?[a-z]`)
	for en, ru := range table {
		if !used[en] {
			t.Errorf("the Russian table has %q, which the checker never writes", en)
		}
		if n, m := len(verbs.FindAllString(en, -1)), len(verbs.FindAllString(ru, -1)); n != m {
			t.Errorf("%q has %d verbs, its Russian %q has %d", en, n, ru, m)
		}
	}
}

func TestProblemsInRussian(t *testing.T) {
	_, err := Parse("viza.yaml", []byte("company: X\nlanguage: ru\ntimezone: Mars/Olympus\nfoo: 1\n"))
	ps, ok := err.(*Problems)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	got := strings.Join(ps.Lines("ru"), "\n")
	for _, want := range []string{"viza.yaml:3: timezone: неизвестный часовой пояс «Mars/Olympus»", "viza.yaml:4: foo: неизвестный ключ «foo»"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if en := strings.Join(ps.Lines("en"), "\n"); !strings.Contains(en, `unknown key "foo"`) {
		t.Errorf("English lines:\n%s", en)
	}
}
