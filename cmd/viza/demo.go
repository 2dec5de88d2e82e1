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

// samplePDF is the demo's draft contract.
func samplePDF(title string) ([]byte, error) {
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes("go", "", slices.Clone(goregular.TTF))
	f.AddPage()
	f.SetFont("go", "", 16)
	f.CellFormat(0, 10, title, "", 1, "C", false, 0, "")
	f.SetFont("go", "", 11)
	f.MultiCell(0, 6, "г. Москва\n\nООО «Ромашка» (Покупатель) и ООО «Северный ветер» (Поставщик) заключили настоящий договор о нижеследующем.\n\n"+
		"1. Поставщик передаёт, а Покупатель принимает и оплачивает оборудование согласно спецификации (Приложение № 1).\n"+
		"2. Сумма договора — 1 500 000,00 руб., в том числе НДС.\n3. Неустойка за просрочку поставки — 0,1 % в день.\n\n"+
		"Это демонстрационный документ Viza.", "", "L", false)
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
	if len(docs) == 0 {
		pdf, err := samplePDF("Договор поставки № 17 (образец)")
		if err != nil {
			return err
		}
		if _, err := m.Engine.Start(ctx, flows.StartCmd{Key: "demo:seed", Actor: "ivanova", TypeID: "contract",
			Title: "Поставка оборудования «Север»", Counterparty: "ООО «Северный ветер»", AmountMinor: 150000000, HasAmount: true,
			File: flows.Upload{Name: "Договор_поставки_17.pdf", MIME: "application/pdf", Content: bytes.NewReader(pdf)}}); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	fmt.Fprintf(w, "\nViza demo is running: open %s and sign in as anyone, or use a personal link:\n", m.Web.PublicURL)
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
