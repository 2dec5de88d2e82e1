package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/viza-app/viza/flows"
)

// txn implements flows.Tx on one write transaction.
type txn struct {
	ctx context.Context
	tx  *sql.Tx
}

var _ flows.Tx = (*txn)(nil)

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadDocument(ctx context.Context, q queryer, where string, arg any) (*flows.Document, error) {
	var id int64
	var body string
	err := q.QueryRowContext(ctx, `SELECT id, body FROM documents WHERE `+where, arg).Scan(&id, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flows.Errorf(flows.KindNotFound, "doc_not_found", "document %s %v", where, arg)
	}
	if err != nil {
		return nil, fmt.Errorf("load document %v: %w", arg, err)
	}
	d := &flows.Document{}
	if err := json.Unmarshal([]byte(body), d); err != nil {
		return nil, fmt.Errorf("decode document %d: %w", id, err)
	}
	d.ID = id
	return d, nil
}

func (t *txn) Document(id int64) (*flows.Document, error) {
	return loadDocument(t.ctx, t.tx, "id = ?", id)
}

func (t *txn) DocumentByNumber(number string) (*flows.Document, error) {
	return loadDocument(t.ctx, t.tx, "number = ?", number)
}

func (t *txn) DocumentOfTask(taskID int64) (*flows.Document, error) {
	d, err := loadDocument(t.ctx, t.tx, "id = (SELECT doc_id FROM tasks WHERE id = ?)", taskID)
	if flows.ErrorKind(err) == flows.KindNotFound {
		return nil, flows.Errorf(flows.KindNotFound, "task_not_found", "task %d", taskID)
	}
	return d, err
}

func (t *txn) NextSequence(name string) (int64, error) {
	var v int64
	err := t.tx.QueryRowContext(t.ctx, `INSERT INTO counters(name, value) VALUES (?, 1)
		ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next %s: %w", name, err)
	}
	return v, nil
}

func (t *txn) SaveDocument(d *flows.Document) error {
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode document: %w", err)
	}
	var amount any
	if d.HasAmount {
		amount = d.AmountMinor
	}
	now := time.Now().UnixNano()
	if d.ID == 0 {
		res, err := t.tx.ExecContext(t.ctx, `INSERT INTO documents(number, type, title, counterparty, amount_minor, currency,
			initiator, state, created_at, updated_at, finished_at, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			d.Number, d.TypeID, d.Title, d.Counterparty, amount, d.Currency, string(d.Initiator), d.State,
			d.CreatedAt.UnixNano(), now, nanos(d.FinishedAt), string(body))
		if isConstraint(err) {
			return flows.Errorf(flows.KindConflict, "duplicate_number", "number %s exists", d.Number)
		}
		if err != nil {
			return fmt.Errorf("insert document %s: %w", d.Number, err)
		}
		if d.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("id of document %s: %w", d.Number, err)
		}
	} else {
		_, err := t.tx.ExecContext(t.ctx, `UPDATE documents SET title=?, counterparty=?, amount_minor=?, currency=?, state=?,
			updated_at=?, finished_at=?, body=? WHERE id=?`, d.Title, d.Counterparty, amount, d.Currency, d.State, now,
			nanos(d.FinishedAt), string(body), d.ID)
		if err != nil {
			return fmt.Errorf("update document %s: %w", d.Number, err)
		}
	}
	for _, tk := range d.Tasks {
		_, err := t.tx.ExecContext(t.ctx, `INSERT INTO tasks(id, doc_id, round, stage, kind, assignee, on_behalf_of, state, opened_at, due_at, closed_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT(id) DO UPDATE SET state=excluded.state, closed_at=excluded.closed_at, assignee=excluded.assignee
			WHERE state IS NOT excluded.state OR assignee IS NOT excluded.assignee`,
			tk.ID, d.ID, tk.Round, tk.Stage, tk.Kind, string(tk.Assignee), string(tk.OnBehalfOf), tk.State,
			tk.OpenedAt.UnixNano(), nanos(tk.Due), nanos(tk.ClosedAt))
		if err != nil {
			return fmt.Errorf("save task %d: %w", tk.ID, err)
		}
	}
	return nil
}

