package flows

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Route changes in flight: the only way a running document's route
// snapshot changes after its start.
const (
	DecisionApproverAdded   = "approver_added"
	DecisionApproverRemoved = "approver_removed"
	// CloseRemoved closes the task of an approver taken off the route.
	CloseRemoved = "removed"
	// NoteRouteChanged tells a person added to or removed from a later
	// stage (who gets no task now), and the initiator when someone else
	// changed the route.
	NoteRouteChanged = "route_changed"
)

// RouteCmd adds an approver to a stage of a running document's route, or
// takes off one who has not decided, with a reason.
type RouteCmd struct {
	Key    string
	Actor  PersonID
	DocID  int64
	Stage  int // index into Document.Stages
	Person PersonID
	Remove bool
	Reason string
	Origin
}

// IsRouteChange reports whether a decision's kind is a change of the route.
func IsRouteChange(kind string) bool {
	return kind == DecisionApproverAdded || kind == DecisionApproverRemoved
}

// MayChangeRoute reports whether p may change d's route now: its
// initiator or a viewer, while the document is still under way.
func MayChangeRoute(dir *Directory, d *Document, p PersonID) bool {
	return (d.Initiator == p || dir.IsViewer(p)) && routeOpen(d)
}

func routeOpen(d *Document) bool {
	return d.State == StateInApproval || d.State == StateChangesRequested || d.State == StateSigning
}

// ChangeableStages are the stages whose approvers may still change: the
// current one and those after it (every stage while the document waits
// for its initiator's new version, whose round starts from the first).
func ChangeableStages(d *Document) []int {
	from := 0
	if r := d.CurrentRound(); r != nil && r.Outcome == "" {
		from = r.Stage
	}
	var out []int
	for _, s := range d.Stages {
		if s.Index >= from && !s.Skipped {
			out = append(out, s.Index)
		}
	}
	return out
}

// Removable reports why p may not be taken off stage now ("" when they
// may): nobody who has decided in this round, nobody whose blocking
// remark is open (their objection stands until the fix), never the last.
func Removable(d *Document, stage int, p PersonID) string {
	s := &d.Stages[stage]
	switch {
	case !slices.Contains(s.Approvers, p):
		return "not_on_stage"
	case len(s.Approvers) == 1:
		return "last_approver"
	}
	for _, rm := range d.OpenBlockingRemarks() {
		if rm.Owner == p {
			return "removed_has_remark"
		}
	}
	if r := d.CurrentRound(); r != nil && r.Outcome == "" {
		for _, t := range d.Tasks {
			if t.Round == r.No && t.Stage == stage && t.State != TaskOpen && t.CloseReason == "" && slices.Contains(t.Holders(), p) {
				return "already_decided"
			}
		}
	}
	return ""
}

// ChangeRoute adds an approver to the current or a later stage, or takes
// off one who has not decided. The change is a decision in the record
// (who, whom, which stage, why); the person added to the stage under way
// gets its request at once, one taken off has their task closed (their
// card's buttons stop working); a stage whose remaining approvers all
// decided completes.
func (e *Engine) ChangeRoute(ctx context.Context, c RouteCmd) (Outcome, error) {
	dir, err := e.actor(c.Actor)
	if err != nil {
		return Outcome{}, err
	}
	c.Reason = strings.TrimSpace(c.Reason)
	if c.Reason == "" {
		return Outcome{}, Errorf(KindInvalid, "reason_required", "route change without a reason")
	}
	if err := checkLengths(lengthCheck{"reason", c.Reason, MaxComment}); err != nil {
		return Outcome{}, err
	}
	return e.runFrom(ctx, c.Key, c.Origin, c.Actor, dir, loadDoc(c.DocID), func(o *op) (Outcome, error) {
		d := o.d
		if d.Initiator != c.Actor && !dir.IsViewer(c.Actor) {
			return Outcome{}, Errorf(KindForbidden, "route_change_forbidden", "%s changing the route of %s", c.Actor, d.Number)
		}
		if _, ok := dir.Person(c.Person); !ok && !c.Remove {
			return Outcome{}, Errorf(KindInvalid, "unknown_person", "add %q", c.Person)
		}
		if !routeOpen(d) {
			return Outcome{}, Errorf(KindConflict, "wrong_state", "route change in state %s", d.State)
		}
		if c.Stage < 0 || c.Stage >= len(d.Stages) {
			return Outcome{}, Errorf(KindInvalid, "bad_stage", "stage %d of %d", c.Stage+1, len(d.Stages))
		}
		if !slices.Contains(ChangeableStages(d), c.Stage) {
			return Outcome{}, Errorf(KindConflict, "stage_passed", "stage %d of %s", c.Stage+1, d.Number)
		}
		if c.Remove {
			return o.removeApprover(c)
		}
		return o.addApprover(c)
	})
}

