package flows

import (
	"fmt"
	"slices"
	"time"
)

// op is one command being applied to one document: the rules live in its
// methods, which only touch the aggregate and collect audit events and
// notifications. The engine persists the result in one transaction.
type op struct {
	d         *Document
	dir       *Directory
	cal       Calendar
	now       time.Time
	tx        Tx
	events    []AuditEvent
	notes     []Notification
	reminders []Reminder
}

func (o *op) audit(kind string, actor, forWhom PersonID, taskID int64, detail string) {
	o.events = append(o.events, AuditEvent{At: o.now, Actor: actor, For: forWhom, Kind: kind,
		Version: o.d.CurrentVersion(), TaskID: taskID, Detail: detail})
}

func (o *op) notify(kind string, to PersonID, fill func(*Notification)) {
	if to == "" {
		return
	}
	d := o.d
	n := Notification{Kind: kind, To: to, Number: d.Number, Title: d.Title, TypeName: d.TypeName,
		State: d.State, Version: d.CurrentVersion(), At: o.now}
	if r := d.CurrentRound(); r != nil {
		n.Round = r.No
	}
	if fill != nil {
		fill(&n)
	}
	o.notes = append(o.notes, n)
}

func (o *op) taskFill(t *Task) func(*Notification) {
	return func(n *Notification) {
		s := o.d.Stages[t.Stage]
		n.TaskID, n.TaskKind, n.Due = t.ID, t.Kind, t.Due
		switch {
		case o.d.SignedByUpload(t):
			n.SignMethod = SignUpload
		case o.d.SignedInDSS(t):
			n.SignMethod = SignDSS
		}
		n.Stage, n.StageCount = o.d.StagePosition(s.Index)
		n.StageName = s.Name
		n.For = t.OnBehalfOf
		n.Round = t.Round
		if n.IsRequest() {
			o.requestFacts(n)
		}
	}
}

// requestFacts copies into a request what its reader needs to decide
// without opening anything else.
func (o *op) requestFacts(n *Notification) {
	d := o.d
	n.Counterparty, n.AmountMinor, n.HasAmount, n.Currency, n.Initiator = d.Counterparty, d.AmountMinor, d.HasAmount, d.Currency, d.Initiator
	if v, ok := d.Version(d.CurrentVersion()); ok {
		n.FileName, n.VersionComment = v.FileName, v.Comment
	}
	n.Blocking = len(d.OpenBlockingRemarks())
}

// notifyAll tells every participant except the listed people.
func (o *op) notifyAll(kind string, except []PersonID, fill func(*Notification)) {
	for _, p := range o.d.Participants() {
		if !slices.Contains(except, p) {
			o.notify(kind, p, fill)
		}
	}
}

// startRound opens a new round over version and runs the route as far as it
// goes without anybody's decision.
func (o *op) startRound(version int, carried map[int][]PersonID) error {
	d := o.d
	d.Rounds = append(d.Rounds, Round{No: len(d.Rounds) + 1, Version: version, StartedAt: o.now, Carried: carried})
	o.audit("round_started", "", "", 0, fmt.Sprintf("round %d on version %d", len(d.Rounds), version))
	return o.advance()
}

// advance completes every satisfied stage, opens the next one, and moves the
// machine when the approval part or the whole route is through.
func (o *op) advance() error {
	d := o.d
	r := d.CurrentRound()
	for r.Stage < len(d.Stages) {
		s := &d.Stages[r.Stage]
		if s.Skipped {
			r.Stage++
			continue
		}
		if s.Post && d.State == StateInApproval {
			if err := o.completeApproval(); err != nil {
				return err
			}
		}
		if len(o.stageTasks(r.No, s.Index)) == 0 {
			if err := o.openStage(s); err != nil {
				return err
			}
		}
		if !o.stageSatisfied(r.No, s) {
			return nil
		}
		for _, t := range o.stageTasks(r.No, s.Index) {
			if t.State == TaskOpen {
				o.closeTask(t, CloseNotNeeded)
			}
		}
		o.audit("stage_completed", "", "", 0, fmt.Sprintf("stage %d", s.Index+1))
		r.Stage++
	}
	switch d.State {
	case StateInApproval:
		if err := o.completeApproval(); err != nil {
			return err
		}
	case StateSigning:
		if err := d.fire(EventFinish); err != nil {
			return err
		}
		o.audit("done", "", "", 0, "")
		o.notifyAll(NoteDone, nil, nil)
	}
	r.Outcome, r.EndedAt = "approved", o.now
	d.FinishedAt = o.now
	return nil
}

// completeApproval moves in_approval → approved (→ signing when there are
// post-approval steps). An open blocking remark here would be a broken
// invariant; refusing keeps the record honest.
func (o *op) completeApproval() error {
	d := o.d
	if open := d.OpenBlockingRemarks(); len(open) > 0 {
		return Errorf(KindInternal, "open_blocking_remark", "approval with %d open blocking remarks", len(open))
	}
	if err := d.fire(EventApprove); err != nil {
		return err
	}
	o.audit("approved", "", "", 0, "")
	o.notifyAll(NoteApproved, nil, nil)
	if d.hasPostStages() {
		if err := d.fire(EventSign); err != nil {
			return err
		}
		o.audit("signing_started", "", "", 0, "")
	}
	return nil
}

