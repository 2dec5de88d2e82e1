package flows

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Rework policies: who approves again after a change.
const (
	ReworkEveryone       = "everyone"
	ReworkNotYetApproved = "not_yet_approved"
	ReworkAsk            = "ask"
)

// Stage kinds.
const (
	KindApprove     = "approve"
	KindAcknowledge = "acknowledge"
	KindSign        = "sign"
)

// DocType is an administrator-defined kind of document with its route.
type DocType struct {
	ID            string
	Name          map[string]string // language → name
	NumberPattern string            // e.g. "Д-{yyyy}-{seq:4}"
	Rework        string
	AdHoc         bool // route: initiator_choice
	Route         []StageTemplate
	Reminders     []ReminderRule // nil: DefaultLadder
	// NoBulk keeps the type's tasks out of approval in bulk; BulkMaxMinor
	// (hundredths, 0: no cap) lets in only documents up to that amount.
	NoBulk       bool
	BulkMaxMinor int64
}

// StageTemplate is one stage of a type's route before it is resolved for a
// concrete document.
type StageTemplate struct {
	Name      map[string]string
	Approvers []string // selectors
	Mode      Mode
	Kind      string
	When      *Condition
	// WhenLabel says in words, per language, when the stage applies; shown
	// when it is skipped instead of the expression.
	WhenLabel map[string]string
	Deadline  WorkDuration
	Timeout   Timeout
	// Method is how a sign stage is signed: SignScan (the default) or
	// SignUpload.
	Method string
}

// What a stage does when a task's deadline has passed and its reminders
// have run (Timeout.After past the deadline).
const (
	OnTimeoutEscalate = "escalate" // nothing more than the reminders' escalation: the default
	OnTimeoutApprove  = "approve"  // the task is approved (acknowledged) on timeout
	OnTimeoutSkip     = "skip"     // the task is dropped; the stage needs one approver fewer
)

// Timeout is a stage's decision on timeout. Approval on timeout is for
// acknowledgements, and for approvals only up to MaxMinor (hundredths; a
// document without an amount is not approved on timeout).
type Timeout struct {
	On       string       `json:"on,omitzero"`
	After    WorkDuration `json:"after,omitzero"`
	MaxMinor int64        `json:"max_minor,omitzero"`
}

// Mode says how many approvals complete a stage.
type Mode struct {
	Kind   string // all | any | quorum
	Quorum int
}

func (m Mode) String() string {
	if m.Kind == "quorum" {
		return "quorum:" + strconv.Itoa(m.Quorum)
	}
	return m.Kind
}

// ParseMode parses "all", "any" or "quorum:N".
func ParseMode(s string) (Mode, error) {
	switch {
	case s == "" || s == "all":
		return Mode{Kind: "all"}, nil
	case s == "any":
		return Mode{Kind: "any"}, nil
	case strings.HasPrefix(s, "quorum:"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "quorum:"))
		if err != nil || n < 1 {
			return Mode{}, fmt.Errorf("quorum needs a positive number, got %q", s)
		}
		return Mode{Kind: "quorum", Quorum: n}, nil
	}
	return Mode{}, fmt.Errorf("mode must be all, any or quorum:N, got %q", s)
}

// Needed returns how many positive decisions complete a stage of n approvers.
func (m Mode) Needed(n int) int {
	switch m.Kind {
	case "any":
		return min(1, n)
	case "quorum":
		return min(m.Quorum, n)
	}
	return n
}

// WorkDuration is an amount of working time: minutes, working hours or
// working days. It is kept symbolic because "2d" is not 48 hours.
type WorkDuration struct {
	Minutes int // working minutes (from "30m" or "8h")
	Days    int // working days (from "2d")
}

// IsZero reports whether no duration was set.
func (w WorkDuration) IsZero() bool { return w.Minutes == 0 && w.Days == 0 }

func (w WorkDuration) String() string {
	switch {
	case w.Days > 0:
		return strconv.Itoa(w.Days) + "d"
	case w.Minutes%60 == 0 && w.Minutes > 0:
		return strconv.Itoa(w.Minutes/60) + "h"
	case w.Minutes > 0:
		return strconv.Itoa(w.Minutes) + "m"
	}
	return ""
}

// ParseWorkDuration parses "30m", "8h", "1h30m" or "2d".
func ParseWorkDuration(s string) (WorkDuration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return WorkDuration{}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return WorkDuration{}, fmt.Errorf("bad duration %q: want e.g. 8h, 30m or 2d", s)
		}
		return WorkDuration{Days: n}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d%time.Minute != 0 {
		return WorkDuration{}, fmt.Errorf("bad duration %q: want e.g. 8h, 30m or 2d", s)
	}
	return WorkDuration{Minutes: int(d / time.Minute)}, nil
}

// Calendar turns working durations into due times.
type Calendar interface {
	AddWorking(from time.Time, d WorkDuration) time.Time
}

// AlwaysWorking is a calendar without nights or holidays, for tests and for
// installations that configure none.
type AlwaysWorking struct{}

// AddWorking implements Calendar.
func (AlwaysWorking) AddWorking(from time.Time, d WorkDuration) time.Time {
	return from.Add(time.Duration(d.Minutes)*time.Minute).AddDate(0, 0, d.Days)
}

// WhenEnv is what a stage's `when` expression sees.
type WhenEnv struct {
	Amount       float64 `expr:"amount"`
	Currency     string  `expr:"currency"`
	Type         string  `expr:"type"`
	Counterparty string  `expr:"counterparty"`
	Title        string  `expr:"title"`
	Initiator    string  `expr:"initiator"`
}

// Condition is a compiled `when` expression.
type Condition struct {
	Source     string
	program    *vm.Program
	usesAmount bool
}

// CompileCondition compiles a `when` expression against WhenEnv.
func CompileCondition(src string) (*Condition, error) {
	tree, err := expr.Compile(src, expr.Env(WhenEnv{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("compile when %q: %w", src, err)
	}
	c := &Condition{Source: src, program: tree}
	v := &identVisitor{}
	node := tree.Node()
	ast.Walk(&node, v)
	c.usesAmount = v.seen["amount"]
	return c, nil
}

type identVisitor struct{ seen map[string]bool }

func (v *identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		if v.seen == nil {
			v.seen = map[string]bool{}
		}
		v.seen[id.Value] = true
	}
}

// Eval evaluates the condition. When the expression depends on an amount the
// initiator did not give, the stage applies: skipping a finance check
// because a field was left blank would be the worse mistake.
func (c *Condition) Eval(env WhenEnv, hasAmount bool) (bool, error) {
	if c.usesAmount && !hasAmount {
		return true, nil
	}
	out, err := expr.Run(c.program, env)
	if err != nil {
		return false, fmt.Errorf("evaluate when %q: %w", c.Source, err)
	}
	b, _ := out.(bool)
	return b, nil
}
