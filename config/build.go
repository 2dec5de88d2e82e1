package config

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/viza-app/viza/calendar"
	"github.com/viza-app/viza/flows"
)

// Directory builds the core's view of people and document types. Call it
// on a config that Parse accepted.
func (c *Config) Directory() (*flows.Directory, error) {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", c.Timezone, err)
	}
	var people []*flows.Person
	for _, p := range c.People {
		fp := &flows.Person{ID: flows.PersonID(p.ID), Name: p.Name, Title: p.Title, Manager: flows.PersonID(p.Manager),
			Deputy: flows.PersonID(p.Deputy), Roles: p.Roles, Language: p.Language, Email: strings.TrimSpace(p.Email), Notify: p.Notify,
			Identities: map[string]string{}}
		if p.Timezone != "" {
			if fp.Location, err = time.LoadLocation(p.Timezone); err != nil {
				return nil, fmt.Errorf("time zone %q of %s: %w", p.Timezone, p.ID, err)
			}
		}
		if p.Phone != "" {
			if fp.Phone, err = c.NormalizePhone(p.Phone); err != nil {
				return nil, err
			}
		}
		for ch, id := range map[string]string{"telegram": p.Telegram, "slack": p.Slack, "bitrix24": p.Bitrix24} {
			if id != "" {
				fp.Identities[ch] = id
			}
		}
		for _, a := range p.Away {
			from, _ := time.ParseInLocation(time.DateOnly, a.From, loc)
			to, _ := time.ParseInLocation(time.DateOnly, a.To, loc)
			dep := a.Deputy
			if dep == "" {
				dep = p.Deputy
			}
			// "to" is the last day away, inclusive.
			fp.Away = append(fp.Away, flows.Absence{Person: fp.ID, Deputy: flows.PersonID(dep), From: from, To: to.AddDate(0, 0, 1)})
		}
		people = append(people, fp)
	}
	var types []*flows.DocType
	for _, t := range c.DocumentTypes {
		ft := &flows.DocType{ID: t.ID, Name: t.Name, NumberPattern: t.Number, Rework: t.Rework, AdHoc: t.Route.AdHoc,
			NoBulk: t.Bulk != nil && !*t.Bulk, BulkMaxMinor: int64(math.Round(t.BulkMaxAmount * 100))}
		steps := t.Reminders
		if steps == nil {
			steps = c.Reminders
		}
		if ft.Reminders, err = ladder(steps); err != nil {
			return nil, err
		}
		for _, s := range t.Route.Stages {
			mode, err := flows.ParseMode(s.Mode)
			if err != nil {
				return nil, err
			}
			dl, err := flows.ParseWorkDuration(s.Deadline)
			if err != nil {
				return nil, err
			}
			st := flows.StageTemplate{Name: s.Stage, Approvers: s.Approvers, Mode: mode, Kind: s.Kind, Deadline: dl, WhenLabel: s.WhenLabel,
				Method: s.Method}
			if st.Kind == "" {
				st.Kind = flows.KindApprove
			}
			if st.Timeout, err = stageTimeout(t.ID, s, st.Kind); err != nil {
				return nil, err
			}
			if s.When != "" {
				if st.When, err = flows.CompileCondition(s.When); err != nil {
					return nil, err
				}
			}
			ft.Route = append(ft.Route, st)
		}
		types = append(types, ft)
	}
	return flows.NewDirectory(c.Company, c.Language, loc, c.Viewers, people, types), nil
}

// WorkCalendar builds the working-time calendar.
func (c *Config) WorkCalendar() (*calendar.Calendar, error) {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", c.Timezone, err)
	}
	cl := c.Calendar
	return calendar.New(loc, cl.Country, cl.Workdays, cl.Hours, cl.Holidays, cl.WorkdaysExtra)
}

// ladder turns reminder steps into rules; nil steps mean the default ladder.
func ladder(steps []ReminderStep) ([]flows.ReminderRule, error) {
	if steps == nil {
		return nil, nil
	}
	rules := []flows.ReminderRule{}
	for _, st := range steps {
		r := flows.ReminderRule{Send: st.Send}
		var err error
		if st.Every != "" {
			r.Every, err = flows.ParseWorkDuration(st.Every)
		} else {
			rest, _ := strings.CutPrefix(st.At, "deadline")
			r.At, err = flows.ParseWorkDuration(strings.TrimPrefix(rest, "+"))
		}
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// stageTimeout reads a stage's decision on timeout. Approval on timeout
// is for acknowledgements, and for approvals only with a cap on the
// amount; never for a signature.
func stageTimeout(typ string, s Stage, kind string) (flows.Timeout, error) {
	to := flows.Timeout{On: s.OnTimeout}
	switch s.OnTimeout {
	case "", flows.OnTimeoutEscalate:
		return flows.Timeout{}, nil
	case flows.OnTimeoutSkip:
	case flows.OnTimeoutApprove:
		if kind == flows.KindSign {
			return to, fmt.Errorf("document type %s: a signature stage cannot be approved on timeout", typ)
		}
		if kind == flows.KindApprove && s.TimeoutMaxAmount <= 0 {
			return to, fmt.Errorf("document type %s: on_timeout: approve on an approval stage needs timeout_max_amount", typ)
		}
		to.MaxMinor = int64(math.Round(s.TimeoutMaxAmount * 100))
	default:
		return to, fmt.Errorf("document type %s: on_timeout is approve, skip or escalate, not %q", typ, s.OnTimeout)
	}
	if s.Deadline == "" {
		return to, fmt.Errorf("document type %s: on_timeout needs the stage's deadline", typ)
	}
	after := s.TimeoutAfter
	if after == "" {
		after = "1d"
	}
	var err error
	if to.After, err = flows.ParseWorkDuration(after); err != nil {
		return to, fmt.Errorf("document type %s: timeout_after: %w", typ, err)
	}
	return to, nil
}
