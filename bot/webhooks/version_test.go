package webhooks_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/flows"
)

// TestVersionAddedCarriesWhatChanged: a second version is a version.added
// event (the first is document.started's), and it arrives with how many
// places changed and the first of them.
func TestVersionAddedCarriesWhatChanged(t *testing.T) {
	rig, s, rc := newSender(t, func(int) string { return "ok" })
	s.Compare = &compare.Service{Store: rig.DB, Files: rig.Files}
	ctx := context.Background()
	out, err := rig.Engine.Start(ctx, flows.StartCmd{Key: "s", Actor: "ivanova", TypeID: "memo", Title: "Записка",
		Approvers: []flows.PersonID{"petrov"}, File: flows.Upload{Name: "m.docx", Content: bytes.NewReader(extracttest.Contract("100 000", false))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rig.Engine.UploadVersion(ctx, flows.VersionCmd{Key: "v2", Actor: "ivanova", DocID: out.DocID, Comment: "Цена",
		File: flows.Upload{Name: "m2.docx", Content: bytes.NewReader(extracttest.Contract("120 000", true))}}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conformsToSpec(t, rc)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var found int
	for _, ev := range rc.got {
		if ev.Type != flows.EventVersionAdded {
			continue
		}
		found++
		v := ev.Data.Version
		if v == nil || v.No != 2 || v.FileName != "m2.docx" || v.Comment != "Цена" || v.Changes == nil {
			t.Fatalf("version %+v", v)
		}
		c := v.Changes
		if c.From != 1 || c.Status != compare.StatusOK || c.Places != 3 || len(c.First) != 3 || c.First[0].New != "120 000" || c.Revisions != 2 {
			t.Errorf("changes %+v", c)
		}
	}
	if found != 1 {
		t.Fatalf("%d version.added events in %d", found, len(rc.got))
	}
}
