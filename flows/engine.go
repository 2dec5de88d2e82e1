package flows

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// MaxFileSize bounds one uploaded version; channels may have lower limits.
const MaxFileSize = 50 << 20

// Engine applies commands to documents. It is safe for concurrent use: the
// store serialises writes, and each command loads the document inside its
// own write transaction.
type Engine struct {
	store Store
	files FileStore
	clock Clock
	cal   atomic.Pointer[calendarBox]
	dir   atomic.Pointer[Directory]
	// verifier checks signatures uploaded to a sign stage (SetVerifier).
	verifier atomic.Pointer[verifierBox]
	// dss signs sign stages in КриптоПро DSS (SetDSS).
	dss atomic.Pointer[DSSSettings]
}

// calendarBox lets an interface value live in an atomic.Pointer.
type calendarBox struct{ Calendar }

// NewEngine wires the core. cal may be nil (no nights or holidays).
func NewEngine(store Store, files FileStore, clock Clock, cal Calendar, dir *Directory) *Engine {
	if cal == nil {
		cal = AlwaysWorking{}
	}
	e := &Engine{store: store, files: files, clock: clock}
	e.cal.Store(&calendarBox{cal})
	e.dir.Store(dir)
	return e
}

// Directory returns the directory in force.
func (e *Engine) Directory() *Directory { return e.dir.Load() }

// SetDirectory swaps people and document types (SIGHUP). Running documents
// keep the route snapshot they started with.
func (e *Engine) SetDirectory(d *Directory) { e.dir.Store(d) }

// SetCalendar swaps the working-time calendar.
func (e *Engine) SetCalendar(c Calendar) { e.cal.Store(&calendarBox{c}) }

// Upload is a file as it arrives from a channel.
type Upload struct {
	Name    string
	MIME    string
	Content io.Reader
}

// StartCmd creates a document and starts its approval.
type StartCmd struct {
	Key          string
	Actor        PersonID
	TypeID       string
	Title        string
	Counterparty string
	AmountMinor  int64
	HasAmount    bool
	Currency     string
	File         Upload
	Comment      string
	// Approvers and Parallel describe an ad-hoc route (initiator_choice).
	Approvers []PersonID
	Parallel  bool
	// ExternalID is the document's id in the system that started it (1C,
	// a CRM), for that system to find it again.
	ExternalID string
	Origin
}

// Origin says how a command reached the engine when another system sent it
// for a person: the integration's name, recorded in the audit log as the
// actor "for" that person, and a fingerprint of the request, kept with the
// idempotency key so that a key reused for another request is told apart.
type Origin struct {
	Via     string
	Request string
}

// IntegrationActor is how the audit log names an integration acting for a
// person.
func IntegrationActor(name string) PersonID { return PersonID("integration:" + name) }

// DecideCmd is an approver's action on a task.
type DecideCmd struct {
	Key     string
	Actor   PersonID
	TaskID  int64
	Action  string // approve | reject | comment | acknowledge | done
	Comment string
	Scan    *Upload // optional, with done on a sign task
	// Signature is a detached signature of the current version, with done
	// on a task of a stage signed by upload (SignUpload).
	Signature *Upload
	// Bulk is an approval made with others in one action (see
	// BulkApprove): it is held to the rules of approval in bulk.
	Bulk bool
}

// Actions on tasks.
const (
	ActionApprove     = "approve"
	ActionReject      = "reject"
	ActionComment     = "comment"
	ActionAcknowledge = "acknowledge"
	ActionDone        = "done"
)

// VersionCmd uploads a corrected version.
type VersionCmd struct {
	Key     string
	Actor   PersonID
	DocID   int64
	File    Upload
	Comment string
	// For rework "ask", the initiator chooses: Rework "everyone" or
	// "not_yet_approved", or names the people in Reapprove.
	Rework    string
	Reapprove []PersonID
	Origin
}

// WithdrawCmd ends the approval at the initiator's wish.
type WithdrawCmd struct {
	Key     string
	Actor   PersonID
	DocID   int64
	Comment string
	Origin
}

// ReassignCmd hands an open task to a colleague.
type ReassignCmd struct {
	Key    string
	Actor  PersonID
	TaskID int64
	To     PersonID
	Reason string
}

// AwayCmd records that a person is away and who acts for them.
type AwayCmd struct {
	Key    string
	Actor  PersonID
	Person PersonID
	Deputy PersonID
	From   time.Time
	To     time.Time
}

