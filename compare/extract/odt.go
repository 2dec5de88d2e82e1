package extract

import (
	"encoding/xml"
	"strconv"
	"strings"
)

// odt reads an OpenDocument text: the master pages' headers and footers
// from styles.xml, then the body from content.xml, footnotes where they
// stand. Tracked changes are counted and their deleted text left out;
// annotations (comments) are counted and left out.
func (p *pkg) odt() (Text, error) {
	t := Text{Status: StatusOK}
	w := &walker{p: p, text: &t, keep: &keeper{max: p.lim.MaxRunes}}
	styles := func(part string) error {
		f := p.files["styles.xml"]
		if f == nil {
			return nil
		}
		return w.walk(f, func(tok xml.Token) error {
			if !w.inside(nsStyle, part) && !isEnd(tok, nsStyle, part) {
				return nil
			}
			return w.odfToken(tok)
		})
	}
	if err := styles("header"); err != nil {
		return t, err
	}
	if err := w.walk(p.files["content.xml"], w.odfToken); err != nil {
		return t, err
	}
	if err := styles("footer"); err != nil {
		return t, err
	}
	if len(t.Paragraphs) == 0 {
		t.Status = StatusNoText
	}
	return t, nil
}

func isEnd(tok xml.Token, space string, locals ...string) bool {
	e, ok := tok.(xml.EndElement)
	if !ok || e.Name.Space != space {
		return false
	}
	for _, l := range locals {
		if e.Name.Local == l {
			return true
		}
	}
	return false
}

func (w *walker) odfToken(tok xml.Token) error {
	switch tok := tok.(type) {
	case xml.StartElement:
		switch {
		case tok.Name.Space == nsText && (tok.Name.Local == "p" || tok.Name.Local == "h"):
			if !w.odfHidden() {
				w.startParagraph()
			}
		case tok.Name.Space == nsText && tok.Name.Local == "s":
			n := 1
			for _, a := range tok.Attr {
				if a.Name.Space == nsText && a.Name.Local == "c" {
					if c, err := strconv.Atoi(a.Value); err == nil && c > 0 && c < 100 {
						n = c
					}
				}
			}
			w.write(strings.Repeat(" ", n))
		case tok.Name.Space == nsText && (tok.Name.Local == "tab" || tok.Name.Local == "line-break"):
			w.write(" ")
		case tok.Name.Space == nsText && tok.Name.Local == "changed-region":
			w.text.Revisions++
		case tok.Name.Space == nsOffice && tok.Name.Local == "annotation":
			w.text.Comments++
		}
	case xml.EndElement:
		if tok.Name.Space == nsText && (tok.Name.Local == "p" || tok.Name.Local == "h") && !w.odfHidden() {
			return w.endParagraph()
		}
	case xml.CharData:
		if len(w.stack) > 0 && !w.odfHidden() && w.odfInParagraph() {
			w.write(string(tok))
		}
	}
	return nil
}

// odfHidden tells whether the point is inside text that is not the
// document's: the record of tracked changes (deleted text lives there),
// or a comment.
func (w *walker) odfHidden() bool {
	return w.inside(nsText, "tracked-changes") || w.inside(nsOffice, "annotation") || w.inside(nsText, "note-citation")
}

func (w *walker) odfInParagraph() bool { return w.inside(nsText, "p") || w.inside(nsText, "h") }
