package api

import (
	"fmt"
	"time"

	"github.com/viza-app/viza/flows"
)

// The JSON shapes of openapi.yaml's schemas.

type summaryView struct {
	Number       string     `json:"number"`
	ExternalID   string     `json:"external_id,omitempty"`
	Type         string     `json:"type"`
	Title        string     `json:"title"`
	Counterparty string     `json:"counterparty,omitempty"`
	Amount       string     `json:"amount,omitempty"`
	Currency     string     `json:"currency,omitempty"`
	Initiator    string     `json:"initiator"`
	State        string     `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
}

type stageView struct {
	Index     int               `json:"index"`
	Name      map[string]string `json:"name,omitempty"`
	Kind      string            `json:"kind"`
	Mode      string            `json:"mode"`
	Approvers []string          `json:"approvers"`
	When      string            `json:"when,omitempty"`
	Deadline  string            `json:"deadline,omitempty"`
	Post      bool              `json:"post,omitempty"`
	Skipped   bool              `json:"skipped,omitempty"`
	// State is where the document stands on the stage; absent from a
	// start's answer, which shows the plan (and is the same on a replay).
	State string `json:"state,omitempty"`
}

type taskView struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	Stage      int        `json:"stage"`
	Assignee   string     `json:"assignee"`
	OnBehalfOf string     `json:"on_behalf_of,omitempty"`
	OpenedAt   time.Time  `json:"opened_at"`
	Due        *time.Time `json:"due,omitempty"`
	Overdue    bool       `json:"overdue"`
}

type versionView struct {
	No         int       `json:"no"`
	FileName   string    `json:"file_name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	MIME       string    `json:"mime,omitempty"`
	UploadedBy string    `json:"uploaded_by"`
	At         time.Time `json:"at"`
	Comment    string    `json:"comment,omitempty"`
	Scan       bool      `json:"scan,omitempty"`
	URL        string    `json:"url"`
}

