package stats

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/viza-app/viza/flows"
)

// Options say how to measure and whom a reader may see.
type Options struct {
	// Worktime is the working time between two instants (the company
	// calendar); nil measures wall time.
	Worktime func(from, to time.Time) time.Duration
	// Visible reports whether the reader may see a person's figures; nil
	// lets them see everyone's. A task counts when its holder or the one
	// who held it is visible; a document when its initiator is.
	Visible func(flows.PersonID) bool
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
}

// LateShare is the share of them decided after their deadline.
func (s Spread) LateShare() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Late) / float64(s.Count)
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
	visible := func(ps ...flows.PersonID) bool {
		if o.Visible == nil {
			return true
		}
		return slices.ContainsFunc(ps, o.Visible)
	}
	stageLabel := func(typ string, i int) string {
		if o.StageName != nil {
			return o.StageName(typ, i)
		}
		return typ + " " + itoa(i+1)
	}
	r := Report{Cycle: []Cycle{}, Oldest: []Waiting{}}
	var all []float64
	allLate := 0
	stages, people := map[string]*acc{}, map[string]*acc{}
	rejStage, rejPerson := map[string]*Count{}, map[string]*Count{}
	for _, t := range f.Tasks {
		if !visible(t.Holder, t.Actor) {
			continue
		}
		if t.State == flows.TaskRejected && t.Reason == "" {
			k := t.Type + "/" + itoa(t.Stage)
			bump(rejStage, k, stageLabel(t.Type, t.Stage))
			bump(rejPerson, string(t.Actor), string(t.Actor))
		}
		if !t.Decided() {
			continue
		}
		h := hours(t.Opened, t.Closed)
		late := !t.Due.IsZero() && t.Closed.After(t.Due)
		all = append(all, h)
		if late {
			allLate++
		}
		get(stages, t.Type+"/"+itoa(t.Stage), stageLabel(t.Type, t.Stage)).add(h, late, "")
		get(people, string(t.Actor), string(t.Actor)).add(h, late, onBehalf(t))
	}
	r.Decision = spread(all, allLate)
	r.ByStage, r.ByPerson = groups(stages), groups(people)

	cycles := map[string]*cycleAcc{}
	rounds, rejected := 0, 0
	for _, d := range f.Docs {
		if !visible(d.Initiator) {
			continue
		}
		r.Rework.Docs++
		rounds += d.Rounds
		if d.Rejected {
			rejected++
		}
		k := d.Type + " " + d.Started.Format("2006-01")
		c := cycles[k]
		if c == nil {
			c = &cycleAcc{typ: d.Type, month: d.Started.Format("2006-01")}
			cycles[k] = c
		}
		if !d.Approved.IsZero() {
			c.approved = append(c.approved, hours(d.Started, d.Approved))
		}
		if !d.Done.IsZero() {
			c.done = append(c.done, hours(d.Started, d.Done))
		}
	}
	if r.Rework.Docs > 0 {
		r.Rework.Rounds = round2(float64(rounds) / float64(r.Rework.Docs))
		r.Rework.RejectedShare = round2(float64(rejected) / float64(r.Rework.Docs))
	}
	r.Rework.ByStage, r.Rework.ByPerson = counts(rejStage), counts(rejPerson)
	for _, c := range cycles {
		r.Cycle = append(r.Cycle, Cycle{Type: c.typ, Month: c.month, Approved: spread(c.approved, 0), Done: spread(c.done, 0)})
	}
	slices.SortFunc(r.Cycle, func(a, b Cycle) int { return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Month, b.Month)) })

	r.Stuck = make([]Bucket, len(stuckBuckets))
	for i, b := range stuckBuckets {
		r.Stuck[i].Key = b.key
	}
	waiting := map[string]*Count{}
	for _, t := range f.Open {
		if !visible(t.Holder, t.Actor) {
			continue
		}
		bump(waiting, t.Type+"/"+itoa(t.Stage), stageLabel(t.Type, t.Stage))
		h := hours(t.Opened, o.Now)
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

func onBehalf(t TaskFact) flows.PersonID {
	if t.Holder != t.Actor {
		return t.Holder
	}
	return ""
}

type acc struct {
	label string
	hours []float64
	late  int
	for_  []flows.PersonID
}

func (a *acc) add(h float64, late bool, forWhom flows.PersonID) {
	a.hours = append(a.hours, h)
	if late {
		a.late++
	}
	if forWhom != "" && !slices.Contains(a.for_, forWhom) {
		a.for_ = append(a.for_, forWhom)
	}
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
		out = append(out, Group{Key: k, Label: a.label, Spread: spread(a.hours, a.late), For: a.for_})
	}
	slices.SortFunc(out, func(a, b Group) int { return cmp.Or(cmp.Compare(b.Median, a.Median), cmp.Compare(a.Key, b.Key)) })
	return out
}

func bump(m map[string]*Count, key, label string) {
	c := m[key]
	if c == nil {
		c = &Count{Key: key, Label: label}
		m[key] = c
	}
	c.N++
}

func counts(m map[string]*Count) []Count {
	out := make([]Count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Key, b.Key)) })
	return out
}

type cycleAcc struct {
	typ, month     string
	approved, done []float64
}

// spread is the count, the median (the middle value, or the mean of the
// two middle ones) and the 90th percentile (nearest rank: the smallest
// value with at least 90% of them at or below it), in hours to two places.
func spread(hours []float64, late int) Spread {
	s := Spread{Count: len(hours), Late: late}
	if len(hours) == 0 {
		return s
	}
	v := slices.Clone(hours)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		s.Median = v[n/2]
	} else {
		s.Median = (v[n/2-1] + v[n/2]) / 2
	}
	s.P90 = v[int(math.Ceil(0.9*float64(n)))-1]
	s.Median, s.P90 = round2(s.Median), round2(s.P90)
	return s
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func itoa(i int) string { return strconv.Itoa(i) }
