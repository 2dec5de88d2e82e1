package main

import (
	"strings"
	"testing"
)

func TestListPrintsEveryString(t *testing.T) {
	var b strings.Builder
	if err := list(&b, "ru"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"button.approve\tСогласовать\n", "days[few]\t{{.Count}} дня\n", "zone.MSK\tМСК\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	if strings.Count(out, "\n") < 300 {
		t.Errorf("only %d lines", strings.Count(out, "\n"))
	}
	if err := list(&b, "de"); err == nil || !strings.Contains(err.Error(), "en, ru") {
		t.Errorf("an unknown language: %v", err)
	}
}
