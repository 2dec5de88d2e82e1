package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

// Event is the payload of one webhook, in the shape Standard Webhooks
// recommends: {type, timestamp, data}.
type Event struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is what happened, with the document it happened to.
type EventData struct {
	EventID  int64        `json:"event_id"`
	Document DocumentRef  `json:"document"`
	Task     *TaskRef     `json:"task,omitempty"`
	Decision *DecisionRef `json:"decision,omitempty"`
	Result   *ResultRef   `json:"result,omitempty"`
	Version  *VersionRef  `json:"version,omitempty"`
	Route    *RouteRef    `json:"route,omitempty"`
}

// RouteRef is the change of a route.changed event: an approver added to
// or taken off a stage, by whom and why.
type RouteRef struct {
	Change string `json:"change"` // added | removed
	Person string `json:"person"`
	Stage  int    `json:"stage"` // 1-based, as the sheet numbers stages
	Actor  string `json:"actor"`
	For    string `json:"for,omitempty"`
	Reason string `json:"reason"`
}

// VersionRef is the new version of a version.added event, with what it
// changed against the version before it.
type VersionRef struct {
	No       int         `json:"no"`
	FileName string      `json:"file_name"`
	SHA256   string      `json:"sha256"`
	Comment  string      `json:"comment,omitempty"`
	Changes  *ChangesRef `json:"changes,omitempty"`
}

// ChangesRef summarizes a comparison: how many places changed and the
// first few; the whole is at GET …/versions/{no}/diff.
type ChangesRef struct {
	From   int              `json:"from"`
	Status string           `json:"status"`
	Places int              `json:"places"`
	First  []compare.Change `json:"first"`
	// Revisions are tracked changes left unaccepted in the new file.
	Revisions int `json:"revisions,omitempty"`
}

// DocumentRef names a document and its facts that do not change.
type DocumentRef struct {
	Number       string `json:"number"`
	ExternalID   string `json:"external_id,omitempty"`
	Type         string `json:"type"`
	Title        string `json:"title"`
	Counterparty string `json:"counterparty,omitempty"`
	Amount       string `json:"amount,omitempty"`
	Currency     string `json:"currency,omitempty"`
	Initiator    string `json:"initiator"`
	// State is the state the event left the document in: for a task or a
	// decision, the one it was in (in_approval, or signing).
	State string `json:"state"`
}

// TaskRef is the task of a task.assigned event.
type TaskRef struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	Assignee   string     `json:"assignee"`
	OnBehalfOf string     `json:"on_behalf_of,omitempty"`
	Stage      int        `json:"stage"`
	Round      int        `json:"round"`
	OpenedAt   time.Time  `json:"opened_at"`
	Due        *time.Time `json:"due,omitempty"`
}

// DecisionRef is the decision of a decision.recorded or
// document.changes_requested event.
type DecisionRef struct {
	Kind    string `json:"kind"`
	Actor   string `json:"actor"`
	For     string `json:"for,omitempty"`
	Comment string `json:"comment,omitempty"`
	TaskID  int64  `json:"task_id,omitempty"`
	Version int    `json:"version"`
}

