package stats

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/viza-app/viza/flows"
)

// Options say how to measure what is still open and how to name stages.
type Options struct {
	// Worktime is the working time between two instants (the company
	// calendar), for the tasks open now; nil measures wall time. Closed
	// tasks come measured (ClosedTask.Minutes).
	Worktime func(from, to time.Time) time.Duration
	// StageName names stage i of a document type's route.
	StageName func(docType string, stage int) string
	Now       time.Time
}

// Spread is how long something took: how many, the median and the 90th
// percentile in hours, and how many were late.
type Spread struct {
	Count  int     `json:"count"`
	Median float64 `json:"median_hours"`
	P90    float64 `json:"p90_hours"`
	Late   int     `json:"late,omitempty"`
	// Reminders is how many reminders these tasks needed, Escalated how
	// many of them went up to a manager.
	Reminders int `json:"reminders,omitempty"`
	Escalated int `json:"escalated,omitempty"`
}

// LateShare is the share of them decided after their deadline.
func (s Spread) LateShare() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Late) / float64(s.Count)
}

// RemindersEach is how many reminders a task needed, on average.
func (s Spread) RemindersEach() float64 {
	if s.Count == 0 {
		return 0
	}
	return round2(float64(s.Reminders) / float64(s.Count))
}

// EscalatedShare is the share of them that went up to a manager.
func (s Spread) EscalatedShare() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Escalated) / float64(s.Count)
}

// Group is a Spread of one stage, person or type.
type Group struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Spread
	// For lists the people a deputy or a colleague decided for.
	For []flows.PersonID `json:"for,omitempty"`
}

// Count is how many of something one stage or person has.
type Count struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	N     int    `json:"n"`
}

// Rework is how often documents came back.
type Rework struct {
	Docs          int     `json:"documents"`
	Rounds        float64 `json:"rounds_per_document"`
	RejectedShare float64 `json:"rejected_share"`
	ByStage       []Count `json:"rejections_by_stage"`
	ByPerson      []Count `json:"rejections_by_person"`
}

// Cycle is the time from start to approval and to the end, by type and
// month (the month the document started).
type Cycle struct {
	Type     string `json:"type"`
	Month    string `json:"month"` // 2026-11
	Approved Spread `json:"approved"`
	Done     Spread `json:"done"`
}

// Bucket is how many open tasks have waited this long.
type Bucket struct {
	Key string `json:"key"` // "0-8h", "8-24h", "24-40h", "40h+" of working time
	N   int    `json:"n"`
}

// Waiting is a task open now, with its working hours of waiting.
type Waiting struct {
	TaskFact
	Hours float64 `json:"hours"`
}

// Report is the figures of one period.
type Report struct {
	Decision Spread    `json:"decision"`
	ByStage  []Group   `json:"by_stage"`
	ByPerson []Group   `json:"by_person"`
	Rework   Rework    `json:"rework"`
	Cycle    []Cycle   `json:"cycle"`
	Stuck    []Bucket  `json:"stuck"`
	Oldest   []Waiting `json:"oldest"`
	// Waiting counts the tasks open now by stage, most first.
	Waiting []Count `json:"waiting"`
}

// stuckBuckets bound the open tasks' ages in working hours: a working
// day, three, five, more.
var stuckBuckets = []struct {
	key  string
	upTo float64
}{{"0-8h", 8}, {"8-24h", 24}, {"24-40h", 40}, {"40h+", math.Inf(1)}}