func (e *Engine) actor(id PersonID) (*Directory, error) {
	dir := e.dir.Load()
	if _, ok := dir.Person(id); !ok {
		return nil, Errorf(KindForbidden, "unknown_person", "person %q is not in the directory", id)
	}
	return dir, nil
}

func (e *Engine) storeFile(ctx context.Context, u Upload) (Version, error) {
	if u.Content == nil {
		return Version{}, Errorf(KindInvalid, "file_required", "no file")
	}
	// Every channel's files meet one policy here, the web's and the
	// messengers' alike.
	name := CleanFileName(u.Name)
	if !AllowedFile(name) {
		return Version{}, Errorf(KindInvalid, "bad_file_type", "file %q", name)
	}
	sum, size, err := e.files.Put(ctx, u.Content, MaxFileSize)
	if err != nil {
		return Version{}, err
	}
	if size == 0 {
		return Version{}, Errorf(KindInvalid, "file_empty", "empty file %q", name)
	}
	return Version{FileName: name, Size: size, MIME: u.MIME, SHA256: sum}, nil
}

// run loads the document, applies change and persists the result.
func (e *Engine) run(ctx context.Context, key string, dir *Directory, load func(Tx) (*Document, error),
	change func(o *op) (Outcome, error)) (Outcome, error) {
	return e.runFrom(ctx, key, Origin{}, "", dir, load, change)
}

// runFrom is run for a command another system sent for actor.
func (e *Engine) runFrom(ctx context.Context, key string, org Origin, actor PersonID, dir *Directory, load func(Tx) (*Document, error),
	change func(o *op) (Outcome, error)) (Outcome, error) {
	return e.store.Write(ctx, key, func(tx Tx) (Outcome, error) {
		d, err := load(tx)
		if err != nil {
			return Outcome{}, err
		}
		// Most commands record an event or two and tell two or three people.
		o := &op{d: d, dir: dir, cal: e.cal.Load().Calendar, now: e.clock.Now(), tx: tx,
			events: make([]AuditEvent, 0, 2), notes: make([]Notification, 0, 4)}
		wasOpen := map[int64]bool{}
		for _, t := range d.OpenTasks() {
			wasOpen[t.ID] = true
		}
		out, err := change(o)
		if err != nil {
			return Outcome{}, err
		}
		if err := tx.SaveDocument(d); err != nil {
			return Outcome{}, fmt.Errorf("save document %s: %w", d.Number, err)
		}
		if err := o.saveReminders(wasOpen); err != nil {
			return Outcome{}, err
		}
		for i := range o.events {
			ev := &o.events[i]
			ev.DocID = d.ID
			if org.Via != "" && ev.Actor == actor && ev.For == "" {
				ev.Actor, ev.For = IntegrationActor(org.Via), actor
			}
		}
		for i := range o.notes {
			o.notes[i].DocID = d.ID
		}
		if err := tx.Record(o.events, o.notes); err != nil {
			return Outcome{}, fmt.Errorf("record events of %s: %w", d.Number, err)
		}
		out.DocID, out.Number, out.State = d.ID, d.Number, d.State
		if r := d.CurrentRound(); r != nil {
			out.Round = r.No
		}
		out.Version = d.CurrentVersion()
		out.Request = org.Request
		return out, nil
	})
}

