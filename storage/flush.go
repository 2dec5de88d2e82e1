package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// flush writes what a batch deferred to its end: its audit events, the
// documents rows it changed, its notifications and its keys. The events go
// first: those that take their document's head from its row must read it
// before the row moves it.
func (db *DB) flush(b *batch) error {
	if err := db.insertRows(auditRows, b.audit); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	for id, r := range b.rows {
		if err := db.writeRow(id, r); err != nil {
			return err
		}
	}
	for _, n := range b.notes {
		payload, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("encode notification: %w", err)
		}
		b.noteArgs = append(b.noteArgs, string(n.To), n.Kind, n.DocID, string(payload), n.At.UnixNano())
	}
	if err := db.insertRows(notificationRows, b.noteArgs); err != nil {
		return fmt.Errorf("queue notifications: %w", err)
	}
	if err := db.insertRows(inboundRows, b.keys); err != nil {
		return fmt.Errorf("store keys: %w", err)
	}
	return nil
}

// insertRows inserts rows given as consecutive arguments, in order.
func (db *DB) insertRows(r *repeated, args []any) error {
	for len(args) > 0 {
		rows := min(len(args)/r.perPart, maxRowsPerInsert)
		if _, err := db.w.ExecContext(context.Background(), r.text(rows), args[:rows*r.perPart]...); err != nil {
			return fmt.Errorf("insert %d rows: %w", rows, err)
		}
		args = args[rows*r.perPart:]
	}
	return nil
}

func (db *DB) writeRow(id int64, r *docRow) error {
	var body []byte
	if r.doc != nil {
		var err error
		if body, err = db.bodies.encode(r.doc); err != nil {
			return err
		}
	}
	var head any // NULL keeps the row's
	if r.lastEvent != 0 {
		head = r.lastEvent
	}
	var err error
	switch d := r.doc; {
	case d == nil && r.lastEvent != 0:
		_, err = db.w.ExecContext(context.Background(), qSetDocumentHead, r.lastEvent, id)
	case d == nil:
		return nil
	case db.pg:
		// PostgreSQL's search words follow title and counterparty (SQLite's
		// full-text index follows them by trigger).
		_, err = db.w.ExecContext(context.Background(), qUpdateDocumentPG, d.Title, d.Counterparty, amountArg(d), d.Currency, d.State,
			r.updatedAt, nanos(d.FinishedAt), body, head, searchWords(d.Number, d.Title, d.Counterparty), searchWords(d.Counterparty), id)
	case r.knownWas && r.stateWas == d.State:
		_, err = db.w.ExecContext(context.Background(), qUpdateDocumentSameState, d.Title, d.Counterparty, amountArg(d), d.Currency,
			r.updatedAt, nanos(d.FinishedAt), body, head, id)
	default:
		_, err = db.w.ExecContext(context.Background(), qUpdateDocument, d.Title, d.Counterparty, amountArg(d), d.Currency, d.State,
			r.updatedAt, nanos(d.FinishedAt), body, head, id)
	}
	if err != nil {
		return fmt.Errorf("update document %d: %w", id, err)
	}
	return nil
}
