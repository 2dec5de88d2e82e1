package calendar

import (
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

func TestAddWorking(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	c, err := New(msk, "RU", []string{"mon", "tue", "wed", "thu", "fri"}, "09:00-18:00", []string{"2026-12-31"}, []string{"2026-12-26"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, msk)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	h := func(n int) flows.WorkDuration { return flows.WorkDuration{Minutes: n * 60} }
	tests := []struct {
		name string
		from string
		d    flows.WorkDuration
		want string
	}{
		{"within one day", "2026-11-30 10:00", h(3), "2026-11-30 13:00"},
		{"over the evening", "2026-11-30 16:00", h(8), "2026-12-01 15:00"},
		{"from the night", "2026-11-30 22:00", h(1), "2026-12-01 10:00"},
		{"over the weekend", "2026-12-04 17:00", h(2), "2026-12-07 10:00"},
		{"transferred working Saturday", "2026-12-25 17:00", h(2), "2026-12-26 10:00"},
		{"config holiday, then New Year (the country calendar knows only statutory days)", "2026-12-30 17:00", h(2), "2027-01-04 10:00"},
		{"two working days over a weekend", "2026-12-03 11:00", flows.WorkDuration{Days: 2}, "2026-12-07 11:00"},
		{"start before opening", "2026-11-30 07:00", h(1), "2026-11-30 10:00"},
		{"exactly to closing", "2026-11-30 17:00", h(1), "2026-11-30 18:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.AddWorking(at(tc.from), tc.d)
			if want := at(tc.want); !got.Equal(want) {
				t.Fatalf("AddWorking(%s, %s) = %s, want %s", tc.from, tc.d, got.Format("2006-01-02 15:04 Mon"), tc.want)
			}
		})
	}
	if c.IsWorkingTime(at("2026-11-30 08:59")) || !c.IsWorkingTime(at("2026-11-30 09:00")) || c.IsWorkingTime(at("2026-11-30 18:00")) {
		t.Fatal("working-hours bounds")
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct{ country, hours, day string }{{"XX", "09:00-18:00", "mon"}, {"RU", "9-18", "mon"}, {"RU", "09:00-18:00", "monday"}} {
		if _, err := New(time.UTC, tc.country, []string{tc.day}, tc.hours, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted", tc)
		}
	}
}

func TestWorkingBetween(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	c, err := New(msk, "RU", []string{"mon", "tue", "wed", "thu", "fri"}, "09:00-18:00", []string{"2026-12-09"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, msk) }
	cases := []struct {
		name     string
		from, to time.Time
		want     time.Duration
	}{
		{"within a day", at(1, 10, 0), at(1, 12, 30), 150 * time.Minute},
		{"over a night", at(1, 17, 0), at(2, 10, 0), 2 * time.Hour},
		{"from before opening", at(1, 7, 0), at(1, 9, 30), 30 * time.Minute},
		{"over a weekend (Fri→Mon)", at(4, 16, 0), at(7, 10, 0), 3 * time.Hour},
		{"a whole week with a holiday", at(7, 9, 0), at(14, 9, 0), 36 * time.Hour},
		{"backwards", at(2, 10, 0), at(1, 10, 0), 0},
		{"over a holiday", at(8, 17, 0), at(10, 10, 0), 2 * time.Hour},
	}
	for _, tc := range cases {
		if got := c.WorkingBetween(tc.from, tc.to); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
