// Package extract reads the text of a document version, so that two
// versions can be compared: Word (DOCX), OpenDocument (ODT) and PDF with a
// text layer. Anything else is "not comparable", never a guess.
//
// Every reader is bounded — by the bytes it decompresses, the depth of the
// XML, the text it keeps and the caller's context — because the files come
// from anyone on a route, and a zip bomb or a PDF built to loop must cost a
// failed comparison, not the service.
package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// Status says what came of reading a version's text.
type Status string

// The statuses. Only StatusOK has text to compare.
const (
	StatusOK          Status = "ok"
	StatusNoText      Status = "no_text"     // a PDF without a text layer: a scan
	StatusUnsupported Status = "unsupported" // a format with no comparison (XLSX, images, ZIP)
	StatusFailed      Status = "failed"      // damaged, too big or too slow to read
)

// Text is what a version says, paragraph by paragraph in reading order.
type Text struct {
	Status     Status   `json:"status"`
	Format     string   `json:"format,omitzero"` // docx, odt, pdf
	Paragraphs []string `json:"paragraphs,omitzero"`
	// Revisions counts tracked changes (insertions, deletions, moves) the
	// author left unaccepted, and Comments the comments left in the file:
	// worth telling an approver about on their own.
	Revisions int `json:"revisions,omitzero"`
	Comments  int `json:"comments,omitzero"`
	Pages     int `json:"pages,omitzero"`
	// Reason is why the text is missing, a short code for the log and the
	// page ("too_big", "timeout", "damaged").
	Reason string `json:"reason,omitzero"`
}

// String is the text, one paragraph a line.
func (t Text) String() string { return strings.Join(t.Paragraphs, "\n") }

// Limits bound one extraction.
type Limits struct {
	// MaxUnpacked is how many bytes of XML may be decompressed from a
	// DOCX or ODT in all, whatever the archive says about itself.
	MaxUnpacked int64
	// MaxRunes is the most text kept; a longer document fails as too big.
	MaxRunes int
	// MaxDepth is the deepest XML nesting read.
	MaxDepth int
	// MaxEntries is the most files an archive may list.
	MaxEntries int
}

// DefaultLimits hold a 1,000-page contract with room to spare.
var DefaultLimits = Limits{MaxUnpacked: 64 << 20, MaxRunes: 4 << 20, MaxDepth: 256, MaxEntries: 5000}

// PDFReader returns the text of each page of a PDF. It runs outside the
// service's process (see package pdftext), so it is a function here.
type PDFReader func(ctx context.Context, data []byte) (pages []string, err error)

// Extractor reads versions' text.
type Extractor struct {
	Limits Limits
	// PDF reads PDFs; nil makes PDFs unsupported.
	PDF PDFReader
}

// Failure is an extraction that could not finish, with its reason.
type Failure struct {
	Reason string
	Err    error
}

func (f *Failure) Error() string {
	if f.Err == nil {
		return "extract: " + f.Reason
	}
	return "extract: " + f.Reason + ": " + f.Err.Error()
}

func (f *Failure) Unwrap() error { return f.Err }

func fail(reason string, err error) error { return &Failure{Reason: reason, Err: err} }

// Reasons of failures.
const (
	ReasonTooBig  = "too_big"
	ReasonDamaged = "damaged"
	ReasonTimeout = "timeout"
)

// Sniff names a file's format by its content; the name and the declared
// type are only what a person said. "" means not comparable.
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return "pdf"
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		// Which zip it is shows in its entries; see Extract.
		return "zip"
	}
	return ""
}

// Extract reads data's text. It never returns an error: what went wrong
// is the Text's status and reason, and the error beside it is for the log.
func (e Extractor) Extract(ctx context.Context, data []byte) (Text, error) {
	lim := e.Limits
	if lim.MaxUnpacked == 0 {
		lim = DefaultLimits
	}
	var t Text
	var err error
	switch Sniff(data) {
	case "pdf":
		if e.PDF == nil {
			return Text{Status: StatusUnsupported, Format: "pdf"}, nil
		}
		t, err = e.pdf(ctx, data, lim)
	case "zip":
		t, err = readPackage(ctx, data, lim)
	default:
		return Text{Status: StatusUnsupported}, nil
	}
	if err != nil {
		reason := ReasonDamaged
		var f *Failure
		if errors.As(err, &f) {
			reason = f.Reason
		}
		if ctx.Err() != nil {
			reason = ReasonTimeout
		}
		return Text{Status: StatusFailed, Format: t.Format, Reason: reason}, err
	}
	return t, nil
}

func (e Extractor) pdf(ctx context.Context, data []byte, lim Limits) (Text, error) {
	// A PDF ends with %%EOF (ISO 32000-1, 7.5.5), give or take some bytes
	// a tool appended: one that does not is cut short, and is refused
	// here, without starting PDFium for it.
	if !bytes.Contains(data[max(0, len(data)-4096):], []byte("%%EOF")) {
		return Text{Format: "pdf"}, fail(ReasonDamaged, errors.New("no %%EOF: the file is cut short"))
	}
	pages, err := e.PDF(ctx, data)
	if err != nil {
		return Text{Format: "pdf"}, fmt.Errorf("read the pdf's text: %w", err)
	}
	if len(pages) == 0 {
		return Text{Format: "pdf"}, fail(ReasonDamaged, errors.New("a pdf without pages"))
	}
	t := Text{Status: StatusNoText, Format: "pdf", Pages: len(pages)}
	var k keeper
	k.max = lim.MaxRunes
	for _, p := range pages {
		for line := range strings.SplitSeq(p, "\n") {
			if err := k.add(&t, line); err != nil {
				return Text{Format: "pdf"}, err
			}
		}
	}
	if len(t.Paragraphs) > 0 {
		t.Status = StatusOK
	}
	return t, nil
}

// keeper adds paragraphs to a Text while counting what it keeps.
type keeper struct {
	runes, max int
}

func (k *keeper) add(t *Text, s string) error {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return nil
	}
	k.runes += len([]rune(s))
	if k.max > 0 && k.runes > k.max {
		return fail(ReasonTooBig, fmt.Errorf("more than %d characters of text", k.max))
	}
	t.Paragraphs = append(t.Paragraphs, s)
	return nil
}
