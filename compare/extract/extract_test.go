package extract_test

import (
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/compare/extract/extracttest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestExtract(t *testing.T) {
	e := extract.Extractor{}
	cases := []struct {
		name string
		data []byte
	}{
		{"docx_contract", extracttest.Contract("100 000", false)},
		{"docx_tracked", extracttest.Contract("120 000", true)},
		{"odt_contract", extracttest.ODT("100 000", false)},
		{"odt_tracked", extracttest.ODT("120 000", true)},
		{"pdf_without_a_reader", []byte("%PDF-1.7 no reader configured")},
		{"xlsx", extracttest.Zip("[Content_Types].xml", "<Types/>", "xl/workbook.xml", "<workbook/>")},
		{"zip_of_scans", extracttest.Zip("scan1.jpg", "\xff\xd8\xff")},
		{"png", []byte("\x89PNG\r\n\x1a\n....")},
		{"empty", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.Extract(context.Background(), c.data)
			if err != nil {
				t.Fatalf("extract: %v", err)
			}
			extracttest.Golden(t, c.name, got, *update)
		})
	}
}

// TestExtractRefusesWhatWouldHurt: bombs, depth and damage end as a
// failed extraction with its reason, never as a crash or a hang.
func TestExtractRefusesWhatWouldHurt(t *testing.T) {
	deep := strings.Repeat("<w:p>", 100000)
	bomb := extracttest.Zip("[Content_Types].xml", "<Types/>", "word/document.xml",
		extracttest.WordBody(extracttest.P(strings.Repeat("ааааааааа ", 8<<20/10))))
	long := extracttest.DOCX(strings.Repeat("слово ", 1<<20))
	cases := []struct {
		name   string
		data   []byte
		lim    extract.Limits
		reason string
	}{
		{"zip bomb", bomb, extract.Limits{MaxUnpacked: 1 << 20, MaxRunes: 1 << 30, MaxDepth: 256, MaxEntries: 10}, extract.ReasonTooBig},
		{"deep xml", extracttest.Zip("word/document.xml", extracttest.WordBody(deep)), extract.DefaultLimits, extract.ReasonTooBig},
		{"too much text", long, extract.Limits{MaxUnpacked: 64 << 20, MaxRunes: 100000, MaxDepth: 256, MaxEntries: 10}, extract.ReasonTooBig},
		{"broken xml", extracttest.Zip("word/document.xml", "<w:document><w:body><w:p>"), extract.DefaultLimits, extract.ReasonDamaged},
		{"truncated zip", extracttest.DOCX("текст")[:40], extract.DefaultLimits, extract.ReasonDamaged},
		{"too many entries", extracttest.Zip("word/document.xml", "<x/>", "a", "", "b", "", "c", ""), extract.Limits{MaxUnpacked: 1 << 20, MaxRunes: 100, MaxDepth: 10, MaxEntries: 3}, extract.ReasonTooBig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := extract.Extractor{Limits: c.lim}.Extract(context.Background(), c.data)
			if got.Status != extract.StatusFailed || got.Reason != c.reason || err == nil {
				t.Fatalf("got %+v, %v; want failed %s", got.Status, got.Reason, c.reason)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, _ := extract.Extractor{}.Extract(ctx, extracttest.Contract("1", false))
		if got.Status != extract.StatusFailed || got.Reason != extract.ReasonTimeout {
			t.Fatalf("got %+v", got)
		}
	})
}

// TestPDFCutShortNeverStartsTheReader: a PDF without its %%EOF is refused
// before PDFium is started for it.
func TestPDFCutShortNeverStartsTheReader(t *testing.T) {
	started := false
	read := func(context.Context, []byte) ([]string, error) { started = true; return []string{"x"}, nil }
	got, err := extract.Extractor{PDF: read}.Extract(context.Background(), []byte("%PDF-1.4 v2"))
	if started || got.Status != extract.StatusFailed || got.Reason != extract.ReasonDamaged || err == nil {
		t.Fatalf("started %v, got %+v, %v", started, got, err)
	}
	if got, _ := (extract.Extractor{PDF: read}).Extract(context.Background(), []byte("%PDF-1.4 v2\n%%EOF\n")); !started || got.Status != extract.StatusOK {
		t.Fatalf("a whole PDF: started %v, %+v", started, got)
	}
}
