package messages

import (
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
)

// StageCondition says in words when a stage applies: the stage's
// when_label in lang if the configuration gives one, else its `when`
// expression read out ("сумма ≥ 1 000 000"), else the expression as
// written when it uses something this reading does not know.
func StageCondition(s flows.Stage, lang string) string {
	if label := Localized(s.WhenLabel, lang); label != "" {
		return label
	}
	return Condition(s.When, lang)
}

// Condition reads a `when` expression out in lang.
func Condition(src, lang string) string {
	tree, err := parser.Parse(src)
	if err != nil {
		return src
	}
	l := mustLocalizer(lang)
	if out, ok := (conditionReader{l: l, lang: lang}).read(tree.Node); ok {
		return out
	}
	return src
}

type conditionReader struct {
	l    *locales.Localizer
	lang string
}

var conditionOps = map[string]string{
	">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠",
}

func (c conditionReader) read(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.BinaryNode:
		left, ok := c.read(n.Left)
		if !ok {
			return "", false
		}
		right, ok := c.read(n.Right)
		if !ok {
			return "", false
		}
		switch n.Operator {
		case "and", "&&":
			return c.l.T("cond.and", map[string]any{"A": left, "B": right}), true
		case "or", "||":
			return c.l.T("cond.or", map[string]any{"A": left, "B": right}), true
		case "in":
			return c.l.T("cond.in", map[string]any{"A": left, "B": right}), true
		}
		op, ok := conditionOps[n.Operator]
		if !ok {
			return "", false
		}
		return left + " " + op + " " + right, true
	case *ast.UnaryNode:
		inner, ok := c.read(n.Node)
		if !ok || (n.Operator != "not" && n.Operator != "!") {
			return "", false
		}
		return c.l.T("cond.not", map[string]any{"A": inner}), true
	case *ast.IdentifierNode:
		word := c.l.T("cond.var."+n.Value, nil)
		return word, word != "cond.var."+n.Value
	case *ast.IntegerNode:
		return c.number(float64(n.Value)), true
	case *ast.FloatNode:
		return c.number(n.Value), true
	case *ast.StringNode:
		return "«" + n.Value + "»", true
	case *ast.BoolNode:
		return strconv.FormatBool(n.Value), true
	case *ast.ArrayNode:
		var items []string
		for _, e := range n.Nodes {
			s, ok := c.read(e)
			if !ok {
				return "", false
			}
			items = append(items, s)
		}
		return strings.Join(items, ", "), true
	}
	return "", false
}

// number groups digits as the language does (1 000 000 in Russian).
func (c conditionReader) number(v float64) string {
	tag := language.English
	if c.lang == "ru" {
		tag = language.Russian
	}
	if v == float64(int64(v)) {
		return message.NewPrinter(tag).Sprintf("%.0f", v)
	}
	return message.NewPrinter(tag).Sprintf("%.2f", v)
}
