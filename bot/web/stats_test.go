package web_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
)

// TestStatsPage: a viewer's /stats has the headline, a chart as inline
// SVG with its table, and every table as CSV and XLSX; an approver who is
// no viewer sees their own figures only; a period the page does not know
// is a clear 400.
func TestStatsPage(t *testing.T) {
	r := newRig(t)
	r.srv.Stats = &stats.Service{Source: r.db, Dir: r.eng.Directory, Clock: r.clock}
	r.clock.Advance(2 * time.Hour)
	r.decide("petrov", flows.ActionApprove, "")
	c := client()
	r.signIn(c, "director")
	code, page := webtest.Get(t, c, r.http.URL+"/stats?period=week")
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, page)
	}
	for _, want := range []string{"<svg", `id="table-stages"`, "<th scope=\"row\">Договор · Юридическая проверка</th>", "/stats/stages.csv?period=week",
		"вся компания"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	_, csvBody := webtest.Get(t, c, r.http.URL+"/stats/stages.csv?period=week")
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(csvBody, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != "Договор · Юридическая проверка" || rows[1][1] != "1" || rows[1][2] != "2" {
		t.Fatalf("csv %q: %v", rows, err)
	}
	resp, err := c.Get(r.http.URL + "/stats/people.xlsx?period=week")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	resp.Body.Close()
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	cells, _ := f.GetRows(f.GetSheetName(0))
	if len(cells) != 2 || cells[1][0] != "Пётр Петров" {
		t.Fatalf("xlsx %q", cells)
	}
	for _, bad := range []string{"/stats/nothing.csv", "/stats/stages.pdf"} {
		if code, _ := webtest.Get(t, c, r.http.URL+bad); code != http.StatusNotFound {
			t.Errorf("%s: %d", bad, code)
		}
	}
	if code, _ := webtest.Get(t, c, r.http.URL+"/stats?period=decade"); code != http.StatusBadRequest {
		t.Errorf("a bad period: %d", code)
	}
	// Sidorov, an approver and no viewer, sees only his own: nothing
	// decided.
	s := client()
	r.signIn(s, "sidorov")
	_, own := webtest.Get(t, s, r.http.URL+"/stats")
	if strings.Contains(own, "<svg") || !strings.Contains(own, "ваши задачи") {
		t.Errorf("sidorov sees more than his own:\n%s", own[strings.Index(own, "<main>"):])
	}
}
