package flows_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
)

// fakeDSS is DSS as the engine sees it: operations wait until the test
// confirms, declines or fails them; it can be down.
type fakeDSS struct {
	mu     sync.Mutex
	down   bool
	refuse bool
	noAsk  bool
	ops    map[string]string // id → state
	data   map[string][]byte
	signer map[string]flows.PersonID
	starts int
	asks   int
}

func newFakeDSS() *fakeDSS {
	return &fakeDSS{ops: map[string]string{}, data: map[string][]byte{}, signer: map[string]flows.PersonID{}}
}

func (f *fakeDSS) Start(_ context.Context, signer flows.PersonID, _ string, data []byte) (flows.DSSStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "connection refused")
	}
	if f.refuse {
		return flows.DSSStatus{State: flows.DSSFailed, Reason: "У пользователя нет сертификата"}, nil
	}
	f.starts++
	id := fmt.Sprintf("op-%d", f.starts)
	f.ops[id], f.data[id], f.signer[id] = flows.DSSPending, data, signer
	if f.noAsk {
		f.ops[id] = flows.DSSCompleted
	}
	return f.status(id), nil
}

func (f *fakeDSS) Status(_ context.Context, signer flows.PersonID, id string) (flows.DSSStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asks++
	if f.down {
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "connection refused")
	}
	if f.signer[id] != signer {
		return flows.DSSStatus{State: flows.DSSFailed, Reason: "not this user's operation"}, nil
	}
	return f.status(id), nil
}

func (f *fakeDSS) status(id string) flows.DSSStatus {
	st := flows.DSSStatus{ID: id, State: f.ops[id]}
	switch st.State {
	case flows.DSSCompleted:
		st.Signature = []byte(sigOf(f.data[id]))
		st.Check = flows.SignatureCheck{Owner: "Директор Д. Д.", Serial: "77AA", Issuer: "УЦ DSS", Verifier: "dss"}
	case flows.DSSDeclined:
		st.Reason = "Отклонено пользователем"
	}
	return st
}

func (f *fakeDSS) set(id, state string) { f.mu.Lock(); f.ops[id] = state; f.mu.Unlock() }

func (f *fakeDSS) counts() (starts, asks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, f.asks
}

type dssRig struct {
	*harness
	dss   *fakeDSS
	sched *flows.Scheduler
}

