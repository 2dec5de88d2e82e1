package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/viza-app/viza/bot/telegram"
	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/internal/needs"
)

// ScreenshotsEnv names a folder: TestBrowserPagesFitAPhone then saves every
// page it checks as NAME-390.png and NAME-1280.png there (make screenshots).
const ScreenshotsEnv = "VIZA_SCREENSHOTS"

// TestBrowserPagesFitAPhone opens every page a person meets — signed in
// or by a one-tap link, before and after acting, errors included — at
// 390 px (a phone) and 1280 px, and fails when a page scrolls sideways.
func TestBrowserPagesFitAPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	exe := chromiumPath(t)
	// axe-core from the npm registry (package.json; .ci/run installs it):
	// every page is checked against WCAG 2 A and AA at both widths.
	axeJS, err := os.ReadFile(needs.File(t, "node_modules/axe-core/axe.min.js", "npm install"))
	if err != nil {
		t.Fatal(err)
	}
	// With Telegram on (its API out of reach: the pages do not need it), so
	// that the pages also open as its Mini App.
	const tgToken = "123456:browser-test-bot"
	t.Setenv("VIZA_TEST_TG_TOKEN", tgToken)
	m, _, _ := startDemoWith(t, func(cfg *config.Config) {
		cfg.Telegram = &config.Telegram{TokenEnv: "VIZA_TEST_TG_TOKEN", APIURL: "http://127.0.0.1:1", Mode: "polling"}
	})
	ctx := context.Background()
	base := "http://" + m.Listener.Addr().String()
	shots := os.Getenv(ScreenshotsEnv)
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The demo's contract waits on the lawyers; add one sent back to its
	// initiator and one waiting for the director's signature.
	must := func(out flows.Outcome, err error) flows.Outcome {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	start := func(key, title string, minor int64) *flows.Document {
		out := must(m.Engine.Start(ctx, flows.StartCmd{Key: key, Actor: "ivanova", TypeID: "contract", Title: title,
			Counterparty: "ООО «Северный ветер и партнёры по долгосрочной аренде складов»", AmountMinor: minor, HasAmount: true,
			File: flows.Upload{Name: "Договор_аренды_склада_№42_с_приложениями_и_протоколом_разногласий_окончательная_редакция.pdf",
				Content: strings.NewReader("%PDF-1.4 " + title)}}))
		d, err := m.DB.Document(ctx, out.DocID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	taskOf := func(d *flows.Document, who flows.PersonID) int64 {
		d, _ = m.DB.Document(ctx, d.ID)
		for _, tk := range d.OpenTasks() {
			if tk.Assignee == who {
				return tk.ID
			}
		}
		t.Fatalf("%s has no task on %s", who, d.Number)
		return 0
	}
	rejected := start("b1", "Аренда склада на Складской, 42 — пролонгация", 45_000_000)
	must(m.Engine.Decide(ctx, flows.DecideCmd{Key: "b2", Actor: "petrov", TaskID: taskOf(rejected, "petrov"), Action: flows.ActionReject,
		Comment: "Неустойка 1% в день — слишком много; предлагаю 0,1%. Реквизиты: 40702810900000012345, БИК 044525225"}))
	signing := start("b3", "Поставка оборудования", 45_000_000)
	must(m.Engine.Decide(ctx, flows.DecideCmd{Key: "b4", Actor: "petrov", TaskID: taskOf(signing, "petrov"), Action: flows.ActionApprove, Comment: "Согласовано"}))
	must(m.Engine.Decide(ctx, flows.DecideCmd{Key: "b5", Actor: "director", TaskID: taskOf(signing, "director"), Action: flows.ActionApprove}))
	// One with a second version whose long clauses changed: the comparison.
	revisedOut := must(m.Engine.Start(ctx, flows.StartCmd{Key: "b6", Actor: "ivanova", TypeID: "contract", Title: "Аренда офиса — новая редакция",
		AmountMinor: 12_000_000, HasAmount: true, File: flows.Upload{Name: "Аренда_офиса.docx",
			Content: bytes.NewReader(extracttest.DOCX("1. Арендатор вносит арендную плату в размере 100 000 рублей не позднее 5-го числа каждого месяца по реквизитам Арендодателя: р/с 40702810900000012345.",
				"2. Срок аренды — 11 месяцев."))}}))
	must(m.Engine.UploadVersion(ctx, flows.VersionCmd{Key: "b7", Actor: "ivanova", DocID: revisedOut.DocID, File: flows.Upload{Name: "Аренда_офиса_v2.docx",
		Content: bytes.NewReader(extracttest.DOCX("1. Арендатор вносит арендную плату в размере 120 000 рублей не позднее 10-го числа каждого месяца по реквизитам Арендодателя: р/с 40702810900000099999.",
			"2. Срок аренды — 11 месяцев с правом продления."))}}))
	revised, err := m.DB.Document(ctx, revisedOut.DocID)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := m.DB.AllDocuments(ctx) // newest first: the demo's own is the oldest
	if err != nil {
		t.Fatal(err)
	}
	demoDoc := docs[len(docs)-1]
	link, err := m.Web.TaskLink(ctx, taskOf(demoDoc, "sidorov"), "sidorov")
	if err != nil {
		t.Fatal(err)
	}

	bctx := newBrowser(t, exe, 4*time.Minute)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// check looks at the page now shown at both widths without loading it
	// again (some pages are the answer to a form).
	check := func(name string) {
		t.Helper()
		for _, width := range []int64{390, 1280} {
			do(name, chromedp.EmulateViewport(width, 900), chromedp.WaitReady(chromedp.CSS("body")))
			wide, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => {
				const w = document.documentElement.clientWidth;
				if (document.documentElement.scrollWidth <= w) return "";
				const out = [];
				for (const e of document.querySelectorAll("body *")) {
					const r = e.getBoundingClientRect();
					if (r.right > w + 1) out.push(e.tagName + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "") + " " + Math.round(r.right) + "px");
				}
				return document.documentElement.scrollWidth + "px wide: " + out.slice(0, 8).join(", ");
			})()`))
			if err != nil {
				t.Fatalf("%s at %d px: %v", name, width, err)
			}
			if wide != "" && width == 390 {
				t.Errorf("%s scrolls sideways on a 390 px phone: %s", name, wide)
			}
			violations, err := chromedp.Run(bctx, chromedp.Evaluate[string](string(axeJS)+`;
				axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r =>
					r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
						.map(v => v.impact + " " + v.id + " (" + v.help + "): " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "))
						.join("\n"))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("axe on %s at %d px: %v", name, width, err)
			}
			if violations != "" {
				t.Errorf("%s at %d px breaks WCAG 2 AA (axe-core):\n%s", name, width, violations)
			}
			if shots != "" {
				png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatalf("screenshot of %s: %v", name, err)
				}
				if err := os.WriteFile(filepath.Join(shots, name+"-"+strconv.FormatInt(width, 10)+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	open := func(name, path string) {
		t.Helper()
		do(name, chromedp.EmulateViewport(390, 900), chromedp.Navigate(base+path))
		check(name)
	}
	signIn := func(p flows.PersonID) {
		t.Helper()
		login, err := m.Web.LoginLink(ctx, p, web.LoginTTL)
		if err != nil {
			t.Fatal(err)
		}
		do("sign in as "+string(p), chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS(`a[href="/dashboard"]`)))
	}
	signOut := func() {
		t.Helper()
		do("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/demo/login"]`)))
	}
	doc := func(d *flows.Document) string { return "/doc/" + url.PathEscape(d.Number) }
	task := func(d *flows.Document, who flows.PersonID) string {
		return "/task/" + strconv.FormatInt(taskOf(d, who), 10)
	}

	open("index", "/")
	open("login-expired", "/login/no-such-link")

	signIn("ivanova")
	open("inbox", "/inbox")
	open("doc-sent-back", doc(rejected))
	open("diff", doc(revised)+"/diff")
	if got, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#changes ins`))); err != nil || !strings.Contains(got, "120 000") {
		t.Errorf("the comparison does not show the new sum: %q, %v", got, err)
	}
	open("dashboard", "/dashboard")
	open("dashboard-filtered", "/dashboard?approver=petrov&amount_min=100000&from=2020-01-01")
	do("export", chromedp.Click(chromedp.CSS(`#export button`)), chromedp.WaitVisible(chromedp.CSS(`#export-file`)))
	check("export")
	open("not-found", "/doc/НЕТ-1")
	open("no-such-page", "/no/such/page")
	open("settings", "/settings")
	signOut()

	signIn("petrov")
	open("task-approve", task(demoDoc, "petrov"))
	signOut()

	signIn("director")
	open("task-sign", task(signing, "director"))
	open("doc-signing", doc(signing))
	open("dashboard-viewer", "/dashboard")
	// Where approvals stall: the company's figures, a chart and its table.
	open("stats", "/stats?period=year")
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("figure.chart svg").length`)); err != nil || n == 0 {
		t.Errorf("the statistics page draws no chart: %d, %v", n, err)
	}
	if got, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#table-stages caption`))); err != nil || !strings.Contains(got, "CSV") {
		t.Errorf("the chart's table is not there: %q, %v", got, err)
	}
	signOut()

	// A person with no messenger: the SMS link, the answer after acting,
	// the link opened again.
	do("one-tap link", chromedp.EmulateViewport(390, 900), chromedp.Navigate(link))
	check("one-tap-task")
	do("approve by link", chromedp.Click(chromedp.CSS(`button[value="approve"]`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
	check("one-tap-done")
	open("one-tap-closed", strings.TrimPrefix(link, base))

	if got, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#why`))); err != nil || got == "" {
		t.Fatalf("the closed link does not say why: %q, %v", got, err)
	}

	// Opened as a Telegram Mini App: Telegram puts the signed launch data
	// and its theme in the address's fragment; the page signs the person
	// in and shows the inbox in Telegram's colours.
	initData := telegram.SignInitData(url.Values{"query_id": {"AAE1"}, "auth_date": {strconv.FormatInt(time.Now().Unix(), 10)},
		"user": {`{"id":111111111,"first_name":"Анна","language_code":"ru"}`}}, tgToken)
	theme := `{"bg_color":"#17212b","text_color":"#f5f5f5","button_color":"#5288c1","button_text_color":"#ffffff"}`
	do("mini app", chromedp.EmulateViewport(390, 900),
		chromedp.Navigate(base+"/tg/app?next=/inbox#tgWebAppData="+url.QueryEscape(initData)+"&tgWebAppThemeParams="+url.QueryEscape(theme)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/dashboard"]`)))
	if got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname + " " + getComputedStyle(document.body).backgroundColor`)); err != nil ||
		got != "/inbox rgb(23, 33, 43)" {
		t.Errorf("the Mini App shows %q (%v), want the inbox on Telegram's background", got, err)
	}
	check("miniapp-inbox")
}
