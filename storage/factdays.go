package storage

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
)

const (
	hourNanos = int64(time.Hour)
	// qMarkFacts counts a write of facts in the hour it counts at (see
	// migration 0014): a day's tally made before it no longer holds.
	qMarkFacts = `INSERT INTO fact_marks(hour_no, gen) VALUES (?, 1) ON CONFLICT(hour_no) DO UPDATE SET gen = fact_marks.gen + 1`
	// qCountFactReminders sets a task's reminders and escalations from the
	// reminders sent, for the facts of documents made before they were
	// counted as sent (the backfill).
	qCountFactReminders = `UPDATE task_facts SET
		reminders = (SELECT COUNT(*) FROM reminders r WHERE r.task_id = task_facts.id AND r.sent_at IS NOT NULL
			AND r.send IN ('chat', 'sms', 'email')),
		escalations = (SELECT COUNT(*) FROM reminders r WHERE r.task_id = task_facts.id AND r.sent_at IS NOT NULL
			AND r.send = 'escalate')
		WHERE id = ?`
	// qFactReminderSent counts reminder ? as sent in its task's facts.
	qFactReminderSent = `UPDATE task_facts SET
		reminders = reminders + (SELECT COUNT(*) FROM reminders WHERE id = ? AND send IN ('chat', 'sms', 'email')),
		escalations = escalations + (SELECT COUNT(*) FROM reminders WHERE id = ? AND send = 'escalate')
		WHERE id = (SELECT task_id FROM reminders WHERE id = ?)`
	// qValidDays reads the tallies of days in a range whose hours were not
	// written since they were made.
	qValidDays = `SELECT from_ns, to_ns, tally FROM fact_days d WHERE from_ns >= ? AND from_ns < ?
		AND to_ns - from_ns >= ? AND to_ns - from_ns < ?
		AND gen = COALESCE((SELECT SUM(gen) FROM fact_marks m WHERE m.hour_no >= d.from_ns / 3600000000000
			AND m.hour_no <= (d.to_ns - 1) / 3600000000000), 0)`
	qDayGen = `SELECT COALESCE(SUM(gen), 0) FROM fact_marks WHERE hour_no >= ? AND hour_no <= ?`
	qPutDay = `INSERT INTO fact_days(from_ns, to_ns, gen, tally) VALUES (?, ?, ?, ?)
		ON CONFLICT(from_ns, to_ns) DO UPDATE SET gen = excluded.gen, tally = excluded.tally`
	qDropDay = `DELETE FROM fact_days WHERE from_ns = ? AND to_ns = ?`
)

// hours is a set of hours facts were written in.
type hours map[int64]bool

func (h hours) add(at time.Time) {
	if !at.IsZero() {
		h[at.UnixNano()/hourNanos] = true
	}
}

func (t *txn) markFacts(at time.Time) error {
	return t.markHours(hours{at.UnixNano() / hourNanos: true})
}

// markHours counts a write of facts in each of h's hours, once per
// command: a decision that closes a stage writes several facts of one
// hour. (Once per command, not per batch: a command rolled back takes its
// counts with it.)
func (t *txn) markHours(h hours) error {
	for hour := range h {
		if t.marked[hour] {
			continue
		}
		if _, err := t.exec(qMarkFacts, hour); err != nil {
			return fmt.Errorf("mark facts of hour %d: %w", hour, err)
		}
		if t.marked == nil {
			t.marked = hours{}
		}
		t.marked[hour] = true
	}
	return nil
}

// span is [from, to).
type span struct{ from, to time.Time }

// wholeDays lists the days of loc that lie wholly in [from, to).
func wholeDays(from, to time.Time, loc *time.Location) []span {
	return whole(from, to, loc, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc) },
		func(t time.Time) time.Time { return t.AddDate(0, 0, 1) })
}

// wholeMonths lists the calendar months of loc that lie wholly in [from, to).
func wholeMonths(from, to time.Time, loc *time.Location) []span {
	return whole(from, to, loc, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc) },
		func(t time.Time) time.Time { return t.AddDate(0, 1, 0) })
}

// whole lists the spans [start, next(start)) that lie wholly in [from, to),
// start being from's truncated by trunc, or the next.
func whole(from, to time.Time, loc *time.Location, trunc, next func(time.Time) time.Time) []span {
	at := trunc(from.In(loc))
	if at.Before(from) {
		at = next(at)
	}
	var out []span
	for {
		end := next(at)
		if end.After(to) {
			return out
		}
		out = append(out, span{at, end})
		at = end
	}
}

