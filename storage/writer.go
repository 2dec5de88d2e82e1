package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/viza-app/viza/flows"
)

// maxBatch bounds how many commands share one commit.
const maxBatch = 128

type writeReq struct {
	ctx  context.Context
	key  string
	fn   func(flows.Tx) (flows.Outcome, error)
	done chan writeRes
}

type writeRes struct {
	out flows.Outcome
	err error
}

var errClosed = errors.New("storage: database closed")

// Write implements flows.Store. Commands queue for the single writer, which
// runs every command waiting at that moment in one transaction — each under
// its own savepoint, so one failing command does not undo the others — and
// commits once: under load one fsync covers many decisions (group commit).
func (db *DB) Write(ctx context.Context, key string, fn func(flows.Tx) (flows.Outcome, error)) (flows.Outcome, error) {
	req := &writeReq{ctx: ctx, key: key, fn: fn, done: make(chan writeRes, 1)}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		return flows.Outcome{}, ctx.Err()
	case <-db.stop:
		return flows.Outcome{}, errClosed
	}
	// Once queued, wait for the verdict even if ctx ends: the command may
	// already be committed and the caller must not be told otherwise.
	res := <-req.done
	return res.out, res.err
}

func (db *DB) writeLoop() {
	defer close(db.stopped)
	for {
		var first *writeReq
		select {
		case first = <-db.reqs:
		case <-db.stop:
			db.drainClosed()
			return
		}
		batch := []*writeReq{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-db.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.runBatch(batch)
	}
}

func (db *DB) drainClosed() {
	for {
		select {
		case r := <-db.reqs:
			r.done <- writeRes{err: errClosed}
		default:
			return
		}
	}
}

func (db *DB) runBatch(reqs []*writeReq) {
	results := make([]writeRes, len(reqs))
	fail := func(err error) {
		for _, r := range reqs {
			r.done <- writeRes{err: err}
		}
	}
	ctx := context.Background()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin write: %w", err))
		return
	}
	changed := false
	b := &batch{head: db.head, pending: map[int64]*flows.Document{}, stmts: map[string]*sql.Stmt{}}
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			results[i] = writeRes{err: err}
			continue
		}
		// A lone command needs no savepoint: if it fails, the whole
		// transaction is rolled back instead of committed.
		if len(reqs) == 1 {
			results[i] = db.applyOne(ctx, tx, r, b)
		} else {
			results[i] = db.runOne(ctx, tx, r, b)
		}
		if results[i].err == nil && !results[i].out.Repeated {
			changed = true
		}
	}
	if len(reqs) == 1 && results[0].err != nil {
		tx.Rollback()
		reqs[0].done <- results[0]
		return
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	db.head = b.head
	db.cache.commit(b.pending)
	for i, r := range reqs {
		r.done <- results[i]
	}
	if changed && db.onCommit != nil {
		db.onCommit()
	}
}

// runOne applies one command of a batch under a savepoint, so that its
// failure undoes only its own changes (and its audit chain head).
func (db *DB) runOne(ctx context.Context, tx *sql.Tx, r *writeReq, b *batch) writeRes {
	if _, err := db.execTx(ctx, tx, b, qSavepoint); err != nil {
		return writeRes{err: fmt.Errorf("savepoint: %w", err)}
	}
	before := b.head
	res := db.applyOne(ctx, tx, r, b)
	out, err := res.out, res.err
	if err != nil {
		b.head = before
		if _, rbErr := db.execTx(ctx, tx, b, qRollbackTo); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rbErr))
		}
	}
	if _, relErr := db.execTx(ctx, tx, b, qRelease); relErr != nil && err == nil {
		err = fmt.Errorf("release savepoint: %w", relErr)
	}
	return writeRes{out: out, err: err}
}

func (db *DB) applyOne(ctx context.Context, tx *sql.Tx, r *writeReq, b *batch) writeRes {
	t := &txn{ctx: ctx, tx: tx, db: db, batch: b, pending: map[int64]*flows.Document{}}
	out, err := db.apply(t, r)
	if err == nil {
		for id, d := range t.pending {
			b.pending[id] = d
		}
	}
	return writeRes{out: out, err: err}
}

func (db *DB) apply(t *txn, r *writeReq) (out flows.Outcome, err error) {
	// A bug in a command must cost that command, not the service: the
	// writer goroutine is shared by everyone.
	defer func() {
		if p := recover(); p != nil {
			out, err = flows.Outcome{}, &flows.Error{Kind: flows.KindInternal, Code: "internal", Detail: fmt.Sprintf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	if r.key != "" {
		var raw string
		err := t.queryRow(qInboundLookup, r.key).Scan(&raw)
		switch {
		case err == nil:
			var out flows.Outcome
			if err := json.Unmarshal([]byte(raw), &out); err != nil {
				return flows.Outcome{}, fmt.Errorf("decode stored outcome of %q: %w", r.key, err)
			}
			out.Repeated = true
			return out, nil
		case !errors.Is(err, sql.ErrNoRows):
			return flows.Outcome{}, fmt.Errorf("look up key %q: %w", r.key, err)
		}
	}
	out, err = r.fn(t)
	if err != nil {
		return flows.Outcome{}, err
	}
	if r.key != "" {
		raw, err := json.Marshal(out)
		if err != nil {
			return flows.Outcome{}, fmt.Errorf("encode outcome: %w", err)
		}
		if _, err := t.exec(qInboundInsert, r.key, string(raw), time.Now().UnixNano()); err != nil {
			return flows.Outcome{}, fmt.Errorf("store key %q: %w", r.key, err)
		}
	}
	return out, nil
}

func (db *DB) execTx(ctx context.Context, tx *sql.Tx, b *batch, q string) (sql.Result, error) {
	st, ok := b.stmts[q]
	if !ok {
		st = tx.StmtContext(ctx, db.stmts[q])
		b.stmts[q] = st
	}
	return st.ExecContext(ctx)
}
