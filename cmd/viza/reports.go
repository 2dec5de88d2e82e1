package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/viza-app/viza/calendar"
	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/registry"
	"github.com/viza-app/viza/messages/sheet"
	"github.com/viza-app/viza/pdfseal"
	"github.com/viza-app/viza/storage"
)

// reports renders the approval sheet and the registry for the CLI and the
// channels.
type reports struct {
	db    *storage.DB
	eng   *flows.Engine
	cal   *calendar.Calendar
	clock flows.Clock
	cmp   *compare.Service
	seal  *pdfseal.Seal // nil: sheets are not sealed
	// sealFinal seals the final version too, when it is a PDF.
	sealFinal bool
	files     flows.FileStore
	log       *slog.Logger
}

// Sheet writes a document's approval sheet.
func (r *reports) Sheet(ctx context.Context, d *flows.Document, lang string, w io.Writer) error {
	events, err := r.db.DocumentEvents(ctx, d.ID)
	if err != nil {
		return err
	}
	last := ""
	if len(events) > 0 {
		last = events[len(events)-1].Hash
	}
	in := sheet.Input{Doc: d, Lang: lang, Renderer: messages.Renderer{Dir: r.eng.Directory()}, Now: r.clock.Now(), LastHash: last,
		Changes: r.changes(ctx, d)}
	if r.seal == nil {
		return sheet.Render(w, in)
	}
	var buf bytes.Buffer
	if err := sheet.Render(&buf, in); err != nil {
		return err
	}
	_, err = w.Write(r.sealSheet(ctx, buf.Bytes(), d.Number, lang))
	return err
}

// sheetCompareWait bounds how long a sheet waits for the comparisons of
// its versions; one not ready by then is printed as not ready.
const sheetCompareWait = 20 * time.Second

// changes compares every version that started a round with the version
// before it, for the sheet.
func (r *reports) changes(ctx context.Context, d *flows.Document) map[int]compare.Comparison {
	if r.cmp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sheetCompareWait)
	defer cancel()
	out := map[int]compare.Comparison{}
	for _, rd := range d.Rounds {
		from := compare.Previous(d, rd.Version)
		if _, done := out[rd.Version]; done || from == 0 {
			continue
		}
		c, err := r.cmp.Between(ctx, d, from, rd.Version, compare.DefaultOptions)
		if err != nil {
			continue // the sheet goes without the line; the record is what it is
		}
		out[rd.Version] = c
	}
	return out
}

// exportChunk is how many documents the registry reads at a time.
const exportChunk = 500

// Registry writes the registry of the documents reader may read (every
// document for "") as XLSX, or CSV when csv is set, and returns how many
// rows it wrote. Documents are read a chunk at a time, newest first, and
// rows streamed out: memory stays flat however large the register.
func (r *reports) Registry(ctx context.Context, reader flows.PersonID, lang string, csv bool, w io.Writer, progress func(done int)) (int, error) {
	dir := r.eng.Directory()
	row, err := registry.Rower(messages.Renderer{Dir: dir}, lang, r.clock.Now(), r.cal.WorkingDaysBetween)
	if err != nil {
		return 0, err
	}
	n := 0
	src := func(yield func(registry.Row) error) error {
		q := storage.DocQuery{Reader: reader, Limit: exportChunk}
		for {
			docs, err := r.db.DocumentPage(ctx, q)
			if err != nil {
				return err
			}
			for _, d := range docs {
				n++
				if err := yield(row(d)); err != nil {
					return err
				}
			}
			if progress != nil {
				progress(n)
			}
			if len(docs) < q.Limit {
				return nil
			}
			q.BeforeID = docs[len(docs)-1].ID
		}
	}
	if csv {
		return n, registry.WriteCSV(w, src, lang, dir.Location)
	}
	return n, registry.WriteXLSX(w, src, lang, dir.Location)
}

// VerifyDocument tells, in lang, whether a sheet printed with hash still
// matches the document's record.
func (r *reports) VerifyDocument(ctx context.Context, number, hash, lang string, w io.Writer) int {
	say := cliText(lang)
	rep, err := r.db.VerifyChain(ctx)
	if err != nil {
		fmt.Fprintln(w, "verify:", err)
		return 1
	}
	if rep.BrokenAt != 0 {
		fmt.Fprintln(w, say("cli.chain_broken", map[string]any{"ID": rep.BrokenAt, "Reason": say("cli.chain."+rep.Reason, nil), "Events": rep.Events}))
		return 1
	}
	d, err := r.db.DocumentByNumber(ctx, number)
	if err != nil {
		fmt.Fprintln(w, say("cli.no_document", map[string]any{"Number": number}))
		return 1
	}
	events, err := r.db.DocumentEvents(ctx, d.ID)
	if err != nil {
		fmt.Fprintln(w, "verify:", err)
		return 1
	}
	hash = strings.TrimSpace(hash)
	for i, e := range events {
		if e.Hash != hash {
			continue
		}
		if i == len(events)-1 {
			fmt.Fprintln(w, say("cli.sheet_ok", map[string]any{"Number": number, "Events": len(events)}))
			return 0
		}
		last := events[len(events)-1]
		fmt.Fprintln(w, say("cli.sheet_changed", map[string]any{"Number": number, "After": len(events) - 1 - i,
			"Kind": last.Kind, "At": last.At.In(r.eng.Directory().Location).Format("2006-01-02 15:04 MST")}))
		return 1
	}
	fmt.Fprintln(w, say("cli.sheet_mismatch", map[string]any{"Number": number, "Hash": hash}))
	return 1
}

// reportsFunc gives channels the reports of the configuration in force
// (the calendar changes on SIGHUP).
type reportsFunc func() *reports

func (f reportsFunc) Sheet(ctx context.Context, d *flows.Document, lang string, w io.Writer) error {
	return f().Sheet(ctx, d, lang, w)
}

func (f reportsFunc) SealsFinal() bool { return f().SealsFinal() }

func (f reportsFunc) SealedFinal(ctx context.Context, d *flows.Document, lang string) (string, []byte, bool) {
	return f().SealedFinal(ctx, d, lang)
}

func (f reportsFunc) Registry(ctx context.Context, reader flows.PersonID, lang string, csv bool, w io.Writer, progress func(int)) (int, error) {
	return f().Registry(ctx, reader, lang, csv, w, progress)
}