// tallied splits [from, to) into the spans read from tallies — the whole
// months, and the whole days outside them — and the edges left, tallied
// from the facts. A year is then 11 or 12 month tallies and a month's
// worth of days, not 365.
func tallied(from, to time.Time, loc *time.Location) (periods, edges []span) {
	months := wholeMonths(from, to, loc)
	if len(months) == 0 {
		periods = wholeDays(from, to, loc)
	} else {
		periods = append(wholeDays(from, months[0].from, loc), months...)
		periods = append(periods, wholeDays(months[len(months)-1].to, to, loc)...)
	}
	if len(periods) == 0 {
		return nil, []span{{from, to}}
	}
	return periods, []span{{from, periods[0].from}, {periods[len(periods)-1].to, to}}
}

// Facts reads what analytics needs for q. Everyone's figures of whole past
// months and days come from their tallies (made from the facts when first
// asked and kept until a write touches their hours); the edges of the
// period, and one person's or a team's figures, are tallied from the
// facts. The tasks open now are read one by one.
func (db *DB) Facts(ctx context.Context, q stats.Query) (stats.Facts, error) {
	out := stats.Facts{Tally: stats.NewTally()}
	zone := q.Zone
	if zone == nil {
		zone = time.UTC
	}
	spans := []span{{q.From, q.To}}
	if periods, edges := tallied(q.From, q.To, zone); q.People == nil && len(periods) > 0 {
		if err := db.addTallies(ctx, out.Tally, periods, q.Type, zone); err != nil {
			// A tally that does not read is no reason to fail the figures:
			// they are tallied from the facts, as slow as that is.
			db.log().Error("analytics tallies", "err", err)
			out.Tally = stats.NewTally()
		} else {
			spans = edges
		}
	}
	for _, s := range spans {
		if s.from.Before(s.to) {
			if err := db.tally(ctx, out.Tally, s, q.Type, q.People, zone); err != nil {
				return out, err
			}
		}
	}
	var err error
	out.Open, err = db.openFacts(ctx, q)
	return out, err
}

// addTallies adds the tallies of periods (days and months, in order) to
// t, making the ones missing or out of date and keeping them: a day from
// the facts, a month from its days' tallies.
func (db *DB) addTallies(ctx context.Context, t *stats.Tally, periods []span, typ string, zone *time.Location) error {
	want := make(map[span]bool, len(periods))
	for _, p := range periods {
		want[nanoSpan(p)] = true
	}
	r := &tallyReading{t: t, typ: typ, want: want, have: map[span]bool{}}
	// One reading per run of days or of months: the days inside the
	// months are not read at all.
	for _, run := range runs(periods) {
		if err := db.readTallies(ctx, r, run, zone); err != nil {
			return err
		}
	}
	if r.badErr != nil {
		// Dropped, they are made again by the next reader.
		if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
			for _, k := range r.bad {
				if _, err := tx.(*txn).exec(qDropDay, k.from.UnixNano(), k.to.UnixNano()); err != nil {
					return flows.Outcome{}, err
				}
			}
			return flows.Outcome{}, nil
		}); err != nil {
			return fmt.Errorf("%w; dropping it: %w", r.badErr, err)
		}
		return fmt.Errorf("%w (%d garbled, dropped)", r.badErr, len(r.bad))
	}
	have := r.have
	type made struct {
		span
		gen   int64
		tally []byte
	}
	var fresh []made
	for _, p := range periods {
		if have[nanoSpan(p)] {
			continue
		}
		// The hours' count first: a write after it makes the tally out of
		// date at once, never a tally that looks current but is not.
		var gen int64
		if err := db.reader.QueryRowContext(ctx, qDayGen, p.from.UnixNano()/hourNanos, (p.to.UnixNano()-1)/hourNanos).Scan(&gen); err != nil {
			return fmt.Errorf("read marks: %w", err)
		}
		pt := stats.NewTally()
		var err error
		if days := wholeDays(p.from, p.to, zone); len(days) > 1 {
			err = db.addTallies(ctx, pt, days, "", zone)
		} else {
			err = db.tally(ctx, pt, p, "", nil, zone)
		}
		if err != nil {
			return err
		}
		b := pt.Encode()
		if err := t.AddEncoded(b, typ); err != nil {
			return err
		}
		fresh = append(fresh, made{p, gen, b})
	}
	if len(fresh) == 0 {
		return nil
	}
	// Kept for the next reader; a failure costs the next one the time.
	if _, err := db.Write(ctx, "", func(tx flows.Tx) (flows.Outcome, error) {
		w := tx.(*txn)
		for _, m := range fresh {
			if _, err := w.exec(qPutDay, m.from.UnixNano(), m.to.UnixNano(), m.gen, m.tally); err != nil {
				return flows.Outcome{}, err
			}
		}
		return flows.Outcome{}, nil
	}); err != nil && ctx.Err() == nil {
		db.log().Warn("keep analytics tallies", "tallies", len(fresh), "err", err)
	}
	return nil
}

