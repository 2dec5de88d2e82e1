package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// wconn is the writer's connection, driven below database/sql.
//
// database/sql costs a decision about a quarter of its time here: every
// transaction starts a goroutine to watch its context and wakes it at
// commit, and every statement takes locks and converts its arguments by
// reflection. The single writer needs none of that — it owns its connection
// for the life of the process and never abandons a statement midway, since
// the transaction it runs in is shared by a batch of callers — so it talks to
// the driver directly, with its statements prepared once. Readers keep
// database/sql and its pool.
type wconn struct {
	conn  driver.Conn
	stmts map[string]driver.Stmt
	args  []driver.NamedValue // reused between statements; only the leader runs them
	// writes counts statements that may have changed something (all but
	// SELECTs), so the writer can tell whether a failed command left changes
	// behind.
	writes int
}

func openWriter(drv driver.Driver, dsn string) (*wconn, error) {
	c, err := drv.Open(dsn)
	if err != nil {
		return nil, err
	}
	return &wconn{conn: c, stmts: map[string]driver.Stmt{}}, nil
}

func (w *wconn) stmt(q string) (driver.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.(driver.ConnPrepareContext).PrepareContext(context.Background(), q)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	w.stmts[q] = st
	return st, nil
}

func (w *wconn) bind(args []any) ([]driver.NamedValue, error) {
	w.args = w.args[:0]
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		w.args = append(w.args, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return w.args, nil
}

// ExecContext runs a statement of the current transaction. The context is
// not watched: a statement of a shared batch runs to its end.
func (w *wconn) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	st, nv, err := w.prepare(q, args)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtExecContext).ExecContext(context.Background(), nv)
}

// execSimple runs statements given as text alone, several at once if need
// be: pgx sends a statement without arguments by the simple protocol, in
// one round trip. PostgreSQL's only.
func (w *wconn) execSimple(q string) error {
	_, err := w.conn.(driver.ExecerContext).ExecContext(context.Background(), q, nil)
	return err
}

// query starts a statement that returns rows.
func (w *wconn) query(q string, args []any) (driver.Rows, error) {
	st, nv, err := w.prepare(q, args)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtQueryContext).QueryContext(context.Background(), nv)
}

// prepare readies a statement with its arguments. Anything but a SELECT
// may write (INSERT … RETURNING returns a row too), and is counted.
func (w *wconn) prepare(q string, args []any) (driver.Stmt, []driver.NamedValue, error) {
	st, err := w.stmt(q)
	if err != nil {
		return nil, nil, err
	}
	nv, err := w.bind(args)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasPrefix(q, "SELECT") {
		w.writes++
	}
	return st, nv, nil
}

// queryRow reads the first row of a query.
func (w *wconn) queryRow(q string, args ...any) row {
	rows, err := w.query(q, args)
	if err != nil {
		return row{err: err}
	}
	defer rows.Close()
	vals := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(vals); err != nil {
		if errors.Is(err, io.EOF) {
			err = sql.ErrNoRows
		}
		return row{err: err}
	}
	return row{vals: vals}
}

// queryRows hands each row of a query to each; the values are valid during
// the call only.
func (w *wconn) queryRows(q string, args []any, each func([]driver.Value) error) error {
	rows, err := w.query(q, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(vals); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := each(vals); err != nil {
			return err
		}
	}
}

func (w *wconn) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, w.conn.Close())...)
}

// row is one result row, scanned like sql.Row.
type row struct {
	vals []driver.Value
	err  error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if len(dest) != len(r.vals) {
		return fmt.Errorf("scan: %d columns into %d values", len(r.vals), len(dest))
	}
	for i, d := range dest {
		if err := scanValue(d, r.vals[i]); err != nil {
			return fmt.Errorf("scan column %d: %w", i+1, err)
		}
	}
	return nil
}

// scanValue covers the few destination types the writer reads into; the
// driver hands back int64, float64, string, []byte or nil.
func scanValue(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(v)
	case *string:
		switch s := v.(type) {
		case string:
			*d = s
		case []byte:
			*d = string(s)
		default:
			return fmt.Errorf("%T into *string", v)
		}
	case *int64:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("%T into *int64", v)
		}
		*d = n
	case *int:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("%T into *int", v)
		}
		*d = int(n)
	default:
		// Named string and integer types (flows.PersonID and the like).
		rv := reflect.ValueOf(dest)
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			return fmt.Errorf("unsupported destination %T", dest)
		}
		switch e := rv.Elem(); {
		case e.Kind() == reflect.String:
			var s string
			if err := scanValue(&s, v); err != nil {
				return err
			}
			e.SetString(s)
		case e.CanInt():
			var n int64
			if err := scanValue(&n, v); err != nil {
				return err
			}
			e.SetInt(n)
		default:
			return fmt.Errorf("unsupported destination %T", dest)
		}
	}
	return nil
}
