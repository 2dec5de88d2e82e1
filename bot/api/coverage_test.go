package api_test

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/viza-app/viza/bot/api"
)

// Every answer the tests get is recorded by operation and status, so that
// after a full run each status openapi.yaml documents is known to have
// been produced and validated: the document cannot promise an answer the
// code never gives, nor the tests skip one it does.
var exercised sync.Map // "GET /documents/{number} 404" → true

// operation is a path template of the document and a method.
type operation struct {
	method, path string
	re           *regexp.Regexp
	statuses     []string
}

var (
	opsOnce sync.Once
	ops     []operation
)

func documented() []operation {
	opsOnce.Do(func() {
		spec, err := api.OpenAPI()
		if err != nil {
			panic(err)
		}
		var doc struct {
			Paths map[string]map[string]yaml.Node `yaml:"paths"`
		}
		if err := yaml.Unmarshal(spec, &doc); err != nil {
			panic(err)
		}
		param := regexp.MustCompile(`\{[^}]+\}`)
		for path, methods := range doc.Paths {
			var pattern strings.Builder
			last := 0
			for _, loc := range param.FindAllStringIndex(path, -1) {
				pattern.WriteString(regexp.QuoteMeta(path[last:loc[0]]) + `[^/]+`)
				last = loc[1]
			}
			pattern.WriteString(regexp.QuoteMeta(path[last:]))
			re := regexp.MustCompile("^" + regexp.QuoteMeta(api.Prefix) + pattern.String() + "$")
			for method, node := range methods {
				if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
					continue // "parameters", not an operation
				}
				var op struct {
					Responses map[string]any `yaml:"responses"`
				}
				if err := node.Decode(&op); err != nil {
					panic(err)
				}
				o := operation{method: strings.ToUpper(method), path: path, re: re}
				for status := range op.Responses {
					o.statuses = append(o.statuses, status)
				}
				slices.Sort(o.statuses)
				ops = append(ops, o)
			}
		}
	})
	return ops
}

// record notes an answer against the operation it belongs to.
func record(method, urlPath string, status int) {
	for _, o := range documented() {
		if o.method == method && o.re.MatchString(urlPath) {
			exercised.Store(fmt.Sprintf("%s %s %d", method, o.path, status), true)
			return
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	// Only a full run of the package has seen everything.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		var missing []string
		for _, o := range documented() {
			for _, status := range o.statuses {
				key := fmt.Sprintf("%s %s %s", o.method, o.path, status)
				if _, ok := exercised.Load(key); ok {
					continue
				}
				if status == "429" {
					// The rate limit is one middleware before every
					// operation; TestRateLimit sees it on one.
					continue
				}
				missing = append(missing, key)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			fmt.Fprintf(os.Stderr, "openapi.yaml documents answers no test produced (and so validated):\n  %s\n",
				strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}
