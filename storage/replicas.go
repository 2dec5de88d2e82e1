package storage

// What runs where when several replicas share a PostgreSQL database: the
// leader (Lead), each replica's liveness, which its claims on deliveries
// last as long as (see Due), and how replicas tell each other of their
// commits (ListenPeers).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/viza-app/viza/flows"

	"github.com/jackc/pgx/v5/stdlib"
)

// leaderPoll is how often a replica that is not the leader tries to
// become it, and how often the leader renews its lease.
var leaderPoll = time.Second

// leaseTTL is how long a lease lasts without renewal: a leader that stops
// renewing (dead, cut off, or frozen — a paused VM, a stalled disk, a long
// pause) is replaced that long after its last renewal.
var leaseTTL = 5 * time.Second

// Lead runs the jobs that must run in one process at a time — the
// reminder scheduler, long polling, fetching, webhook delivery — until ctx
// ends. On SQLite that is this process. On PostgreSQL it is the replica
// holding the leader's lease, a row it renews every leaderPoll and that
// lapses leaseTTL after the last renewal (by the database's clock); the
// others try every leaderPoll and take it over, with the next epoch, once
// it lapsed. A connection kept open is no longer enough to stay leader: a
// frozen leader loses its lease like a dead one.
//
// Fencing: the leader stops its jobs (their context ends) as soon as a
// renewal fails, and, by its own monotonic clock, once more than
// leaseTTL-2·leaderPoll passed since the last renewal that went through —
// which is what a process frozen and woken finds first. Its jobs also see
// the fence (flows.Fenced) and do no leader's work from that moment, even
// before their context's end reaches them.
func (db *DB) Lead(ctx context.Context, log *slog.Logger, jobs func(context.Context) error) error {
	if !db.pg {
		return jobs(ctx)
	}
	me := 1 + rand.Int64N(1<<62)
	for {
		err := db.leadOnce(ctx, log, me, jobs)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Warn("leadership lost or not taken; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(leaderPoll):
		}
	}
}

// lease is a leader's hold on the lease: the epoch it took it with, and
// when (by the monotonic clock) it was last renewed.
type lease struct {
	epoch int64
	mu    sync.Mutex
	at    time.Time
}

func (l *lease) renewed(at time.Time) {
	l.mu.Lock()
	l.at = at
	l.mu.Unlock()
}

// valid reports whether the lease is surely still this process's: renewed
// less than leaseTTL-2·leaderPoll ago (a margin for the renewal's own
// round trip, and for the database's clock).
func (l *lease) valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Since(l.at) < leaseTTL-2*leaderPoll
}

// qTakeLease takes the lease when it is free or lapsed, with the next
// epoch.
const qTakeLease = `INSERT INTO leader_lease(id, holder, epoch, expires_at) VALUES (1, ?, 1, clock_timestamp() + make_interval(secs => ?::float8))
	ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, epoch = leader_lease.epoch + 1, expires_at = excluded.expires_at
	WHERE leader_lease.expires_at < clock_timestamp()
	RETURNING epoch`

// qRenewLease renews the lease if it is still this holder's at this epoch.
const qRenewLease = `UPDATE leader_lease SET expires_at = clock_timestamp() + make_interval(secs => ?::float8)
	WHERE id = 1 AND holder = ? AND epoch = ? AND expires_at >= clock_timestamp() RETURNING epoch`

// leaseRenewHook, in tests, stands for the process freezing: while it
// blocks, no renewal is made.
var leaseRenewHook func()

