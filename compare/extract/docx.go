package extract

import (
	"encoding/xml"
)

// docx reads a Word document: headers, the body (tables cell by cell),
// footnotes and endnotes, then footers. The text is the document with its
// tracked changes accepted — insertions in, deletions out — since that is
// what the author proposes; the changes themselves are counted.
func (p *pkg) docx() (Text, error) {
	t := Text{Status: StatusOK}
	k := &keeper{max: p.lim.MaxRunes}
	w := &walker{p: p, text: &t, keep: k}
	var order []string
	for _, f := range p.parts("word/header", ".xml") {
		order = append(order, f.Name)
	}
	order = append(order, "word/document.xml", "word/footnotes.xml", "word/endnotes.xml")
	for _, f := range p.parts("word/footer", ".xml") {
		order = append(order, f.Name)
	}
	for _, name := range order {
		f := p.files[name]
		if f == nil {
			continue
		}
		if err := w.walk(f, w.wordToken); err != nil {
			return t, err
		}
	}
	if f := p.files["word/comments.xml"]; f != nil {
		err := w.walk(f, func(tok xml.Token) error {
			if s, ok := tok.(xml.StartElement); ok && s.Name.Space == nsW && s.Name.Local == "comment" {
				t.Comments++
			}
			return nil
		})
		if err != nil {
			return t, err
		}
	}
	if len(t.Paragraphs) == 0 {
		t.Status = StatusNoText
	}
	return t, nil
}

func (w *walker) wordToken(tok xml.Token) error {
	switch tok := tok.(type) {
	case xml.StartElement:
		if tok.Name.Space != nsW {
			return nil
		}
		switch tok.Name.Local {
		case "p":
			w.startParagraph()
		case "tab", "br", "cr":
			w.write(" ")
		case "ins", "del", "moveFrom", "moveTo":
			// A paragraph mark's own change (inside w:rPr) is part of the
			// run's change, not another one.
			if !w.inside(nsW, "rPr") && !w.inside(nsW, "pPr") {
				w.text.Revisions++
			}
		}
	case xml.EndElement:
		if tok.Name.Space == nsW && tok.Name.Local == "p" {
			return w.endParagraph()
		}
	case xml.CharData:
		if w.wordTextHere() {
			w.write(string(tok))
		}
	}
	return nil
}

// wordTextHere tells whether character data at this point is the
// document's visible text: a w:t not inside a deletion, nor inside the
// fallback copy Word keeps of a text box for old readers.
func (w *walker) wordTextHere() bool {
	n := len(w.stack)
	if n == 0 || w.stack[n-1].Space != nsW || w.stack[n-1].Local != "t" {
		return false
	}
	return !w.inside(nsW, "del") && !w.inside(nsW, "moveFrom") && !w.inside(nsMC, "Fallback")
}
