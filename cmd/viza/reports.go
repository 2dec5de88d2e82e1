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

func (f reportsFunc) Visible(ctx context.Context, p flows.PersonID) ([]*flows.Document, error) {
	return f().Visible(ctx, p)
}

func (f reportsFunc) Registry(ctx context.Context, docs []*flows.Document, lang string, csv bool, w io.Writer) error {
	return f().Registry(ctx, docs, lang, csv, w)
}
