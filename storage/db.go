// Package storage implements the core's persistence on SQLite
// (modernc.org/sqlite, no CGO): embedded migrations, one writer connection
// that commits concurrent commands together, the outbox, inbound
// de-duplication and the hash-chained audit log.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/viza-app/viza/flows"
)

//go:embed migrations/*.sql migrations_pg/*.sql
var migrationFS embed.FS

// DB is an open Viza database: a single writer connection and a pool of
// readers on the same file.
type DB struct {
	countMu sync.Mutex // one decision count at a time (see countDecisions)
	// worktime measures working time for analytics' facts (SetWorktime);
	// unset, wall time.
	worktime atomic.Pointer[func(from, to time.Time) time.Duration]
	Path     string // SQLite's file; empty on PostgreSQL
	// Log hears what the storage gets past without failing the caller
	// (an analytics tally that does not read); nil: slog's default.
	Log *slog.Logger
	// pg is set on PostgreSQL, where other processes (replicas) write the
	// same database: see OpenPostgres for what changes.
	pg    bool
	url   string
	locks lockKeys
	// replica is this process's id among the replicas (see Due), held as
	// the liveness lock by live.
	replica int64
	live    *liveness
	// writes is the database's count of write transactions at this
	// replica's last commit, batchWrites the running one's (see
	// beginShared).
	writes, batchWrites int64
	w                   *wconn // used only by the leader (see Write)
	reader              *sql.DB

	onCommit func()
	runTwice bool // see RunTwiceEnv
	// auditKey keys the chain from event seal on (see UseAuditKey).
	auditKey []byte
	seal     int64

	// The writer role (see Write): mu guards the queue and who leads.
	mu      sync.Mutex
	idle    *sync.Cond // signalled when the leader steps down
	queue   []*writeReq
	leading bool
	closed  bool

	closeOnce sync.Once
	closeErr  error

	decoded decodedDocs // for readers (see AllDocuments)

	// Owned by whoever leads (see Write).
	head      string // hash of the last committed audit event
	lastAudit int64  // and its id
	commits   int
	cache     docCache
	spare     buffers
	bodies    bodyEncoder
}

// buffers are a batch's growing lists, kept from one batch to the next:
// under load every batch fills them again to about the same size.
type buffers struct {
	audit    []any // auditRows' arguments
	notes    []flows.Notification
	noteArgs []any // notes as notificationRows' arguments, made by flush
	keys     []any // inboundRows' arguments
}

// take hands the buffers to a batch, empty.
func (b *buffers) take() buffers {
	out := buffers{audit: b.audit[:0], noteArgs: b.noteArgs[:0], keys: b.keys[:0], notes: b.notes[:0]}
	*b = buffers{}
	return out
}

// give takes them back, dropping what they point to.
func (b *buffers) give(used buffers) {
	clear(used.audit)
	clear(used.noteArgs)
	clear(used.keys)
	clear(used.notes)
	*b = used
}

// DSN puts every pragma in the connection string so that every pooled
// connection gets them, busy_timeout first so the others can wait for locks.
func DSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path, applies pending
// migrations and starts the writer.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create database folder: %w", err)
	}
	// Migrations and the audit chain's head are read through database/sql;
	// commands then go through the writer's own connection (see wconn).
	m, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer m.Close()
	m.SetMaxOpenConns(1)
	if err := migrate(ctx, m, false); err != nil {
		return nil, err
	}
	lastAudit, head, err := scanLastEvent(m.QueryRowContext(ctx, qLastEvent).Scan)
	if err != nil {
		return nil, err
	}
	w, err := openWriter(m.Driver(), DSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("open writer on %s: %w", path, err)
	}
	for _, q := range writerStatements {
		if _, err := w.stmt(q); err != nil {
			w.close()
			return nil, err
		}
	}
	r, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		w.close()
		return nil, fmt.Errorf("open readers on %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	db := &DB{Path: path, w: w, reader: r, head: head, lastAudit: lastAudit, runTwice: runTwiceFromEnv()}
	db.idle = sync.NewCond(&db.mu)
	return db, nil
}

func runTwiceFromEnv() bool { return os.Getenv(RunTwiceEnv) == "1" }

// OnCommit registers a function called after every commit that changed
// something (the dispatcher uses it to wake up). Call before use.
func (db *DB) OnCommit(f func()) { db.onCommit = f }

// Close stops the writer after the writes in flight and closes the file.
// Closing twice is harmless.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.mu.Lock()
		db.closed = true
		for db.leading {
			db.idle.Wait()
		}
		db.mu.Unlock()
		db.closeErr = errors.Join(db.reader.Close(), db.w.close(), db.live.close())
	})
	return db.closeErr
}

// Ping reports whether the database answers and is migrated to the end.
func (db *DB) Ping(ctx context.Context) error {
	var v int
	if err := db.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(version),0) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	names, err := migrationNames(db.pg)
	if err != nil {
		return err
	}
	if v != len(names) {
		return fmt.Errorf("database at migration %d of %d", v, len(names))
	}
	return nil
}

// migrationNames lists a backend's migrations in order. PostgreSQL's
// started from SQLite's schema as its migrations had left it.
func migrationNames(pg bool) ([]string, error) {
	dir := "migrations"
	if pg {
		dir = "migrations_pg"
	}
	names, err := fs.Glob(migrationFS, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// migrate applies the numbered migrations not yet recorded, each in its own
// transaction together with its record.
func migrate(ctx context.Context, db *sql.DB, pg bool) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := migrationNames(pg)
	if err != nil {
		return err
	}
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number: %w", name, err)
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		if err := applyMigration(ctx, db, n, string(body), pg); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, n int, body string, pg bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, n).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	steps := goMigrations
	if pg {
		steps = goMigrationsPG
	}
	if step := steps[n]; step != nil {
		if err := step(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, n, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict. On
// PostgreSQL, which checks its own pages (data checksums, amcheck), it says
// "ok" when the database answers and is migrated to the end.
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	if db.pg {
		if err := db.Ping(ctx); err != nil {
			return "", err
		}
		return "ok", nil
	}
	var res string
	if err := db.reader.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	return res, nil
}

// Backup writes a consistent copy of the live database to path (VACUUM
// INTO reads one snapshot, so writers go on meanwhile).
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup %s: file exists", path)
	}
	// A connection of its own: readers are query_only, and the writer must
	// stay free for commands while the copy runs.
	conn, err := sql.Open("sqlite", "file:"+db.Path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup: open: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT || isPGConstraint(err)
}

func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}

func (db *DB) log() *slog.Logger {
	if db.Log != nil {
		return db.Log
	}
	return slog.Default()
}