// Start creates a document from a draft and starts its route.
func (e *Engine) Start(ctx context.Context, c StartCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	dt, ok := dir.Type(c.TypeID)
	if !ok {
		return Outcome{}, Errorf(KindInvalid, "unknown_type", "document type %q", c.TypeID)
	}
	if err := checkLengths(lengthCheck{"title", c.Title, MaxTitle}, lengthCheck{"counterparty", c.Counterparty, MaxCounterparty},
		lengthCheck{"comment", c.Comment, MaxComment}, lengthCheck{"external_id", c.ExternalID, MaxExternalID}); err != nil {
		return Outcome{}, err
	}
	title := strings.TrimSpace(c.Title)
	if title == "" {
		return Outcome{}, Errorf(KindInvalid, "title_required", "empty title")
	}
	if c.HasAmount && (c.AmountMinor < 0 || c.AmountMinor > math.MaxInt64/2) {
		return Outcome{}, Errorf(KindInvalid, "bad_amount", "amount %d", c.AmountMinor)
	}
	stages, err := e.buildRoute(dir, dt, c)
	if err != nil {
		return Outcome{}, err
	}
	v, err := e.storeFile(ctx, c.File)
	if err != nil {
		return Outcome{}, err
	}
	return e.runFrom(ctx, c.Key, c.Origin, c.Actor, dir, func(tx Tx) (*Document, error) {
		now := e.clock.Now().In(dir.Location)
		seq, err := tx.NextSequence(SequenceScope(dt.ID, dt.NumberPattern, now))
		if err != nil {
			return nil, fmt.Errorf("number for %s: %w", dt.ID, err)
		}
		currency := c.Currency
		if currency == "" && c.HasAmount {
			currency = "RUB"
		}
		return &Document{Number: FormatNumber(dt.NumberPattern, dt.ID, now, seq), TypeID: dt.ID, TypeName: dt.Name,
			Title: title, Counterparty: strings.TrimSpace(c.Counterparty), AmountMinor: c.AmountMinor, HasAmount: c.HasAmount,
			Currency: currency, Initiator: c.Actor, State: StateDraft, Rework: dt.Rework, CreatedAt: now, Stages: stages,
			ExternalID: strings.TrimSpace(c.ExternalID)}, nil
	}, func(o *op) (Outcome, error) {
		d := o.d
		v.No, v.UploadedBy, v.At, v.Comment = 1, c.Actor, o.now, c.Comment
		d.Versions = append(d.Versions, v)
		o.audit("created", c.Actor, "", 0, d.Number)
		o.audit("version_uploaded", c.Actor, "", 0, fmt.Sprintf("v1 %s sha256:%s", v.FileName, v.SHA256))
		for _, s := range d.Stages {
			if s.Skipped {
				o.audit("stage_skipped", "", "", 0, fmt.Sprintf("stage %d: %s", s.Index+1, s.SkipReason))
			}
		}
		if err := d.fire(EventStart); err != nil {
			return Outcome{}, err
		}
		o.audit("started", c.Actor, "", 0, "")
		return Outcome{}, o.startRound(1, nil)
	})
}

// buildRoute takes the route snapshot: selectors resolved to people now,
// conditions evaluated now.
func (e *Engine) buildRoute(dir *Directory, dt *DocType, c StartCmd) ([]Stage, error) {
	var stages []Stage
	if dt.AdHoc {
		if len(c.Approvers) == 0 {
			return nil, Errorf(KindInvalid, "approvers_required", "ad-hoc route without approvers")
		}
		var seen []PersonID
		for _, p := range c.Approvers {
			if _, ok := dir.Person(p); !ok {
				return nil, Errorf(KindInvalid, "unknown_person", "approver %q", p)
			}
			if slices.Contains(seen, p) {
				return nil, Errorf(KindInvalid, "duplicate_approver", "approver %q twice", p)
			}
			seen = append(seen, p)
		}
		if c.Parallel {
			stages = append(stages, Stage{Kind: KindApprove, Mode: Mode{Kind: "all"}, Approvers: seen})
		} else {
			for _, p := range seen {
				stages = append(stages, Stage{Kind: KindApprove, Mode: Mode{Kind: "all"}, Approvers: []PersonID{p}})
			}
		}
	} else {
		env := WhenEnv{Amount: float64(c.AmountMinor) / 100, Currency: c.Currency, Type: dt.ID,
			Counterparty: c.Counterparty, Title: c.Title, Initiator: string(c.Actor)}
		for _, st := range dt.Route {
			s := Stage{Name: st.Name, Kind: st.Kind, Mode: st.Mode, Deadline: st.Deadline, Timeout: st.Timeout,
				Approvers: dir.Resolve(st.Approvers, c.Actor), Method: st.Method}
			if s.Kind == "" {
				s.Kind = KindApprove
			}
			if st.When != nil {
				s.When, s.WhenLabel = st.When.Source, st.WhenLabel
				ok, err := st.When.Eval(env, c.HasAmount)
				if err != nil {
					return nil, Errorf(KindInvalid, "bad_condition", "%v", err)
				}
				if !ok {
					s.Skipped, s.SkipReason = true, "condition_false"
				}
			}
			if !s.Skipped && len(s.Approvers) == 0 {
				return nil, Errorf(KindInvalid, "stage_without_approvers", "stage %d of %s resolves to nobody", len(stages)+1, dt.ID)
			}
			stages = append(stages, s)
		}
	}
	lastApprove := -1
	for i := range stages {
		stages[i].Index = i
		if stages[i].Kind == KindApprove && !stages[i].Skipped {
			lastApprove = i
		}
	}
	for i := range stages {
		stages[i].Post = i > lastApprove
	}
	return stages, nil
}

// mayActFor reports whether actor may decide a task held by t: the assignee,
// the absent person it stands for, or the assignee's deputy while the
// assignee is away.
func (o *op) mayActFor(actor PersonID, t *Task) (bool, error) {
	if actor == t.Assignee || actor == t.OnBehalfOf {
		return true, nil
	}
	a, ok, err := o.absence(t.Assignee)
	if err != nil {
		return false, err
	}
	return ok && a.Deputy == actor, nil
}

