package flows_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/flows/flowstest"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

type ladderRig struct {
	*harness
	sched *flows.Scheduler
	loc   storage.Location
	files flows.FileStore
}

// newLadderRig runs the engine with the company's real calendar (RU, 09–18,
// Mon–Fri) on a database that a test may reopen.
func newLadderRig(t *testing.T, loc storage.Location, clock *flowstest.Clock) *ladderRig {
	t.Helper()
	dir, cfg := testDirectory(t)
	cal, err := cfg.WorkCalendar()
	if err != nil {
		t.Fatal(err)
	}
	db, files, err := storage.OpenAt(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng := flows.NewEngine(db, files, clock, cal, dir)
	h := &harness{t: t, ctx: context.Background(), eng: eng, db: db, clock: clock, dir: dir}
	return &ladderRig{harness: h, sched: flows.NewScheduler(eng, db, slog.New(slog.NewTextHandler(io.Discard, nil))), loc: loc, files: files}
}

func msk(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, time.FixedZone("MSK", 3*3600))
	if err != nil {
		panic(err)
	}
	return t
}

// at moves the clock and fires what is due; it returns the kinds sent to
// each person, like "petrov:reminder".
func (r *ladderRig) at(when string) []string {
	r.t.Helper()
	r.clock.Set(msk(when))
	before := map[int64]bool{}
	for _, n := range r.allNotes() {
		before[n.ID] = true
	}
	if _, err := r.sched.Step(r.ctx); err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, n := range r.allNotes() {
		if !before[n.ID] && strings.HasPrefix(n.Kind, "re") || !before[n.ID] && n.Kind == flows.NoteEscalation {
			out = append(out, string(n.To)+":"+n.Kind)
		}
	}
	return out
}

func (r *ladderRig) allNotes() []flows.Notification {
	var out []flows.Notification
	for id := int64(1); id <= 3; id++ {
		ns, _ := r.db.Notifications(r.ctx, id)
		out = append(out, ns...)
	}
	return out
}

func want(t *testing.T, when string, got []string, exp ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(exp, ",") {
		t.Fatalf("at %s sent %v, want %v", when, got, exp)
	}
}

func TestReminderLadder(t *testing.T) {
	clock := flowstest.NewClock(msk("2026-11-30 10:00")) // Monday
	r := newLadderRig(t, storagetest.NewLocation(t), clock)
	d := r.start("ivanova", "contract", 10).DocID // legal: any of petrov, sidorov; 8 working hours
	tasks := r.doc(d).OpenTasks()
	if got := tasks[0].Due; !got.Equal(msk("2026-11-30 18:00")) {
		t.Fatalf("due = %s, want Monday 18:00 (8 working hours)", got)
	}
	steps := []struct{ when, want string }{
		{"2026-11-30 17:59", ""},
		{"2026-11-30 18:00", "petrov:reminder,sidorov:reminder"},
		{"2026-11-30 23:00", ""},                                         // the SMS waits for working hours
		{"2026-12-01 13:00", "petrov:reminder_sms,sidorov:reminder_sms"}, // deadline + 4 working hours
		{"2026-12-02 09:00", "ivanova:escalation,director:escalation,ivanova:escalation"},
		{"2026-12-03 09:00", "petrov:reminder,sidorov:reminder"}, // then daily
		{"2026-12-03 12:00", ""},
	}
	for _, s := range steps {
		var exp []string
		if s.want != "" {
			exp = strings.Split(s.want, ",")
		}
		got := r.at(s.when)
		if s.when == "2026-12-02 09:00" {
			// petrov's manager is the director; sidorov's is petrov, who
			// is himself in the route: both tell the initiator.
			if len(got) != 4 || strings.Count(strings.Join(got, ","), "ivanova:escalation") != 2 {
				t.Fatalf("escalation sent %v", got)
			}
			continue
		}
		want(t, s.when, got, exp...)
	}
	// Saturday and Sunday are not working days: the next daily reminder is
	// on Friday, then Monday.
	want(t, "fri", r.at("2026-12-04 09:00"), "petrov:reminder", "sidorov:reminder")
	want(t, "sat", r.at("2026-12-05 09:00"))
	want(t, "mon", r.at("2026-12-07 09:00"), "petrov:reminder", "sidorov:reminder")
	// A task that closes cancels its pending reminders.
	r.must(r.decide(d, "petrov", flows.ActionApprove, ""))
	for _, tk := range tasks {
		if pending, _ := r.db.PendingReminders(r.ctx, tk.ID); len(pending) != 0 {
			t.Fatalf("task %d keeps %d reminders after closing", tk.ID, len(pending))
		}
	}
	want(t, "later", r.at("2026-12-10 12:00"))
	// The figures count what petrov's decision needed: chat reminders on
	// Monday, Thursday, Friday and the next Monday, the SMS, and one
	// escalation. Sidorov's task closed undecided and is nobody's time.
	f, err := r.db.Facts(r.ctx, stats.Query{From: msk("2026-11-30 00:00"), To: msk("2026-12-11 00:00")})
	if err != nil {
		t.Fatal(err)
	}
	if got := stats.Compute(f, stats.Options{}).Decision; got.Count != 1 || got.Reminders != 5 || got.Escalated != 1 {
		t.Fatalf("figures %+v, want one decision after 5 reminders and an escalation", got)
	}
}

