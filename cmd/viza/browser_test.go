package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/viza-app/viza/internal/needs"
)

func chromiumPath(t *testing.T) string {
	return needs.Program(t, "chromium", "chromium", "chromium-browser", "google-chrome")
}

// newBrowser starts headless Chromium for one test, closed when the test
// ends. The first Run starts the browser and must not carry a timeout; a
// watchdog ends a stuck browser after limit instead.
func newBrowser(t *testing.T, exe string, limit time.Duration) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	watchdog := time.AfterFunc(limit, bcancel)
	t.Cleanup(func() { watchdog.Stop(); bcancel(); acancel() })
	return bctx
}

// TestBrowserDemo drives the demo in headless Chromium as a person would:
// sign in, approve a task, upload a new version, download the sheet, and
// see the dashboard row change.
func TestBrowserDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	exe := chromiumPath(t)
	m, _, _ := startDemo(t)
	base := "http://" + m.Listener.Addr().String()

	bctx := newBrowser(t, exe, 2*time.Minute)

	upload := filepath.Join(t.TempDir(), "Договор_v2.pdf")
	pdf, _ := samplePDF("Договор поставки № 17 (редакция 2)")
	os.WriteFile(upload, pdf, 0o644)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	signIn := func(person string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Navigate(base+"/"),
			chromedp.Click(css(`form[action="/demo/login"] input[value="`+person+`"] ~ button`)),
			chromedp.WaitVisible(css(`a[href="/dashboard"]`)),
		)
	}
	steps := []chromedp.Action[chromedp.Void]{
		// Petrov, a lawyer, approves his task.
		signIn("petrov"),
		chromedp.Click(css(`a[href^="/task/"]`)),
		chromedp.WaitVisible(css(`button[value="approve"]`)),
		chromedp.Click(css(`button[value="approve"]`)),
		chromedp.WaitVisible(css(`.flash`)),
		chromedp.Click(css(`form[action="/logout"] button`)),
		chromedp.WaitVisible(css(`form[action="/demo/login"]`)),
		// Kuznetsova, finance, uploads a corrected version from her task.
		signIn("kuznetsova"),
		chromedp.Click(css(`a[href^="/task/"]`)),
		chromedp.WaitVisible(css(`form[action$="/version"] input[type="file"]`)),
		chromedp.SetUploadFiles(css(`form[action$="/version"] input[type="file"]`), []string{upload}),
		chromedp.SendKeys(css(`form[action$="/version"] input[name="comment"]`), "Исправлена неустойка"),
		chromedp.Submit(css(`form[action$="/version"] input[name="comment"]`)),
		chromedp.WaitVisible(css(`.flash`)),
	}
	for i, st := range steps {
		if err := chromedp.Do(bctx, st); err != nil {
			loc, _ := chromedp.Run(bctx, chromedp.Location())
			t.Fatalf("browser step %d (at %s): %v", i, loc, err)
		}
	}
	d, _ := firstDoc(m)
	if len(d.Versions) != 2 || d.Versions[1].Comment != "Исправлена неустойка" || len(d.Rounds) != 2 {
		t.Fatalf("after the upload: versions %+v rounds %d", d.Versions, len(d.Rounds))
	}
	// The dashboard row changed: petrov's approval carried over
	// (not_yet_approved), finance is asked again on version 2.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/dashboard")); err != nil {
		t.Fatal(err)
	}
	waiting, err := chromedp.Run(bctx, chromedp.Text(css(`#documents tr[data-number] td.waiting`)))
	if err != nil || !strings.Contains(waiting, "Ксения Кузнецова") {
		t.Fatalf("dashboard waiting = %q, %v", waiting, err)
	}
	state, err := chromedp.Run(bctx, chromedp.Text(css(`#documents tr[data-number] td.state`)))
	if err != nil || !strings.Contains(state, "На согласовании") {
		t.Fatalf("dashboard state = %q, %v", state, err)
	}
	// The sheet downloads with the browser's session.
	got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`fetch("/doc/`+d.Number+`/sheet.pdf").then(r => r.arrayBuffer().then(b =>
		r.status + " " + r.headers.get("content-type") + " " + String.fromCharCode(...new Uint8Array(b.slice(0, 5)))))`, chromedp.EvalAwaitPromise))
	if err != nil || got != "200 application/pdf %PDF-" {
		t.Fatalf("sheet download = %q, %v", got, err)
	}
}