// Decide applies an approver's action to a task.
func (e *Engine) Decide(ctx context.Context, c DecideCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	if err := checkLengths(lengthCheck{"comment", c.Comment, MaxComment}); err != nil {
		return Outcome{}, err
	}
	c.Comment = strings.TrimSpace(c.Comment)
	var scan *Version
	if c.Scan != nil && c.Action == ActionDone {
		v, err := e.storeFile(ctx, *c.Scan)
		if err != nil {
			return Outcome{}, err
		}
		scan = &v
	}
	var sig *Signature
	if c.Signature != nil && c.Action == ActionDone {
		// Checked before the write: a verifier is a network away, and the
		// version it checked against is checked again inside.
		if sig, err = e.verifySignature(ctx, c); err != nil {
			return Outcome{}, err
		}
	}
	return e.run(ctx, c.Key, dir, func(tx Tx) (*Document, error) { return tx.DocumentOfTask(c.TaskID) },
		func(o *op) (Outcome, error) { return o.decide(c, scan, sig) })
}

func (o *op) decide(c DecideCmd, scan *Version, sig *Signature) (Outcome, error) {
	d := o.d
	t, ok := d.Task(c.TaskID)
	if !ok {
		return Outcome{}, Errorf(KindNotFound, "task_not_found", "task %d", c.TaskID)
	}
	allowed, err := o.mayActFor(c.Actor, t)
	if err != nil {
		return Outcome{}, err
	}
	if !allowed {
		return Outcome{}, Errorf(KindForbidden, "not_your_task", "%s on task %d of %s", c.Actor, t.ID, t.Assignee)
	}
	if t.State != TaskOpen {
		return Outcome{}, Errorf(KindConflict, "task_closed", "task %d is %s", t.ID, t.State)
	}
	forWhom := t.OnBehalfOf
	if forWhom == "" && c.Actor != t.Assignee {
		forWhom = t.Assignee
	}
	if c.Bulk {
		if err := o.mayBulk(c, t, forWhom); err != nil {
			return Outcome{}, err
		}
	}
	record := func(kind string) {
		d.Decisions = append(d.Decisions, Decision{TaskID: t.ID, Round: t.Round, Stage: t.Stage, Kind: kind,
			Actor: c.Actor, For: forWhom, At: o.now, Comment: c.Comment, Version: d.CurrentVersion(), Bulk: c.Bulk})
		detail := c.Comment
		if c.Bulk {
			detail = "bulk"
		}
		o.audit(kind, c.Actor, forWhom, t.ID, detail)
	}
	tellInitiator := func(kind string) {
		if c.Actor != d.Initiator {
			o.notify(NoteDecision, d.Initiator, func(n *Notification) {
				o.taskFill(t)(n)
				n.Actor, n.For, n.Decision, n.Comment = c.Actor, forWhom, kind, c.Comment
			})
		}
	}
	owner := t.Assignee
	if t.OnBehalfOf != "" {
		owner = t.OnBehalfOf
	}
	// The holder's own messages about the task (a chat card, say) learn
	// the outcome wherever the decision was made.
	tellHolder := func(kind string) {
		o.notify(NoteTaskClosed, t.Assignee, func(n *Notification) {
			o.taskFill(t)(n)
			n.Reason, n.Decision, n.Actor = CloseDecided, kind, c.Actor
		})
	}
	switch c.Action {
	case ActionApprove, ActionAcknowledge, ActionDone:
		want := map[string]string{KindApprove: ActionApprove, KindAcknowledge: ActionAcknowledge, KindSign: ActionDone}[t.Kind]
		if c.Action != want {
			return Outcome{}, Errorf(KindInvalid, "wrong_action", "%s on a %s task", c.Action, t.Kind)
		}
		if err := o.checkSignature(t, sig); err != nil {
			return Outcome{}, err
		}
		t.State = map[string]string{ActionApprove: TaskApproved, ActionAcknowledge: TaskAcknowledged, ActionDone: TaskDone}[c.Action]
		t.ClosedAt = o.now
		record(c.Action)
		if scan != nil {
			scan.No, scan.UploadedBy, scan.At, scan.Comment, scan.Scan = len(d.Versions)+1, c.Actor, o.now, c.Comment, true
			d.Versions = append(d.Versions, *scan)
			o.audit("scan_uploaded", c.Actor, forWhom, t.ID, fmt.Sprintf("v%d %s sha256:%s", scan.No, scan.FileName, scan.SHA256))
		}
		if sig != nil {
			o.recordSignature(t, *sig, c.Actor, forWhom)
		}
		if c.Action == ActionApprove {
			if c.Comment != "" {
				o.addRemark(false, owner, c.Actor, c.Comment, t.Round)
			}
			o.closeRemarksOf(t)
		}
		tellInitiator(c.Action)
		tellHolder(c.Action)
		if err := o.advance(); err != nil {
			return Outcome{}, err
		}
	case ActionReject:
		if t.Kind != KindApprove {
			return Outcome{}, Errorf(KindInvalid, "cannot_reject", "reject on a %s task", t.Kind)
		}
		if c.Comment == "" {
			return Outcome{}, Errorf(KindInvalid, "reason_required", "reject without a reason")
		}
		t.State, t.ClosedAt = TaskRejected, o.now
		record(ActionReject)
		tellHolder(ActionReject)
		o.addRemark(true, owner, c.Actor, c.Comment, t.Round)
		o.endRound("rejected", CloseSuperseded)
		if err := d.fire(EventReject); err != nil {
			return Outcome{}, err
		}
		o.notify(NoteChangesRequested, d.Initiator, func(n *Notification) {
			o.taskFill(t)(n)
			n.Actor, n.For, n.Decision, n.Comment = c.Actor, forWhom, ActionReject, c.Comment
		})
	case ActionComment:
		if c.Comment == "" {
			return Outcome{}, Errorf(KindInvalid, "text_required", "empty comment")
		}
		record(ActionComment)
		o.addRemark(false, owner, c.Actor, c.Comment, t.Round)
		tellInitiator(ActionComment)
	default:
		return Outcome{}, Errorf(KindInvalid, "unknown_action", "%q", c.Action)
	}
	return Outcome{TaskID: t.ID}, nil
}

