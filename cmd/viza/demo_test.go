package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/web/webtest"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

var (
	taskRE = regexp.MustCompile(`href="/task/(\d+)"`)
)

// TestDemoCompletesAnApprovalOverHTTP starts the demo on an empty folder
// and takes its sample contract through every stage as the demo people
// would in a browser, then downloads the sheet.
func TestDemoCompletesAnApprovalOverHTTP(t *testing.T) {
	m, cfg, printed := startDemo(t)
	ctx := context.Background()
	if !strings.Contains(printed.String(), "/login/") || strings.Count(printed.String(), "/login/") != len(cfg.People) {
		t.Fatalf("sign-in links:\n%s", printed.String())
	}
	base := "http://" + m.Listener.Addr().String()
	as := func(person string) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		_, front := webtest.Get(t, c, base+"/")
		if !strings.Contains(front, `value="`+person+`"`) {
			t.Fatalf("the demo front page has no %s:\n%.400s", person, front)
		}
		if code, _ := webtest.Post(t, c, base+"/demo/login", url.Values{"csrf": {webtest.CSRF(t, front)}, "person": {person}}); code != 200 {
			t.Fatalf("demo sign-in as %s = %d", person, code)
		}
		return c
	}
	decide := func(person string) {
		t.Helper()
		c := as(person)
		_, inbox := webtest.Get(t, c, base+"/inbox")
		m := taskRE.FindStringSubmatch(inbox)
		if m == nil {
			t.Fatalf("%s has no task in the inbox:\n%.600s", person, inbox)
		}
		_, page := webtest.Get(t, c, base+"/task/"+m[1])
		action := "approve"
		if strings.Contains(page, `value="done"`) {
			action = "done"
		}
		if code, body := webtest.Post(t, c, base+"/task/"+m[1]+"/act", url.Values{"csrf": {webtest.CSRF(t, page)}, "action": {action}}); code != 200 {
			t.Fatalf("%s %s = %d\n%.300s", person, action, code, body)
		}
	}
	decide("petrov")     // legal review (any lawyer)
	decide("kuznetsova") // finance: the amount is over 1 000 000
	decide("director")   // director
	decide("director")   // director's signature
	d, err := m.DB.DocumentByNumber(ctx, "Д-2026-0001")
	if err != nil {
		d, err = firstDoc(m)
	}
	if err != nil || d.State != flows.StateDone {
		t.Fatalf("demo contract: %v %+v", err, d)
	}
	c := as("ivanova")
	if code, body := webtest.Get(t, c, base+"/doc/"+url.PathEscape(d.Number)+"/sheet.pdf"); code != 200 || !strings.HasPrefix(body, "%PDF") {
		t.Fatalf("sheet = %d", code)
	}
	if code, body := webtest.Get(t, c, base+"/metrics"); code != 200 || !strings.Contains(body, `viza_decisions_total{kind="approve"} 3`) {
		t.Fatalf("metrics = %d\n%s", code, body)
	}
}

// startDemo runs `serve --demo` in-process on an empty folder and a free
// port, seeded as on a first start; it stops when the test ends.
func startDemo(t *testing.T) (*Main, *config.Config, *bytes.Buffer) {
	t.Helper()
	return startDemoWith(t, nil)
}

// startDemoWith is startDemo with the configuration changed by edit first.
func startDemoWith(t *testing.T, edit func(*config.Config)) (*Main, *config.Config, *bytes.Buffer) {
	t.Helper()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	cfg.DataDir = filepath.Join(t.TempDir(), "demo-data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMain(ctx, cfg, "", discardLogger())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; m.Close() })
	var printed bytes.Buffer
	if err := m.seedDemo(ctx, &printed); err != nil {
		t.Fatal(err)
	}
	return m, cfg, &printed
}

func firstDoc(m *Main) (*flows.Document, error) {
	docs, err := m.DB.AllDocuments(context.Background())
	if err != nil || len(docs) == 0 {
		return nil, err
	}
	return docs[0], nil
}