func newDSSRig(t *testing.T) *dssRig {
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	f := newFakeDSS()
	h.eng.SetDSS(flows.DSSSettings{Signer: f, PollEvery: 5 * time.Second, Expiry: 10 * time.Minute})
	return &dssRig{harness: h, dss: f, sched: flows.NewScheduler(h.eng, h.db, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

// poll lets d pass and runs the scheduler once.
func (r *dssRig) poll(d time.Duration) {
	r.t.Helper()
	r.clock.Advance(d)
	if _, err := r.sched.Step(r.ctx); err != nil {
		r.t.Fatal(err)
	}
}

func (r *dssRig) sign(task int64, actor flows.PersonID) error {
	_, err := r.eng.SignInDSS(r.ctx, flows.SignDSSCmd{Key: r.key(), Actor: actor, TaskID: task})
	return err
}

func (r *dssRig) audit(doc int64) []string {
	r.t.Helper()
	evs, err := r.db.DocumentEvents(r.ctx, doc)
	if err != nil {
		r.t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

// TestSignInDSS: a stage signed in DSS sends the version to DSS in the
// signer's name, waits for their confirmation through durable poll rows,
// and closes the task by itself with the signature recorded; a refusal, an
// expiry or DSS being down never closes it and never loses the wait.
func TestSignInDSS(t *testing.T) {
	r := newDSSRig(t)
	d := r.start("ivanova", "dss", 100).DocID
	r.must(r.decide(d, "director", flows.ActionApprove, ""))
	task := r.task(d, "director")
	var card *flows.Notification
	for _, n := range r.notes(d) {
		if n.Kind == flows.NoteTaskAssigned && n.TaskID == task {
			card = &n
		}
	}
	if card == nil || card.SignMethod != flows.SignDSS {
		t.Fatalf("the signer's request does not say it is signed in DSS: %+v", card)
	}
	// Only a "done" with a signature closes it; nobody but the holder
	// sends it to DSS.
	if err := r.decideTask(task, "director", flows.ActionDone, ""); code(err) != "signature_required" {
		t.Fatalf("done without a signature: %v", err)
	}
	if err := r.sign(task, "ivanova"); code(err) != "not_your_task" {
		t.Fatalf("the initiator sent the director's signature to DSS: %v", err)
	}
	kep := r.start("ivanova", "kep", 100).DocID
	r.must(r.decide(kep, "director", flows.ActionApprove, ""))
	if err := r.sign(r.task(kep, "director"), "director"); code(err) != "dss_not_expected" {
		t.Fatalf("a stage signed by upload sent to DSS: %v", err)
	}
	r.dss.down = true
	if err := r.sign(task, "director"); code(err) != "dss_unavailable" {
		t.Fatalf("DSS down: %v", err)
	}
	r.dss.down = false
	r.dss.refuse = true
	if err := r.sign(task, "director"); code(err) != "dss_refused" {
		t.Fatalf("DSS refusing to start: %v", err)
	}
	r.dss.refuse = false
	if doc := r.doc(d); len(doc.DSS) != 0 {
		t.Fatalf("refused requests recorded: %+v", doc.DSS)
	}
	if starts, _ := r.dss.counts(); starts != 0 {
		t.Fatalf("DSS asked %d times before a valid request", starts)
	}
	r.must(r.sign(task, "director"))
	doc := r.doc(d)
	op, ok := doc.PendingDSS(task)
	if !ok || op.ID != "op-1" || op.Signer != "director" || op.Version != doc.CurrentVersion() {
		t.Fatalf("pending operation: %+v", doc.DSS)
	}
	if err := r.sign(task, "director"); code(err) != "dss_pending" {
		t.Fatalf("a second request while the first waits: %v", err)
	}

	// Waiting, and DSS down for a while: nothing changes, and the wait
	// goes on.
	r.poll(5 * time.Second)
	r.dss.down = true
	r.poll(5 * time.Second)
	r.dss.down = false
	if _, asks := r.dss.counts(); asks != 2 {
		t.Fatalf("DSS asked %d times over two polls", asks)
	}
	if st, err := r.db.Stats(r.ctx); err != nil || st.RemindersSent[flows.SendDSS] != 0 {
		t.Fatalf("looks at DSS counted as reminders sent: %v, %v", st.RemindersSent, err)
	}
	r.wantOpen(d, "director")

	// A restart: a new engine and scheduler over the same database pick
	// the wait up from its row.
	eng := flows.NewEngine(r.db, r.fs, r.clock, nil, r.dir)
	eng.SetDSS(flows.DSSSettings{Signer: r.dss, PollEvery: 5 * time.Second, Expiry: 10 * time.Minute})
	r.sched = flows.NewScheduler(eng, r.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.dss.set("op-1", flows.DSSCompleted)
	r.poll(5 * time.Second)
	r.wantState(d, flows.StateDone)
	doc = r.doc(d)
	if len(doc.Signatures) != 1 || doc.Signatures[0].Verifier != "dss" || doc.Signatures[0].Owner != "Директор Д. Д." || doc.Signatures[0].By != "director" ||
		doc.Signatures[0].Method != flows.SignDSS {
		t.Fatalf("recorded signatures: %+v", doc.Signatures)
	}
	if doc.DSS[0].State != flows.DSSCompleted {
		t.Fatalf("operation after signing: %+v", doc.DSS[0])
	}
	f, err := r.fs.Open(doc.Signatures[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := io.ReadAll(f)
	f.Close()
	ver, _ := doc.Version(doc.Signatures[0].Version)
	if data := r.dss.data["op-1"]; string(kept) != sigOf(data) || ver.SHA256 != doc.Signatures[0].VersionSHA256 {
		t.Fatalf("the kept signature is not DSS's of the signed version")
	}
	if kinds := r.audit(d); !slices.Contains(kinds, "dss_requested") || !slices.Contains(kinds, "signature_verified") {
		t.Fatalf("audit: %v", kinds)
	}
	// Nothing is left to poll.
	_, asks := r.dss.counts()
	r.poll(time.Minute)
	if _, again := r.dss.counts(); again != asks {
		t.Fatal("DSS asked again after the task closed")
	}
}

// TestDSSEndsWithoutSignature: refused in myDSS, failed in DSS, or not
// confirmed in time — the signer is told why, the task stays theirs, and
// they may send it again.
func TestDSSEndsWithoutSignature(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   func(r *dssRig, id string)
		state string
	}{
		{"declined in myDSS", func(r *dssRig, id string) { r.dss.set(id, flows.DSSDeclined); r.poll(5 * time.Second) }, flows.DSSDeclined},
		{"failed in DSS", func(r *dssRig, id string) { r.dss.set(id, flows.DSSFailed); r.poll(5 * time.Second) }, flows.DSSFailed},
		{"not confirmed in time", func(r *dssRig, id string) {
			for range 3 {
				r.poll(5 * time.Second)
			}
			_, asks := r.dss.counts()
			r.poll(10 * time.Minute)
			r.poll(5 * time.Second)
			if _, after := r.dss.counts(); after != asks+1 {
				t.Errorf("DSS asked %d times after the wait ran out, want once", after-asks)
			}
		}, flows.DSSExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDSSRig(t)
			d := r.start("ivanova", "dss", 100).DocID
			r.must(r.decide(d, "director", flows.ActionApprove, ""))
			task := r.task(d, "director")
			r.must(r.sign(task, "director"))
			tc.end(r, "op-1")
			r.wantOpen(d, "director")
			doc := r.doc(d)
			if _, pending := doc.PendingDSS(task); pending || doc.DSS[0].State != tc.state || len(doc.Signatures) != 0 {
				t.Fatalf("after the end: %+v, %d signatures", doc.DSS, len(doc.Signatures))
			}
			var told *flows.Notification
			for _, n := range r.notes(d) {
				if n.Kind == flows.NoteSignFailed {
					told = &n
				}
			}
			if told == nil || told.To != "director" || told.Reason != tc.state || told.TaskID != task {
				t.Fatalf("the signer was not told: %+v", told)
			}
			if kinds := r.audit(d); !slices.Contains(kinds, "dss_"+tc.state) {
				t.Fatalf("audit: %v", kinds)
			}
			// Again: a new operation, waited for in its turn, which can
			// succeed.
			r.must(r.sign(task, "director"))
			r.poll(5 * time.Second)
			r.poll(5 * time.Second)
			r.wantOpen(d, "director")
			r.dss.set("op-2", flows.DSSCompleted)
			r.poll(5 * time.Second)
			r.wantState(d, flows.StateDone)
		})
	}
}

// TestDSSWithoutConfirmation: a DSS whose policy signs without asking
// closes the task at once.
func TestDSSWithoutConfirmation(t *testing.T) {
	r := newDSSRig(t)
	r.dss.noAsk = true
	d := r.start("ivanova", "dss", 100).DocID
	r.must(r.decide(d, "director", flows.ActionApprove, ""))
	r.must(r.sign(r.task(d, "director"), "director"))
	r.wantState(d, flows.StateDone)
	if doc := r.doc(d); len(doc.Signatures) != 1 || doc.DSS[0].State != flows.DSSCompleted {
		t.Fatalf("%+v %+v", doc.Signatures, doc.DSS)
	}
}

// TestDSSNotConfigured: without DSS a stage signed there says so.
func TestDSSNotConfigured(t *testing.T) {
	h := newHarness(t)
	d := h.start("ivanova", "dss", 100).DocID
	h.must(h.decide(d, "director", flows.ActionApprove, ""))
	if _, err := h.eng.SignInDSS(h.ctx, flows.SignDSSCmd{Key: h.key(), Actor: "director", TaskID: h.task(d, "director")}); code(err) != "no_dss" {
		t.Fatalf("%v", err)
	}
}

// TestDSSDownPastTheWait: a signer who confirmed in time while DSS was out
// of reach has signed — recorded when DSS answers again, even past the
// wait; a DSS out of reach for a day past the wait ends it, told to the
// signer.
func TestDSSDownPastTheWait(t *testing.T) {
	r := newDSSRig(t)
	d := r.start("ivanova", "dss", 100).DocID
	r.must(r.decide(d, "director", flows.ActionApprove, ""))
	task := r.task(d, "director")
	r.must(r.sign(task, "director"))
	r.dss.set("op-1", flows.DSSCompleted)
	r.dss.down = true
	r.poll(5 * time.Second)
	r.poll(20 * time.Minute)
	r.wantOpen(d, "director")
	r.dss.down = false
	r.poll(5 * time.Second)
	r.wantState(d, flows.StateDone)

	r = newDSSRig(t)
	d = r.start("ivanova", "dss", 100).DocID
	r.must(r.decide(d, "director", flows.ActionApprove, ""))
	task = r.task(d, "director")
	r.must(r.sign(task, "director"))
	r.dss.down = true
	r.poll(5 * time.Second)
	r.poll(flows.DSSGiveUp)
	r.wantOpen(d, "director")
	r.poll(20 * time.Minute)
	doc := r.doc(d)
	if doc.DSS[0].State != flows.DSSExpired || doc.DSS[0].Reason != "no_answer" {
		t.Fatalf("after a day of DSS down past the wait: %+v", doc.DSS[0])
	}
	var told *flows.Notification
	for _, n := range r.notes(d) {
		if n.Kind == flows.NoteSignFailed {
			told = &n
		}
	}
	if told == nil || told.Reason != "no_answer" || told.Comment != "" {
		t.Fatalf("the signer was told: %+v", told)
	}
	_, asks := r.dss.counts()
	r.poll(time.Hour)
	if _, after := r.dss.counts(); after != asks {
		t.Fatal("DSS still asked after the operation ended")
	}
}
