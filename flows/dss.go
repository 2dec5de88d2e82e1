package flows

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"time"
)

// SignDSS signs a sign stage's version in КриптоПро DSS: Viza asks DSS to
// sign it with the signer's cloud key, the signer confirms in the myDSS
// app on their phone, and the task closes itself once DSS reports the
// signature made. Viza never holds the key; DSS never signs without the
// signer's confirmation.
const SignDSS = "dss"

// SendDSS is the reminder row that looks again at a DSS operation: the
// rows make the wait durable, so a restart polls on where it stopped.
const SendDSS = "dss"

// NoteSignFailed tells a signer their DSS operation ended without a
// signature: refused in myDSS, not confirmed in time, or failed in DSS.
// The task stays open; they may ask again.
const NoteSignFailed = "sign_failed"

// Where a DSS operation stands.
const (
	DSSPending   = "pending"   // waiting for the signer's confirmation, or being signed
	DSSCompleted = "completed" // signed: the signature is recorded and the task closed
	DSSDeclined  = "declined"  // the signer refused it in myDSS
	DSSExpired   = "expired"   // not confirmed in time
	DSSFailed    = "failed"    // DSS could not sign (a certificate, a policy), or the version changed meanwhile
)

// DSSOperation is one request to DSS to sign a version, kept in the
// document so that it survives a restart and is shown where it stands.
type DSSOperation struct {
	TaskID        int64     `json:"task_id"`
	ID            string    `json:"id"` // DSS's operation id
	Version       int       `json:"version"`
	VersionSHA256 string    `json:"version_sha256"`
	Signer        PersonID  `json:"signer"`
	StartedAt     time.Time `json:"started_at"`
	Until         time.Time `json:"until"` // not confirmed by then: expired
	State         string    `json:"state"`
	Reason        string    `json:"reason,omitzero"` // DSS's words on a refusal or a failure
	EndedAt       time.Time `json:"ended_at,omitzero"`
}

// DSSStatus is what DSS says of an operation. Signature is the detached
// CMS, set when State is DSSCompleted.
type DSSStatus struct {
	ID        string
	State     string
	Reason    string
	Signature []byte
	Check     SignatureCheck // what the signature's CMS says of its signer
}

// DSSSigner is the company's КриптоПро DSS. Start asks it to sign data in
// signer's name; Status reports where the operation stands. A DSS out of
// reach is an Error of KindTransient; a refusal to start, KindInvalid.
type DSSSigner interface {
	Start(ctx context.Context, signer PersonID, fileName string, data []byte) (DSSStatus, error)
	Status(ctx context.Context, signer PersonID, id string) (DSSStatus, error)
}

// DSSSettings is the engine's DSS with how often it is asked and how long
// a confirmation is waited for.
type DSSSettings struct {
	Signer    DSSSigner
	PollEvery time.Duration // default 5s
	Expiry    time.Duration // default 15m
}

// SetDSS sets the company's DSS (a zero Signer: none, and a stage signed
// in DSS answers that signing there is not configured).
func (e *Engine) SetDSS(s DSSSettings) {
	if s.PollEvery <= 0 {
		s.PollEvery = 5 * time.Second
	}
	if s.Expiry <= 0 {
		s.Expiry = 15 * time.Minute
	}
	e.dss.Store(&s)
}

func (e *Engine) dssSettings() *DSSSettings {
	if s := e.dss.Load(); s != nil && s.Signer != nil {
		return s
	}
	return nil
}

// SignedInDSS reports whether t is a task of a sign stage signed in DSS.
func (d *Document) SignedInDSS(t *Task) bool {
	return t.Kind == KindSign && t.Stage < len(d.Stages) && d.Stages[t.Stage].Method == SignDSS
}

// PendingDSS is the operation of task waiting in DSS, if any.
func (d *Document) PendingDSS(taskID int64) (*DSSOperation, bool) {
	for i := len(d.DSS) - 1; i >= 0; i-- {
		if op := &d.DSS[i]; op.TaskID == taskID && op.State == DSSPending {
			return op, true
		}
	}
	return nil, false
}

// A DSS row's Step names its operation, so that each row looks at the
// operation it was made for and no other (steps from 0 are a ladder's,
// -1 a manual reminder, -2 a timeout).
const dssStep0 = -100

