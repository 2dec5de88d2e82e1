package extract_test

import (
	"context"
	"testing"
	"time"

	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/compare/pdftext"
)

// FuzzOffice: whatever bytes come as a DOCX or an ODT, the reader answers
// within its limits and never panics.
func FuzzOffice(f *testing.F) {
	f.Add(extracttest.Contract("100 000", true))
	f.Add(extracttest.ODT("100 000", true))
	f.Add(extracttest.DOCX("текст"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lim := extract.Limits{MaxUnpacked: 4 << 20, MaxRunes: 1 << 20, MaxDepth: 128, MaxEntries: 200}
		got, err := extract.Extractor{Limits: lim}.Extract(ctx, data)
		if (got.Status == extract.StatusFailed) != (err != nil) {
			t.Fatalf("status %s with error %v", got.Status, err)
		}
	})
}

// FuzzPDF: PDFium in this process (the child's side) on any bytes; a
// broken PDF is an error, never a panic or a hang.
func FuzzPDF(f *testing.F) {
	f.Add(PDF(f, "Договор 100 000 рублей"))
	f.Add(scanPDF(f))
	f.Add([]byte("%PDF-1.7\n1 0 obj<</Type/Pages/Kids[1 0 R]>>endobj trailer<</Root 1 0 R>>"))
	cache := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = pdftext.Pages(ctx, data, cache)
	})
}
