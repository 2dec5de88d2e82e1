package bitrix24

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/storage"
)

// List is a universal list of the portal (the company's contract
// register) and how Viza's columns map to its fields.
type List struct {
	ID     string
	TypeID string
	Fields map[string]string // number, title, counterparty, amount, state, waiting_on, final_version, sheet → NAME, PROPERTY_…
}

// Changes is where the mirror reads what changed.
type Changes interface {
	DocumentsChangedSince(ctx context.Context, at, id int64, limit int) ([]storage.ChangedDocument, error)
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
}

// Registry mirrors every document into the portal's list as one element,
// keyed by the document's number (ELEMENT_CODE): added once, updated on
// every change, with the final version and the approval sheet attached
// when it is approved. It follows the documents in the order they were
// written from a cursor kept in SQLite, so a restart goes on where it
// stopped and an element is never added twice.
type Registry struct {
	Client  *Client
	List    List
	Changes Changes
	Dir     func() *flows.Directory
	Files   flows.FileStore
	// Sheet renders a document's approval sheet in lang.
	Sheet func(ctx context.Context, d *flows.Document, lang string, w io.Writer) error
	Log   *slog.Logger
	Poll  time.Duration

	waker flows.Waker
}

// Wake makes the mirror look for changes now (after a commit).
func (r *Registry) Wake() { r.waker.Wake() }

// Run mirrors changes until ctx ends.
func (r *Registry) Run(ctx context.Context) error {
	if r.Poll == 0 {
		r.Poll = 30 * time.Second
	}
	for ctx.Err() == nil {
		n, err := r.Sync(ctx)
		if err != nil && ctx.Err() == nil {
			r.Log.Warn("mirror documents into the Bitrix24 list", "err", r.Client.Redact(err.Error()))
		}
		if n > 0 && err == nil {
			continue
		}
		if !r.waker.Sleep(ctx, r.Poll) {
			return nil
		}
	}
	return nil
}

const cursorKey = "registry:cursor"

// Sync mirrors the documents changed since the cursor, at most a hundred,
// and returns how many.
func (r *Registry) Sync(ctx context.Context) (int, error) {
	var at, id int64
	if v, ok, err := r.Changes.StateGet(ctx, Name, cursorKey); err != nil {
		return 0, err
	} else if ok {
		a, b, _ := strings.Cut(v, ":")
		at, _ = strconv.ParseInt(a, 10, 64)
		id, _ = strconv.ParseInt(b, 10, 64)
	}
	changed, err := r.Changes.DocumentsChangedSince(ctx, at, id, 100)
	if err != nil {
		return 0, err
	}
	for i, c := range changed {
		if err := r.upsert(ctx, c.Doc); err != nil {
			return i, fmt.Errorf("document %s: %w", c.Doc.Number, err)
		}
		if err := r.Changes.StatePut(ctx, Name, cursorKey, fmt.Sprint(c.UpdatedAt, ":", c.Doc.ID)); err != nil {
			return i, err
		}
	}
	return len(changed), nil
}

func (r *Registry) upsert(ctx context.Context, d *flows.Document) error {
	dir := r.Dir()
	lang := dir.Language
	rd := messages.Renderer{Dir: dir}
	values := map[string]any{"number": d.Number, "title": d.Title, "counterparty": d.Counterparty, "state": messages.State(d.State, lang)}
	if d.HasAmount {
		values["amount"] = strconv.FormatFloat(float64(d.AmountMinor)/100, 'f', 2, 64)
	}
	var waiting []string
	for _, tk := range d.OpenTasks() {
		waiting = append(waiting, rd.Name(tk.Assignee))
	}
	values["waiting_on"] = strings.Join(waiting, ", ")
	attachKey := "registry:attached:" + d.Number
	_, attached, err := r.Changes.StateGet(ctx, Name, attachKey)
	if err != nil {
		return err
	}
	final := d.State == flows.StateApproved || d.State == flows.StateSigning || d.State == flows.StateDone
	if final && !attached {
		if f := r.List.Fields["final_version"]; f != "" {
			if v, ok := d.Version(d.CurrentVersion()); ok {
				rc, err := r.Files.Open(v.SHA256)
				if err != nil {
					return fmt.Errorf("open the final version: %w", err)
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					return err
				}
				values["final_version"] = []string{v.FileName, base64.StdEncoding.EncodeToString(data)}
			}
		}
		if f := r.List.Fields["sheet"]; f != "" && r.Sheet != nil {
			var buf bytes.Buffer
			if err := r.Sheet(ctx, d, lang, &buf); err != nil {
				return fmt.Errorf("render the sheet: %w", err)
			}
			values["sheet"] = []string{"sheet_" + d.Number + ".pdf", base64.StdEncoding.EncodeToString(buf.Bytes())}
		}
	}
	fields := map[string]any{}
	for col, v := range values {
		if f := r.List.Fields[col]; f != "" {
			fields[f] = v
		}
	}
	if _, ok := fields["NAME"]; !ok {
		// Every list element has a name.
		fields["NAME"] = d.Number + " " + d.Title
	}
	params := map[string]any{"IBLOCK_TYPE_ID": r.List.TypeID, "IBLOCK_ID": r.List.ID, "ELEMENT_CODE": d.Number, "FIELDS": fields}
	doneKey := "registry:added:" + d.Number
	_, added, err := r.Changes.StateGet(ctx, Name, doneKey)
	if err != nil {
		return err
	}
	method := "lists.element.add"
	if added {
		method = "lists.element.update"
	}
	var id json.RawMessage
	err = r.Client.Call(ctx, method, params, &id)
	var ae *APIError
	switch {
	case err != nil && !added && errors.As(err, &ae) && ae.Code == "ERROR_ELEMENT_ALREADY_EXISTS":
		// Added before the mark was kept (a crash in between).
		err = r.Client.Call(ctx, "lists.element.update", params, &id)
	case err != nil && added && errors.As(err, &ae) && ae.Code == "ERROR_ELEMENT_NOT_FOUND":
		// Deleted on the portal: it comes back.
		err = r.Client.Call(ctx, "lists.element.add", params, &id)
	}
	if err != nil {
		return err
	}
	if !added {
		if err := r.Changes.StatePut(ctx, Name, doneKey, string(id)); err != nil {
			return err
		}
	}
	if final && !attached && (values["final_version"] != nil || values["sheet"] != nil) {
		return r.Changes.StatePut(ctx, Name, attachKey, "1")
	}
	return nil
}
