package stats

import (
	"github.com/viza-app/viza/flows"
)

// Tally sums what the figures need of the tasks closed and the documents
// started in a span, by document type. Tallies of spans add up, which is
// how a year is read: the storage keeps one encoded tally per past day
// (Encode, AddEncoded) and tallies only the edges from the facts.
type Tally struct {
	Types map[string]*TypeTally
}

// TypeTally is a Tally of one document type.
type TypeTally struct {
	Stages    map[int]*Hist            // decided tasks by stage index
	People    map[flows.PersonID]*Hist // decided tasks by who decided
	For       map[flows.PersonID]map[flows.PersonID]bool
	RejStage  map[int]int // rejections by stage
	RejPerson map[flows.PersonID]int
	Rework    ReworkSum
	Cycle     map[string]*CycleHist // by the month documents started, "2006-01"
}

// Hist is how long some tasks or documents took: how many had each time
// (in tenths of a working hour, see TenthsOf), how many were late and how
// many reminders and escalations they needed.
type Hist struct {
	N, Late, Reminders, Escalated int
	Values                        map[int]int
}

// CycleHist is how long documents took to approval and to the end.
type CycleHist struct {
	Approved, Done Hist
}

// ClosedTask is what a tally takes of a closed task.
type ClosedTask struct {
	Type          string
	Stage         int
	Actor, Holder flows.PersonID
	State, Reason string
	Late          bool
	Minutes       int // working minutes from opening to closing
	Reminders     int // reminders sent to its holder (chat, SMS, e-mail)
	Escalations   int // times its holder's manager was told
}

// StartedDoc is what a tally takes of a document.
type StartedDoc struct {
	Type     string
	Month    string // the month it started in the company's zone, "2006-01"
	Rounds   int
	Rejected bool
	// Working minutes from the start to approval and to the end; -1 when
	// not reached.
	ApprovedMin, DoneMin int
}

// NewTally makes an empty tally.
func NewTally() *Tally { return &Tally{Types: map[string]*TypeTally{}} }

func (t *Tally) of(typ string) *TypeTally {
	tt := t.Types[typ]
	if tt == nil {
		tt = &TypeTally{Stages: map[int]*Hist{}, People: map[flows.PersonID]*Hist{}, For: map[flows.PersonID]map[flows.PersonID]bool{},
			RejStage: map[int]int{}, RejPerson: map[flows.PersonID]int{}, Cycle: map[string]*CycleHist{}}
		t.Types[typ] = tt
	}
	return tt
}

// TenthsOf is the tenths of an hour a time of m working minutes is counted
// at: exact to a tenth up to ten hours, to the hour up to a hundred, to
// ten hours beyond. Kept this coarse, a person's year is a few dozen
// values, whichever way it is read; the figures say as much (docs/stats.md).
func TenthsOf(minutes int) int {
	t := minutes / 6
	switch {
	case t < 100:
		return t
	case t < 1000:
		return t / 10 * 10
	}
	return t / 100 * 100
}

// AddTask counts a closed task: a rejection by its stage and person, and,
// when a person decided it, its time.
func (t *Tally) AddTask(c ClosedTask) {
	tt := t.of(c.Type)
	if c.State == flows.TaskRejected && c.Reason == "" {
		tt.RejStage[c.Stage]++
		tt.RejPerson[c.Actor]++
	}
	if !(TaskFact{State: c.State, Reason: c.Reason}).Decided() {
		return
	}
	v := TenthsOf(c.Minutes)
	hist(tt.Stages, c.Stage).add(v, 1, c.Late, c.Reminders, c.Escalations)
	hist(tt.People, c.Actor).add(v, 1, c.Late, c.Reminders, c.Escalations)
	if c.Holder != c.Actor && c.Holder != "" {
		addFor(tt, c.Actor, c.Holder)
	}
}

func addFor(tt *TypeTally, actor, holder flows.PersonID) {
	m := tt.For[actor]
	if m == nil {
		m = map[flows.PersonID]bool{}
		tt.For[actor] = m
	}
	m[holder] = true
}

// AddDoc counts a document started in the span.
func (t *Tally) AddDoc(d StartedDoc) {
	tt := t.of(d.Type)
	tt.Rework.Docs++
	tt.Rework.Rounds += d.Rounds
	if d.Rejected {
		tt.Rework.Rejected++
	}
	if d.ApprovedMin < 0 && d.DoneMin < 0 {
		return
	}
	c := tt.Cycle[d.Month]
	if c == nil {
		c = &CycleHist{}
		tt.Cycle[d.Month] = c
	}
	if d.ApprovedMin >= 0 {
		c.Approved.add(TenthsOf(d.ApprovedMin), 1, false, 0, 0)
	}
	if d.DoneMin >= 0 {
		c.Done.add(TenthsOf(d.DoneMin), 1, false, 0, 0)
	}
}

func hist[K comparable](m map[K]*Hist, k K) *Hist {
	h := m[k]
	if h == nil {
		h = &Hist{}
		m[k] = h
	}
	return h
}

func (h *Hist) add(tenths, n int, late bool, reminders, escalations int) {
	if h.Values == nil {
		h.Values = map[int]int{}
	}
	h.Values[tenths] += n
	h.N += n
	if late {
		h.Late += n
	}
	h.Reminders += reminders
	h.Escalated += min(escalations, 1)
}

// merge adds o to h.
func (h *Hist) merge(o *Hist) {
	if h.Values == nil {
		h.Values = make(map[int]int, len(o.Values))
	}
	for v, n := range o.Values {
		h.Values[v] += n
	}
	h.N += o.N
	h.Late += o.Late
	h.Reminders += o.Reminders
	h.Escalated += o.Escalated
}
