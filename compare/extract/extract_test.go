package extract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/compare/pdftext"
	"golang.org/x/image/font/gofont/goregular"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestMain makes this test binary the PDF child when asked, as the viza
// binary is in production.
func TestMain(m *testing.M) {
	if os.Getenv("VIZA_PDF_CHILD") == "1" {
		if err := pdftext.Serve(context.Background(), os.Stdin, os.Stdout, os.Getenv("VIZA_PDF_CACHE")); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childPDF is the PDF reader as the service runs it: a child process.
func childPDF(t testing.TB) extract.PDFReader {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(os.TempDir(), "viza-test-pdfium-cache")
	return pdftext.Command{Path: exe, Args: []string{"-test.run=^$"}, Env: []string{"VIZA_PDF_CHILD=1", "VIZA_PDF_CACHE=" + cache},
		Timeout: 2 * time.Minute}.Read
}

// PDF makes a PDF as fpdf writes it: a Unicode TrueType font, so every
// glyph maps back through ToUnicode.
func PDF(t testing.TB, lines ...string) []byte {
	p := fpdf.New("P", "mm", "A4", "")
	p.AddUTF8FontFromBytes("go", "", goregular.TTF)
	p.SetFont("go", "", 11)
	p.AddPage()
	for _, l := range lines {
		p.MultiCell(0, 6, l, "", "", false)
	}
	var b bytes.Buffer
	if err := p.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// scanPDF is a page with a picture and no text: what a scanner makes.
func scanPDF(t testing.TB) []byte {
	p := fpdf.New("P", "mm", "A4", "")
	p.AddPage()
	p.SetFillColor(40, 40, 40)
	for i := range 20 {
		p.Rect(20, float64(20+i*8), 150, 3, "F")
	}
	var b bytes.Buffer
	if err := p.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestExtract(t *testing.T) {
	e := extract.Extractor{PDF: childPDF(t)}
	cases := []struct {
		name string
		data []byte
	}{
		{"docx_contract", extracttest.Contract("100 000", false)},
		{"docx_tracked", extracttest.Contract("120 000", true)},
		{"odt_contract", extracttest.ODT("100 000", false)},
		{"odt_tracked", extracttest.ODT("120 000", true)},
		{"pdf_cyrillic", PDF(t, "ДОГОВОР ПОСТАВКИ № 17", "Цена договора составляет 100 000 рублей, срок — 01.02.2026.", "Ёлка, щука, съезд: «кавычки».")},
		{"pdf_scan", scanPDF(t)},
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
			b, _ := json.MarshalIndent(got, "", "  ")
			golden := filepath.Join("testdata", c.name+".json")
			if *update {
				if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(b)+"\n" {
				t.Errorf("got\n%s\nwant\n%s", b, want)
			}
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

// TestPDFChildIsKilledOnTime: a child that does not answer in time is
// killed, and the extraction says timeout.
func TestPDFChildIsKilledOnTime(t *testing.T) {
	read := pdftext.Command{Path: "/bin/sleep", Args: []string{"30"}, Timeout: 200 * time.Millisecond}.Read
	start := time.Now()
	got, err := extract.Extractor{PDF: read}.Extract(context.Background(), []byte("%PDF-1.7 loop"))
	if got.Status != extract.StatusFailed || got.Reason != extract.ReasonTimeout || err == nil {
		t.Fatalf("got %+v %v", got, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestPDFDamaged(t *testing.T) {
	got, err := extract.Extractor{PDF: childPDF(t)}.Extract(context.Background(), []byte("%PDF-1.7\n1 0 obj garbage"))
	if got.Status != extract.StatusFailed || err == nil {
		t.Fatalf("got %+v", got)
	}
}
