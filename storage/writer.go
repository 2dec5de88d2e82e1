package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
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
	// lead hands the writer role to this request's caller instead of
	// carrying its verdict.
	lead bool
}

var errClosed = errors.New("storage: database closed")

// Write implements flows.Store. There is no writer goroutine: the caller
// that finds nobody writing becomes the leader and runs every command queued
// at that moment — its own and those of callers that arrived meanwhile — in
// one transaction, and commits once (see tryBatch for how one command's
// failure is kept from the others). Under load one fsync covers many
// decisions (group commit); a lone caller pays no hand-off between
// goroutines at all.
func (db *DB) Write(ctx context.Context, key string, fn func(flows.Tx) (flows.Outcome, error)) (flows.Outcome, error) {
	req := &writeReq{ctx: ctx, key: key, fn: fn, done: make(chan writeRes, 1)}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return flows.Outcome{}, errClosed
	}
	db.queue = append(db.queue, req)
	leader := !db.leading
	db.leading = true
	db.mu.Unlock()
	if leader {
		db.lead(req)
	}
	// Once queued, wait for the verdict even if ctx ends: the command may
	// already be committed and the caller must not be told otherwise.
	for {
		res := <-req.done
		if !res.lead {
			return res.out, res.err
		}
		db.lead(req)
	}
}

// lead runs the batch that holds own — the queue up to maxBatch, own first:
// a caller leads because the queue was empty when it arrived or because it
// was first in line when handed the role — then passes the role to the
// oldest waiting caller, so that no caller serves others for longer than its
// own batch takes.
func (db *DB) lead(own *writeReq) {
	var batch []*writeReq
	defer func() {
		// Commands recover their own panics (see apply); a panic in the
		// writer itself must still not leave the role taken and every later
		// caller waiting — an HTTP server recovers the leader's goroutine and
		// carries on. So: end the transaction, answer the batch, step down,
		// and let the panic go on.
		if p := recover(); p != nil {
			db.rollback()
			for _, r := range batch {
				select {
				case r.done <- writeRes{err: fmt.Errorf("storage: writer panicked: %v", p)}:
				default: // already answered
				}
			}
			db.stepDown()
			panic(p)
		}
	}()
	for {
		db.mu.Lock()
		n := min(len(db.queue), maxBatch)
		batch = db.queue[:n:n]
		db.queue = db.queue[n:]
		db.mu.Unlock()
		db.runBatch(batch)
		if slices.Contains(batch, own) {
			break
		}
	}
	db.stepDown()
}

// stepDown passes the writer role to the oldest waiting caller, or leaves
// it free.
func (db *DB) stepDown() {
	db.mu.Lock()
	defer db.mu.Unlock()
	if len(db.queue) > 0 {
		db.queue[0].done <- writeRes{lead: true}
		return
	}
	db.queue = nil // let the drained backing array go
	db.leading = false
	db.idle.Broadcast()
}

// RunTwiceEnv names the environment variable that turns the writer's
// rehearsal on: every batch is run once and rolled back before it is run
// for real. A command is a function of the transaction it runs in and may
// be run again (the writer reruns a batch when one command fails after
// writing); one that keeps anything outside its transaction — a count in a
// captured variable, a message sent — shows under this mode, in which the
// engine's and the channels' test suites must pass unchanged.
const RunTwiceEnv = "VIZA_WRITER_RUN_TWICE"

// runBatch runs queued commands in one transaction and answers each.
func (db *DB) runBatch(reqs []*writeReq) {
	if db.runTwice {
		db.rehearse(reqs)
	}
	for len(reqs) > 0 {
		reqs = db.tryBatch(reqs)
	}
}

// rehearse runs every command of a batch in a transaction that is rolled
// back, throwing their results away (see RunTwiceEnv).
func (db *DB) rehearse(reqs []*writeReq) {
	db.ensureWriter()
	if err := db.begin(); err != nil {
		db.rollback()
		return
	}
	b := &batch{head: db.head, lastAudit: db.lastAudit, pending: map[int64]*flows.Document{}, done: map[string]flows.Outcome{},
		rows: map[int64]*docRow{}, buffers: db.spare.take()}
	defer func() { db.spare.give(b.buffers) }()
	for _, r := range reqs {
		if r.ctx.Err() == nil {
			db.applyOne(r, b)
		}
	}
	db.rollback()
}

// tryBatch runs reqs in one transaction and commits once. Commands run
// without savepoints: most failures (forbidden, conflict, not found) are
// found before a command writes anything, and leave nothing to undo. A
// command that fails after it wrote — or with an error from SQLite itself —
// costs a rollback: it is answered with its error and the others are
// returned to run again in a fresh transaction. Savepoints would spare that
// rare rerun at the price of three statements on every command.
func (db *DB) tryBatch(reqs []*writeReq) (again []*writeReq) {
	results := make([]writeRes, len(reqs))
	fail := func(err error) {
		for _, r := range reqs {
			r.done <- writeRes{err: err}
		}
	}
	db.ensureWriter()
	if err := db.begin(); err != nil {
		db.rollback()
		fail(fmt.Errorf("begin write: %w", err))
		return nil
	}
	changed := false
	b := &batch{head: db.head, lastAudit: db.lastAudit, pending: map[int64]*flows.Document{}, done: map[string]flows.Outcome{},
		rows: map[int64]*docRow{}, buffers: db.spare.take()}
	defer func() { db.spare.give(b.buffers) }()
	if len(reqs) > 1 {
		if err := db.lookUpKeys(b, reqs); err != nil {
			db.rollback()
			fail(err)
			return nil
		}
	}
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			results[i] = writeRes{err: err}
			continue
		}
		writes, before := db.w.writes, b.mark()
		results[i] = db.applyOne(r, b)
		if err := results[i].err; err != nil {
			b.reset(before)
			if db.w.writes != writes || !refusal(err) {
				db.rollback()
				r.done <- results[i]
				return slices.Delete(slices.Clone(reqs), i, i+1)
			}
			continue
		}
		if !results[i].out.Repeated {
			changed = true
		}
	}
	// A failure here is SQLite's, not one command's: it would fail any of
	// them again.
	if err := db.flush(b); err != nil {
		db.rollback()
		fail(err)
		db.rereadLastEvent()
		return nil
	}
	if err := db.commit(changed); err != nil {
		db.rollback()
		fail(fmt.Errorf("commit: %w", err))
		return nil
	}
	db.commits++
	db.head, db.lastAudit = b.head, b.lastAudit
	db.cache.commit(b.pending)
	for i, r := range reqs {
		r.done <- results[i]
	}
	if changed && db.onCommit != nil {
		db.onCommit()
	}
	return nil
}

