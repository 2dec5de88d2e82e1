package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/flows"
)

// samplePDF is the demo's draft contract, in the company's language.
func samplePDF(lang string) ([]byte, error) {
	say := cliText(lang)
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes("go", "", slices.Clone(goregular.TTF))
	f.AddPage()
	f.SetFont("go", "", 16)
	f.CellFormat(0, 10, say("demo.contract_title", nil), "", 1, "C", false, 0, "")
	f.SetFont("go", "", 11)
	f.MultiCell(0, 6, say("demo.contract_body", nil), "", "L", false)
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, fmt.Errorf("sample pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// seedDemo starts a sample contract when the demo database is empty, so a
// newcomer finds a task waiting, and writes a sign-in link for everyone.
func (m *Main) seedDemo(ctx context.Context, w io.Writer) error {
	docs, err := m.DB.AllDocuments(ctx)
	if err != nil {
		return err
	}
	lang := m.Engine.Directory().Language
	say := cliText(lang)
	if len(docs) == 0 {
		pdf, err := samplePDF(lang)
		if err != nil {
			return err
		}
		if _, err := m.Engine.Start(ctx, flows.StartCmd{Key: "demo:seed", Actor: "ivanova", TypeID: "contract",
			Title: say("demo.doc_title", nil), Counterparty: say("demo.counterparty", nil), AmountMinor: 150000000, HasAmount: true,
			File: flows.Upload{Name: say("demo.file_name", nil), MIME: "application/pdf", Content: bytes.NewReader(pdf)}}); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	fmt.Fprintf(w, "\n%s\n", say("demo.running", map[string]any{"URL": m.Web.PublicURL}))
	for _, p := range m.Engine.Directory().People {
		link, err := m.Web.LoginLink(ctx, p.ID, 24*web.LoginTTL*6)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-22s %-24s %s\n", p.Name, p.Title, link)
	}
	fmt.Fprintln(w)
	return nil
}