func dssPoll(t *Task, d *Document, index int, due time.Time) Reminder {
	return Reminder{TaskID: t.ID, DocID: d.ID, Step: dssStep0 - index, Send: SendDSS, Due: due}
}

// dssOfRow is the operation a DSS row waits for, while it is pending.
func (d *Document) dssOfRow(r Reminder) (*DSSOperation, bool) {
	i := dssStep0 - r.Step
	if i < 0 || i >= len(d.DSS) || d.DSS[i].TaskID != r.TaskID || d.DSS[i].State != DSSPending {
		return nil, false
	}
	return &d.DSS[i], true
}

// DSSGiveUp is how long past an operation's wait DSS is still asked while
// it does not answer, before the operation is told to the signer as
// expired.
const DSSGiveUp = 24 * time.Hour

// SignDSSCmd asks DSS to sign the current version for a task.
type SignDSSCmd struct {
	Key    string
	Actor  PersonID
	TaskID int64
}

// SignInDSS starts the DSS operation of a task: the signer is asked in
// myDSS, and the task closes by itself when DSS has signed. DSS is asked
// before the write transaction (it is a network away); the version is
// checked again inside.
func (e *Engine) SignInDSS(ctx context.Context, c SignDSSCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	s := e.dssSettings()
	if s == nil {
		return Outcome{}, Errorf(KindInvalid, "no_dss", "КриптоПро DSS is not configured (signatures.dss in the configuration)")
	}
	d, err := e.store.DocumentOfTask(ctx, c.TaskID)
	if err != nil {
		return Outcome{}, err
	}
	t, ok := d.Task(c.TaskID)
	switch {
	case !ok:
		return Outcome{}, Errorf(KindNotFound, "task_not_found", "task %d", c.TaskID)
	case !d.SignedInDSS(t):
		return Outcome{}, Errorf(KindInvalid, "dss_not_expected", "task %d is not signed in DSS", t.ID)
	case t.State != TaskOpen:
		return Outcome{}, Errorf(KindConflict, "task_closed", "task %d is %s", t.ID, t.State)
	}
	if op, ok := d.PendingDSS(t.ID); ok && e.clock.Now().Before(op.Until) {
		return Outcome{}, Errorf(KindConflict, "dss_pending", "operation %s waits for confirmation in myDSS", op.ID)
	}
	// Only the holder (or their deputy, for themselves) may sign: checked
	// here before DSS is asked, and again in the transaction.
	// (Deputies come from absences, which only a transaction reads.)
	if _, err := e.store.Write(ctx, "", func(tx Tx) (Outcome, error) {
		if allowed, err := (&op{d: d, dir: dir, now: e.clock.Now(), tx: tx}).mayActFor(c.Actor, t); err != nil {
			return Outcome{}, err
		} else if !allowed {
			return Outcome{}, Errorf(KindForbidden, "not_your_task", "%s on task %d of %s", c.Actor, t.ID, t.Assignee)
		}
		return Outcome{}, nil
	}); err != nil {
		return Outcome{}, err
	}
	ver, data, err := e.currentBytes(d)
	if err != nil {
		return Outcome{}, err
	}
	st, err := s.Signer.Start(ctx, c.Actor, ver.FileName, data)
	if err != nil {
		return Outcome{}, err
	}
	var sig *Signature
	switch st.State {
	case DSSPending:
	case DSSCompleted:
		// No confirmation asked (DSS's policy for this user): signed now.
		if sig, err = e.keepDSSSignature(ctx, t.ID, ver, st); err != nil {
			return Outcome{}, err
		}
	default:
		// DSS would not start it: no certificate, a policy, a bad request.
		return Outcome{}, Errorf(KindInvalid, "dss_refused", "DSS refused to sign v%d for %s: %s", ver.No, c.Actor, st.Reason)
	}
	return e.run(ctx, c.Key, dir, func(tx Tx) (*Document, error) { return tx.DocumentOfTask(c.TaskID) },
		func(o *op) (Outcome, error) {
			t, ok := o.d.Task(c.TaskID)
			if !ok || t.State != TaskOpen {
				return Outcome{}, Errorf(KindConflict, "task_closed", "task %d", c.TaskID)
			}
			if allowed, err := o.mayActFor(c.Actor, t); err != nil {
				return Outcome{}, err
			} else if !allowed {
				return Outcome{}, Errorf(KindForbidden, "not_your_task", "%s on task %d", c.Actor, t.ID)
			}
			if v, ok := o.d.Version(o.d.CurrentVersion()); !ok || v.SHA256 != ver.SHA256 {
				return Outcome{}, Errorf(KindConflict, "version_changed", "v%d was sent to DSS; the document has a newer version", ver.No)
			}
			if old, ok := o.d.PendingDSS(t.ID); ok {
				old.State, old.EndedAt, old.Reason = DSSExpired, o.now, "superseded"
			}
			dop := DSSOperation{TaskID: t.ID, ID: st.ID, Version: ver.No, VersionSHA256: ver.SHA256, Signer: c.Actor,
				StartedAt: o.now, Until: o.now.Add(s.Expiry), State: DSSPending}
			o.audit("dss_requested", c.Actor, "", t.ID, fmt.Sprintf("v%d, DSS operation %s", ver.No, st.ID))
			if sig != nil {
				dop.State, dop.EndedAt = DSSCompleted, o.now
				o.d.DSS = append(o.d.DSS, dop)
				return o.decide(DecideCmd{Actor: c.Actor, TaskID: t.ID, Action: ActionDone}, nil, sig)
			}
			o.d.DSS = append(o.d.DSS, dop)
			o.reminders = append(o.reminders, dssPoll(t, o.d, len(o.d.DSS)-1, o.now.Add(s.PollEvery)))
			return Outcome{TaskID: t.ID}, nil
		})
}