func (o *op) stageTasks(round, stage int) []*Task {
	var out []*Task
	for i := range o.d.Tasks {
		t := &o.d.Tasks[i]
		if t.Round == round && t.Stage == stage && t.CloseReason != CloseReassigned {
			out = append(out, t)
		}
	}
	return out
}

func (o *op) remarkOwners() map[PersonID]bool {
	owners := map[PersonID]bool{}
	for _, r := range o.d.OpenBlockingRemarks() {
		owners[r.Owner] = true
	}
	return owners
}

func positive(state string) bool {
	return state == TaskApproved || state == TaskAcknowledged || state == TaskDone
}

// stageSatisfied: enough positive decisions for the mode, and nobody who
// owns an open blocking remark still holds an open task there — the person
// who objected must confirm the fix even in an "any" stage.
func (o *op) stageSatisfied(round int, s *Stage) bool {
	owners := o.remarkOwners()
	n, dropped := 0, 0
	for _, t := range o.stageTasks(round, s.Index) {
		if positive(t.State) {
			n++
		}
		if t.State == TaskClosed && t.CloseReason == CloseTimedOut {
			dropped++
		}
		if t.State == TaskOpen {
			for _, h := range t.Holders() {
				if owners[h] {
					return false
				}
			}
		}
	}
	return n >= s.Mode.Needed(len(s.Approvers)-dropped)
}

// openStage creates the stage's tasks: carried approvals first, then open
// tasks for whoever is still needed.
func (o *op) openStage(s *Stage) error {
	d := o.d
	r := d.CurrentRound()
	carried := r.Carried[s.Index]
	owners := o.remarkOwners()
	have := 0
	for _, p := range s.Approvers {
		if slices.Contains(carried, p) {
			if _, err := o.addTask(s, p, true); err != nil {
				return err
			}
			have++
		}
	}
	needed := s.Mode.Needed(len(s.Approvers))
	for _, p := range s.Approvers {
		if slices.Contains(carried, p) || (have >= needed && !owners[p]) {
			continue
		}
		if _, err := o.addTask(s, p, false); err != nil {
			return err
		}
	}
	return nil
}

func (o *op) addTask(s *Stage, p PersonID, carried bool) (*Task, error) {
	id, err := o.tx.NextSequence("task")
	if err != nil {
		return nil, fmt.Errorf("allocate task id: %w", err)
	}
	d := o.d
	t := Task{ID: id, Round: d.CurrentRound().No, Stage: s.Index, Kind: s.Kind, Assignee: p, OpenedAt: o.now, State: TaskOpen}
	if carried {
		t.State, t.Carried, t.ClosedAt = TaskApproved, true, o.now
		d.Tasks = append(d.Tasks, t)
		o.audit("approval_carried", p, "", id, fmt.Sprintf("stage %d", s.Index+1))
		return &d.Tasks[len(d.Tasks)-1], nil
	}
	if a, ok, err := o.absence(p); err != nil {
		return nil, err
	} else if ok {
		t.Assignee, t.OnBehalfOf = a.Deputy, p
	}
	if !s.Deadline.IsZero() {
		t.Due = o.cal.AddWorking(o.now, s.Deadline)
	}
	d.Tasks = append(d.Tasks, t)
	tp := &d.Tasks[len(d.Tasks)-1]
	o.audit("task_opened", tp.Assignee, tp.OnBehalfOf, id, fmt.Sprintf("stage %d", s.Index+1))
	o.notify(NoteTaskAssigned, tp.Assignee, o.taskFill(tp))
	return tp, nil
}

// absence finds who stands in for p now: a period from the config or one
// set by command. A deputy who is away himself does not pass it on further,
// to keep the chain short and predictable.
func (o *op) absence(p PersonID) (Absence, bool, error) {
	if person, ok := o.dir.Person(p); ok {
		for _, a := range person.Away {
			if a.Covers(o.now) && a.Deputy != "" {
				return a, true, nil
			}
		}
	}
	a, ok, err := o.tx.ActiveAbsence(p, o.now)
	if err != nil {
		return Absence{}, false, fmt.Errorf("look up absence of %s: %w", p, err)
	}
	return a, ok && a.Deputy != "", nil
}

func (o *op) closeTask(t *Task, reason string) { o.closeTaskBy(t, reason, "", "") }

// endRound closes every open task of the current round.
func (o *op) endRound(outcome, reason string) {
	r := o.d.CurrentRound()
	if r == nil || r.Outcome != "" {
		return
	}
	for _, t := range o.d.OpenTasks() {
		o.closeTask(t, reason)
	}
	r.Outcome, r.EndedAt = outcome, o.now
}

// carriedApprovals lists, per stage, who approved in the current round and
// may keep that approval under policy. reapprove names people who must
// approve again whatever the policy says.
func (o *op) carriedApprovals(policy string, reapprove []PersonID) map[int][]PersonID {
	if policy == ReworkEveryone {
		return nil
	}
	r := o.d.CurrentRound()
	out := map[int][]PersonID{}
	for _, t := range o.d.Tasks {
		if t.Round != r.No || t.State != TaskApproved || t.Kind != KindApprove {
			continue
		}
		holder := t.Assignee
		if t.OnBehalfOf != "" {
			holder = t.OnBehalfOf
		}
		if t.From != "" {
			holder = t.From
		}
		if slices.Contains(reapprove, holder) || !slices.Contains(o.d.Stages[t.Stage].Approvers, holder) {
			continue
		}
		out[t.Stage] = append(out[t.Stage], holder)
	}
	return out
}
