package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/viza-app/viza/flows"
)

// flush writes what a batch deferred to its end: the documents rows it
// changed and the notifications it queued.
func (db *DB) flush(b *batch) error {
	for id, r := range b.rows {
		if err := db.writeRow(id, r); err != nil {
			return err
		}
	}
	return db.insertNotifications(b.notes)
}

func (db *DB) writeRow(id int64, r *docRow) error {
	var body []byte
	if r.doc != nil {
		var err error
		if body, err = encodeBody(r.doc); err != nil {
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

// insertNotifications inserts a batch's notifications, in order.
func (db *DB) insertNotifications(notes []flows.Notification) error {
	const perRow = 5
	args := make([]any, 0, perRow*min(len(notes), maxNotificationRows))
	for len(notes) > 0 {
		n := min(len(notes), maxNotificationRows)
		args = args[:0]
		for _, note := range notes[:n] {
			payload, err := json.Marshal(note)
			if err != nil {
				return fmt.Errorf("encode notification: %w", err)
			}
			args = append(args, string(note.To), note.Kind, note.DocID, string(payload), note.At.UnixNano())
		}
		if _, err := db.w.ExecContext(context.Background(), insertNotifications(n), args...); err != nil {
			return fmt.Errorf("queue %d notifications: %w", n, err)
		}
		notes = notes[n:]
	}
	return nil
}
