package messages_test

import (
	"testing"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/messages"
)

func TestChangesGolden(t *testing.T) {
	many := compare.Comparison{From: 1, To: 2, Status: compare.StatusOK, Revisions: 4, Comments: 1}
	for range 5 {
		many.Changes = append(many.Changes, compare.Change{Before: "пункт", Old: "10", New: "15", After: "дней"})
	}
	cases := map[string]compare.Comparison{
		"price": {From: 1, To: 2, Status: compare.StatusOK, Changes: []compare.Change{
			{Before: "в размере", Old: "100 000", New: "120 000", After: "рублей"},
			{Before: "Покупатель вправе", Old: "в одностороннем порядке", New: "", After: "расторгнуть"},
			{Before: "поставки 10", Old: "", New: "рабочих", After: "дней."}}},
		"many_and_tracked": many,
		// A clause is text: markup in it stays visible as typed.
		"markup_in_clause": {From: 2, To: 3, Status: compare.StatusOK, Changes: []compare.Change{
			{Before: "<b>a</b> [B]x[/B]", Old: "*y*", New: "<del>z</del>", After: "~w~"}}},
		"none":        {From: 1, To: 2, Status: compare.StatusOK},
		"pending":     {From: 1, To: 2, Status: compare.StatusPending},
		"unsupported": {From: 1, To: 2, Status: compare.StatusUnsupported},
		"no_text":     {From: 1, To: 2, Status: compare.StatusNoText},
		"failed":      {From: 1, To: 2, Status: compare.StatusFailed, Reason: "too_big"},
	}
	for name, c := range cases {
		for _, lang := range []string{"en", "ru"} {
			got := messages.Changes(c, "Д-2026-0007", lang, messages.CardChanges)
			golden(t, "changes_"+name+"."+lang, got.Markup())
		}
	}
}

func TestChangesCutsLongClauses(t *testing.T) {
	long := ""
	for range 100 {
		long += "слово "
	}
	c := compare.Comparison{From: 1, To: 2, Status: compare.StatusOK, Changes: []compare.Change{{Before: long, Old: long, New: "x", After: long}}}
	got := messages.Changes(c, "N", "ru", messages.ChangeLimits{Changes: 3, Runes: 20}).String()
	if n := len([]rune(got)); n > 200 {
		t.Fatalf("%d runes: %s", n, got)
	}
}
