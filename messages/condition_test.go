package messages_test

import (
	"testing"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

func TestStageCondition(t *testing.T) {
	for _, tc := range []struct {
		when  string
		label map[string]string
		lang  string
		want  string
	}{
		{"amount >= 1000000", nil, "ru", "сумма ≥ 1\u00a0000\u00a0000"},
		{"amount >= 1000000", nil, "en", "amount ≥ 1,000,000"},
		{"amount > 500000.5 and currency == 'USD'", nil, "ru", "сумма > 500\u00a0000,50 и валюта = «USD»"},
		{"type in ['contract', 'supplement'] or not (amount < 10)", nil, "en", "document type is one of: «contract», «supplement» or not (amount < 10)"},
		{"amount >= 1000000", map[string]string{"ru": "сумма от 1 млн ₽", "en": "amount from 1 M RUB"}, "ru", "сумма от 1 млн ₽"},
		{"amount >= 1000000", map[string]string{"": "крупная сделка"}, "en", "крупная сделка"},
		// What the reading does not know is shown as written, not guessed.
		{"len(title) > 10", nil, "ru", "len(title) > 10"},
	} {
		got := messages.StageCondition(flows.Stage{When: tc.when, WhenLabel: tc.label}, tc.lang)
		if got != tc.want {
			t.Errorf("%q in %s = %q, want %q", tc.when, tc.lang, got, tc.want)
		}
	}
}
