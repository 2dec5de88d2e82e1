// Package calendar is working time: workdays, working hours, public
// holidays of a country (github.com/rickar/cal/v2) plus the administrator's
// own holidays and transferred working days. It turns "8h" and "2d" of
// working time into due times.
package calendar

import (
	"fmt"
	"strings"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/ru"
	"github.com/viza-app/viza/flows"
)

// Calendar implements flows.Calendar.
type Calendar struct {
	loc       *time.Location
	workdays  [7]bool
	startMin  int // minutes after midnight
	endMin    int
	holidays  map[string]bool // yyyy-mm-dd, local
	extraWork map[string]bool
	country   *cal.BusinessCalendar
}

var _ flows.Calendar = (*Calendar)(nil)

// Countries whose public holidays are known. More are a line each from
// rickar/cal/v2's per-country packages.
var countries = map[string][]*cal.Holiday{
	"RU": ru.Holidays,
}

// SupportedCountry reports whether country's holidays are known ("" means
// none are wanted).
func SupportedCountry(country string) bool {
	_, ok := countries[strings.ToUpper(country)]
	return ok || country == ""
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseWeekday parses mon…sun.
func ParseWeekday(s string) (time.Weekday, error) {
	d, ok := dayNames[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("unknown weekday %q: use mon, tue, wed, thu, fri, sat, sun", s)
	}
	return d, nil
}

// ParseHours parses "09:00-18:00" into minutes after midnight.
func ParseHours(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("hours %q: want HH:MM-HH:MM", s)
	}
	ta, errA := time.Parse("15:04", strings.TrimSpace(a))
	tb, errB := time.Parse("15:04", strings.TrimSpace(b))
	if errA != nil || errB != nil {
		return 0, 0, fmt.Errorf("hours %q: want HH:MM-HH:MM", s)
	}
	start, end = ta.Hour()*60+ta.Minute(), tb.Hour()*60+tb.Minute()
	if end <= start {
		return 0, 0, fmt.Errorf("hours %q: the end must be after the start", s)
	}
	return start, end, nil
}

// New builds a calendar. Dates are yyyy-mm-dd.
func New(loc *time.Location, country string, workdays []string, hours string, holidays, extraWorkdays []string) (*Calendar, error) {
	c := &Calendar{loc: loc, holidays: map[string]bool{}, extraWork: map[string]bool{}}
	for _, w := range workdays {
		d, err := ParseWeekday(w)
		if err != nil {
			return nil, err
		}
		c.workdays[d] = true
	}
	var err error
	if c.startMin, c.endMin, err = ParseHours(hours); err != nil {
		return nil, err
	}
	for _, h := range holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return nil, fmt.Errorf("holiday %q: want yyyy-mm-dd", h)
		}
		c.holidays[h] = true
	}
	for _, h := range extraWorkdays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return nil, fmt.Errorf("working day %q: want yyyy-mm-dd", h)
		}
		c.extraWork[h] = true
	}
	if country != "" {
		hs, ok := countries[strings.ToUpper(country)]
		if !ok {
			return nil, fmt.Errorf("no public holidays known for country %q", country)
		}
		c.country = cal.NewBusinessCalendar()
		c.country.AddHoliday(hs...)
	}
	return c, nil
}

// IsWorkday reports whether the local date of t is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	t = t.In(c.loc)
	key := t.Format(time.DateOnly)
	if c.extraWork[key] {
		return true
	}
	if c.holidays[key] || !c.workdays[t.Weekday()] {
		return false
	}
	if c.country != nil {
		if actual, observed, _ := c.country.IsHoliday(t); actual || observed {
			return false
		}
	}
	return true
}

// IsWorkingTime reports whether t falls in working hours of a working day.
func (c *Calendar) IsWorkingTime(t time.Time) bool {
	t = t.In(c.loc)
	m := t.Hour()*60 + t.Minute()
	return c.IsWorkday(t) && m >= c.startMin && m < c.endMin
}

func (c *Calendar) dayStart(t time.Time) time.Time {
	y, mo, d := t.In(c.loc).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, c.loc)
}

// NextWorkingTime returns t if it is working time, else the start of the
// next working period.
func (c *Calendar) NextWorkingTime(t time.Time) time.Time {
	t = t.In(c.loc)
	for i := 0; i < 400; i++ {
		day := c.dayStart(t)
		open := day.Add(time.Duration(c.startMin) * time.Minute)
		closeAt := day.Add(time.Duration(c.endMin) * time.Minute)
		if c.IsWorkday(day) && t.Before(closeAt) {
			if t.Before(open) {
				return open
			}
			return t
		}
		t = day.AddDate(0, 0, 1)
	}
	return t // a calendar with no working day in 400 days: give up shifting
}

// AddWorking implements flows.Calendar: minutes are consumed only inside
// working hours; days move to the same time of the Nth next working day.
func (c *Calendar) AddWorking(from time.Time, d flows.WorkDuration) time.Time {
	t := c.NextWorkingTime(from)
	for n := d.Days; n > 0; {
		t = t.AddDate(0, 0, 1)
		if c.IsWorkday(t) {
			n--
		}
	}
	left := time.Duration(d.Minutes) * time.Minute
	for left > 0 {
		t = c.NextWorkingTime(t)
		closeAt := c.dayStart(t).Add(time.Duration(c.endMin) * time.Minute)
		if avail := closeAt.Sub(t); avail >= left {
			return t.Add(left)
		} else {
			left -= avail
			t = closeAt
		}
	}
	return t
}

// WorkingDaysBetween counts the working days from from's date to to's date,
// the first counted, the last not (a document started and finished on the
// same day took 0 days; over one night, 1).
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	n := 0
	day := c.dayStart(from)
	end := c.dayStart(to)
	for day.Before(end) {
		if c.IsWorkday(day) {
			n++
		}
		day = day.AddDate(0, 0, 1)
	}
	return n
}

// WorkingBetween is the working time from from to to: only the working
// hours of working days count (zero when to is not after from). Analytics
// measures time to decision with it. It walks day by day, so a task open
// for a year costs 365 steps; the per-day work is a map lookup.
func (c *Calendar) WorkingBetween(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	var total time.Duration
	for day := c.dayStart(from); day.Before(to); day = day.AddDate(0, 0, 1) {
		if !c.IsWorkday(day) {
			continue
		}
		open := day.Add(time.Duration(c.startMin) * time.Minute)
		closeAt := day.Add(time.Duration(c.endMin) * time.Minute)
		lo, hi := open, closeAt
		if from.After(lo) {
			lo = from
		}
		if to.Before(hi) {
			hi = to
		}
		if hi.After(lo) {
			total += hi.Sub(lo)
		}
	}
	return total
}
