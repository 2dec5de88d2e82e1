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
	// peers is the LISTEN channel on which replicas tell each other of
	// their commits (see ListenPeers).
	peers string
	// begin and commitNotify are the texts beginShared and commitShared
	// send, made once: they hold the keys above.
	begin, commitNotify string
}

func newLockKeys(schema string) lockKeys {
	key := func(what string) int64 {
		h := fnv.New64a()
		h.Write([]byte("viza:" + schema + ":" + what))
		return int64(h.Sum64())
	}
	k := lockKeys{write: key("write"), migrate: key("migrate"),
		peers: fmt.Sprintf("viza_%x", uint64(key("peers")))}
	k.begin = fmt.Sprintf(`BEGIN; SELECT pg_advisory_xact_lock(%d)`, k.write)
	k.commitNotify = fmt.Sprintf(`SELECT pg_notify('%s', '%s'); COMMIT`, k.peers, PeerCommit)
	return k
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
// still share a transaction (group commit). The documents the writer keeps
// between transactions are dropped whenever another replica wrote
// meanwhile (see beginShared).
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

// qCountWrite counts a write transaction and reads the audit chain's end,
// in one round trip; it runs under the write lock, in a statement of its
// own so that its snapshot is taken after the lock was granted.
const qCountWrite = `INSERT INTO counters(name, value) VALUES ('writes', 1)
	ON CONFLICT(name) DO UPDATE SET value = counters.value + 1
	RETURNING value, COALESCE((SELECT id FROM audit ORDER BY id DESC LIMIT 1), 0), COALESCE((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), '')`

// beginShared begins a write transaction on PostgreSQL: it takes the
// database's write lock, reads the audit chain's end as the other replicas
// left it, and counts itself among the database's write transactions.
// The count says whether anyone else wrote since this replica's last
// commit; if nobody did, the documents the writer kept from its own
// commits are still current and it goes on using them (a replica that
// does most of the writing reads few documents back), otherwise it drops
// them. BEGIN and the lock go in one round trip (the simple protocol; the
// key is a number of our own), the count and the head in another.
func (db *DB) beginShared() error {
	if err := db.w.execSimple(db.locks.begin); err != nil {
		return fmt.Errorf("begin and take the write lock: %w", err)
	}
	var writes, id int64
	var h string
	if err := db.w.queryRow(qCountWrite).Scan(&writes, &id, &h); err != nil {
		return fmt.Errorf("count the write and read the chain's end: %w", err)
	}
	if writes-1 != db.writes {
		db.cache = docCache{}
	}
	db.batchWrites = writes
	db.lastAudit, db.head = id, h
	return nil
}

// commitShared commits a PostgreSQL write transaction, telling the other
// replicas when it changed something (see ListenPeers) in the same round
// trip.
func (db *DB) commitShared(changed bool) error {
	q := `COMMIT`
	if changed {
		q = db.locks.commitNotify
	}
	if err := db.w.execSimple(q); err != nil {
		return err
	}
	db.writes = db.batchWrites
	return nil
}

// Shared reports whether other processes may write this database
// (PostgreSQL): jobs that must run once then run on one leader (see
// Lead).
func (db *DB) Shared() bool { return db.pg }
