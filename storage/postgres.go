package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
)

// lockKeys are the advisory locks of one Viza database. They are derived
// from the schema's name, so that databases kept side by side in schemas of
// one server (tests do) do not wait for each other.
type lockKeys struct {
	write   int64 // held by a write transaction (see OpenPostgres)
	migrate int64 // held while migrations run
	leader  int64 // held by the replica that runs the single-consumer jobs
	// peers is the LISTEN channel on which replicas tell each other of
	// their commits (see ListenPeers).
	peers string
}

func newLockKeys(schema string) lockKeys {
	key := func(what string) int64 {
		h := fnv.New64a()
		h.Write([]byte("viza:" + schema + ":" + what))
		return int64(h.Sum64())
	}
	return lockKeys{write: key("write"), migrate: key("migrate"), leader: key("leader"),
		peers: fmt.Sprintf("viza_%x", uint64(key("peers")))}
}

// OpenPostgres opens the Viza database at a postgres:// URL, applying
// pending migrations (one replica at a time).
//
// Several processes may have it open. What the SQLite build keeps in the
// writer's memory because nobody else writes is therefore read under a lock
// instead: each write transaction first takes the database's write lock
// (pg_advisory_xact_lock, released by its commit), then reads the audit
// chain's head — so commands of all replicas append to one chain, one
// transaction at a time, and notifications are committed in the order of
// their ids, as the outbox's fan-out mark needs. Commands of one process
// still share a transaction (group commit). The writer keeps no documents
// between transactions: another replica may have changed them.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	m, err := sql.Open(pgDriverName, url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	defer m.Close()
	m.SetMaxOpenConns(1) // the migration lock is the session's
	var schema string
	if err := m.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	locks := newLockKeys(schema)
	if _, err := m.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, locks.migrate); err != nil {
		return nil, fmt.Errorf("wait for other replicas' migrations: %w", err)
	}
	if err := migrate(ctx, m, true); err != nil {
		return nil, err
	}
	if _, err := m.ExecContext(ctx, `SELECT pg_advisory_unlock(?)`, locks.migrate); err != nil {
		return nil, fmt.Errorf("release the migration lock: %w", err)
	}
	w, err := openWriter(m.Driver(), url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL writer: %w", err)
	}
	for _, q := range writerStatements {
		if _, err := w.stmt(q); err != nil {
			w.close()
			return nil, err
		}
	}
	r, err := sql.Open(pgDriverName, url)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("open PostgreSQL readers: %w", err)
	}
	r.SetMaxOpenConns(8)
	live, err := startLiveness(ctx, url)
	if err != nil {
		w.close()
		r.Close()
		return nil, err
	}
	db := &DB{pg: true, url: url, locks: locks, w: w, reader: r, live: live, replica: live.id, runTwice: runTwiceFromEnv()}
	db.idle = sync.NewCond(&db.mu)
	return db, nil
}

// ensureWriter gives the writer a new connection when its own is gone (the
// server restarted, failed over, or cut it): SQLite's file never goes
// away, a server may. The batch that found it broken has failed; the next
// one runs on the new connection.
func (db *DB) ensureWriter() {
	if !db.pg {
		return
	}
	err := db.w.conn.(driver.SessionResetter).ResetSession(context.Background())
	if !errors.Is(err, driver.ErrBadConn) {
		return
	}
	w, err := openWriter(db.reader.Driver(), db.url)
	if err != nil {
		return // the batch's BEGIN says so
	}
	_ = db.w.close()
	db.w = w
}

// lockForWrite takes the database's write lock for the transaction just
// begun and reads the audit chain's end as the other replicas left it.
func (db *DB) lockForWrite() error {
	if !db.pg {
		return nil
	}
	if _, err := db.w.ExecContext(context.Background(), qWriteLock, db.locks.write); err != nil {
		return fmt.Errorf("take the write lock: %w", err)
	}
	id, h, err := scanLastEvent(db.w.queryRow(qLastEvent).Scan)
	if err != nil {
		return err
	}
	db.lastAudit, db.head = id, h
	return nil
}

// Shared reports whether other processes may write this database
// (PostgreSQL): jobs that must run once then run on one leader (see
// Lead).
func (db *DB) Shared() bool { return db.pg }
