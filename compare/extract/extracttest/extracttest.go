// Package extracttest makes documents for tests, shaped as Word and
// LibreOffice write them: a DOCX or an ODT from a few parts.
package extracttest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/viza-app/viza/compare/extract"
)

// Zip packs name → content pairs, in order.
func Zip(parts ...string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for i := 0; i+1 < len(parts); i += 2 {
		w, err := z.Create(parts[i])
		if err != nil {
			panic(err)
		}
		if _, err := w.Write([]byte(parts[i+1])); err != nil {
			panic(err)
		}
	}
	if err := z.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

const wordNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" ` +
	`xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" ` +
	`xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"`

// WordBody wraps body XML (w:p, w:tbl…) into word/document.xml.
func WordBody(body string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<w:document ` + wordNS + `><w:body>` + body + `<w:sectPr/></w:body></w:document>`
}

// P is a Word paragraph of one run per piece of text.
func P(texts ...string) string {
	var b strings.Builder
	b.WriteString("<w:p><w:pPr><w:pStyle w:val=\"Normal\"/></w:pPr>")
	for _, t := range texts {
		fmt.Fprintf(&b, `<w:r><w:rPr><w:lang w:val="ru-RU"/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r>`, html.EscapeString(t))
	}
	b.WriteString("</w:p>")
	return b.String()
}

// DOCX is a Word file of plain paragraphs.
func DOCX(paragraphs ...string) []byte {
	var body strings.Builder
	for _, p := range paragraphs {
		body.WriteString(P(p))
	}
	return Zip("[Content_Types].xml", contentTypes, "word/document.xml", WordBody(body.String()))
}

const contentTypes = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
	`<Default Extension="xml" ContentType="application/xml"/></Types>`

// Contract is a DOCX shaped as a real contract: a header, paragraphs, a
// table of prices, a footnote, a footer, a text box Word stores twice,
// and — when tracked is set — an unaccepted insertion and deletion and a
// comment.
func Contract(price string, tracked bool) []byte {
	change := P("Срок поставки — 10 рабочих дней.")
	comments := ""
	if tracked {
		change = `<w:p><w:r><w:t xml:space="preserve">Срок поставки — </w:t></w:r>` +
			`<w:del w:id="1" w:author="Юрист"><w:r><w:delText>10</w:delText></w:r></w:del>` +
			`<w:ins w:id="2" w:author="Юрист"><w:r><w:t>15</w:t></w:r></w:ins>` +
			`<w:r><w:t xml:space="preserve"> рабочих дней.</w:t></w:r>` +
			`<w:commentRangeStart w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p>`
		comments = `<?xml version="1.0"?><w:comments ` + wordNS + `><w:comment w:id="0" w:author="Юрист">` + P("Проверьте срок") + `</w:comment></w:comments>`
	}
	body := P("ДОГОВОР ПОСТАВКИ № 17") +
		P("1. Цена договора составляет ", price, " рублей, включая НДС.") +
		change +
		`<w:tbl><w:tr><w:tc>` + P("Товар") + `</w:tc><w:tc>` + P("Цена") + `</w:tc></w:tr>` +
		`<w:tr><w:tc>` + P("Бумага А4") + `</w:tc><w:tc>` + P(price) + `</w:tc></w:tr></w:tbl>` +
		`<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent>` + P("Отметка о согласовании") +
		`</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>` + P("Отметка о согласовании") +
		`</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>` +
		`<w:p><w:r><w:t>Оплата по счёту</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p>`
	parts := []string{"[Content_Types].xml", contentTypes, "word/document.xml", WordBody(body),
		"word/header1.xml", `<w:hdr ` + wordNS + `>` + P("ООО «Север» — конфиденциально") + `</w:hdr>`,
		"word/footnotes.xml", `<w:footnotes ` + wordNS + `><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>` +
			`<w:footnote w:id="1">` + P("В течение 5 банковских дней.") + `</w:footnote></w:footnotes>`,
		"word/footer1.xml", `<w:ftr ` + wordNS + `>` + P("Страница 1") + `</w:ftr>`}
	if comments != "" {
		parts = append(parts, "word/comments.xml", comments)
	}
	return Zip(parts...)
}

// ODT is an OpenDocument text with a header, a heading, paragraphs (the
// first with a footnote), a table, and — when tracked is set — a deletion
// recorded as a tracked change and a comment.
func ODT(price string, tracked bool) []byte {
	ns := `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" ` +
		`xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" ` +
		`xmlns:dc="http://purl.org/dc/elements/1.1/"`
	changes, mark, note := "", "", ""
	if tracked {
		changes = `<text:tracked-changes><text:changed-region text:id="ct1"><text:deletion><office:change-info><dc:creator>Юрист</dc:creator></office:change-info>` +
			`<text:p>старый пункт</text:p></text:deletion></text:changed-region></text:tracked-changes>`
		mark = `<text:change text:change-id="ct1"/>`
		note = `<office:annotation><dc:creator>Юрист</dc:creator><text:p>Проверьте цену</text:p></office:annotation>`
	}
	content := `<?xml version="1.0" encoding="UTF-8"?><office:document-content ` + ns + `><office:body><office:text>` + changes +
		`<text:h text:outline-level="1">Договор поставки</text:h>` +
		`<text:p>1. Цена договора составляет` + `<text:s/>` + note + html.EscapeString(price) + `<text:s text:c="2"/>рублей` +
		`<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>Включая НДС.</text:p></text:note-body></text:note>.</text:p>` +
		`<text:p>2. Срок — <text:span>10</text:span> дней.` + mark + `</text:p>` +
		`<table:table><table:table-row><table:table-cell><text:p>Товар</text:p></table:table-cell><table:table-cell><text:p>` + html.EscapeString(price) + `</text:p></table:table-cell></table:table-row></table:table>` +
		`</office:text></office:body></office:document-content>`
	styles := `<?xml version="1.0" encoding="UTF-8"?><office:document-styles ` + ns + `><office:styles><style:style style:name="x"><text:p>не текст</text:p></style:style></office:styles>` +
		`<office:master-styles><style:master-page style:name="Standard"><style:header><text:p>Шапка</text:p></style:header>` +
		`<style:footer><text:p>Подвал</text:p></style:footer></style:master-page></office:master-styles></office:document-styles>`
	return Zip("mimetype", "application/vnd.oasis.opendocument.text", "content.xml", content, "styles.xml", styles)
}

// Golden compares what an extraction gave with testdata/<name>.json,
// or writes it there when update is set.
func Golden(t testing.TB, name string, got extract.Text, update bool) {
	t.Helper()
	b, _ := json.MarshalIndent(got, "", "  ")
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".json")
	if update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(b) {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}
