package compare

import (
	"reflect"
	"strings"
	"testing"

	"github.com/viza-app/viza/compare/extract"
)

func TestDiff(t *testing.T) {
	opt := Options{Context: 2, Bridge: 2}
	cases := []struct {
		name     string
		old, new string
		want     []Change
	}{
		{"identical", "Цена 100 000 рублей.", "Цена 100 000 рублей.", nil},
		{"a sum, kept whole", "в размере 100 000 рублей, включая НДС", "в размере 120 000 рублей, включая НДС",
			[]Change{{Before: "в размере", Old: "100 000", New: "120 000", After: "рублей,"}}},
		{"a date, kept whole", "не позднее 01.02.2026 года", "не позднее 15.03.2026 года",
			[]Change{{Before: "не позднее", Old: "01.02.2026", New: "15.03.2026", After: "года"}}},
		{"no-break space in a sum", "сумма 1\u00a0250,50 руб.", "сумма 1\u00a0350,50 руб.",
			[]Change{{Before: "сумма", Old: "1\u00a0250,50", New: "1\u00a0350,50", After: "руб."}}},
		{"an insertion", "Срок поставки 10 дней.", "Срок поставки 10 рабочих дней.",
			[]Change{{Before: "поставки 10", Old: "", New: "рабочих", After: "дней."}}},
		{"a deletion", "Покупатель вправе в одностороннем порядке расторгнуть договор.", "Покупатель вправе расторгнуть договор.",
			[]Change{{Before: "Покупатель вправе", Old: "в одностороннем порядке", New: "", After: "расторгнуть договор"}}},
		{"close changes bridged into one", "срок 10 календарных дней", "срок 15 рабочих дней",
			[]Change{{Before: "срок", Old: "10 календарных", New: "15 рабочих", After: "дней"}}},
		{"distant changes apart", "один два три четыре пять шесть семь восемь", "ОДИН два три четыре пять шесть семь ВОСЕМЬ",
			[]Change{{Before: "", Old: "один", New: "ОДИН", After: "два три"}, {Before: "шесть семь", Old: "восемь", New: "ВОСЕМЬ", After: ""}}},
		{"punctuation and spacing do not pretend to be words", "Оплата  —  в\nтечение 5 дней", "Оплата — в течение 5 дней", nil},
		{"html stays text", "a <b>x</b>", "a <b>y</b>", []Change{{Before: "b>", Old: "x", New: "y", After: "</"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Diff(c.old, c.new, opt)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %#v\nwant %#v", got, c.want)
			}
		})
	}
}

func TestTokenizeNumbers(t *testing.T) {
	cases := map[string][]string{
		"100 000 рублей":     {"100 000", "рублей"},
		"1 250 000,50":       {"1 250 000,50"},
		"2026-02-01 12:30":   {"2026-02-01", "12:30"},
		"пункт 3 1000":       {"пункт", "3", "1000"},
		"5%":                 {"5", "%"},
		"№17":                {"№", "17"},
		"северо-западный":    {"северо-западный"},
		"3 1234":             {"3", "1234"},
		"в 2026 году 100 шт": {"в", "2026", "году", "100", "шт"},
	}
	for in, want := range cases {
		var got []string
		for _, tk := range tokenize(in) {
			got = append(got, tk.text)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func TestCompareStatuses(t *testing.T) {
	ok := func(s string) extract.Text { return extract.Text{Status: extract.StatusOK, Paragraphs: []string{s}} }
	cases := []struct {
		name string
		a, b extract.Text
		want string
	}{
		{"both read", ok("a b"), ok("a c"), StatusOK},
		{"one still reading", ok("a"), extract.Text{}, StatusPending},
		{"a spreadsheet", ok("a"), extract.Text{Status: extract.StatusUnsupported}, StatusUnsupported},
		{"a scan", extract.Text{Status: extract.StatusNoText}, ok("a"), StatusNoText},
		{"a broken file", ok("a"), extract.Text{Status: extract.StatusFailed, Reason: "too_big"}, StatusFailed},
	}
	for _, c := range cases {
		got := Compare(1, 2, c.a, c.b, DefaultOptions)
		if got.Status != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Status, c.want)
		}
		if c.want == StatusOK && len(got.Changes) != 1 {
			t.Errorf("%s: changes %+v", c.name, got.Changes)
		}
	}
	if got := Compare(1, 2, ok("a"), extract.Text{Status: extract.StatusFailed, Reason: "too_big"}, DefaultOptions); got.Reason != "too_big" {
		t.Errorf("reason %q", got.Reason)
	}
}

// TestDiffOfLongDocuments: 100 pages with scattered edits find exactly
// those edits.
func TestDiffOfLongDocuments(t *testing.T) {
	a, b := longPair(100, 30)
	got := Diff(a, b, DefaultOptions)
	if len(got) != 30 {
		t.Fatalf("%d changes, want 30", len(got))
	}
	for _, c := range got {
		if !strings.HasPrefix(c.New, "ИЗМЕНЕНО") {
			t.Fatalf("change %+v", c)
		}
	}
}