// tallyReading is what reading the kept tallies found: added to t (of
// type typ) those wanted that still hold, and the garbled ones.
type tallyReading struct {
	t      *stats.Tally
	typ    string
	want   map[span]bool
	have   map[span]bool
	bad    []span
	badErr error
}

// readTallies reads the tallies of one run that still hold into r.
func (db *DB) readTallies(ctx context.Context, r *tallyReading, run run, zone *time.Location) error {
	rows, err := db.reader.QueryContext(ctx, qValidDays, run.first.UnixNano(), run.last.UnixNano()+1, int64(run.minLen), int64(run.maxLen))
	if err != nil {
		return fmt.Errorf("read tallies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to int64
		var b []byte
		if err := rows.Scan(&from, &to, &b); err != nil {
			return fmt.Errorf("scan tally: %w", err)
		}
		key := span{time.Unix(0, from), time.Unix(0, to)}
		if !r.want[key] {
			continue // a day of another zone
		}
		into, only := r.t, r.typ
		if r.badErr != nil {
			// t holds part of a garbled tally already: the rest are only
			// checked, so that every garbled one is dropped at once.
			into, only = stats.NewTally(), "\x00"
		}
		if err := into.AddEncoded(b, only); err != nil {
			r.bad = append(r.bad, key)
			r.badErr = cmp.Or(r.badErr, fmt.Errorf("tally from %s: %w", key.from.In(zone).Format(time.DateOnly), err))
		}
		r.have[key] = true
	}
	return rows.Err()
}

// run is consecutive periods of one length class: days (at most 25 hours,
// a day a clock is put back) or months.
type run struct {
	first, last    time.Time // the first and the last period's start
	minLen, maxLen time.Duration
}

// runs groups periods, in order, into runs of days and of months.
func runs(periods []span) []run {
	const dayMax = 26 * time.Hour
	var out []run
	for _, p := range periods {
		minLen, maxLen := time.Duration(0), dayMax
		if p.to.Sub(p.from) >= dayMax {
			minLen, maxLen = dayMax, 1<<62
		}
		if n := len(out); n > 0 && out[n-1].minLen == minLen {
			out[n-1].last = p.from
			continue
		}
		out = append(out, run{first: p.from, last: p.from, minLen: minLen, maxLen: maxLen})
	}
	return out
}

// nanoSpan is p as read back from the database: instants without a zone
// or a monotonic reading, comparable as map keys.
func nanoSpan(p span) span {
	return span{time.Unix(0, p.from.UnixNano()), time.Unix(0, p.to.UnixNano())}
}

// where is a filter of facts: the SQL after WHERE's first condition and
// its arguments.
type where struct {
	sql  strings.Builder
	args []any
}

func (w *where) typed(typ string) {
	if typ != "" {
		w.sql.WriteString(" AND type = ?")
		w.args = append(w.args, typ)
	}
}

// people limits rows to people's, in any of cols; nil is everyone's.
func (w *where) people(people []flows.PersonID, cols ...string) {
	if people == nil {
		return
	}
	if len(people) == 0 {
		w.sql.WriteString(" AND 1 = 0")
		return
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(people)), ", ")
	var ors []string
	for _, c := range cols {
		ors = append(ors, c+" IN ("+marks+")")
		for _, p := range people {
			w.args = append(w.args, string(p))
		}
	}
	w.sql.WriteString(" AND (" + strings.Join(ors, " OR ") + ")")
}