// begin starts a write transaction: BEGIN IMMEDIATE on SQLite, and on
// PostgreSQL see beginShared.
func (db *DB) begin() error {
	if db.pg {
		return db.beginShared()
	}
	_, err := db.w.ExecContext(context.Background(), qBegin)
	return err
}

// commit commits it; changed says whether it changed anything.
func (db *DB) commit(changed bool) error {
	if db.pg {
		return db.commitShared(changed)
	}
	_, err := db.w.ExecContext(context.Background(), qCommit)
	return err
}

// rereadLastEvent takes the audit log's end from the file again after a
// failed flush: should anything but the writer have appended to it, the
// writer's own numbering would otherwise collide with it on every batch.
func (db *DB) rereadLastEvent() {
	if id, h, err := scanLastEvent(db.w.queryRow(qLastEvent).Scan); err == nil {
		db.lastAudit, db.head = id, h
	}
}

// rollback ends the current transaction. Its error is ignored: SQLite may
// have rolled back already (after an I/O error, say), and the next BEGIN
// reports a connection that cannot write.
func (db *DB) rollback() {
	_, _ = db.w.ExecContext(context.Background(), qRollback)
}

// refusal tells the engine's verdicts on a command (forbidden, conflict,
// not found, invalid) from failures of the machinery.
func refusal(err error) bool {
	switch flows.ErrorKind(err) {
	case flows.KindInvalid, flows.KindForbidden, flows.KindNotFound, flows.KindConflict:
		return true
	}
	return false
}

func (db *DB) applyOne(r *writeReq, b *batch) writeRes {
	t := &txn{ctx: context.Background(), w: db.w, db: db, batch: b, pending: map[int64]*flows.Document{}}
	out, err := db.apply(t, r)
	if err == nil {
		for id, d := range t.pending {
			b.pending[id] = d
		}
		b.mergeRows(t.rows)
	}
	return writeRes{out: out, err: err}
}

func (db *DB) apply(t *txn, r *writeReq) (out flows.Outcome, err error) {
	// A bug in a command must cost that command, not the service: the
	// leader runs everyone's commands.
	defer func() {
		if p := recover(); p != nil {
			out, err = flows.Outcome{}, &flows.Error{Kind: flows.KindInternal, Code: "internal", Detail: fmt.Sprintf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	if r.key != "" {
		out, seen, err := db.seen(t, r.key)
		if err != nil {
			return flows.Outcome{}, err
		}
		if seen {
			out.Repeated = true
			return out, nil
		}
	}
	out, err = r.fn(t)
	if err != nil {
		return flows.Outcome{}, err
	}
	if r.key != "" {
		t.batch.keys = append(t.batch.keys, r.key, out.DocID, out.Number, out.State, out.TaskID, out.Round, out.Version, out.Request, time.Now().UnixNano())
		t.batch.done[r.key] = out
	}
	return out, nil
}

// seen reports a key's first outcome, if it has one: from this batch, from
// the lookup made for the whole batch, or — for a batch of one — from its
// own query.
func (db *DB) seen(t *txn, key string) (flows.Outcome, bool, error) {
	if out, ok := t.batch.done[key]; ok {
		return out, true, nil
	}
	if t.batch.lookedUp {
		out, ok := t.batch.known[key]
		return out, ok, nil
	}
	var out flows.Outcome
	err := t.queryRow(qInboundLookup, key).Scan(outcomeColumns(&out)...)
	switch {
	case err == nil:
		return out, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return flows.Outcome{}, false, nil
	default:
		return flows.Outcome{}, false, fmt.Errorf("look up key %q: %w", key, err)
	}
}

// outcomeColumns are where the inbound table's outcome columns (doc_id,
// number, state, task_id, round, version, request) scan into.
func outcomeColumns(out *flows.Outcome) []any {
	return []any{&out.DocID, &out.Number, &out.State, &out.TaskID, &out.Round, &out.Version, &out.Request}
}

// lookUpKeys finds which keys of a batch were stored before it, in one
// query instead of one per command.
func (db *DB) lookUpKeys(b *batch, reqs []*writeReq) error {
	var keys []any
	for _, r := range reqs {
		if r.key != "" {
			keys = append(keys, r.key)
		}
	}
	b.lookedUp, b.known = true, map[string]flows.Outcome{}
	if len(keys) == 0 {
		return nil
	}
	err := db.w.queryRows(keyLookup.text(len(keys)), keys, func(v []driver.Value) error {
		var key string
		var out flows.Outcome
		if err := (row{vals: v}).Scan(append([]any{&key}, outcomeColumns(&out)...)...); err != nil {
			return err
		}
		b.known[key] = out
		return nil
	})
	if err != nil {
		return fmt.Errorf("look up %d keys: %w", len(keys), err)
	}
	return nil
}
