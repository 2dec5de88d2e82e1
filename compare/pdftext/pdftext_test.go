package pdftext_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
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

func TestExtractPDF(t *testing.T) {
	e := extract.Extractor{PDF: childPDF(t)}
	cases := []struct {
		name string
		data []byte
	}{
		{"pdf_cyrillic", PDF(t, "ДОГОВОР ПОСТАВКИ № 17", "Цена договора составляет 100 000 рублей, срок — 01.02.2026.", "Ёлка, щука, съезд: «кавычки».")},
		{"pdf_scan", scanPDF(t)},
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

// TestPDFChildIsKilledOnTime: a child that does not answer in time is
// killed, and the extraction says timeout.
func TestPDFChildIsKilledOnTime(t *testing.T) {
	read := pdftext.Command{Path: "/bin/sleep", Args: []string{"30"}, Timeout: 200 * time.Millisecond}.Read
	start := time.Now()
	got, err := extract.Extractor{PDF: read}.Extract(context.Background(), []byte("%PDF-1.7 loop\n%%EOF\n"))
	if got.Status != extract.StatusFailed || got.Reason != extract.ReasonTimeout || err == nil {
		t.Fatalf("got %+v %v", got, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestPDFDamaged(t *testing.T) {
	got, err := extract.Extractor{PDF: childPDF(t)}.Extract(context.Background(), []byte("%PDF-1.7\n1 0 obj garbage\n%%EOF"))
	if got.Status != extract.StatusFailed || err == nil {
		t.Fatalf("got %+v", got)
	}
}

func pageText(p int) string {
	return fmt.Sprintf("%d. Поставщик обязуется поставить товар в количестве %d штук по цене %d 000 рублей за единицу, "+
		"в срок до 01.02.2026, а Покупатель — принять и оплатить его в течение 5 банковских дней.", p, p*3, p%900+100)
}

// BenchmarkPDF50Pages: a 50-page text PDF through the child process, as
// the service reads it (PDFium's compiled code cached on disk).
func BenchmarkPDF50Pages(b *testing.B) {
	var lines []string
	for p := range 50 * 22 { // 22 of these paragraphs fill a page: 3,300 characters, a dense contract page
		lines = append(lines, pageText(p))
	}
	data := PDF(b, lines...)
	read := childPDF(b)
	if _, err := read(context.Background(), data); err != nil { // warms the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		t, err := extract.Extractor{PDF: read}.Extract(context.Background(), data)
		if err != nil || t.Pages != 50 || !strings.Contains(t.String(), "Поставщик") {
			b.Fatal(err, t.Pages)
		}
	}
}

// FuzzPDF: PDFium in this process (the child's side) on any bytes; a
// broken PDF is an error, never a panic or a hang.
func FuzzPDF(f *testing.F) {
	f.Add(PDF(f, "Договор 100 000 рублей"))
	f.Add(scanPDF(f))
	f.Add([]byte("%PDF-1.7\n1 0 obj<</Type/Pages/Kids[1 0 R]>>endobj trailer<</Root 1 0 R>>"))
	r, err := pdftext.Open(context.Background(), filepath.Join(os.TempDir(), "viza-test-pdfium-cache"))
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = r.Pages(ctx, data)
	})
}

// TestPDFChildGetsNoSecrets: the child that reads hostile files inherits
// none of the service's environment.
func TestPDFChildGetsNoSecrets(t *testing.T) {
	t.Setenv("VIZA_TELEGRAM_TOKEN", "123:secret-token")
	read := pdftext.Command{Path: "/bin/sh", Args: []string{"-c", `printf '{"pages":["%s"]}' "$VIZA_TELEGRAM_TOKEN"`}}.Read
	pages, err := read(context.Background(), []byte("%PDF-1.7\n%%EOF"))
	if err != nil || len(pages) != 1 || pages[0] != "" {
		t.Fatalf("the child saw %q (%v)", pages, err)
	}
}
