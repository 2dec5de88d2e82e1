package compare

import (
	"github.com/viza-app/viza/compare/extract"
)

// Status of a comparison.
const (
	StatusOK          = "ok"
	StatusPending     = "pending"     // a version's text is still being read
	StatusUnsupported = "unsupported" // a format with no comparison
	StatusNoText      = "no_text"     // a scan: no text layer
	StatusFailed      = "failed"      // a version could not be read
)

// Comparison is what changed from one version to another.
type Comparison struct {
	From    int      `json:"from"`
	To      int      `json:"to"`
	Status  string   `json:"status"`
	Reason  string   `json:"reason,omitzero"`
	Changes []Change `json:"changes"`
	// Revisions and Comments are what the later version's file still
	// holds: tracked changes not accepted, and comments.
	Revisions int `json:"revisions,omitzero"`
	Comments  int `json:"comments,omitzero"`
}

// Compare compares two versions' texts.
func Compare(from, to int, a, b extract.Text, opt Options) Comparison {
	c := Comparison{From: from, To: to, Revisions: b.Revisions, Comments: b.Comments, Changes: []Change{}}
	worst := func(s extract.Status) bool { return a.Status == s || b.Status == s }
	switch {
	case a.Status == "" || b.Status == "":
		c.Status = StatusPending
	case worst(extract.StatusUnsupported):
		c.Status = StatusUnsupported
	case worst(extract.StatusFailed):
		c.Status = StatusFailed
		c.Reason = a.Reason
		if c.Reason == "" {
			c.Reason = b.Reason
		}
	case worst(extract.StatusNoText):
		c.Status = StatusNoText
	default:
		c.Status = StatusOK
		c.Changes = Diff(a.String(), b.String(), opt)
	}
	return c
}
