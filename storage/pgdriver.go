package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The storage package writes its SQL once, in what SQLite and PostgreSQL
// share (ON CONFLICT, RETURNING, CASE, ||), with SQLite's ? placeholders.
// pgDriver is pgx's database/sql driver with that text translated on the
// way in — placeholders numbered, SQLite's hints dropped — so that the
// readers' pool, transactions and the writer's own connection all take the
// same statements on either database. Keeping two copies of every query in
// step by hand is what this spares; the translation is a scan for ? outside
// quotes, cached per statement text.
const pgDriverName = "viza-pgx"

func init() { sql.Register(pgDriverName, &pgDriver{base: stdlib.GetDefaultDriver()}) }

type pgDriver struct{ base driver.Driver }

func (d *pgDriver) Open(dsn string) (driver.Conn, error) {
	c, err := d.base.Open(dsn)
	if err != nil {
		return nil, err
	}
	return &pgConn{Conn: c}, nil
}

// pgConn forwards every optional interface pgx's connection has, so that
// database/sql uses them as it would on pgx directly.
type pgConn struct{ driver.Conn }

var (
	_ driver.ConnPrepareContext = (*pgConn)(nil)
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.ConnBeginTx        = (*pgConn)(nil)
	_ driver.Pinger             = (*pgConn)(nil)
	_ driver.SessionResetter    = (*pgConn)(nil)
	_ driver.NamedValueChecker  = (*pgConn)(nil)
)

func (c *pgConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *pgConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, pgSQL(q))
}

func (c *pgConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, pgSQL(q), args)
}

func (c *pgConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, pgSQL(q), args)
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *pgConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *pgConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

var pgTexts sync.Map // SQLite text → PostgreSQL text

// indexedBy is SQLite's index hint, which PostgreSQL's planner does without.
var indexedBy = regexp.MustCompile(`\s+INDEXED BY \w+`)

// pgSQL translates a statement (see pgDriver).
func pgSQL(q string) string {
	if t, ok := pgTexts.Load(q); ok {
		return t.(string)
	}
	t := indexedBy.ReplaceAllString(q, "")
	if t == qBegin {
		t = "BEGIN"
	}
	t = numberPlaceholders(t)
	pgTexts.Store(q, t)
	return t
}

// numberPlaceholders turns each ? outside quotes and comments into $1, $2…
func numberPlaceholders(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'' || c == '"':
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end])
			i += end - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isPGConstraint(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "23") // integrity_constraint_violation class
}
