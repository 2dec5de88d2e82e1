package input

import "testing"

// FuzzParseAmount: whatever a person types as an amount is read or
// refused, never a panic, and never a negative amount.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1 500 000,50", "1500000.50", "1,5 млн", "2 тыс.", "₽ 100", "-5", "1e309", "99999999999999999999", "0,001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseAmount(s)
		if err == nil && v < 0 {
			t.Fatalf("ParseAmount(%q) = %d", s, v)
		}
	})
}
