package flows

import (
	"slices"
	"strings"
	"time"
)

// PersonID is the administrator's id of a person in viza.yaml.
type PersonID string

// Person is one entry of the company directory.
type Person struct {
	ID       PersonID
	Name     string
	Title    string
	Phone    string // E.164 after normalisation; empty when none
	Manager  PersonID
	Deputy   PersonID
	Roles    []string
	Language string // empty: the company default
	Email    string
	Location *time.Location // nil: the company's time zone
	// Identities maps a channel name ("telegram", "slack", "bitrix24") to
	// the person's id on that platform.
	Identities map[string]string
	Away       []Absence
	// Notify names the channels that push notifications to the person
	// ("telegram", "email", …); empty, every channel that reaches them.
	Notify []string
}

// HasRole reports whether the person holds role.
func (p *Person) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// Absence is a period during which Deputy acts for Person.
type Absence struct {
	Person PersonID
	Deputy PersonID
	From   time.Time
	To     time.Time // exclusive
}

// Covers reports whether the absence is in force at t.
func (a Absence) Covers(t time.Time) bool { return !t.Before(a.From) && t.Before(a.To) }

// Directory is the administrator's description of the company: people and
// document types. It is immutable once built; a reload swaps a whole new one.
type Directory struct {
	Company  string
	Language string
	Location *time.Location
	Viewers  []string // selectors: role:x or person:x
	People   []*Person
	Types    []*DocType

	byID   map[PersonID]*Person
	byType map[string]*DocType
}

// NewDirectory indexes people and types. Validation is the config loader's
// job; the core only relies on ids being unique.
func NewDirectory(company, language string, loc *time.Location, viewers []string, people []*Person, types []*DocType) *Directory {
	if loc == nil {
		loc = time.UTC
	}
	d := &Directory{Company: company, Language: language, Location: loc, Viewers: viewers, People: people, Types: types,
		byID: make(map[PersonID]*Person, len(people)), byType: make(map[string]*DocType, len(types))}
	for _, p := range people {
		d.byID[p.ID] = p
	}
	for _, t := range types {
		d.byType[t.ID] = t
	}
	return d
}

// Person looks a person up by id.
func (d *Directory) Person(id PersonID) (*Person, bool) {
	p, ok := d.byID[id]
	return p, ok
}

// Type looks a document type up by id.
func (d *Directory) Type(id string) (*DocType, bool) {
	t, ok := d.byType[id]
	return t, ok
}

// ByIdentity finds the person linked to a platform id on a channel.
func (d *Directory) ByIdentity(channel, platformID string) (*Person, bool) {
	for _, p := range d.People {
		if p.Identities[channel] == platformID && platformID != "" {
			return p, true
		}
	}
	return nil, false
}

// LanguageOf returns the person's language or the company default.
func (d *Directory) LanguageOf(id PersonID) string {
	if p, ok := d.byID[id]; ok && p.Language != "" {
		return p.Language
	}
	return d.Language
}

// LocationOf returns the time zone a person reads times in.
func (d *Directory) LocationOf(id PersonID) *time.Location {
	if p, ok := d.byID[id]; ok && p.Location != nil {
		return p.Location
	}
	return d.Location
}

// ByEmail finds a person by e-mail address, in any letter case.
func (d *Directory) ByEmail(email string) (*Person, bool) {
	for _, p := range d.People {
		if p.Email != "" && strings.EqualFold(p.Email, strings.TrimSpace(email)) {
			return p, true
		}
	}
	return nil, false
}

// IsViewer reports whether the person may see every document.
func (d *Directory) IsViewer(id PersonID) bool {
	p, ok := d.byID[id]
	if !ok {
		return false
	}
	for _, sel := range d.Viewers {
		kind, val, _ := strings.Cut(sel, ":")
		switch kind {
		case "role":
			if p.HasRole(val) {
				return true
			}
		case "person":
			if PersonID(val) == id {
				return true
			}
		}
	}
	return false
}

// Resolve expands approver selectors (person:x, role:x, manager:initiator)
// into people, in directory order for roles, without duplicates.
func (d *Directory) Resolve(selectors []string, initiator PersonID) []PersonID {
	var out []PersonID
	add := func(id PersonID) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, sel := range selectors {
		kind, val, _ := strings.Cut(sel, ":")
		switch kind {
		case "person":
			if _, ok := d.byID[PersonID(val)]; ok {
				add(PersonID(val))
			}
		case "role":
			for _, p := range d.People {
				if p.HasRole(val) {
					add(p.ID)
				}
			}
		case "manager":
			if val == "initiator" {
				if p, ok := d.byID[initiator]; ok {
					add(p.Manager)
				}
			}
		}
	}
	return out
}
