package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

// A company moving from SQLite to PostgreSQL: everything is copied, the
// audit chain verifies on the copy with the same key, the files and the
// search come along, and the copy takes new documents after the old ones.
func TestCopyToPostgres(t *testing.T) {
	onlyOnPostgres(t)
	ctx := context.Background()
	src := storagetest.NewRigAt(t, storage.Location{DataDir: t.TempDir()}, false)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if _, _, err := src.DB.UseAuditKey(ctx, key, storage.SealIfEmpty); err != nil {
		t.Fatal(err)
	}
	fillRegister(t, src)
	if _, err := src.DB.FanOut(ctx, func(flows.Notification) []string { return []string{"telegram", "web"} }, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := src.DB.StatePut(ctx, "telegram", "link:ivanova", "111"); err != nil {
		t.Fatal(err)
	}
	dst, dstFiles := storagetest.OpenAt(t, storage.Location{URL: storagetest.NewSchema(t)})
	copied := map[string]int{}
	if err := src.DB.CopyTo(ctx, dst, src.Files.(storage.Files), func(what string, n int) { copied[what] = n }); err != nil {
		t.Fatal(err)
	}
	if copied["documents"] != 24 || copied["audit"] == 0 || copied["deliveries"] == 0 || copied["files"] != 24 {
		t.Fatalf("copied %v", copied)
	}
	if _, _, err := dst.UseAuditKey(ctx, key, storage.SealNever); err != nil {
		t.Fatal(err)
	}
	want, err := src.DB.VerifyChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.VerifyChain(ctx)
	if err != nil || got.BrokenAt != 0 || got.Events != want.Events || got.LastHash != want.LastHash || got.SealedFrom != want.SealedFrom {
		t.Fatalf("chain on the copy %+v (%v), on the original %+v", got, err, want)
	}
	for id := int64(1); id <= 24; id++ {
		a, _ := src.DB.Document(ctx, id)
		b, err := dst.Document(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("document %d differs:\n%s\n%s", id, ja, jb)
		}
		na, _ := src.DB.Notifications(ctx, id)
		nb, _ := dst.Notifications(ctx, id)
		if len(na) != len(nb) {
			t.Fatalf("document %d: %d notifications, %d on the copy", id, len(na), len(nb))
		}
		v := b.Versions[0]
		f, err := dstFiles.Open(v.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(f)
		if len(content) == 0 || int64(len(content)) != v.Size {
			t.Fatalf("document %d's file on the copy: %d bytes, want %d", id, len(content), v.Size)
		}
	}
	for _, q := range []storage.DocQuery{{Search: "север"}, {Counterparty: "южный"}, {Approver: "petrov"}} {
		a, _ := src.DB.DocumentPage(ctx, q)
		b, err := dst.DocumentPage(ctx, q)
		if err != nil || !slices.Equal(ids(a), ids(b)) || len(a) == 0 {
			t.Fatalf("%+v: %v on the original, %v on the copy (%v)", q, ids(a), ids(b), err)
		}
	}
	if v, ok, _ := dst.StateGet(ctx, "telegram", "link:ivanova"); !ok || v != "111" {
		t.Fatalf("channel state on the copy: %q %v", v, ok)
	}
	// The copy goes on: a new document after the copied ones.
	eng := flows.NewEngine(dst, dstFiles, src.Clock, nil, src.Dir)
	out, err := eng.Start(ctx, flows.StartCmd{Key: "after-copy", Actor: "ivanova", TypeID: "memo", Title: "После переезда",
		Approvers: []flows.PersonID{"petrov"}, File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF after")}})
	if err != nil || out.DocID != 25 {
		t.Fatalf("a document after the copy: %+v, %v", out, err)
	}
	if rep, err := dst.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
		t.Fatalf("chain after a new document: %+v %v", rep, err)
	}
	// Never into a database that holds a record.
	if err := src.DB.CopyTo(ctx, dst, src.Files.(storage.Files), func(string, int) {}); !errors.Is(err, storage.ErrTargetNotEmpty) {
		t.Fatalf("a second copy: %v", err)
	}
}

func ids(docs []*flows.Document) []int64 {
	var out []int64
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}
