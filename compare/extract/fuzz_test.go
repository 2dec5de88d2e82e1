package extract_test

import (
	"context"
	"testing"
	"time"

	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/compare/extract/extracttest"
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