// stageUnderWay reports whether stage is the current round's stage with
// its tasks already opened.
func (o *op) stageUnderWay(stage int) bool {
	r := o.d.CurrentRound()
	return r != nil && r.Outcome == "" && r.Stage == stage && len(o.stageTasks(r.No, stage)) > 0
}

func (o *op) addApprover(c RouteCmd) (Outcome, error) {
	d := o.d
	s := &d.Stages[c.Stage]
	if slices.Contains(s.Approvers, c.Person) {
		return Outcome{}, Errorf(KindConflict, "already_on_stage", "%s on stage %d", c.Person, c.Stage+1)
	}
	// A new slice: Clone shares the approvers with the loaded document.
	s.Approvers = append(slices.Clip(s.Approvers), c.Person)
	o.recordRouteChange(c, DecisionApproverAdded)
	var out Outcome
	if o.stageUnderWay(c.Stage) {
		t, err := o.addTask(s, c.Person, false)
		if err != nil {
			return Outcome{}, err
		}
		out.TaskID = t.ID
	} else {
		o.notifyRouteChange(c, DecisionApproverAdded, c.Person)
	}
	if c.Actor != d.Initiator {
		o.notifyRouteChange(c, DecisionApproverAdded, d.Initiator)
	}
	return out, nil
}

func (o *op) removeApprover(c RouteCmd) (Outcome, error) {
	d := o.d
	if why := Removable(d, c.Stage, c.Person); why != "" {
		kind := KindConflict
		if why == "not_on_stage" {
			kind = KindNotFound
		}
		return Outcome{}, Errorf(kind, why, "%s on stage %d of %s", c.Person, c.Stage+1, d.Number)
	}
	s := &d.Stages[c.Stage]
	s.Approvers = slices.DeleteFunc(slices.Clone(s.Approvers), func(p PersonID) bool { return p == c.Person })
	o.recordRouteChange(c, DecisionApproverRemoved)
	told := false
	if r := d.CurrentRound(); r != nil && r.Outcome == "" {
		for _, t := range o.stageTasks(r.No, c.Stage) {
			if t.State == TaskOpen && slices.Contains(t.Holders(), c.Person) {
				o.closeTaskBy(t, CloseRemoved, c.Actor, c.Reason)
				told = told || t.Assignee == c.Person
			}
		}
	}
	if !told {
		o.notifyRouteChange(c, DecisionApproverRemoved, c.Person)
	}
	if c.Actor != d.Initiator {
		o.notifyRouteChange(c, DecisionApproverRemoved, d.Initiator)
	}
	if o.stageUnderWay(c.Stage) {
		// The others may all have decided already.
		if err := o.advance(); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{}, nil
}

func (o *op) recordRouteChange(c RouteCmd, kind string) {
	d := o.d
	round := 0
	if r := d.CurrentRound(); r != nil {
		round = r.No
	}
	d.Decisions = append(d.Decisions, Decision{Round: round, Stage: c.Stage, Kind: kind, Actor: c.Actor, Person: c.Person,
		At: o.now, Comment: c.Reason, Version: d.CurrentVersion()})
	o.audit(kind, c.Actor, "", 0, fmt.Sprintf("stage %d: %s: %s", c.Stage+1, c.Person, c.Reason))
}

func (o *op) notifyRouteChange(c RouteCmd, kind string, to PersonID) {
	if to == c.Actor {
		return
	}
	s := o.d.Stages[c.Stage]
	o.notify(NoteRouteChanged, to, func(n *Notification) {
		n.Decision, n.Actor, n.Person, n.Comment = kind, c.Actor, c.Person, c.Reason
		n.Stage, n.StageCount = o.d.StagePosition(s.Index)
		n.StageName = s.Name
	})
}

// closeTaskBy closes a task for someone's action, telling its holder who
// closed it and why.
func (o *op) closeTaskBy(t *Task, reason string, actor PersonID, comment string) {
	t.State, t.CloseReason, t.ClosedAt = TaskClosed, reason, o.now
	o.audit("task_closed", t.Assignee, t.OnBehalfOf, t.ID, reason)
	o.notify(NoteTaskClosed, t.Assignee, func(n *Notification) {
		o.taskFill(t)(n)
		n.Reason, n.Actor, n.Comment = reason, actor, comment
	})
}
