package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/viza-app/viza/locales"
)

// Problem is one thing wrong with the configuration, at a line.
type Problem struct {
	Line int
	Path string
	Msg  string // in English
	// Format and Args made Msg; In says it in another language.
	Format string
	Args   []any
}

// In is the problem's text in lang (see locales.ConfigFormat).
func (p Problem) In(lang string) string {
	if p.Format == "" {
		return p.Msg
	}
	return fmt.Sprintf(locales.ConfigFormat(lang, p.Format), p.Args...)
}

func (p Problem) String() string {
	if p.Path == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Msg)
}

// Problems is every problem found, so an administrator fixes them all at
// once instead of one per restart.
type Problems struct {
	File string
	List []Problem
}

func (ps *Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s):", ps.File, len(ps.List))
	for _, line := range ps.Lines("en") {
		b.WriteString("\n  " + line)
	}
	return b.String()
}

// Lines are the problems in the file's order, each as FILE:LINE: path:
// what, in lang.
func (ps *Problems) Lines(lang string) []string {
	list := slices.Clone(ps.List)
	slices.SortStableFunc(list, func(a, b Problem) int { return a.Line - b.Line })
	out := make([]string, 0, len(list))
	for _, p := range list {
		line := fmt.Sprintf("%s:%d: ", ps.File, p.Line)
		if p.Path != "" {
			line += p.Path + ": "
		}
		out = append(out, line+p.In(lang))
	}
	return out
}

func (ps *Problems) add(line int, path, format string, args ...any) {
	ps.List = append(ps.List, Problem{Line: line, Path: path, Msg: fmt.Sprintf(format, args...), Format: format, Args: args})
}

// nodeDecoder is implemented by fields with more than one YAML shape.
type nodeDecoder interface {
	decodeNode(n *yaml.Node, path string, ps *Problems)
}

// decodeStrict decodes n into v (a pointer) and, unlike yaml.v3's
// KnownFields which stops at the first unknown key, records every unknown
// key and every type error with its line and goes on. Structs may have a
// `Line int` field (tag "-") for their own line and a `Lines map[string]int`
// for the lines of their keys.
//
// Written by hand because no YAML library for Go reports all unknown keys
// with lines in one pass.
func decodeStrict(n *yaml.Node, v reflect.Value, path string, ps *Problems) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if v.Kind() == reflect.Pointer {
		if n.Tag == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.CanAddr() {
		if d, ok := v.Addr().Interface().(nodeDecoder); ok {
			d.decodeNode(n, path, ps)
			return
		}
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			ps.add(n.Line, path, "expected a mapping")
			return
		}
		decodeStruct(n, v, path, ps)
	case reflect.Slice:
		if n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.SequenceNode {
			ps.add(n.Line, path, "expected a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			decodeStrict(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), ps)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			ps.add(n.Line, path, "expected a mapping")
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := reflect.New(v.Type().Key()).Elem()
			decodeStrict(n.Content[i], k, path, ps)
			val := reflect.New(v.Type().Elem()).Elem()
			decodeStrict(n.Content[i+1], val, path+"."+n.Content[i].Value, ps)
			m.SetMapIndex(k, val)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode {
			ps.add(n.Line, path, "expected a single value")
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			ps.add(n.Line, path, "%s", cleanYAMLError(err))
		}
	}
}

func decodeStruct(n *yaml.Node, v reflect.Value, path string, ps *Problems) {
	t := v.Type()
	fields := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(n.Line))
	}
	var lines reflect.Value
	if f := v.FieldByName("Lines"); f.IsValid() && f.Type() == reflect.TypeOf(map[string]int{}) {
		f.Set(reflect.ValueOf(map[string]int{}))
		lines = f
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		sub := key.Value
		if path != "" {
			sub = path + "." + key.Value
		}
		if seen[key.Value] {
			ps.add(key.Line, sub, "key given twice")
			continue
		}
		seen[key.Value] = true
		idx, ok := fields[key.Value]
		if !ok {
			ps.add(key.Line, sub, "unknown key %q", key.Value)
			continue
		}
		if lines.IsValid() {
			lines.SetMapIndex(reflect.ValueOf(key.Value), reflect.ValueOf(key.Line))
		}
		decodeStrict(val, v.Field(idx), sub, ps)
	}
}

func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = strings.TrimSpace(strings.TrimPrefix(s, "yaml: "))
	if i := strings.Index(s, ": "); strings.HasPrefix(s, "line ") && i > 0 {
		s = s[i+2:]
	}
	return s
}
