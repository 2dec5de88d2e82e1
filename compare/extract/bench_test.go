package extract_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/compare/extract/extracttest"
)

func pageText(p int) string {
	return fmt.Sprintf("%d. Поставщик обязуется поставить товар в количестве %d штук по цене %d 000 рублей за единицу, "+
		"в срок до 01.02.2026, а Покупатель — принять и оплатить его в течение 5 банковских дней.", p, p*3, p%900+100)
}

// BenchmarkDOCX100Pages: a 100-page Word contract (15 paragraphs a page).
func BenchmarkDOCX100Pages(b *testing.B) {
	var ps []string
	for p := range 1500 {
		ps = append(ps, pageText(p))
	}
	data := extracttest.DOCX(ps...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		t, err := extract.Extractor{}.Extract(context.Background(), data)
		if err != nil || len(t.Paragraphs) != 1500 {
			b.Fatal(err, len(t.Paragraphs))
		}
	}
}
