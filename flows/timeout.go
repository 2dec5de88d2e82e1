package flows

// A stage's decision on timeout: once a task's deadline has passed by the
// stage's Timeout.After (its reminders having run), the stage approves it,
// drops it, or leaves it to the escalation. The step is a reminder row:
// durable across restarts, fired once in the transaction that records it.

// timeoutStep is the timeout row of a task that just opened, if its stage
// decides on timeout.
func (o *op) timeoutStep(t *Task) (Reminder, bool) {
	if t.Due.IsZero() || t.Stage >= len(o.d.Stages) {
		return Reminder{}, false
	}
	to := o.d.Stages[t.Stage].Timeout
	if to.On != OnTimeoutApprove && to.On != OnTimeoutSkip {
		return Reminder{}, false
	}
	return Reminder{TaskID: t.ID, DocID: o.d.ID, Step: -2, Send: SendTimeout, Due: o.cal.AddWorking(t.Due, to.After)}, true
}

// timeout applies the stage's decision to a task still open. An approval
// on timeout the rules do not allow — the holder's blocking remark open,
// an amount over the stage's cap, a signature — is escalated instead: a
// record never says someone approved what they objected to.
func (o *op) timeout(t *Task) error {
	d := o.d
	to := d.Stages[t.Stage].Timeout
	holder := t.Assignee
	if t.OnBehalfOf != "" {
		holder = t.OnBehalfOf
	}
	switch to.On {
	case OnTimeoutApprove:
		why := ""
		switch {
		case t.Kind == KindSign:
			why = "a signature"
		case t.Kind == KindApprove && (!d.HasAmount || d.AmountMinor > to.MaxMinor):
			why = "over the stage's amount"
		case o.remarkOwners()[holder] || o.remarkOwners()[t.Assignee]:
			why = "the holder's blocking remark is open"
		}
		if why != "" {
			o.audit("timeout_escalated", t.Assignee, "", t.ID, why)
			o.remind(t, SendEscalate)
			return nil
		}
		kind, state := ActionApprove, TaskApproved
		if t.Kind == KindAcknowledge {
			kind, state = ActionAcknowledge, TaskAcknowledged
		}
		t.State, t.ClosedAt = state, o.now
		d.Decisions = append(d.Decisions, Decision{TaskID: t.ID, Round: t.Round, Stage: t.Stage, Kind: kind, For: holder,
			At: o.now, Version: d.CurrentVersion(), Timeout: true})
		o.audit(kind+"_on_timeout", "", holder, t.ID, "")
		o.notify(NoteTaskClosed, t.Assignee, func(n *Notification) {
			o.taskFill(t)(n)
			n.Reason, n.Decision = CloseTimedOut, kind
		})
		o.notify(NoteDecision, d.Initiator, func(n *Notification) {
			o.taskFill(t)(n)
			n.For, n.Decision, n.Reason = holder, kind, CloseTimedOut
		})
	case OnTimeoutSkip:
		o.closeTask(t, CloseTimedOut)
	default:
		return nil
	}
	return o.advance()
}