// Compute makes the report of facts.
func Compute(f Facts, o Options) Report {
	hours := func(from, to time.Time) float64 {
		if o.Worktime != nil {
			return o.Worktime(from, to).Hours()
		}
		return to.Sub(from).Hours()
	}
	stageLabel := func(typ string, i int) string {
		if o.StageName != nil {
			return o.StageName(typ, i)
		}
		return typ + " " + itoa(i+1)
	}
	r := Report{Cycle: []Cycle{}, Oldest: []Waiting{}}
	t := f.Tally
	if t == nil {
		t = NewTally()
	}
	all := &acc{}
	stages, people := map[string]*acc{}, map[string]*acc{}
	rejStage, rejPerson := map[string]*Count{}, map[string]*Count{}
	type cycleKey struct{ typ, month string }
	cycles := map[cycleKey]*CycleHist{}
	var rework ReworkSum
	for typ, tt := range t.Types {
		for s, h := range tt.Stages {
			all.merge(h, nil)
			get(stages, typ+"/"+itoa(s), stageLabel(typ, s)).merge(h, nil)
		}
		for p, h := range tt.People {
			get(people, string(p), string(p)).merge(h, tt.For[p])
		}
		for s, n := range tt.RejStage {
			bumpN(rejStage, typ+"/"+itoa(s), stageLabel(typ, s), n)
		}
		for p, n := range tt.RejPerson {
			bumpN(rejPerson, string(p), string(p), n)
		}
		rework.Docs += tt.Rework.Docs
		rework.Rounds += tt.Rework.Rounds
		rework.Rejected += tt.Rework.Rejected
		for m, c := range tt.Cycle {
			cycles[cycleKey{typ, m}] = c
		}
	}
	r.Decision = all.spread()
	r.ByStage, r.ByPerson = groups(stages), groups(people)

	r.Rework.Docs = rework.Docs
	if rework.Docs > 0 {
		r.Rework.Rounds = round2(float64(rework.Rounds) / float64(rework.Docs))
		r.Rework.RejectedShare = round2(float64(rework.Rejected) / float64(rework.Docs))
	}
	r.Rework.ByStage, r.Rework.ByPerson = counts(rejStage), counts(rejPerson)

	for k, c := range cycles {
		r.Cycle = append(r.Cycle, Cycle{Type: k.typ, Month: k.month, Approved: (&acc{Hist: c.Approved}).spread(),
			Done: (&acc{Hist: c.Done}).spread()})
	}
	slices.SortFunc(r.Cycle, func(a, b Cycle) int { return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Month, b.Month)) })

	r.Stuck = make([]Bucket, len(stuckBuckets))
	for i, b := range stuckBuckets {
		r.Stuck[i].Key = b.key
	}
	waiting := map[string]*Count{}
	waited := waitedHours(f.Open, o.Now, hours)
	for i, t := range f.Open {
		bumpN(waiting, t.Type+"/"+itoa(t.Stage), stageLabel(t.Type, t.Stage), 1)
		h := waited[i]
		for i, b := range stuckBuckets {
			if h < b.upTo {
				r.Stuck[i].N++
				break
			}
		}
		r.Oldest = append(r.Oldest, Waiting{TaskFact: t, Hours: round2(h)})
	}
	r.Waiting = counts(waiting)
	slices.SortStableFunc(r.Oldest, func(a, b Waiting) int { return cmp.Compare(b.Hours, a.Hours) })
	if len(r.Oldest) > 10 {
		r.Oldest = r.Oldest[:10]
	}
	return r
}

// waitedHours is how long each open task has waited until now. Working
// time adds up over adjacent spans, so it is measured once along the
// tasks in order of opening, newest first, not from each to now: a year of
// open tasks would otherwise walk the calendar's year once per task.
func waitedHours(open []TaskFact, now time.Time, hours func(from, to time.Time) float64) []float64 {
	order := make([]int, len(open))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return open[b].Opened.Compare(open[a].Opened) })
	out := make([]float64, len(open))
	acc, at := 0.0, now
	for _, i := range order {
		if o := open[i].Opened; o.Before(at) {
			acc += hours(o, at)
			at = o
		}
		out[i] = acc
	}
	return out
}

// acc gathers a group's times, and whom its person decided for.
type acc struct {
	Hist
	label string
	for_  []flows.PersonID
}

func (a *acc) merge(h *Hist, forWhom map[flows.PersonID]bool) {
	a.Hist.merge(h)
	for p := range forWhom {
		if !slices.Contains(a.for_, p) {
			a.for_ = append(a.for_, p)
		}
	}
}

// spread is the count, the median (the middle value, or the mean of the
// two middle ones) and the 90th percentile (nearest rank: the smallest
// value with at least 90% of them at or below it), in hours.
func (a *acc) spread() Spread {
	s := Spread{Count: a.N, Late: a.Late, Reminders: a.Reminders, Escalated: a.Escalated}
	if a.N == 0 {
		return s
	}
	keys := make([]int, 0, len(a.Values))
	for k := range a.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// at is the value at 0-based rank i.
	at := func(i int) float64 {
		seen := 0
		for _, k := range keys {
			seen += a.Values[k]
			if i < seen {
				return float64(k) / 10
			}
		}
		return float64(keys[len(keys)-1]) / 10
	}
	if a.N%2 == 1 {
		s.Median = at(a.N / 2)
	} else {
		s.Median = (at(a.N/2-1) + at(a.N/2)) / 2
	}
	s.P90 = at(int(math.Ceil(0.9*float64(a.N))) - 1)
	s.Median, s.P90 = round2(s.Median), round2(s.P90)
	return s
}

func get(m map[string]*acc, key, label string) *acc {
	a := m[key]
	if a == nil {
		a = &acc{label: label}
		m[key] = a
	}
	return a
}

// groups lists the groups slowest first by median, then by key.
func groups(m map[string]*acc) []Group {
	out := make([]Group, 0, len(m))
	for k, a := range m {
		slices.Sort(a.for_)
		out = append(out, Group{Key: k, Label: a.label, Spread: a.spread(), For: a.for_})
	}
	slices.SortFunc(out, func(a, b Group) int { return cmp.Or(cmp.Compare(b.Median, a.Median), cmp.Compare(a.Key, b.Key)) })
	return out
}

func bumpN(m map[string]*Count, key, label string, n int) {
	c := m[key]
	if c == nil {
		c = &Count{Key: key, Label: label}
		m[key] = c
	}
	c.N += n
}

func counts(m map[string]*Count) []Count {
	out := make([]Count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Key, b.Key)) })
	return out
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func itoa(i int) string { return strconv.Itoa(i) }
