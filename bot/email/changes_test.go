package email_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/flows"
)

// TestRequestMailSaysWhatChanged: the request for a new version says what
// it changed, struck and underlined in the HTML part, with a link to the
// whole comparison.
func TestRequestMailSaysWhatChanged(t *testing.T) {
	r := newRig(t)
	r.ch.Compare = &compare.Service{Store: r.DB, Files: r.Files}
	out, err := r.Engine.Start(r.ctx, flows.StartCmd{Key: "s", Actor: "ivanova", TypeID: "memo", Title: "Записка",
		Approvers: []flows.PersonID{"sidorov"}, File: flows.Upload{Name: "m.docx", Content: bytes.NewReader(extracttest.Contract("100 000", false))}})
	if err != nil {
		t.Fatal(err)
	}
	r.step(t)
	if _, err := r.Engine.UploadVersion(r.ctx, flows.VersionCmd{Key: "v2", Actor: "ivanova", DocID: out.DocID,
		File: flows.Upload{Name: "m2.docx", Content: bytes.NewReader(extracttest.Contract("120 000", false))}}); err != nil {
		t.Fatal(err)
	}
	r.step(t)
	mails := r.mailsTo(t, "sidorov@romashka.example")
	if len(mails) < 2 {
		t.Fatalf("sidorov got %d mails", len(mails))
	}
	m := mails[len(mails)-1]
	for _, want := range []string{"100 000", "120 000", "/doc/" + out.Number + "/diff"} {
		if !strings.Contains(m.text, want) {
			t.Errorf("the text part lacks %q:\n%s", want, m.text)
		}
	}
	if !strings.Contains(m.html, "<del>100 000</del>") || !strings.Contains(m.html, "<ins>120 000</ins>") {
		t.Errorf("the HTML part does not strike and underline:\n%s", m.html)
	}
	if strings.Contains(m.text, "/diff "+out.Number) {
		t.Errorf("a mail points to a chat command:\n%s", m.text)
	}
}
