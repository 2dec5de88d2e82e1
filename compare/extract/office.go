package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Namespaces of the elements read, by URI (prefixes are the author's).
const (
	nsW      = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsMC     = "http://schemas.openxmlformats.org/markup-compatibility/2006"
	nsText   = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
	nsOffice = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
	nsStyle  = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
)

// pkg is an open zip with a budget for what may be decompressed from it.
type pkg struct {
	ctx    context.Context
	files  map[string]*zip.File
	budget int64
	lim    Limits
}

// readPackage tells a DOCX from an ODT by its entries and reads it; any
// other zip (XLSX, an archive of scans) is not comparable.
func readPackage(ctx context.Context, data []byte, lim Limits) (Text, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Text{}, fail(ReasonDamaged, err)
	}
	if len(zr.File) > lim.MaxEntries {
		return Text{}, fail(ReasonTooBig, fmt.Errorf("%d entries", len(zr.File)))
	}
	p := &pkg{ctx: ctx, files: map[string]*zip.File{}, budget: lim.MaxUnpacked, lim: lim}
	for _, f := range zr.File {
		p.files[f.Name] = f
	}
	switch {
	case p.files["word/document.xml"] != nil:
		t, err := p.docx()
		t.Format = "docx"
		return t, err
	case p.isODT():
		t, err := p.odt()
		t.Format = "odt"
		return t, err
	}
	return Text{Status: StatusUnsupported}, nil
}

func (p *pkg) isODT() bool {
	f := p.files["mimetype"]
	if f == nil || p.files["content.xml"] == nil {
		return false
	}
	b, err := p.read(f)
	return err == nil && strings.TrimSpace(string(b)) == "application/vnd.oasis.opendocument.text"
}

// read decompresses one entry within the package's budget: the sizes an
// archive declares are not trusted, the bytes that come out are counted.
func (p *pkg) read(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fail(ReasonDamaged, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, p.budget+1))
	if err != nil {
		return nil, fail(ReasonDamaged, fmt.Errorf("%s: %w", f.Name, err))
	}
	if int64(len(b)) > p.budget {
		return nil, fail(ReasonTooBig, fmt.Errorf("more than %d bytes unpacked", p.lim.MaxUnpacked))
	}
	p.budget -= int64(len(b))
	return b, nil
}

// parts lists the entries whose names match prefix…suffix, in a stable
// order (header1, header2, … header10).
func (p *pkg) parts(prefix, suffix string) []*zip.File {
	var out []*zip.File
	for name, f := range p.files {
		if strings.HasPrefix(name, prefix) && strings.HasSuffix(name, suffix) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *zip.File) int {
		na, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(a.Name, prefix), suffix))
		nb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(b.Name, prefix), suffix))
		if na != nb {
			return na - nb
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// walker streams one XML part, calling on for every token with the
// element stack, and refuses what is nested too deep to be a document.
type walker struct {
	p     *pkg
	stack []xml.Name
	text  *Text
	keep  *keeper
	// paragraph under construction; nested paragraphs (an ODT footnote
	// inside its paragraph) get their own.
	paras []*strings.Builder
	// notes are paragraphs that ended inside another (a footnote's, a
	// text box's): they follow the paragraph that holds them.
	notes []string
}

func (w *walker) walk(f *zip.File, on func(tok xml.Token) error) error {
	b, err := w.p.read(f)
	if err != nil {
		return err
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	w.stack = w.stack[:0]
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := w.p.ctx.Err(); err != nil {
				return fail(ReasonTimeout, err)
			}
		}
		// Token, not RawToken: it resolves namespace prefixes to URIs and
		// checks that elements close in order.
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail(ReasonDamaged, fmt.Errorf("%s: %w", f.Name, err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(w.stack) >= w.p.lim.MaxDepth {
				return fail(ReasonTooBig, fmt.Errorf("%s: XML nested deeper than %d", f.Name, w.p.lim.MaxDepth))
			}
			w.stack = append(w.stack, t.Name)
		case xml.EndElement:
			if len(w.stack) == 0 {
				return fail(ReasonDamaged, fmt.Errorf("%s: unbalanced XML", f.Name))
			}
		}
		if err := on(tok); err != nil {
			return err
		}
		if _, ok := tok.(xml.EndElement); ok {
			w.stack = w.stack[:len(w.stack)-1]
		}
	}
}

// inside tells whether an element of that name is open.
func (w *walker) inside(space, local string) bool {
	for _, n := range w.stack {
		if n.Space == space && n.Local == local {
			return true
		}
	}
	return false
}

func (w *walker) startParagraph() { w.paras = append(w.paras, &strings.Builder{}) }

func (w *walker) write(s string) {
	if n := len(w.paras); n > 0 {
		w.paras[n-1].WriteString(s)
	}
}

func (w *walker) endParagraph() error {
	n := len(w.paras)
	if n == 0 {
		return nil
	}
	s := w.paras[n-1].String()
	w.paras = w.paras[:n-1]
	if n > 1 {
		w.notes = append(w.notes, s)
		return nil
	}
	if err := w.keep.add(w.text, s); err != nil {
		return err
	}
	for _, note := range w.notes {
		if err := w.keep.add(w.text, note); err != nil {
			return err
		}
	}
	w.notes = w.notes[:0]
	return nil
}
