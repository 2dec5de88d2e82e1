package flows

// Integration events are what other systems (1C, a CRM) are told about a
// document. They are read from the audit log, which the engine writes in
// the transaction of the change, so an event exists exactly when its change
// does.
const (
	EventDocumentStarted   = "document.started"
	EventTaskAssigned      = "task.assigned"
	EventDecisionRecorded  = "decision.recorded"
	EventChangesRequested  = "document.changes_requested"
	EventDocumentApproved  = "document.approved"
	EventDocumentDone      = "document.done"
	EventDocumentWithdrawn = "document.withdrawn"
	// EventVersionAdded is a new version of a document after its first
	// (the first comes with document.started); a signed scan is none.
	EventVersionAdded = "version.added"
	// EventRouteChanged is an approver added to or taken off a running
	// document's route.
	EventRouteChanged = "route.changed"
)

// IntegrationEvents lists every event type, in the order of a document's
// life.
var IntegrationEvents = []string{EventDocumentStarted, EventTaskAssigned, EventDecisionRecorded, EventChangesRequested,
	EventVersionAdded, EventRouteChanged, EventDocumentApproved, EventDocumentDone, EventDocumentWithdrawn}

// decisionKinds are the audit kinds a person's decision on a task records.
var decisionKinds = map[string]bool{ActionApprove: true, ActionReject: true, ActionComment: true, ActionAcknowledge: true,
	ActionDone: true}

// IntegrationEventsOf returns the integration events an audit event
// stands for, in order (a rejection is a decision, then a request for
// changes); none for bookkeeping.
func IntegrationEventsOf(e AuditEvent) []string {
	switch {
	// "done" is both a signer's decision (on a task) and the end of the
	// document's route (on none).
	case e.Kind == "done" && e.TaskID == 0:
		return []string{EventDocumentDone}
	case e.Kind == "started":
		return []string{EventDocumentStarted}
	case e.Kind == "task_opened" || e.Kind == "reassigned":
		return []string{EventTaskAssigned}
	case e.Kind == ActionReject:
		return []string{EventDecisionRecorded, EventChangesRequested}
	case decisionKinds[e.Kind] && e.TaskID != 0, e.Kind == "remark":
		return []string{EventDecisionRecorded}
	case e.Kind == "approved":
		return []string{EventDocumentApproved}
	case e.Kind == "version_uploaded" && e.Version > 1:
		return []string{EventVersionAdded}
	case IsRouteChange(e.Kind):
		return []string{EventRouteChanged}
	case e.Kind == "withdrawn":
		return []string{EventDocumentWithdrawn}
	}
	return nil
}
