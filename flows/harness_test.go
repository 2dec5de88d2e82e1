package flows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/flows/flowstest"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

type harness struct {
	t     testing.TB
	ctx   context.Context
	eng   *flows.Engine
	db    *storage.DB
	clock *flowstest.Clock
	dir   *flows.Directory
	fs    flows.FileStore
	keys  atomic.Int64
}

func (h *harness) files() flows.FileStore { return h.fs }

func testDirectory(tb testing.TB) (*flows.Directory, *config.Config) {
	tb.Helper()
	cfg, err := config.Load("testdata/viza.yaml")
	if err != nil {
		tb.Fatalf("load test config: %v", err)
	}
	dir, err := cfg.Directory()
	if err != nil {
		tb.Fatalf("build directory: %v", err)
	}
	return dir, cfg
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	db, files := storagetest.Open(tb)
	dir, _ := testDirectory(tb)
	clock := &flowstest.Clock{}
	return &harness{t: tb, ctx: context.Background(), eng: flows.NewEngine(db, files, clock, nil, dir), db: db, clock: clock, dir: dir, fs: files}
}

func (h *harness) key() string { return fmt.Sprintf("test:%d", h.keys.Add(1)) }

func file(content string) flows.Upload {
	return flows.Upload{Name: "draft.pdf", MIME: "application/pdf", Content: strings.NewReader(content)}
}

// start begins a document; amount < 0 means "not given".
func (h *harness) start(actor, typ string, amount int64, approvers ...flows.PersonID) flows.Outcome {
	h.t.Helper()
	out, err := h.tryStart(actor, typ, amount, approvers...)
	if err != nil {
		h.t.Fatalf("start %s by %s: %v", typ, actor, err)
	}
	return out
}

func (h *harness) tryStart(actor, typ string, amount int64, approvers ...flows.PersonID) (flows.Outcome, error) {
	return h.eng.Start(h.ctx, flows.StartCmd{Key: h.key(), Actor: flows.PersonID(actor), TypeID: typ, Title: "Поставка «Альфа»",
		Counterparty: "ООО Альфа", AmountMinor: amount * 100, HasAmount: amount >= 0, File: file("v1 " + h.key()),
		Approvers: approvers})
}

func (h *harness) doc(id int64) *flows.Document {
	h.t.Helper()
	d, err := h.db.Document(h.ctx, id)
	if err != nil {
		h.t.Fatalf("load document %d: %v", id, err)
	}
	return d
}

// task finds the open task of person on the document.
func (h *harness) task(docID int64, person string) int64 {
	h.t.Helper()
	for _, t := range h.doc(docID).OpenTasks() {
		if t.Assignee == flows.PersonID(person) {
			return t.ID
		}
	}
	h.t.Fatalf("%s has no open task on document %d; open: %v", person, docID, h.openAssignees(docID))
	return 0
}

func (h *harness) openAssignees(docID int64) []string {
	var out []string
	for _, t := range h.doc(docID).OpenTasks() {
		out = append(out, string(t.Assignee))
	}
	slices.Sort(out)
	return out
}

func (h *harness) decide(docID int64, actor, action, comment string) error {
	h.t.Helper()
	return h.decideTask(h.task(docID, actor), actor, action, comment)
}

func (h *harness) decideTask(task int64, actor, action, comment string) error {
	_, err := h.eng.Decide(h.ctx, flows.DecideCmd{Key: h.key(), Actor: flows.PersonID(actor), TaskID: task, Action: action, Comment: comment})
	return err
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) upload(docID int64, actor, comment string) error {
	_, err := h.eng.UploadVersion(h.ctx, flows.VersionCmd{Key: h.key(), Actor: flows.PersonID(actor), DocID: docID,
		File: file("new version " + h.key()), Comment: comment})
	return err
}

func (h *harness) notes(docID int64) []flows.Notification {
	h.t.Helper()
	ns, err := h.db.Notifications(h.ctx, docID)
	if err != nil {
		h.t.Fatal(err)
	}
	return ns
}

// notesTo lists "kind" of each notification to person, in order.
func (h *harness) notesTo(docID int64, person string) []string {
	var out []string
	for _, n := range h.notes(docID) {
		if n.To == flows.PersonID(person) {
			out = append(out, n.Kind)
		}
	}
	return out
}

func (h *harness) wantState(docID int64, state string) {
	h.t.Helper()
	if got := h.doc(docID).State; got != state {
		h.t.Fatalf("state = %s, want %s", got, state)
	}
}

func (h *harness) wantOpen(docID int64, people ...string) {
	h.t.Helper()
	got := h.openAssignees(docID)
	slices.Sort(people)
	if !slices.Equal(got, people) {
		h.t.Fatalf("open tasks of %v, want %v", got, people)
	}
}

func wantKind(t testing.TB, err error, kind flows.Kind, code string) {
	t.Helper()
	if flows.ErrorKind(err) != kind || flows.ErrorCode(err) != code {
		t.Fatalf("error = %v, want %s/%s", err, kind, code)
	}
}