func (o *op) addRemark(blocking bool, owner, author PersonID, text string, round int) {
	o.d.Remarks = append(o.d.Remarks, Remark{ID: len(o.d.Remarks) + 1, Blocking: blocking, Owner: owner, Author: author,
		Text: text, Version: o.d.CurrentVersion(), Round: round, At: o.now})
}

// closeRemarksOf closes the blocking remarks of the task's holders raised on
// an earlier version: their owner has now approved a later one.
func (o *op) closeRemarksOf(t *Task) {
	v := o.d.CurrentVersion()
	for i := range o.d.Remarks {
		r := &o.d.Remarks[i]
		if r.Open() && r.Version < v && slices.Contains(t.Holders(), r.Owner) {
			r.ClosedAt, r.ClosedByTask, r.ClosedVersion = o.now, t.ID, v
			o.audit("remark_closed", r.Owner, "", t.ID, fmt.Sprintf("remark %d", r.ID))
		}
	}
}

func loadDoc(id int64) func(Tx) (*Document, error) {
	return func(tx Tx) (*Document, error) { return tx.Document(id) }
}

// mayContribute: the initiator, anyone in the route, and anyone who has
// taken part may upload a corrected version (and read the document).
func (o *op) mayContribute(p PersonID) bool { return slices.Contains(o.d.Readers(), p) }

// MayContribute reports whether p may upload a version of d or remark on
// it, so that a page offers only what the engine will accept.
func (e *Engine) MayContribute(d *Document, p PersonID) bool { return (&op{d: d}).mayContribute(p) }

// MayRemind reports whether p may press "Remind" on d: its initiator and
// viewers, while someone has a task open.
func (e *Engine) MayRemind(d *Document, p PersonID) bool {
	return len(d.OpenTasks()) > 0 && (p == d.Initiator || e.Directory().IsViewer(p))
}