// leadOnce takes the lease when it can, runs jobs while the lease is
// renewed, and lets it go.
func (db *DB) leadOnce(ctx context.Context, log *slog.Logger, me int64, jobs func(context.Context) error) error {
	ttl := leaseTTL.Seconds()
	var epoch int64
	for {
		err := db.reader.QueryRowContext(ctx, qTakeLease, me, ttl).Scan(&epoch)
		if err == nil {
			break
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("take the leader's lease: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(leaderPoll):
		}
	}
	l := &lease{epoch: epoch, at: time.Now()}
	log.Info("this replica leads: reminders, polling and webhooks run here", "epoch", epoch)
	lctx, stop := context.WithCancel(flows.WithFence(ctx, l.valid))
	done := make(chan error, 1)
	go func() { done <- jobs(lctx) }()
	tick := time.NewTicker(leaderPoll)
	defer tick.Stop()
	var lost error
watch:
	for {
		select {
		case err := <-done:
			stop()
			if ctx.Err() == nil && err != nil {
				lost = fmt.Errorf("leader's jobs: %w", err)
			}
			break watch
		case <-tick.C:
			if leaseRenewHook != nil {
				leaseRenewHook()
			}
			if !l.valid() {
				// Woken after too long (frozen): another replica may lead
				// by now. Stop before anything else.
				lost = fmt.Errorf("the lease lapsed while this process was not running (last renewed %s ago)", time.Since(l.at).Round(time.Millisecond))
				stop()
				<-done
				break watch
			}
			var got int64
			err := db.reader.QueryRowContext(ctx, qRenewLease, ttl, me, epoch).Scan(&got)
			if err != nil && ctx.Err() == nil {
				lost = fmt.Errorf("renew the leader's lease: %w", err)
				stop()
				<-done
				break watch
			}
			if err == nil {
				l.renewed(time.Now())
			}
		}
	}
	stop()
	if ctx.Err() != nil {
		// Stepping down on shutdown: the lease is let go at once, so the
		// next leader does not wait for it to lapse.
		_, _ = db.reader.ExecContext(context.Background(), `UPDATE leader_lease SET expires_at = clock_timestamp() WHERE id = 1 AND holder = ? AND epoch = ?`, me, epoch)
	}
	return lost
}

// replicaLockSpace is the first key of the replicas' liveness locks
// (pg_advisory_lock(int, int)): "VIZA" in ASCII.
const replicaLockSpace = 0x56495A41

// qLiveReplicas lists the ids of the replicas alive on this database: those
// whose liveness lock is held.
var qLiveReplicas = `SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = ` + strconv.Itoa(replicaLockSpace) + `
	AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// liveness holds a replica's liveness lock on a connection of its own for
// as long as the process lives: while it is held, the deliveries the
// replica claimed are its own; when the process dies, so does the session
// and, with it, the lock.
type liveness struct {
	id   int64
	pool *sql.DB
	stop context.CancelFunc
	done chan struct{}
}

var livenessCheck = 5 * time.Second

func startLiveness(ctx context.Context, url string) (*liveness, error) {
	pool, err := sql.Open(pgDriverName, url)
	if err != nil {
		return nil, fmt.Errorf("open for the liveness lock: %w", err)
	}
	pool.SetMaxIdleConns(0) // a closed conn ends its session
	l := &liveness{id: 1 + rand.Int64N(1<<31-2), pool: pool, done: make(chan struct{})}
	conn, err := l.lock(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	l.stop = stop
	go l.keep(bg, conn)
	return l, nil
}

func (l *liveness) lock(ctx context.Context) (*sql.Conn, error) {
	conn, err := l.pool.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect for the liveness lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?, ?)`, replicaLockSpace, l.id); err != nil {
		conn.Close()
		return nil, fmt.Errorf("take the liveness lock: %w", err)
	}
	return conn, nil
}

// keep checks the lock's connection and takes the lock again on a new one
// when it broke (a server restart, a network cut): meanwhile the others may
// have taken this replica's claims, which costs at most a message sent
// twice.
func (l *liveness) keep(ctx context.Context, conn *sql.Conn) {
	defer close(l.done)
	t := time.NewTicker(livenessCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if conn != nil {
				// Said at once, rather than left to the server noticing the
				// closed session: the others may take the claims now.
				_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(?, ?)`, replicaLockSpace, l.id)
				conn.Close()
			}
			return
		case <-t.C:
		}
		if conn != nil && conn.PingContext(ctx) == nil {
			continue
		}
		if conn != nil {
			conn.Close()
		}
		conn, _ = l.lock(ctx) // nil on failure: tried again at the next tick
	}
}

func (l *liveness) close() error {
	if l == nil {
		return nil
	}
	l.stop()
	<-l.done
	return l.pool.Close()
}

// What replicas tell each other (see ListenPeers): something was
// committed, or an update was stored in a channel's inbox.
const (
	PeerCommit      = "commit"
	peerInboxPrefix = "inbox:"
)

// PeerInbox is the event of an update stored in channel's inbox.
func PeerInbox(channel string) string { return peerInboxPrefix + channel }

// qNotifyPeers tells the other replicas something, when the transaction
// commits (NOTIFY is transactional).
const qNotifyPeers = `SELECT pg_notify(?, ?)`

// notifyPeers queues event for the other replicas in the current write
// transaction.
func (db *DB) notifyPeers(tx execer, event string) error {
	if !db.pg {
		return nil
	}
	if _, err := tx.ExecContext(context.Background(), qNotifyPeers, db.locks.peers, event); err != nil {
		return fmt.Errorf("notify replicas: %w", err)
	}
	return nil
}

// ListenPeers calls heard with what the other replicas commit (PeerCommit)
// and store in their inboxes (PeerInbox), until ctx ends: a replica wakes
// its loops on its own commits, and this wakes them on the others' — the
// leader's inbox processor when an update came in through another
// replica's webhook, say — instead of their next idle look. On SQLite,
// where nobody else writes, it only waits for ctx.
func (db *DB) ListenPeers(ctx context.Context, log *slog.Logger, heard func(event string)) error {
	if !db.pg {
		<-ctx.Done()
		return nil
	}
	for ctx.Err() == nil {
		if err := db.listenOnce(ctx, heard); err != nil && ctx.Err() == nil {
			log.Warn("listening to the other replicas; again in a second", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func (db *DB) listenOnce(ctx context.Context, heard func(string)) error {
	pool, err := sql.Open(pgDriverName, db.url)
	if err != nil {
		return err
	}
	defer pool.Close()
	pool.SetMaxIdleConns(0)
	conn, err := pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A channel name is an identifier, not a parameter; it is made of hex.
	if _, err := conn.ExecContext(ctx, `LISTEN `+db.locks.peers); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return conn.Raw(func(dc any) error {
		pc := dc.(*pgConn).Conn.(*stdlib.Conn).Conn()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			heard(n.Payload)
		}
	})
}
