package flows

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var placeholderRE = regexp.MustCompile(`\{([a-z]+)(?::(\d+))?\}`)

// ValidateNumberPattern checks that a pattern uses known placeholders and
// has a {seq}, without which two documents could get one number.
func ValidateNumberPattern(p string) error {
	hasSeq := false
	for _, m := range placeholderRE.FindAllStringSubmatch(p, -1) {
		switch m[1] {
		case "seq":
			hasSeq = true
		case "yyyy", "yy", "mm", "type":
		default:
			return fmt.Errorf("unknown placeholder {%s} in number pattern %q", m[1], p)
		}
	}
	if !hasSeq {
		return fmt.Errorf("number pattern %q needs {seq} or {seq:N}", p)
	}
	return nil
}

// SequenceScope is the counter a pattern draws from: per type, and per year
// when the pattern shows the year, so numbering restarts each January.
func SequenceScope(typeID, pattern string, at time.Time) string {
	if strings.Contains(pattern, "{yy") {
		return "doc:" + typeID + ":" + strconv.Itoa(at.Year())
	}
	return "doc:" + typeID
}

// FormatNumber fills a number pattern.
func FormatNumber(pattern, typeID string, at time.Time, seq int64) string {
	if pattern == "" {
		pattern = "{type}-{seq:4}"
	}
	return placeholderRE.ReplaceAllStringFunc(pattern, func(s string) string {
		m := placeholderRE.FindStringSubmatch(s)
		switch m[1] {
		case "yyyy":
			return fmt.Sprintf("%04d", at.Year())
		case "yy":
			return fmt.Sprintf("%02d", at.Year()%100)
		case "mm":
			return fmt.Sprintf("%02d", int(at.Month()))
		case "type":
			return typeID
		case "seq":
			w, _ := strconv.Atoi(m[2])
			return fmt.Sprintf("%0*d", w, seq)
		}
		return s
	})
}