// UploadVersion adds a corrected version. After a rejection it starts the
// next round; in the middle of a round it restarts the round. Who approves
// again follows the type's rework policy.
func (e *Engine) UploadVersion(ctx context.Context, c VersionCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	if err := checkLengths(lengthCheck{"comment", c.Comment, MaxComment}); err != nil {
		return Outcome{}, err
	}
	// Check access before storing the bytes, so that a stranger cannot fill
	// the disk.
	if d, err := e.store.Document(ctx, c.DocID); err != nil {
		return Outcome{}, err
	} else if !(&op{d: d}).mayContribute(c.Actor) {
		return Outcome{}, Errorf(KindForbidden, "not_participant", "%s on %s", c.Actor, d.Number)
	}
	v, err := e.storeFile(ctx, c.File)
	if err != nil {
		return Outcome{}, err
	}
	return e.runFrom(ctx, c.Key, c.Origin, c.Actor, dir, loadDoc(c.DocID), func(o *op) (Outcome, error) {
		d := o.d
		if !o.mayContribute(c.Actor) {
			return Outcome{}, Errorf(KindForbidden, "not_participant", "%s on %s", c.Actor, d.Number)
		}
		if d.State != StateInApproval && d.State != StateChangesRequested {
			return Outcome{}, Errorf(KindConflict, "wrong_state", "new version in state %s", d.State)
		}
		policy := d.Rework
		if policy == "" {
			policy = ReworkNotYetApproved
		}
		var reapprove []PersonID
		if policy == ReworkAsk {
			switch {
			case c.Actor != d.Initiator:
				// Only the initiator answers "ask"; a participant's fix keeps
				// what is already approved.
				policy = ReworkNotYetApproved
			case c.Rework == ReworkEveryone || c.Rework == ReworkNotYetApproved:
				policy = c.Rework
			case len(c.Reapprove) > 0:
				policy, reapprove = ReworkNotYetApproved, c.Reapprove
			default:
				return Outcome{}, Errorf(KindInvalid, "rework_choice_required", "rework ask without a choice")
			}
		}
		carried := o.carriedApprovals(policy, reapprove)
		v.No, v.UploadedBy, v.At, v.Comment = len(d.Versions)+1, c.Actor, o.now, strings.TrimSpace(c.Comment)
		if d.State == StateInApproval {
			o.endRound("superseded", CloseSuperseded)
		} else if err := d.fire(EventResubmit); err != nil {
			return Outcome{}, err
		}
		d.Versions = append(d.Versions, v)
		d.Decisions = append(d.Decisions, Decision{Kind: "version", Actor: c.Actor, At: o.now, Comment: v.Comment, Version: v.No,
			Round: len(d.Rounds) + 1})
		o.audit("version_uploaded", c.Actor, "", 0, fmt.Sprintf("v%d %s sha256:%s policy %s", v.No, v.FileName, v.SHA256, policy))
		o.notifyAll(NoteRoundRestarted, []PersonID{c.Actor}, func(n *Notification) {
			n.Actor, n.Comment, n.Round = c.Actor, v.Comment, len(d.Rounds)+1
		})
		return Outcome{}, o.startRound(v.No, carried)
	})
}

// Withdraw ends the approval; only the initiator may.
func (e *Engine) Withdraw(ctx context.Context, c WithdrawCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	if err := checkLengths(lengthCheck{"comment", c.Comment, MaxComment}); err != nil {
		return Outcome{}, err
	}
	return e.runFrom(ctx, c.Key, c.Origin, c.Actor, dir, loadDoc(c.DocID), func(o *op) (Outcome, error) {
		d := o.d
		if c.Actor != d.Initiator {
			return Outcome{}, Errorf(KindForbidden, "initiator_only", "%s withdrawing %s", c.Actor, d.Number)
		}
		if !d.can(EventWithdraw) {
			return Outcome{}, Errorf(KindConflict, "wrong_state", "withdraw in state %s", d.State)
		}
		o.endRound("withdrawn", CloseWithdrawn)
		if err := d.fire(EventWithdraw); err != nil {
			return Outcome{}, err
		}
		d.FinishedAt = o.now
		d.Decisions = append(d.Decisions, Decision{Kind: "withdraw", Actor: c.Actor, At: o.now, Comment: strings.TrimSpace(c.Comment),
			Version: d.CurrentVersion(), Round: len(d.Rounds)})
		o.audit("withdrawn", c.Actor, "", 0, c.Comment)
		o.notifyAll(NoteWithdrawn, []PersonID{c.Actor}, func(n *Notification) { n.Actor, n.Comment = c.Actor, c.Comment })
		return Outcome{}, nil
	})
}

