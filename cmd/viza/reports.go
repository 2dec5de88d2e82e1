package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/viza-app/viza/calendar"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/registry"
	"github.com/viza-app/viza/messages/sheet"
	"github.com/viza-app/viza/storage"
)

// reports renders the approval sheet and the registry for the CLI and the
// channels.
type reports struct {
	db    *storage.DB
	eng   *flows.Engine
	cal   *calendar.Calendar
	clock flows.Clock
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
	return sheet.Render(w, sheet.Input{Doc: d, Lang: lang, Renderer: messages.Renderer{Dir: r.eng.Directory()}, Now: r.clock.Now(), LastHash: last})
}

// Visible lists the documents a person may see: all for viewers, else
// those they take part in.
func (r *reports) Visible(ctx context.Context, p flows.PersonID) ([]*flows.Document, error) {
	docs, err := r.db.AllDocuments(ctx)
	if err != nil {
		return nil, err
	}
	if p == "" {
		return docs, nil
	}
	out := docs[:0]
	for _, d := range docs {
		if r.eng.MayRead(d, p) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Registry writes the registry of docs as XLSX, or CSV when csv is set.
func (r *reports) Registry(ctx context.Context, docs []*flows.Document, lang string, csv bool, w io.Writer) error {
	dir := r.eng.Directory()
	rows, err := registry.Rows(docs, messages.Renderer{Dir: dir}, lang, r.clock.Now(), r.cal.WorkingDaysBetween)
	if err != nil {
		return err
	}
	if csv {
		return registry.WriteCSV(w, rows, lang, dir.Location)
	}
	return registry.WriteXLSX(w, rows, lang, dir.Location)
}

// VerifyDocument tells whether a sheet printed with hash still matches the
// document's record.
func (r *reports) VerifyDocument(ctx context.Context, number, hash string, w io.Writer) int {
	rep, err := r.db.VerifyChain(ctx)
	if err != nil {
		fmt.Fprintln(w, "verify:", err)
		return 1
	}
	if rep.BrokenAt != 0 {
		fmt.Fprintf(w, "BROKEN: the audit chain is broken at event %d (%s)\n", rep.BrokenAt, rep.Reason)
		return 1
	}
	d, err := r.db.DocumentByNumber(ctx, number)
	if err != nil {
		fmt.Fprintf(w, "no document %s\n", number)
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
			fmt.Fprintf(w, "OK: the record of %s is unchanged since the sheet was printed (%d events, chain intact)\n", number, len(events))
			return 0
		}
		fmt.Fprintf(w, "CHANGED: %s has %d events recorded after the sheet was printed; the latest is %q at %s\n",
			number, len(events)-1-i, events[len(events)-1].Kind, events[len(events)-1].At.Format("2006-01-02 15:04 MST"))
		return 1
	}
	fmt.Fprintf(w, "MISMATCH: no event of %s has hash %s; the sheet is not of this record\n", number, hash)
	return 1
}

// reportsFunc gives channels the reports of the configuration in force
// (the calendar changes on SIGHUP).
type reportsFunc func() *reports

func (f reportsFunc) Sheet(ctx context.Context, d *flows.Document, lang string, w io.Writer) error {
	return f().Sheet(ctx, d, lang, w)
}

func (f reportsFunc) Visible(ctx context.Context, p flows.PersonID) ([]*flows.Document, error) {
	return f().Visible(ctx, p)
}

func (f reportsFunc) Registry(ctx context.Context, docs []*flows.Document, lang string, csv bool, w io.Writer) error {
	return f().Registry(ctx, docs, lang, csv, w)
}