// auditContent is what an audit event's hash covers, in a fixed field
// order so that verify recomputes the same bytes.
type auditContent struct {
	DocID   int64  `json:"doc"`
	At      int64  `json:"at"`
	Actor   string `json:"actor"`
	For     string `json:"for"`
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	TaskID  int64  `json:"task"`
	Detail  string `json:"detail"`
}

func chainHash(prev string, c auditContent) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode audit event: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func lastHash(ctx context.Context, q queryer) (string, error) {
	var h string
	err := q.QueryRowContext(ctx, `SELECT hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("last audit hash: %w", err)
	}
	return h, nil
}

func (t *txn) Record(events []flows.AuditEvent, notes []flows.Notification) error {
	prev, err := lastHash(t.ctx, t.tx)
	if err != nil {
		return err
	}
	for _, e := range events {
		c := auditContent{DocID: e.DocID, At: e.At.UnixNano(), Actor: string(e.Actor), For: string(e.For), Kind: e.Kind,
			Version: e.Version, TaskID: e.TaskID, Detail: e.Detail}
		h, err := chainHash(prev, c)
		if err != nil {
			return err
		}
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO audit(doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, prev_hash, hash)
			VALUES (?,?,?,?,?,?,?,?,?,?)`, c.DocID, c.At, c.Actor, c.For, c.Kind, c.Version, c.TaskID, c.Detail, prev, h); err != nil {
			return fmt.Errorf("append audit %s: %w", e.Kind, err)
		}
		prev = h
	}
	for _, n := range notes {
		payload, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("encode notification: %w", err)
		}
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO notifications(recipient, kind, doc_id, payload, created_at) VALUES (?,?,?,?,?)`,
			string(n.To), n.Kind, n.DocID, string(payload), n.At.UnixNano()); err != nil {
			return fmt.Errorf("queue notification %s: %w", n.Kind, err)
		}
	}
	return nil
}

func (t *txn) ActiveAbsence(p flows.PersonID, at time.Time) (flows.Absence, bool, error) {
	var a flows.Absence
	var from, to int64
	err := t.tx.QueryRowContext(t.ctx, `SELECT deputy, from_at, to_at FROM absences
		WHERE person = ? AND from_at <= ? AND to_at > ? ORDER BY id DESC LIMIT 1`, string(p), at.UnixNano(), at.UnixNano()).
		Scan(&a.Deputy, &from, &to)
	if errors.Is(err, sql.ErrNoRows) {
		return flows.Absence{}, false, nil
	}
	if err != nil {
		return flows.Absence{}, false, fmt.Errorf("absence of %s: %w", p, err)
	}
	a.Person, a.From, a.To = p, time.Unix(0, from), time.Unix(0, to)
	return a, true, nil
}

func (t *txn) PutAbsence(a flows.Absence, by flows.PersonID, at time.Time) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO absences(person, deputy, from_at, to_at, created_by, created_at) VALUES (?,?,?,?,?,?)`,
		string(a.Person), string(a.Deputy), a.From.UnixNano(), a.To.UnixNano(), string(by), at.UnixNano())
	if err != nil {
		return fmt.Errorf("store absence of %s: %w", a.Person, err)
	}
	return nil
}

// Document implements flows.Store for reads outside a write.
func (db *DB) Document(ctx context.Context, id int64) (*flows.Document, error) {
	return loadDocument(ctx, db.reader, "id = ?", id)
}

// DocumentByNumber implements flows.Store.
func (db *DB) DocumentByNumber(ctx context.Context, number string) (*flows.Document, error) {
	return loadDocument(ctx, db.reader, "number = ?", number)
}

var _ flows.Store = (*DB)(nil)
