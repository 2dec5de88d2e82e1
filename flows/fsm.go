package flows

import (
	"context"
	"errors"

	"github.com/looplab/fsm"
)

// Events of the per-document state machine.
const (
	EventStart    = "start"    // draft → in_approval
	EventReject   = "reject"   // in_approval → changes_requested
	EventResubmit = "resubmit" // changes_requested → in_approval (new version)
	EventApprove  = "approve"  // in_approval → approved (all approve stages done)
	EventSign     = "sign"     // approved → signing (post-approval steps begin)
	EventFinish   = "finish"   // signing → done
	EventWithdraw = "withdraw" // any open state → withdrawn
)

var machineEvents = fsm.Events{
	{Name: EventStart, Src: []string{StateDraft}, Dst: StateInApproval},
	{Name: EventReject, Src: []string{StateInApproval}, Dst: StateChangesRequested},
	{Name: EventResubmit, Src: []string{StateChangesRequested}, Dst: StateInApproval},
	{Name: EventApprove, Src: []string{StateInApproval}, Dst: StateApproved},
	{Name: EventSign, Src: []string{StateApproved}, Dst: StateSigning},
	{Name: EventFinish, Src: []string{StateSigning}, Dst: StateDone},
	{Name: EventWithdraw, Src: []string{StateDraft, StateInApproval, StateChangesRequested}, Dst: StateWithdrawn},
}

// The machine is rebuilt from the persisted state string for every command,
// and carries no callbacks: the engine reacts after Event returns, which
// also keeps clear of the library's deadlock when Event is called from
// before_/leave_ callbacks.
func newMachine(state string) *fsm.FSM { return fsm.NewFSM(state, machineEvents, nil) }

// fire moves the document through event, or returns a conflict naming the
// state it is in.
func (d *Document) fire(event string) error {
	m := newMachine(d.State)
	if err := m.Event(context.Background(), event); err != nil {
		var inv fsm.InvalidEventError
		if errors.As(err, &inv) {
			return Errorf(KindConflict, "wrong_state", "event %s in state %s", event, d.State)
		}
		return Errorf(KindConflict, "wrong_state", "event %s in state %s: %v", event, d.State, err)
	}
	d.State = m.Current()
	return nil
}

// can reports whether event is allowed in the document's state.
func (d *Document) can(event string) bool { return newMachine(d.State).Can(event) }

// Diagram renders the state machine as a Mermaid state diagram, so a change
// to the machine shows in review as a golden-file diff.
func Diagram() (string, error) {
	return fsm.VisualizeWithType(newMachine(StateDraft), fsm.MERMAID)
}
