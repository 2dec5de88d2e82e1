package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/flows"
)

// TestDiffPage: the document's readers see what a version changed, with
// the versions to pick; a clause's markup stays text; a stranger sees
// nothing.
func TestDiffPage(t *testing.T) {
	r := newRig(t)
	r.srv.Compare = &compare.Service{Store: r.db, Files: r.files}
	ctx := context.Background()
	v1 := extracttest.DOCX("Цена договора 100 000 рублей.", "Пункт <b>жирный</b> 1.")
	v2 := extracttest.DOCX("Цена договора 120 000 рублей.", "Пункт <b>жирный</b> 2.")
	out, err := r.eng.Start(ctx, flows.StartCmd{Key: "m", Actor: "ivanova", TypeID: "memo", Title: "Записка",
		Approvers: []flows.PersonID{"petrov"}, File: flows.Upload{Name: "m.docx", Content: bytes.NewReader(v1)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.eng.UploadVersion(ctx, flows.VersionCmd{Key: "v2", Actor: "ivanova", DocID: out.DocID,
		File: flows.Upload{Name: "m2.docx", Content: bytes.NewReader(v2)}}); err != nil {
		t.Fatal(err)
	}
	diffURL := r.http.URL + "/doc/" + url.PathEscape(out.Number) + "/diff"
	c := client()
	r.signIn(c, "petrov")
	code, page := webtest.Get(t, c, diffURL)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, page)
	}
	for _, want := range []string{"100 000</del>", "120 000</ins>", `<span class="sr">`, `name="from"`, `<option value="1" selected>`,
		"&lt;b&gt;жирный&lt;/b&gt;", "1</del>", "2</ins>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the comparison page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<b>жирный</b>") {
		t.Error("a clause's markup became the page's")
	}
	// The document page links to it.
	if _, doc := webtest.Get(t, c, r.http.URL+"/doc/"+url.PathEscape(out.Number)); !strings.Contains(doc, "/diff\"") {
		t.Error("the document page has no link to what changed")
	}
	// The same versions picked the other way round compare the same way.
	if _, back := webtest.Get(t, c, diffURL+"?from=2&to=1"); !strings.Contains(back, "120 000</ins>") {
		t.Error("from=2&to=1 is not the comparison of 1 and 2")
	}
	stranger := client()
	r.signIn(stranger, "sidorov")
	if code, _ := webtest.Get(t, stranger, diffURL); code != http.StatusNotFound {
		t.Errorf("a stranger got %d", code)
	}
}
