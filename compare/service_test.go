package compare_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/compare/extract"
	"github.com/viza-app/viza/compare/extract/extracttest"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage/storagetest"
)

// startTwoVersions makes a memo with v1 and v2 through the engine.
func startTwoVersions(t *testing.T, rig *storagetest.Rig, v1, v2 []byte, name string) *flows.Document {
	t.Helper()
	ctx := context.Background()
	out, err := rig.Engine.Start(ctx, flows.StartCmd{Key: "s", Actor: "ivanova", TypeID: "memo", Title: "Поставка",
		Approvers: []flows.PersonID{"petrov"}, File: flows.Upload{Name: name, Content: bytes.NewReader(v1)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rig.Engine.UploadVersion(ctx, flows.VersionCmd{Key: "v2", Actor: "ivanova", DocID: out.DocID,
		File: flows.Upload{Name: name, Content: bytes.NewReader(v2)}}); err != nil {
		t.Fatal(err)
	}
	d, err := rig.DB.Document(ctx, out.DocID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestVersionsAreQueuedWithTheirTransaction: storing a version queues its
// text in the same transaction; the job reads it and the comparison of
// v1 and v2 names the changed price — on either backend.
func TestVersionsAreQueuedWithTheirTransaction(t *testing.T) {
	rig := storagetest.NewRig(t, false)
	d := startTwoVersions(t, rig, extracttest.Contract("100 000", false), extracttest.Contract("120 000", true), "contract.docx")
	ctx := context.Background()
	pending, err := rig.DB.PendingTexts(ctx, 10)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending %v %v", pending, err)
	}
	s := &compare.Service{Store: rig.DB, Files: rig.Files}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() { stop(); <-done }()
	c, err := s.Between(ctx, d, 1, 2, compare.DefaultOptions)
	if err != nil || c.Status != compare.StatusOK {
		t.Fatalf("%+v %v", c, err)
	}
	if len(c.Changes) != 3 || c.Changes[0].Old != "100 000" || c.Changes[0].New != "120 000" || c.Revisions != 2 || c.Comments != 1 {
		t.Fatalf("changes %+v", c)
	}
	// The job empties the queue.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, _ = rig.DB.PendingTexts(ctx, 10)
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending %v", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.Between(ctx, d, 1, 3, compare.DefaultOptions); flows.ErrorCode(err) != "version_not_found" {
		t.Fatalf("missing version: %v", err)
	}
}

// TestSlowReadingNeverHoldsTheCard: a reader that waits a bounded time
// gets "pending" when the text is slow, the reading goes on in the
// background, is stored, and shutdown waits for it.
func TestSlowReadingNeverHoldsTheCard(t *testing.T) {
	rig := storagetest.NewRig(t, false)
	release := make(chan struct{})
	var calls sync.Map
	slowPDF := func(ctx context.Context, data []byte) ([]string, error) {
		calls.Store(string(data), true)
		select {
		case <-release:
			return []string{strings.TrimSuffix(string(data[5:]), "%%EOF")}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	d := startTwoVersions(t, rig, []byte("%PDF-цена 100 000 рублей%%EOF"), []byte("%PDF-цена 120 000 рублей%%EOF"), "c.pdf")
	s := &compare.Service{Store: rig.DB, Files: rig.Files, Extractor: extract.Extractor{PDF: slowPDF}}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	wait, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	start := time.Now()
	c, err := s.Between(wait, d, 1, 2, compare.DefaultOptions)
	cancel()
	if err != nil || c.Status != compare.StatusPending {
		t.Fatalf("%+v %v", c, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the reader waited %s", took)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, _, _, _ := rig.DB.VersionText(context.Background(), d.Versions[1].SHA256)
		if state == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("text of v2 %q", state)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err = s.Between(context.Background(), d, 1, 2, compare.DefaultOptions)
	if err != nil || c.Status != compare.StatusOK || len(c.Changes) != 1 || c.Changes[0].New != "120 000" {
		t.Fatalf("%+v %v", c, err)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestAFileThatKeepsFailingIsGivenUp: a file taken up more than
// MaxTextAttempts times (the process died reading it) is recorded as
// failed and leaves the queue.
func TestAFileThatKeepsFailingIsGivenUp(t *testing.T) {
	rig := storagetest.NewRig(t, false)
	d := startTwoVersions(t, rig, extracttest.DOCX("a"), extracttest.DOCX("b"), "a.docx")
	ctx := context.Background()
	for range compare.MaxTextAttempts + 1 {
		if _, err := rig.DB.PendingTexts(ctx, 10); err != nil { // as a job that died after taking them
			t.Fatal(err)
		}
	}
	s := &compare.Service{Store: rig.DB, Files: rig.Files}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, _, _, _ := rig.DB.VersionText(ctx, d.Versions[0].SHA256)
		if state == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %q", state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
