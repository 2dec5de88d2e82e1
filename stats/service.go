package stats

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
)

// Source reads facts (the storage).
type Source interface {
	Facts(ctx context.Context, q Query) (Facts, error)
}

// Scope is whose figures a reader sees: a viewer everyone's, a manager
// their people's and their own, anyone else their own.
type Scope string

// Scopes.
const (
	ScopeAll  Scope = "all"
	ScopeTeam Scope = "team"
	ScopeOwn  Scope = "own"
)

// Service answers a person's question for figures, the one policy the
// chat, the web, the digest and the connector follow.
type Service struct {
	Source Source
	Dir    func() *flows.Directory
	// Worktime returns the measure of working time in force (the company
	// calendar, which a reload may change); nil, or a nil measure: wall time.
	Worktime func() func(from, to time.Time) time.Duration
	Clock    flows.Clock
}

// Period is a named span ending now: week, month, quarter, year.
type Period string

// Periods, shortest first.
const (
	Week    Period = "week"
	Month   Period = "month"
	Quarter Period = "quarter"
	Year    Period = "year"
)

// Periods lists them.
var Periods = []Period{Week, Month, Quarter, Year}

// ParsePeriod reads a period as typed (week, month, quarter, year, and
// their Russian words); "" is a month.
func ParsePeriod(s string) (Period, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "month", "месяц", "м":
		return Month, true
	case "week", "неделя", "н":
		return Week, true
	case "quarter", "квартал", "к":
		return Quarter, true
	case "year", "год", "г":
		return Year, true
	}
	return "", false
}

// Span is the period's [from, to) ending at now.
func (p Period) Span(now time.Time) (time.Time, time.Time) {
	to := now.Add(time.Second)
	switch p {
	case Week:
		return now.AddDate(0, 0, -7), to
	case Quarter:
		return now.AddDate(0, -3, 0), to
	case Year:
		return now.AddDate(-1, 0, 0), to
	}
	return now.AddDate(0, -1, 0), to
}

// ScopeOf is whose figures reader sees.
func ScopeOf(dir *flows.Directory, reader flows.PersonID) Scope {
	if dir.IsViewer(reader) {
		return ScopeAll
	}
	for _, p := range dir.People {
		if p.Manager == reader {
			return ScopeTeam
		}
	}
	return ScopeOwn
}

// PeopleOf is whom a scope's figures are about: nil for everyone, the
// reader and their direct reports for a manager, the reader alone.
func PeopleOf(dir *flows.Directory, reader flows.PersonID, s Scope) []flows.PersonID {
	switch s {
	case ScopeAll:
		return nil
	case ScopeTeam:
		out := []flows.PersonID{reader}
		for _, p := range dir.People {
			if p.Manager == reader {
				out = append(out, p.ID)
			}
		}
		return out
	}
	return []flows.PersonID{reader}
}

// For computes the report reader may see for q.
func (s *Service) For(ctx context.Context, reader flows.PersonID, q Query, lang string) (Report, Scope, error) {
	dir := s.Dir()
	if _, ok := dir.Person(reader); !ok {
		return Report{}, "", flows.Errorf(flows.KindForbidden, "unknown_person", "%q", reader)
	}
	scope := ScopeOf(dir, reader)
	q.People = PeopleOf(dir, reader, scope)
	r, err := s.report(ctx, dir, q, lang)
	return r, scope, err
}

// All computes the report of everyone's figures, for another system.
func (s *Service) All(ctx context.Context, q Query, lang string) (Report, error) {
	q.People = nil
	return s.report(ctx, s.Dir(), q, lang)
}

func (s *Service) report(ctx context.Context, dir *flows.Directory, q Query, lang string) (Report, error) {
	if q.Type != "" {
		if _, ok := dir.Type(q.Type); !ok {
			return Report{}, flows.Errorf(flows.KindInvalid, "unknown_type", "%q", q.Type)
		}
	}
	q.Zone = dir.Location
	f, err := s.Source.Facts(ctx, q)
	if err != nil {
		return Report{}, fmt.Errorf("read facts: %w", err)
	}
	var measure func(from, to time.Time) time.Duration
	if s.Worktime != nil {
		measure = s.Worktime()
	}
	r := Compute(f, Options{Worktime: measure, Now: s.Clock.Now(), StageName: StageNamer(dir, lang)})
	for i := range r.ByPerson {
		if p, ok := dir.Person(flows.PersonID(r.ByPerson[i].Key)); ok {
			r.ByPerson[i].Label = p.Name
		}
	}
	for i := range r.Rework.ByPerson {
		if p, ok := dir.Person(flows.PersonID(r.Rework.ByPerson[i].Key)); ok {
			r.Rework.ByPerson[i].Label = p.Name
		}
	}
	return r, nil
}

// StageNamer names a type's stage in lang: "Договор · Юристы", or the
// stage's number where the route is the initiator's choice.
func StageNamer(dir *flows.Directory, lang string) func(typ string, i int) string {
	return func(typ string, i int) string {
		dt, ok := dir.Type(typ)
		if !ok {
			return fmt.Sprintf("%s · %d", typ, i+1)
		}
		name := localized(dt.Name, lang, dt.ID)
		if i < len(dt.Route) && !dt.AdHoc {
			if s := localized(dt.Route[i].Name, lang, ""); s != "" {
				return name + " · " + s
			}
		}
		return fmt.Sprintf("%s · %d", name, i+1)
	}
}

func localized(m map[string]string, lang, fallback string) string {
	if s := m[lang]; s != "" {
		return s
	}
	for _, l := range []string{"ru", "en"} {
		if s := m[l]; s != "" {
			return s
		}
	}
	for _, s := range m {
		return s
	}
	return fallback
}