// ResultRef is the final version and the sheet of a result event, with
// download addresses that work without a key until Expires.
type ResultRef struct {
	Version  int       `json:"version"`
	FileName string    `json:"file_name"`
	SHA256   string    `json:"sha256"`
	FileURL  string    `json:"file_url,omitempty"`
	SheetURL string    `json:"sheet_url,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	// Signatures are the electronic signatures verified at sign stages
	// signed by upload (on document.done).
	Signatures []SignatureRef `json:"signatures,omitempty"`
}

// SignatureRef is a verified electronic signature of the final version,
// with a download link of its file (.sig) that works until Expires.
type SignatureRef struct {
	Version  int        `json:"version"`
	Owner    string     `json:"owner"`
	Serial   string     `json:"serial"`
	Issuer   string     `json:"issuer"`
	SignedAt *time.Time `json:"signed_at,omitempty"`
	Verifier string     `json:"verifier"`
	By       string     `json:"by"`
	SHA256   string     `json:"sha256"`
	FileName string     `json:"file_name"`
	URL      string     `json:"url,omitempty"`
}

// stateAfter is the state each document event leaves the document in.
var stateAfter = map[string]string{flows.EventDocumentStarted: flows.StateInApproval, flows.EventChangesRequested: flows.StateChangesRequested,
	flows.EventDocumentApproved: flows.StateApproved, flows.EventDocumentDone: flows.StateDone, flows.EventDocumentWithdrawn: flows.StateWithdrawn}

func newEvent(typ string, e flows.AuditEvent, d *flows.Document) Event {
	ev := Event{Type: typ, Timestamp: e.At.UTC(), Data: EventData{EventID: e.ID, Document: DocumentRef{Number: d.Number,
		ExternalID: d.ExternalID, Type: d.TypeID, Title: d.Title, Counterparty: d.Counterparty, Amount: d.AmountDecimal(), Currency: d.Currency,
		Initiator: string(d.Initiator), State: stateAfter[typ]}}}
	if ev.Data.Document.State == "" {
		// A task or a decision leaves the document where it was: in
		// approval, or being signed when the task is a signature.
		ev.Data.Document.State = flows.StateInApproval
		if t, ok := d.Task(e.TaskID); ok && t.Kind == flows.KindSign {
			ev.Data.Document.State = flows.StateSigning
		}
	}
	switch typ {
	case flows.EventTaskAssigned:
		if t, ok := d.Task(e.TaskID); ok {
			ref := &TaskRef{ID: t.ID, Kind: t.Kind, Assignee: string(t.Assignee), OnBehalfOf: string(t.OnBehalfOf), Stage: t.Stage + 1,
				Round: t.Round, OpenedAt: t.OpenedAt.UTC()}
			if !t.Due.IsZero() {
				due := t.Due.UTC()
				ref.Due = &due
			}
			ev.Data.Task = ref
		}
	case flows.EventDecisionRecorded, flows.EventChangesRequested:
		kind := e.Kind
		if kind == "remark" {
			kind = flows.ActionComment
		}
		ev.Data.Decision = &DecisionRef{Kind: kind, Actor: string(e.Actor), For: string(e.For), Comment: e.Detail, TaskID: e.TaskID,
			Version: e.Version}
	case flows.EventVersionAdded:
		if v, ok := d.Version(e.Version); ok {
			ev.Data.Version = &VersionRef{No: v.No, FileName: v.FileName, SHA256: v.SHA256, Comment: v.Comment}
		}
	case flows.EventRouteChanged:
		ev.Data.Route = routeRef(e)
	case flows.EventDocumentApproved, flows.EventDocumentDone:
		// The final version is the last one uploaded before approval; a
		// signed scan added later is not the approved text.
		final := 0
		for _, v := range d.Versions {
			if !v.Scan && v.No <= e.Version {
				final = v.No
			}
		}
		if v, ok := d.Version(final); ok {
			ev.Data.Result = &ResultRef{Version: v.No, FileName: v.FileName, SHA256: v.SHA256}
			for _, sg := range d.Signatures {
				ref := SignatureRef{Version: sg.Version, Owner: sg.Owner, Serial: sg.Serial, Issuer: sg.Issuer, Verifier: sg.Verifier,
					By: string(sg.By), SHA256: sg.SHA256, FileName: sg.FileName}
				if !sg.SignedAt.IsZero() {
					at := sg.SignedAt.UTC()
					ref.SignedAt = &at
				}
				ev.Data.Result.Signatures = append(ev.Data.Result.Signatures, ref)
			}
		}
	}
	return ev
}

// routeRef reads a route change back from its audit event, whose detail
// the engine writes as "stage N: person: reason".
func routeRef(e flows.AuditEvent) *RouteRef {
	ref := &RouteRef{Change: strings.TrimPrefix(e.Kind, "approver_"), Actor: string(e.Actor), For: string(e.For)}
	parts := strings.SplitN(e.Detail, ": ", 3)
	if len(parts) == 3 {
		ref.Stage, _ = strconv.Atoi(strings.TrimPrefix(parts[0], "stage "))
		ref.Person, ref.Reason = parts[1], parts[2]
	}
	return ref
}

// body is the payload as sent: the stored event with fresh download links
// on a result event, so that a link outlives a late delivery.
func (s *Sender) body(ctx context.Context, d storage.WebhookDelivery) ([]byte, error) {
	if d.Type == flows.EventVersionAdded {
		return s.withChanges(ctx, d)
	}
	if d.Type != flows.EventDocumentApproved && d.Type != flows.EventDocumentDone || s.Links == nil {
		return []byte(d.Payload), nil
	}
	var ev Event
	if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
		return nil, fmt.Errorf("decode webhook %d: %w", d.ID, err)
	}
	if r := ev.Data.Result; r != nil {
		r.Expires = s.Clock.Now().Add(s.LinkTTL).UTC().Truncate(time.Second)
		r.FileURL = s.Links.VersionURL(ctx, ev.Data.Document.Number, r.Version, r.Expires)
		r.SheetURL = s.Links.SheetURL(ctx, ev.Data.Document.Number, r.Expires)
		for i := range r.Signatures {
			r.Signatures[i].URL = s.Links.SignatureURL(ctx, ev.Data.Document.Number, i+1, r.Expires)
		}
	}
	return json.Marshal(ev)
}

// changesWait bounds how long a version.added event waits for its
// comparison; past it the event goes with status "pending".
const changesWait = 10 * time.Second

// firstChanges is how many changes a version.added event carries.
const firstChanges = 3

// withChanges adds to a version.added event what the version changed,
// when it is sent: the texts are read in the background, after the event
// was queued.
func (s *Sender) withChanges(ctx context.Context, wd storage.WebhookDelivery) ([]byte, error) {
	var ev Event
	if err := json.Unmarshal([]byte(wd.Payload), &ev); err != nil {
		return nil, fmt.Errorf("decode webhook %d: %w", wd.ID, err)
	}
	v := ev.Data.Version
	if s.Compare == nil || v == nil {
		return []byte(wd.Payload), nil
	}
	d, err := s.Store.Document(ctx, wd.DocID)
	if err != nil {
		return nil, fmt.Errorf("document of webhook %d: %w", wd.ID, err)
	}
	from := compare.Previous(d, v.No)
	if from == 0 {
		return []byte(wd.Payload), nil
	}
	wctx, cancel := context.WithTimeout(ctx, changesWait)
	defer cancel()
	c, err := s.Compare.Between(wctx, d, from, v.No, compare.DefaultOptions)
	if err != nil {
		return nil, fmt.Errorf("compare versions for webhook %d: %w", wd.ID, err)
	}
	v.Changes = &ChangesRef{From: from, Status: c.Status, Places: len(c.Changes), First: c.Changes[:min(len(c.Changes), firstChanges)],
		Revisions: c.Revisions}
	return json.Marshal(ev)
}
