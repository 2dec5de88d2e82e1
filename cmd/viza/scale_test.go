package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/flows/flowstest"
	"github.com/viza-app/viza/storage"
)

// The scale report ("make scale"): documents are created and decided
// through the engine — three approvers each, one in twenty left open —
// and at each size every view people use is timed, with the service's
// peak RSS while it ran and the database's size. It is a measurement, not
// a test: it runs only when VIZA_SCALE names the sizes.
//
//	VIZA_SCALE=1000,10000,100000 go test -run '^TestScaleReport$' -v -timeout 0 ./cmd/viza

const scalePeople = 40

func scaleConfig(dataDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "company: ООО «Масштаб»\ntimezone: Europe/Moscow\nlanguage: ru\ndata_dir: %s\nviewers: [role:management]\npeople:\n", dataDir)
	b.WriteString("  - {id: director, name: Директор, roles: [management]}\n")
	for i := 1; i < scalePeople; i++ {
		fmt.Fprintf(&b, "  - {id: p%02d, name: Сотрудник %02d, manager: director}\n", i, i)
	}
	b.WriteString("document_types:\n  - id: memo\n    name: {ru: Служебная записка, en: Memo}\n    number: \"СЗ-{seq:6}\"\n    route: initiator_choice\n")
	b.WriteString("http: {listen: \"127.0.0.1:0\"}\n")
	return b.String()
}

// sink is a messenger that keeps only each conversation's last message,
// so that a hundred thousand notifications cost the measurement nothing.
type sink struct {
	mu   sync.Mutex
	last map[string]chat.Message
	n    atomic.Int64
}

func (s *sink) Name() string                                        { return "sink" }
func (s *sink) Caps() chat.Caps                                     { return chat.Caps{MaxText: 4096, Edit: true} }
func (s *sink) Open(_ context.Context, user string) (string, error) { return "c-" + user, nil }
func (s *sink) Send(_ context.Context, conv string, m chat.Message) (string, error) {
	s.mu.Lock()
	s.last[conv] = m
	s.mu.Unlock()
	return strconv.FormatInt(s.n.Add(1), 10), nil
}
func (s *sink) Edit(ctx context.Context, conv, _ string, m chat.Message) error {
	_, err := s.Send(ctx, conv, m)
	return err
}
func (s *sink) SendFile(_ context.Context, _ string, _ chat.File) (string, error) {
	return strconv.FormatInt(s.n.Add(1), 10), nil
}
func (s *sink) Ask(context.Context, string, chat.Question) (string, error) { return "", nil }
func (s *sink) Answer(context.Context, *chat.Tap, string) error            { return nil }
func (s *sink) Fetch(context.Context, chat.FileRef, int64) ([]byte, error) {
	return nil, flows.Errorf(flows.KindInvalid, "file_required", "sink")
}
func (s *sink) PersonOf(_ context.Context, dir *flows.Directory, user string) (*flows.Person, bool) {
	return dir.Person(flows.PersonID(strings.TrimPrefix(user, "u-")))
}
func (s *sink) UserOf(_ context.Context, p *flows.Person) (string, bool) {
	return "u-" + string(p.ID), true
}
func (s *sink) Knows(*flows.Person) bool { return true }

// procStatus reads a field of /proc/self/status in KB.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

type viewResult struct {
	Docs    int     `json:"docs"`
	View    string  `json:"view"`
	Millis  float64 `json:"ms"`
	PeakRSS int64   `json:"peak_rss_mb"`
	Bytes   int     `json:"bytes,omitempty"`
	Status  int     `json:"status,omitempty"`
}