func TestReminderAfterRestartFiresOnceNotPerMissedDay(t *testing.T) {
	loc := storagetest.NewLocation(t)
	clock := flowstest.NewClock(msk("2026-11-30 10:00"))
	r := newLadderRig(t, loc, clock)
	d := r.start("ivanova", "contract", 10).DocID
	want(t, "deadline", r.at("2026-11-30 18:00"), "petrov:reminder", "sidorov:reminder")
	r.db.Close()
	// Down for a week and a half; on restart every step that fell due fires
	// once, and the daily step is rescheduled from now, not replayed.
	r = newLadderRig(t, loc, clock)
	got := r.at("2026-12-10 10:00")
	counts := map[string]int{}
	for _, g := range got {
		counts[g]++
	}
	if counts["petrov:reminder_sms"] != 1 || counts["petrov:reminder"] != 1 || counts["sidorov:reminder"] != 1 {
		t.Fatalf("after the outage sent %v", got)
	}
	want(t, "again", r.at("2026-12-10 10:05"))
	want(t, "next day", r.at("2026-12-11 10:00"), "petrov:reminder", "sidorov:reminder")
	_ = d
}

func TestRemindNowAtMostHourly(t *testing.T) {
	clock := flowstest.NewClock(msk("2026-11-30 10:00"))
	r := newLadderRig(t, storagetest.NewLocation(t), clock)
	d := r.start("ivanova", "contract", 10).DocID
	n, err := r.eng.RemindNow(r.ctx, r.key(), "ivanova", d)
	if err != nil || n != 2 {
		t.Fatalf("remind = %d, %v", n, err)
	}
	clock.Advance(30 * time.Minute)
	_, err = r.eng.RemindNow(r.ctx, r.key(), "ivanova", d)
	wantKind(t, err, flows.KindConflict, "reminded_recently")
	_, err = r.eng.RemindNow(r.ctx, r.key(), "sidorov", d)
	wantKind(t, err, flows.KindForbidden, "initiator_only")
	clock.Advance(31 * time.Minute)
	if n, err := r.eng.RemindNow(r.ctx, r.key(), "kuznetsova", d); err != nil || n != 2 { // a viewer may
		t.Fatalf("viewer remind = %d, %v", n, err)
	}
	if got := r.notesTo(d, "petrov"); strings.Count(strings.Join(got, ","), flows.NoteReminder) != 2 {
		t.Fatalf("petrov got %v", got)
	}
}

