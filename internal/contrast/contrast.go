// Package contrast measures how readable one colour is on another, as
// WCAG 2 defines it: the ratio of their relative luminances, from 1:1 to
// 21:1; 4.5:1 is AA for text.
package contrast

import (
	"math"
	"strconv"
)

// AA is the least ratio WCAG 2 AA asks of body text.
const AA = 4.5

// luminance is a colour's relative luminance; hex is "#rrggbb".
func luminance(hex string) (float64, bool) {
	if len(hex) != 7 || hex[0] != '#' {
		return 0, false
	}
	var c [3]float64
	for i := range c {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return 0, false
		}
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2], true
}

// Ratio is the contrast of a on b ("#rrggbb" each); 0 for a colour it
// cannot read.
func Ratio(a, b string) float64 {
	la, okA := luminance(a)
	lb, okB := luminance(b)
	if !okA || !okB {
		return 0
	}
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}