func TestScaleReport(t *testing.T) {
	sizes := os.Getenv("VIZA_SCALE")
	if sizes == "" {
		t.Skip("a measurement: VIZA_SCALE=1000,10000,100000 (make scale)")
	}
	dir := t.TempDir()
	if d := os.Getenv("VIZA_SCALE_DIR"); d != "" {
		dir = d
	}
	path := filepath.Join(dir, "viza.yaml")
	if err := os.WriteFile(path, []byte(scaleConfig(filepath.Join(dir, "data"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The documents start over the year before now, as a company's do,
	// so that a year's figures are read the way they would be: from the
	// days' tallies and the facts of today. The largest size fills the
	// year; the smaller ones are its first days.
	largest := 0
	for _, s := range strings.Split(sizes, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		largest = max(largest, n)
	}
	year := &yearClock{Clock: flowstest.NewClock(time.Now().AddDate(-1, 0, 0)), step: 365 * 24 * time.Hour / time.Duration(max(largest, 1))}
	year.start = year.Now()
	defer func(c func() flows.Clock) { newClock = c }(newClock)
	newClock = func() flows.Clock { return year }
	wire := &sink{last: map[string]chat.Message{}}
	m, err := NewMain(ctx, cfg, path, slog.New(slog.DiscardHandler), Wire{Transport: wire})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done; m.Close() }()
	base := "http://" + m.Listener.Addr().String()

	seeded := 0
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < seeded {
			t.Fatalf("VIZA_SCALE: %q", s)
		}
		start := time.Now()
		// A folder kept from an earlier run (VIZA_SCALE_DIR) that holds
		// the documents already is measured again as it is.
		if have, _, err := m.DB.CountDocumentsUpTo(ctx, storage.DocQuery{}, n); err == nil && have >= n {
			t.Logf("%d documents already in %s", have, dir)
			// They were seeded over the year before that run: the clock
			// stands at its end, about now.
			year.Set(time.Now())
		} else {
			seedScale(t, m, year, seeded, n)
		}
		seeded = n
		waitOutbox(t, m)
		t.Logf("%d documents seeded in %s", n, time.Since(start).Round(time.Second))
		for _, r := range measureViews(t, m, wire, base, n) {
			b, _ := json.Marshal(r)
			fmt.Println(string(b))
		}
		var size int64
		for _, f := range []string{"viza.db", "viza.db-wal"} {
			if st, err := os.Stat(filepath.Join(cfg.DataDir, f)); err == nil {
				size += st.Size()
			}
		}
		// What the data takes once retention has passed over it: delivered
		// notifications and chat leftovers compacted, as the service does
		// hourly (free pages are reused before the file grows).
		used, err := m.DB.SpaceUsed(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r, _ := m.retention()
		if _, err := m.DB.Compact(context.Background(), r, time.Now().Add(r.Dialogues+time.Hour)); err != nil {
			t.Fatal(err)
		}
		compacted, err := m.DB.SpaceUsed(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf(`{"docs":%d,"db_file_bytes":%d,"db_used_bytes_per_doc":%d,"after_retention_bytes_per_doc":%d}`+"\n",
			n, size, used/int64(n), compacted/int64(n))
	}
}

// yearClock moves through the year as documents are made: document i
// starts at start + i·step, or later when another started after it. It
// never goes back, so no task closes before it opened.
type yearClock struct {
	*flowstest.Clock
	mu    sync.Mutex
	start time.Time
	step  time.Duration
}

func (c *yearClock) reach(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at := c.start.Add(time.Duration(i) * c.step); at.After(c.Now()) {
		c.Set(at)
	}
}

// seedScale creates documents from..to and decides them.
func seedScale(t *testing.T, m *Main, year *yearClock, from, to int) {
	ctx := context.Background()
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= to {
					return
				}
				year.reach(i)
				if err := seedOne(ctx, m, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

var counterparties = []string{"ООО «Север»", "АО «Южный порт»", "ИП Кузнецов", "ООО «Бумага»", "ПАО «Сталь»", "ООО «Вектор»"}

func seedOne(ctx context.Context, m *Main, i int) error {
	person := func(k int) flows.PersonID { return flows.PersonID(fmt.Sprintf("p%02d", 1+k%(scalePeople-1))) }
	initiator := person(i)
	approvers := []flows.PersonID{person(i + 1), person(i + 7), person(i + 13)}
	out, err := m.Engine.Start(ctx, flows.StartCmd{Key: fmt.Sprint("scale-start-", i), Actor: initiator, TypeID: "memo",
		Title: fmt.Sprintf("Записка %d о закупке", i), Counterparty: counterparties[i%len(counterparties)], AmountMinor: int64(i%500) * 100_000_00,
		HasAmount: true, Currency: "RUB", Approvers: approvers,
		File: flows.Upload{Name: "memo.pdf", Content: strings.NewReader(fmt.Sprintf("%%PDF-1.4 memo %d", i))}})
	if err != nil {
		return fmt.Errorf("start %d: %w", i, err)
	}
	if i%20 == 0 {
		return nil // one in twenty stays open
	}
	for step := range 3 {
		tasks, err := m.DB.OpenTasksOfDocument(ctx, out.DocID)
		if err != nil || len(tasks) == 0 {
			return fmt.Errorf("tasks of %d: %v", i, err)
		}
		if _, err := m.Engine.Decide(ctx, flows.DecideCmd{Key: fmt.Sprint("scale-d-", i, "-", step), Actor: tasks[0].Assignee,
			TaskID: tasks[0].ID, Action: flows.ActionApprove}); err != nil {
			return fmt.Errorf("decide %d: %w", i, err)
		}
	}
	return nil
}

// waitOutbox waits until the dispatcher has sent everything, so that the
// database holds what a service that kept up would.
func waitOutbox(t *testing.T, m *Main) {
	for range 3600 {
		st, err := m.DB.OutboxStats(context.Background())
		if err == nil && st.Pending == 0 {
			if _, err := m.Dispatcher.Step(context.Background()); err == nil {
				if st, _ := m.DB.OutboxStats(context.Background()); st.Pending == 0 {
					return
				}
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatal("the outbox never emptied")
}

// measure runs a view three times and keeps the median time, with the
// peak RSS it reached (the kernel's high-water mark, reset before).
func measure(docs int, name string, f func() (status, size int)) viewResult {
	var times []time.Duration
	var peak int64
	res := viewResult{Docs: docs, View: name}
	for range 3 {
		runtime.GC()
		debug.FreeOSMemory()
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM
		start := time.Now()
		res.Status, res.Bytes = f()
		times = append(times, time.Since(start))
		peak = max(peak, procStatus("VmHWM"))
	}
	slices.Sort(times)
	res.Millis = float64(times[1].Microseconds()) / 1000
	res.PeakRSS = peak / 1024
	return res
}

// withCookies sends its cookies with every request.
type withCookies struct{ cookies []*http.Cookie }

func (w withCookies) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for _, c := range w.cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return http.DefaultTransport.RoundTrip(r)
}

// measureOnce runs a view once: what the first reader waits.
func measureOnce(docs int, name string, f func() (status, size int)) viewResult {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	start := time.Now()
	res := viewResult{Docs: docs, View: name}
	res.Status, res.Bytes = f()
	res.Millis = float64(time.Since(start).Microseconds()) / 1000
	res.PeakRSS = procStatus("VmHWM") / 1024
	return res
}

func measureViews(t *testing.T, m *Main, wire *sink, base string, docs int) []viewResult {
	ctx := context.Background()
	session := func(p flows.PersonID) *http.Client {
		link, err := m.Web.LoginLink(ctx, p, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		// The session's cookie is kept as given: its expiry is on the
		// service's clock, which stands in the past while the year is
		// seeded, and a cookie jar would drop it.
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noRedirect.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if len(res.Cookies()) == 0 {
			t.Fatalf("no session cookie for %s: %s", p, res.Status)
		}
		return &http.Client{Transport: withCookies{res.Cookies()}, CheckRedirect: noRedirect.CheckRedirect}
	}
	viewer, employee := session("director"), session("p05")
	get := func(c *http.Client, path string) func() (int, int) {
		return func() (int, int) {
			res, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			n, _ := io.Copy(io.Discard, res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", path, res.Status)
			}
			return res.StatusCode, int(n)
		}
	}
	chatCmd := func(user, command, args string) func() (int, int) {
		return func() (int, int) {
			ms := m.Messengers["sink"]
			ms.Handle(ctx, chat.Event{Key: fmt.Sprint("scale-", command, time.Now().UnixNano()), Conv: "c-" + user, User: user, Command: command, Args: args})
			wire.mu.Lock()
			defer wire.mu.Unlock()
			return 0, wire.last["c-"+user].Text.Len()
		}
	}
	mid, err := m.DB.Document(ctx, int64(docs/2))
	if err != nil {
		t.Fatal(err)
	}
	return []viewResult{
		measure(docs, "inbox", get(employee, "/inbox")),
		measure(docs, "dashboard", get(viewer, "/dashboard")),
		measure(docs, "dashboard_search", get(viewer, "/dashboard?q=%D0%A1%D0%B5%D0%B2%D0%B5%D1%80")),
		measure(docs, "dashboard_approver", get(viewer, "/dashboard?approver=p07")),
		measure(docs, "dashboard_amount", get(viewer, "/dashboard?amount_min=900000&amount_max=1000000")),
		measure(docs, "dashboard_dates", get(viewer, "/dashboard?from="+mid.CreatedAt.Format("2006-01-02")+"&to="+mid.CreatedAt.Format("2006-01-02"))),
		measure(docs, "doc_card", get(viewer, "/doc/"+mid.Number)),
		measure(docs, "dashboard_page_typed", get(viewer, "/dashboard?page=15")),
		measure(docs, "chat_list", chatCmd("u-director", "list", "")),
		// A person's active documents: what is active, not their history.
		measure(docs, "chat_list_employee", chatCmd("u-p05", "list", "")),
		measure(docs, "chat_status", chatCmd("u-director", "status", mid.Number)),
		measure(docs, "metrics", get(http.DefaultClient, "/metrics")),
		measure(docs, "export_xlsx", get(viewer, "/export.xlsx")),
		// Where approvals stall: the company's year, on the web and in chat;
		// first while the days' tallies are made, then as read.
		measureOnce(docs, "stats_year_first", get(viewer, "/stats?period=year")),
		measure(docs, "stats_year", get(viewer, "/stats?period=year")),
		measure(docs, "stats_month", get(viewer, "/stats?period=month")),
		measure(docs, "chat_stats_year", chatCmd("u-director", "stats", "year")),
	}
}