// currentBytes reads the version current now.
func (e *Engine) currentBytes(d *Document) (Version, []byte, error) {
	ver, ok := d.Version(d.CurrentVersion())
	if !ok {
		return Version{}, nil, Errorf(KindInvalid, "no_version", "document %s has no version to sign", d.Number)
	}
	data, err := e.versionBytes(*ver)
	return *ver, data, err
}

// versionBytes reads one version's file.
func (e *Engine) versionBytes(ver Version) ([]byte, error) {
	f, err := e.files.Open(ver.SHA256)
	if err != nil {
		return nil, fmt.Errorf("open v%d: %w", ver.No, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read v%d: %w", ver.No, err)
	}
	return data, nil
}

// keepDSSSignature stores the signature DSS made of ver and, when the
// company has a verifier, has it checked too: DSS is trusted to sign,
// the verifier to say whether the result holds.
func (e *Engine) keepDSSSignature(ctx context.Context, taskID int64, ver Version, st DSSStatus) (*Signature, error) {
	if len(st.Signature) == 0 || len(st.Signature) > MaxSignatureSize {
		return nil, Errorf(KindInvalid, "signature_unreadable", "DSS returned a signature of %d bytes", len(st.Signature))
	}
	check := st.Check
	if v := e.signatureVerifier(); v != nil {
		data, err := e.versionBytes(ver)
		if err != nil {
			return nil, err
		}
		if check, err = v.VerifyDetached(ctx, data, st.Signature); err != nil {
			return nil, err
		}
	}
	if check.Verifier == "" {
		check.Verifier = "dss"
	}
	sum, size, err := e.files.Put(ctx, bytes.NewReader(st.Signature), MaxSignatureSize)
	if err != nil {
		return nil, err
	}
	return &Signature{TaskID: taskID, Version: ver.No, VersionSHA256: ver.SHA256, FileName: fmt.Sprintf("v%d.sig", ver.No), Method: SignDSS,
		SHA256: sum, Size: size, SignatureCheck: check}, nil
}

// pollDSS looks again at the operation a DSS row waits for: DSS is asked
// outside the transaction; what it said is applied inside, with the row
// marked, so each answer is applied once. A DSS that does not answer is
// the problem returned apart from err: the row is asked again later, and
// the scheduler goes on with other rows.
func (e *Engine) pollDSS(ctx context.Context, r Reminder) (problem, err error) {
	s := e.dssSettings()
	d, err := e.store.Document(ctx, r.DocID)
	if err != nil {
		return nil, err
	}
	var st DSSStatus
	var why string // when Viza, not DSS, ends the operation: the catalogue's word for it
	var sig *Signature
	t, ok := d.Task(r.TaskID)
	pending, waiting := d.dssOfRow(r)
	switch {
	case !ok || t.State != TaskOpen || !waiting:
		// Closed some other way, or the operation was replaced: done.
	case s == nil:
		problem = Errorf(KindTransient, "no_dss", "DSS is no longer configured")
	default:
		// Asked even past the wait's end: a signer who confirmed in time
		// while DSS was out of reach has signed, and that is recorded.
		now := e.clock.Now()
		st, problem = s.Signer.Status(ctx, pending.Signer, pending.ID)
		switch {
		case problem == nil && st.State == DSSPending && !now.Before(pending.Until):
			st.State = DSSExpired
		case problem != nil && !now.Before(pending.Until.Add(DSSGiveUp)):
			// DSS out of reach for a day past the wait: the signer is told,
			// and may send it again once DSS is back.
			st.State, why, problem = DSSExpired, "no_answer", nil
		}
		if problem == nil && st.State == DSSCompleted {
			ver, found := d.Version(pending.Version)
			if !found {
				st.State, why = DSSFailed, "version_changed"
			} else if sig, err = e.keepDSSSignature(ctx, t.ID, *ver, st); err != nil {
				if ErrorKind(err) == KindInvalid {
					// The verifier refused what DSS made: no signature.
					st.State, why = DSSFailed, "not_valid"
				} else {
					problem = err
				}
			}
		}
	}
	_, err = e.run(ctx, fmt.Sprintf("reminder:%d", r.ID), e.dir.Load(), loadDoc(r.DocID), func(o *op) (Outcome, error) {
		if err := o.tx.MarkReminder(r.ID, o.now); err != nil {
			return Outcome{}, err
		}
		t, ok := o.d.Task(r.TaskID)
		dop, waiting := o.d.dssOfRow(r)
		if !ok || t.State != TaskOpen || !waiting || pending == nil || dop.ID != pending.ID {
			return Outcome{}, nil
		}
		next := func() {
			o.reminders = append(o.reminders, dssPoll(t, o.d, dssStep0-r.Step, o.now.Add(s.PollEvery)))
		}
		if problem != nil {
			// DSS out of reach: ask again later; the operation's own
			// deadline still ends the wait.
			if s != nil {
				next()
			}
			return Outcome{}, nil
		}
		switch st.State {
		case DSSCompleted:
			if v, ok := o.d.Version(o.d.CurrentVersion()); !ok || v.SHA256 != dop.VersionSHA256 {
				o.endDSS(t, dop, DSSFailed, "version_changed", "")
				return Outcome{}, nil
			}
			dop.State, dop.EndedAt = DSSCompleted, o.now
			return o.decide(DecideCmd{Actor: dop.Signer, TaskID: t.ID, Action: ActionDone}, nil, sig)
		case DSSDeclined, DSSExpired, DSSFailed:
			o.endDSS(t, dop, st.State, cmp.Or(why, st.State), st.Reason)
		default:
			next()
		}
		return Outcome{}, nil
	})
	if problem != nil {
		problem = fmt.Errorf("DSS operation of task %d: %w", r.TaskID, problem)
	}
	return problem, err
}

// endDSS records an operation ended without a signature and tells the
// signer why, who may ask again. why is the catalogue's word for it
// (dss.<why>: declined, expired, failed, version_changed, not_valid,
// no_answer); words are DSS's own, shown as DSS said them.
func (o *op) endDSS(t *Task, dop *DSSOperation, state, why, words string) {
	dop.State, dop.Reason, dop.EndedAt = state, cmp.Or(words, why), o.now
	o.audit("dss_"+state, dop.Signer, "", t.ID, fmt.Sprintf("v%d, DSS operation %s: %s", dop.Version, dop.ID, dop.Reason))
	o.notify(NoteSignFailed, dop.Signer, func(n *Notification) {
		o.taskFill(t)(n)
		n.Reason, n.Comment, n.Version = why, words, dop.Version
	})
}