type decisionView struct {
	Kind    string    `json:"kind"`
	Actor   string    `json:"actor"`
	For     string    `json:"for,omitempty"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
	Round   int       `json:"round,omitempty"`
	Stage   int       `json:"stage,omitempty"`
	Version int       `json:"version"`
}

type documentView struct {
	summaryView
	TypeName       map[string]string `json:"type_name,omitempty"`
	CurrentVersion int               `json:"current_version"`
	Round          int               `json:"round"`
	SheetHash      string            `json:"sheet_hash,omitempty"`
	Stages         []stageView       `json:"stages"`
	OpenTasks      []taskView        `json:"open_tasks"`
	Versions       []versionView     `json:"versions"`
	Decisions      []decisionView    `json:"decisions"`
	Signatures     []signatureView   `json:"signatures,omitempty"`
}

// signatureView is a verified electronic signature (a sign stage signed by
// upload), with its file's address.
type signatureView struct {
	Version  int        `json:"version"`
	Owner    string     `json:"owner"`
	Serial   string     `json:"serial"`
	Issuer   string     `json:"issuer"`
	SignedAt *time.Time `json:"signed_at,omitempty"`
	Verifier string     `json:"verifier"`
	By       string     `json:"by"`
	At       time.Time  `json:"at"`
	FileName string     `json:"file_name"`
	SHA256   string     `json:"sha256"`
	URL      string     `json:"url"`
}

type startedView struct {
	Number  string      `json:"number"`
	State   string      `json:"state"`
	Version int         `json:"version"`
	URL     string      `json:"url"`
	Route   []stageView `json:"route"`
}

type changedView struct {
	Number  string `json:"number"`
	State   string `json:"state"`
	Version int    `json:"version"`
	Round   int    `json:"round,omitempty"`
}

type listView struct {
	Items      []summaryView `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func summary(d *flows.Document, updatedAt int64) summaryView {
	return summaryView{Number: d.Number, ExternalID: d.ExternalID, Type: d.TypeID, Title: d.Title, Counterparty: d.Counterparty,
		Amount: d.AmountDecimal(), Currency: d.Currency, Initiator: string(d.Initiator), State: d.State, CreatedAt: d.CreatedAt.UTC(),
		UpdatedAt: time.Unix(0, updatedAt).UTC(), FinishedAt: utc(d.FinishedAt)}
}

// stages describes the route with where the document stands on it.
func stages(d *flows.Document) []stageView {
	current := -1 // the stage in progress; -1 when none is
	if r := d.CurrentRound(); r != nil && (d.State == flows.StateInApproval || d.State == flows.StateSigning) {
		current = r.Stage
	}
	reached := 0 // stages before this one are through
	if r := d.CurrentRound(); r != nil {
		reached = r.Stage
	}
	out := make([]stageView, 0, len(d.Stages))
	for _, s := range d.Stages {
		v := stageView{Index: s.Index + 1, Name: s.Name, Kind: s.Kind, Mode: s.Mode.String(), When: s.When, Post: s.Post,
			Approvers: make([]string, 0, len(s.Approvers))}
		for _, p := range s.Approvers {
			v.Approvers = append(v.Approvers, string(p))
		}
		if !s.Deadline.IsZero() {
			v.Deadline = s.Deadline.String()
		}
		v.Skipped = s.Skipped
		switch {
		case d.State == "":
			// a plan: no progress to show
		case s.Skipped:
			v.State = "skipped"
		case s.Index == current:
			v.State = "active"
		case s.Index < reached || d.State == flows.StateDone || (d.State == flows.StateApproved && !s.Post):
			v.State = "completed"
		default:
			v.State = "pending"
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) document(d *flows.Document, updatedAt int64, sheetHash string, now time.Time) documentView {
	v := documentView{summaryView: summary(d, updatedAt), TypeName: d.TypeName, CurrentVersion: d.CurrentVersion(), SheetHash: sheetHash,
		Stages: stages(d), OpenTasks: []taskView{}, Versions: []versionView{}, Decisions: []decisionView{}}
	if r := d.CurrentRound(); r != nil {
		v.Round = r.No
	}
	for _, t := range d.OpenTasks() {
		tv := taskView{ID: t.ID, Kind: t.Kind, Stage: t.Stage + 1, Assignee: string(t.Assignee), OnBehalfOf: string(t.OnBehalfOf),
			OpenedAt: t.OpenedAt.UTC(), Due: utc(t.Due), Overdue: !t.Due.IsZero() && now.After(t.Due)}
		v.OpenTasks = append(v.OpenTasks, tv)
	}
	for _, ver := range d.Versions {
		v.Versions = append(v.Versions, versionView{No: ver.No, FileName: ver.FileName, Size: ver.Size, SHA256: ver.SHA256, MIME: ver.MIME,
			UploadedBy: string(ver.UploadedBy), At: ver.At.UTC(), Comment: ver.Comment, Scan: ver.Scan,
			URL: fmt.Sprintf("%s/versions/%d/file", s.documentURL(d.Number), ver.No)})
	}
	for i, sg := range d.Signatures {
		v.Signatures = append(v.Signatures, signatureView{Version: sg.Version, Owner: sg.Owner, Serial: sg.Serial, Issuer: sg.Issuer,
			SignedAt: utc(sg.SignedAt), Verifier: sg.Verifier, By: string(sg.By), At: sg.At.UTC(), FileName: sg.FileName, SHA256: sg.SHA256,
			URL: fmt.Sprintf("%s/signatures/%d", s.documentURL(d.Number), i+1)})
	}
	for _, dc := range d.Decisions {
		dv := decisionView{Kind: dc.Kind, Actor: string(dc.Actor), For: string(dc.For), At: dc.At.UTC(), Comment: dc.Comment,
			Round: dc.Round, Version: dc.Version}
		if dc.TaskID != 0 {
			dv.Stage = dc.Stage + 1
		}
		v.Decisions = append(v.Decisions, dv)
	}
	return v
}