func TestSMSWaitsForWorkingHours(t *testing.T) {
	// Deadline on a Friday evening: 4 working hours later is Monday 13:00,
	// and a deadline at 17:00 before a holiday moves the SMS past it.
	clock := flowstest.NewClock(msk("2026-12-04 09:00")) // Friday
	r := newLadderRig(t, storagetest.NewLocation(t), clock)
	r.start("ivanova", "contract", 10) // due Friday 17:00
	want(t, "fri 17:00", r.at("2026-12-04 17:00"), "petrov:reminder", "sidorov:reminder")
	want(t, "sat", r.at("2026-12-05 12:00"))
	want(t, "mon 11:59", r.at("2026-12-07 11:59"))
	want(t, "mon 12:00", r.at("2026-12-07 12:00"), "petrov:reminder_sms", "sidorov:reminder_sms")
}

func TestReminderLadderSkipsHolidays(t *testing.T) {
	// 6 January 2027 is a Wednesday; the 7th is Orthodox Christmas, a public
	// holiday in Russia: the SMS due 4 working hours after a deadline at the
	// end of the 6th moves to Friday the 8th.
	clock := flowstest.NewClock(msk("2027-01-06 10:00"))
	r := newLadderRig(t, storagetest.NewLocation(t), clock)
	r.start("ivanova", "contract", 10) // due Wednesday 18:00
	want(t, "wed 18:00", r.at("2027-01-06 18:00"), "petrov:reminder", "sidorov:reminder")
	want(t, "thu (holiday)", r.at("2027-01-07 15:00"))
	want(t, "fri 13:00", r.at("2027-01-08 13:00"), "petrov:reminder_sms", "sidorov:reminder_sms")
}

// TestRemindNowCountsOnceWhenRerun: the writer may run a command again
// (here: always, rehearsing each batch first); the reminders counted are
// those of the run that counts.
func TestRemindNowCountsOnceWhenRerun(t *testing.T) {
	t.Setenv(storage.RunTwiceEnv, "1")
	clock := flowstest.NewClock(msk("2026-11-30 10:00"))
	r := newLadderRig(t, storagetest.NewLocation(t), clock)
	d := r.start("ivanova", "contract", 10).DocID
	if n, err := r.eng.RemindNow(r.ctx, r.key(), "ivanova", d); err != nil || n != 2 {
		t.Fatalf("reminded %d for two open tasks, %v", n, err)
	}
}

// Two replicas' schedulers wake at the same moment over one database: each
// reminder is sent once (a reminder fires under its own key, in the same
// transaction that marks it sent).
func TestRemindersFireOnceFromTwoSchedulers(t *testing.T) {
	if !storagetest.Postgres() {
		t.Skip("two processes share a database only on PostgreSQL")
	}
	clock := flowstest.NewClock(msk("2026-11-30 10:00"))
	loc := storagetest.NewLocation(t)
	a, b := newLadderRig(t, loc, clock), newLadderRig(t, loc, clock)
	var docs []int64
	for range 20 {
		docs = append(docs, a.start("ivanova", "contract", 10).DocID)
	}
	for _, when := range []string{"2026-11-30 18:00", "2026-12-01 13:00", "2026-12-03 09:00"} {
		clock.Set(msk(when))
		var wg sync.WaitGroup
		for _, r := range []*ladderRig{a, b, a, b} {
			wg.Go(func() {
				if _, err := r.sched.Step(r.ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	for _, d := range docs {
		ns, err := b.db.Notifications(b.ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		sent := map[string]int{}
		for _, n := range ns {
			if strings.HasPrefix(n.Kind, "reminder") {
				sent[string(n.To)+":"+n.Kind]++
			}
		}
		// petrov and sidorov: the deadline's reminder twice (Monday and the
		// first daily one), the SMS once.
		wantSent := map[string]int{"petrov:reminder": 2, "sidorov:reminder": 2, "petrov:reminder_sms": 1, "sidorov:reminder_sms": 1}
		if !maps.Equal(sent, wantSent) {
			t.Fatalf("document %d: sent %v, want %v", d, sent, wantSent)
		}
	}
}