// Reassign hands an open task to a colleague, with a reason.
func (e *Engine) Reassign(ctx context.Context, c ReassignCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	if _, ok := dir.Person(c.To); !ok {
		return Outcome{}, Errorf(KindInvalid, "unknown_person", "reassign to %q", c.To)
	}
	if strings.TrimSpace(c.Reason) == "" {
		return Outcome{}, Errorf(KindInvalid, "reason_required", "reassign without a reason")
	}
	return e.run(ctx, c.Key, dir, func(tx Tx) (*Document, error) { return tx.DocumentOfTask(c.TaskID) }, func(o *op) (Outcome, error) {
		d := o.d
		t, ok := d.Task(c.TaskID)
		if !ok {
			return Outcome{}, Errorf(KindNotFound, "task_not_found", "task %d", c.TaskID)
		}
		if allowed, err := o.mayActFor(c.Actor, t); err != nil {
			return Outcome{}, err
		} else if !allowed {
			return Outcome{}, Errorf(KindForbidden, "not_your_task", "%s reassigning task %d", c.Actor, t.ID)
		}
		if t.State != TaskOpen {
			return Outcome{}, Errorf(KindConflict, "task_closed", "task %d is %s", t.ID, t.State)
		}
		if c.To == t.Assignee || c.To == c.Actor {
			return Outcome{}, Errorf(KindInvalid, "reassign_to_self", "task %d to %s", t.ID, c.To)
		}
		nt := *t
		id, err := o.tx.NextSequence("task")
		if err != nil {
			return Outcome{}, fmt.Errorf("allocate task id: %w", err)
		}
		// From keeps the route's original approver, so the carried approval
		// and remark ownership survive any number of hand-overs.
		from := t.From
		if from == "" {
			from = t.Assignee
			if t.OnBehalfOf != "" {
				from = t.OnBehalfOf
			}
		}
		nt.ID, nt.Assignee, nt.OnBehalfOf, nt.From, nt.Reason, nt.OpenedAt = id, c.To, "", from, strings.TrimSpace(c.Reason), o.now
		o.closeTask(t, CloseReassigned)
		d.Decisions = append(d.Decisions, Decision{TaskID: t.ID, Round: t.Round, Stage: t.Stage, Kind: "reassign", Actor: c.Actor,
			At: o.now, Comment: nt.Reason, Version: d.CurrentVersion()})
		d.Tasks = append(d.Tasks, nt)
		o.audit("reassigned", c.Actor, "", id, fmt.Sprintf("task %d to %s: %s", t.ID, c.To, nt.Reason))
		o.notify(NoteTaskAssigned, c.To, func(n *Notification) {
			o.taskFill(&d.Tasks[len(d.Tasks)-1])(n)
			n.Actor, n.Reason = c.Actor, nt.Reason
		})
		return Outcome{TaskID: id}, nil
	})
}

// SetAway records an absence. A person sets their own; viewers may set
// anyone's.
func (e *Engine) SetAway(ctx context.Context, c AwayCmd) error {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return err
	}
	if c.Actor != c.Person && !dir.IsViewer(c.Actor) {
		return Errorf(KindForbidden, "not_allowed", "%s setting absence of %s", c.Actor, c.Person)
	}
	if _, ok := dir.Person(c.Person); !ok {
		return Errorf(KindInvalid, "unknown_person", "%q", c.Person)
	}
	if c.Deputy == "" {
		p, _ := dir.Person(c.Person)
		c.Deputy = p.Deputy
	}
	if _, ok := dir.Person(c.Deputy); !ok || c.Deputy == c.Person {
		return Errorf(KindInvalid, "bad_deputy", "%q for %q", c.Deputy, c.Person)
	}
	if !c.To.After(c.From) {
		return Errorf(KindInvalid, "bad_period", "%s..%s", c.From, c.To)
	}
	_, err = e.store.Write(ctx, c.Key, func(tx Tx) (Outcome, error) {
		return Outcome{}, tx.PutAbsence(Absence{Person: c.Person, Deputy: c.Deputy, From: c.From, To: c.To}, c.Actor, e.clock.Now())
	})
	return err
}

// MayRead reports whether a person may see a document: participants, route
// approvers and viewers.
func (e *Engine) MayRead(d *Document, p PersonID) bool { return MayRead(e.dir.Load(), d, p) }

// MayRead is who may read a document, the one policy every page, command,
// mail and digest follows: the company's viewers; the document's readers
// (its initiator and everyone on its route); and a person's manager while
// that person holds one of its tasks open — the digest and the escalations
// name such a document to the manager, who must be able to open it.
func MayRead(dir *Directory, d *Document, p PersonID) bool {
	if dir.IsViewer(p) || (&op{d: d}).mayContribute(p) {
		return true
	}
	return ManagesAHolder(dir, d, p)
}

// ManagesAHolder reports whether p manages someone holding a task of d open.
func ManagesAHolder(dir *Directory, d *Document, p PersonID) bool {
	for _, t := range d.OpenTasks() {
		if q, ok := dir.Person(t.Assignee); ok && q.Manager == p && p != "" {
			return true
		}
	}
	return false
}