// tally adds to t the tasks closed and the documents started in s, of
// type typ (any when empty) and of people (everyone's when nil).
func (db *DB) tally(ctx context.Context, t *stats.Tally, s span, typ string, people []flows.PersonID, zone *time.Location) error {
	const columns = `SELECT type, stage, actor, holder, state, reason, late, work_min, reminders, escalations FROM task_facts`
	w := &where{args: []any{s.from.UnixNano(), s.to.UnixNano()}}
	w.typed(typ)
	query := columns + ` WHERE closed_at >= ? AND closed_at < ?` + w.sql.String()
	if people != nil {
		// Their decisions, then the ones someone else made for them, each
		// from its own index: one OR of both reads every row twice over.
		mine := &where{}
		mine.people(people, "actor")
		others := &where{}
		others.people(people, "holder")
		query = columns + ` WHERE closed_at >= ? AND closed_at < ?` + w.sql.String() + mine.sql.String() +
			` UNION ALL ` + columns + ` WHERE closed_at >= ? AND closed_at < ?` + w.sql.String() + others.sql.String() +
			strings.Replace(mine.sql.String(), " AND (actor IN", " AND NOT (actor IN", 1)
		args := append(append([]any{}, w.args...), mine.args...)
		args = append(append(append(args, w.args...), others.args...), mine.args...)
		w.args = args
	}
	rows, err := db.reader.QueryContext(ctx, query, w.args...)
	if err != nil {
		return fmt.Errorf("read task facts: %w", err)
	}
	for rows.Next() {
		var c stats.ClosedTask
		var actor, holder string
		var minutes sql.NullInt64
		if err := rows.Scan(&c.Type, &c.Stage, &actor, &holder, &c.State, &c.Reason, &c.Late, &minutes, &c.Reminders, &c.Escalations); err != nil {
			rows.Close()
			return fmt.Errorf("scan task facts: %w", err)
		}
		c.Actor, c.Holder, c.Minutes = flows.PersonID(actor), flows.PersonID(holder), int(minutes.Int64)
		t.AddTask(c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	w = &where{args: []any{s.from.UnixNano(), s.to.UnixNano()}}
	w.typed(typ)
	w.people(people, "initiator")
	rows, err = db.reader.QueryContext(ctx, `SELECT type, started_at, rounds, rejected, approved_min, done_min
		FROM doc_facts WHERE started_at >= ? AND started_at < ?`+w.sql.String(), w.args...)
	if err != nil {
		return fmt.Errorf("read document facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d stats.StartedDoc
		var started int64
		var approved, done sql.NullInt64
		if err := rows.Scan(&d.Type, &started, &d.Rounds, &d.Rejected, &approved, &done); err != nil {
			return fmt.Errorf("scan document facts: %w", err)
		}
		d.Month = time.Unix(0, started).In(zone).Format("2006-01")
		d.ApprovedMin, d.DoneMin = -1, -1
		if approved.Valid {
			d.ApprovedMin = int(approved.Int64)
		}
		if done.Valid {
			d.DoneMin = int(done.Int64)
		}
		t.AddDoc(d)
	}
	return rows.Err()
}

// openFacts reads the tasks open now that q chooses, oldest first. The
// people are chosen here, not in SQL: the open tasks are few and read from
// their own index, where a person's index would read all their years.
func (db *DB) openFacts(ctx context.Context, q stats.Query) ([]stats.TaskFact, error) {
	w := &where{}
	w.typed(q.Type)
	rows, err := db.reader.QueryContext(ctx, `SELECT `+taskFactColumns+` FROM task_facts WHERE state = 'open'`+w.sql.String()+
		` ORDER BY opened_at, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("read open task facts: %w", err)
	}
	defer rows.Close()
	var out []stats.TaskFact
	for rows.Next() {
		var f stats.TaskFact
		var holder, actor string
		var opened int64
		var due, closed sql.NullInt64
		if err := rows.Scan(&f.ID, &f.DocID, &f.Type, &f.Stage, &f.Kind, &holder, &actor, &f.Round, &opened, &due, &closed, &f.State,
			&f.Reason); err != nil {
			return nil, fmt.Errorf("scan task fact: %w", err)
		}
		f.Holder, f.Actor = flows.PersonID(holder), flows.PersonID(actor)
		if q.People != nil && !slices.Contains(q.People, f.Actor) && !slices.Contains(q.People, f.Holder) {
			continue
		}
		f.Opened, f.Due, f.Closed = time.Unix(0, opened), fromNanos(due), fromNanos(closed)
		out = append(out, f)
	}
	return out, rows.Err()
}
