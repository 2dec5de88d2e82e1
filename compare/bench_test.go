package compare

import (
	"fmt"
	"strings"
	"testing"
)

// longPair makes a contract of pages pages (about 450 words each) and a
// copy with edits words changed at places spread through it.
func longPair(pages, edits int) (string, string) {
	var a, b strings.Builder
	paragraphs := pages * 15
	every := paragraphs / edits
	for p := range paragraphs {
		line := fmt.Sprintf("%d.%d. Поставщик обязуется поставить товар в количестве %d штук по цене %d 000 рублей за единицу, "+
			"в срок до %02d.%02d.2026, а Покупатель — принять и оплатить его в течение %d банковских дней.", p/15+1, p%15+1, p*3, p%900+100, p%28+1, p%12+1, p%20+1)
		a.WriteString(line + "\n")
		if p%every == every/2 && p/every < edits {
			line = strings.Replace(line, "принять и оплатить", fmt.Sprintf("ИЗМЕНЕНО%d принять и в полном объёме оплатить", p), 1)
		}
		b.WriteString(line + "\n")
	}
	return a.String(), b.String()
}

// BenchmarkDiff100Pages: two 100-page versions with 30 scattered edits.
func BenchmarkDiff100Pages(b *testing.B) {
	x, y := longPair(100, 30)
	b.ReportAllocs()
	for b.Loop() {
		if n := len(Diff(x, y, DefaultOptions)); n != 30 {
			b.Fatalf("%d changes", n)
		}
	}
}