// Document returns a document the person may read. A stranger gets
// not_found whether or not it exists, so numbers cannot be probed.
func (e *Engine) Document(ctx context.Context, p PersonID, number string) (*Document, error) {
	d, err := e.store.DocumentByNumber(ctx, number)
	if ErrorKind(err) == KindNotFound || (err == nil && !e.MayRead(d, p)) {
		return nil, Errorf(KindNotFound, "doc_not_found", "%s asking for %s", p, number)
	}
	return d, err
}

// RemarkCmd is a non-blocking remark on the document as a whole (after an
// approval, or from a participant without a task).
type RemarkCmd struct {
	Key   string
	Actor PersonID
	DocID int64
	Text  string
}

// Remark records a non-blocking remark. The initiator hears of it; when the
// initiator writes it, the people holding open tasks do.
func (e *Engine) Remark(ctx context.Context, c RemarkCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	if err := checkLengths(lengthCheck{"text", c.Text, MaxComment}); err != nil {
		return Outcome{}, err
	}
	text := strings.TrimSpace(c.Text)
	if text == "" {
		return Outcome{}, Errorf(KindInvalid, "text_required", "empty remark")
	}
	return e.run(ctx, c.Key, dir, loadDoc(c.DocID), func(o *op) (Outcome, error) {
		d := o.d
		if !o.mayContribute(c.Actor) {
			return Outcome{}, Errorf(KindForbidden, "not_participant", "%s on %s", c.Actor, d.Number)
		}
		round := len(d.Rounds)
		o.addRemark(false, c.Actor, c.Actor, text, round)
		d.Decisions = append(d.Decisions, Decision{Kind: ActionComment, Actor: c.Actor, At: o.now, Comment: text,
			Version: d.CurrentVersion(), Round: round})
		o.audit("remark", c.Actor, "", 0, text)
		fill := func(n *Notification) { n.Actor, n.Comment = c.Actor, text }
		if c.Actor != d.Initiator {
			o.notify(NoteRemark, d.Initiator, fill)
		} else {
			for _, t := range d.OpenTasks() {
				o.notify(NoteRemark, t.Assignee, fill)
			}
		}
		return Outcome{}, nil
	})
}

// TaskNotification describes an open task as a task_assigned notification,
// so a channel can show it again (a "my tasks" list, a reminder) exactly as
// it was first sent.
func TaskNotification(d *Document, t *Task) Notification {
	o := &op{d: d}
	n := Notification{Kind: NoteTaskAssigned, To: t.Assignee, DocID: d.ID, Number: d.Number, Title: d.Title, TypeName: d.TypeName,
		State: d.State, Version: d.CurrentVersion(), At: t.OpenedAt}
	o.taskFill(t)(&n)
	return n
}

// PreviewRoute computes the route a StartCmd would get, without starting
// anything, so the initiator can see it before confirming.
func (e *Engine) PreviewRoute(c StartCmd) ([]Stage, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return nil, err
	}
	dt, ok := dir.Type(c.TypeID)
	if !ok {
		return nil, Errorf(KindInvalid, "unknown_type", "document type %q", c.TypeID)
	}
	return e.buildRoute(dir, dt, c)
}

// UsesAmount reports whether a type's route depends on the amount, so that
// a dialogue asks for it only then.
func (t *DocType) UsesAmount() bool {
	for _, s := range t.Route {
		if s.When != nil && s.When.usesAmount {
			return true
		}
	}
	return false
}

// saveReminders schedules the ladder of every task that opened in this
// command and cancels what is pending for every task that closed.
func (o *op) saveReminders(wasOpen map[int64]bool) error {
	var closed []int64
	isOpen := map[int64]bool{}
	for i := range o.d.Tasks {
		t := &o.d.Tasks[i]
		if t.State == TaskOpen {
			isOpen[t.ID] = true
			if !wasOpen[t.ID] {
				o.reminders = append(o.reminders, schedule(o.cal, o.ladderFor(), t, o.d.ID)...)
				if r, ok := o.timeoutStep(t); ok {
					o.reminders = append(o.reminders, r)
				}
			}
		}
	}
	for id := range wasOpen {
		// Only a task with a deadline has a ladder to cancel.
		if t, ok := o.d.Task(id); ok && !isOpen[id] && !t.Due.IsZero() {
			closed = append(closed, id)
		}
	}
	for i := range o.reminders {
		o.reminders[i].DocID = o.d.ID
	}
	if len(closed) > 0 {
		if err := o.tx.CancelReminders(closed, o.now); err != nil {
			return fmt.Errorf("cancel reminders: %w", err)
		}
	}
	if len(o.reminders) > 0 {
		if err := o.tx.ScheduleReminders(o.reminders); err != nil {
			return fmt.Errorf("schedule reminders: %w", err)
		}
	}
	return nil
}
