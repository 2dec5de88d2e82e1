package contrast

import (
	"math"
	"testing"
)

func TestRatio(t *testing.T) {
	cases := []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#777777", "#ffffff", 4.48}, // the classic just-below-AA grey
		{"#5288c1", "#ffffff", 3.72}, // Telegram's dark theme button, white text
		{"#zzzzzz", "#ffffff", 0},
		{"red", "#ffffff", 0},
	}
	for _, c := range cases {
		if got := Ratio(c.a, c.b); math.Abs(got-c.want) > 0.01 {
			t.Errorf("Ratio(%s, %s) = %.3f, want %.2f", c.a, c.b, got, c.want)
		}
	}
}
