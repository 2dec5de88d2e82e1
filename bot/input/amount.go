// Package input reads what people type into chats: amounts written the way
// accountants and salespeople write them.
package input

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// multipliers are the written scale words people add to amounts.
var multipliers = map[string]float64{
	"тыс": 1e3, "тыс.": 1e3, "т": 1e3, "k": 1e3, "к": 1e3, "thousand": 1e3,
	"млн": 1e6, "млн.": 1e6, "m": 1e6, "mln": 1e6, "million": 1e6,
	"млрд": 1e9, "млрд.": 1e9, "bn": 1e9, "billion": 1e9,
}

// ErrAmount is returned for text that is not an amount.
var ErrAmount = errors.New("not an amount")

// ParseAmount reads "1 500 000,50", "1500000.50", "1,5 млн", "2.5m",
// "1 000 000 руб." into hundredths (kopecks, cents).
func ParseAmount(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, cur := range []string{"руб.", "руб", "р.", "₽", "rub", "rur", "usd", "$", "eur", "€"} {
		s = strings.TrimSpace(strings.TrimSuffix(s, cur))
	}
	mult := 1.0
	for word, m := range multipliers {
		if rest, ok := strings.CutSuffix(s, word); ok && (rest == "" || !unicode.IsLetter(lastRune(rest))) {
			mult, s = m, strings.TrimSpace(rest)
			break
		}
	}
	// Spaces (including no-break and thin ones) and apostrophes group digits.
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\u202f' || r == '\'' || r == '’' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return 0, ErrAmount
	}
	// One separator followed by exactly 1–2 digits is the decimal one;
	// otherwise commas and dots group thousands.
	dec := strings.LastIndexAny(s, ",.")
	if dec >= 0 {
		frac := s[dec+1:]
		intPart := strings.NewReplacer(",", "", ".", "").Replace(s[:dec])
		groups := strings.Count(s, ",") + strings.Count(s, ".")
		if len(frac) == 3 && groups >= 1 && mult == 1 && !(groups == 1 && strings.HasPrefix(s, "0")) {
			s = intPart + frac
		} else {
			s = intPart + "." + frac
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, ErrAmount
	}
	minor := math.Round(v * mult * 100)
	if minor > 1e17 {
		return 0, ErrAmount
	}
	return int64(minor), nil
}

func lastRune(s string) rune {
	r := []rune(s)
	return r[len(r)-1]
}
