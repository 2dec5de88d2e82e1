package storage_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// keyedChain is a database whose first two events were written before any
// key (an earlier version's), sealed then, with four keyed events after.
func keyedChain(t *testing.T) *storage.DB {
	t.Helper()
	db, _ := storagetest.Open(t)
	ids := recordEvents(t, db, 1, 2)
	seal, fresh, err := db.UseAuditKey(context.Background(), testKey, storage.SealNow)
	if err != nil || !fresh || seal.From != 3 {
		t.Fatalf("seal %+v fresh %v: %v", seal, fresh, err)
	}
	for i, doc := range []int{1, 2, 1, 2} {
		recordMore(t, db, ids[doc-1], i)
	}
	rep, err := db.VerifyChain(context.Background())
	if err != nil || rep.BrokenAt != 0 || rep.Events != 6 || rep.SealedFrom != 3 {
		t.Fatalf("intact chain: %+v %v", rep, err)
	}
	return db
}

// rehash rewrites every event from `from` on with plain SHA-256 hashes, as
// someone without the key would to make an edit look consistent.
func rehash(t *testing.T, db *storage.DB, from int64) []string {
	t.Helper()
	raw := storage.RawForTest(t, db)
	rows, err := raw.Query(`SELECT id, doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, prev_hash FROM audit ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var stmts []string
	prev := ""
	for rows.Next() {
		var id, doc, at, task int64
		var version int
		var actor, forWhom, kind, detail, storedPrev string
		if err := rows.Scan(&id, &doc, &at, &actor, &forWhom, &kind, &version, &task, &detail, &storedPrev); err != nil {
			t.Fatal(err)
		}
		if id < from {
			var h string
			raw.QueryRow(`SELECT hash FROM audit WHERE id = ?`, id).Scan(&h)
			prev = h
			continue
		}
		h := storage.ChainHashForTest(prev, doc, at, actor, forWhom, kind, version, task, detail)
		stmts = append(stmts, "UPDATE audit SET prev_hash = '"+prev+"', hash = '"+h+"' WHERE id = "+itoa(id))
		prev = h
	}
	return stmts
}

// TestAuditTampering: with the key held outside the database, each way
// of changing the record without it is reported, with the first bad event.
func TestAuditTampering(t *testing.T) {
	tests := []struct {
		name    string
		attack  func(t *testing.T, db *storage.DB) []string
		at      int64
		reasons []string
	}{
		{"edit a row", func(*testing.T, *storage.DB) []string {
			return []string{`UPDATE audit SET detail = 'forged' WHERE id = 4`}
		}, 4, []string{"content"}},
		{"edit a row and rehash everything after it without the key", func(t *testing.T, db *storage.DB) []string {
			attack(t, db, `UPDATE audit SET detail = 'forged' WHERE id = 4`)
			return rehash(t, db, 4)
		}, 4, []string{"content"}},
		{"delete the tail", func(*testing.T, *storage.DB) []string {
			return []string{`DELETE FROM audit WHERE id >= 5`}
		}, 5, []string{"doc_head"}},
		{"delete the tail and point the documents at what is left", func(*testing.T, *storage.DB) []string {
			return []string{`DELETE FROM audit WHERE id >= 2`, `UPDATE documents SET last_event = CASE WHEN id = 1 THEN 1 ELSE 0 END`}
		}, 2, []string{"cut"}},
		{"delete a middle event", func(*testing.T, *storage.DB) []string {
			return []string{`DELETE FROM audit WHERE id = 4`}
		}, 5, []string{"gap"}},
		{"delete a middle event and renumber", func(t *testing.T, db *storage.DB) []string {
			attack(t, db, `DELETE FROM audit WHERE id = 2`, `UPDATE audit SET id = id - 1 WHERE id > 2`,
				`UPDATE audit SET doc_prev = 0 WHERE id = 3`, `UPDATE documents SET last_event = last_event - 1`)
			return rehash(t, db, 2)
		}, 0, []string{"content", "prev_hash", "doc_link"}},
		{"rewrite the whole chain without the key", func(t *testing.T, db *storage.DB) []string {
			attack(t, db, `UPDATE audit SET detail = 'rewritten'`)
			return rehash(t, db, 1)
		}, 3, []string{"content"}},
		{"move the seal", func(*testing.T, *storage.DB) []string {
			return []string{`UPDATE channel_state SET value = replace(value, '"from":3', '"from":99') WHERE channel = 'audit'`}
		}, -1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := keyedChain(t)
			if err := storage.AttackForTest(db, tc.attack(t, db)...); err != nil {
				t.Fatal(err)
			}
			// Verified as `viza verify` does: a fresh open with the key.
			loc := db.Location()
			db.Close()
			again, _, err := storage.OpenAt(context.Background(), loc)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			_, _, err = again.UseAuditKey(context.Background(), testKey, storage.SealNever)
			if tc.at == -1 {
				if err == nil || !strings.Contains(err.Error(), "seal") {
					t.Fatalf("a moved seal was accepted: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rep, err := again.VerifyChain(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, r := range tc.reasons {
				ok = ok || rep.Reason == r
			}
			if rep.BrokenAt == 0 || !ok || (tc.at != 0 && rep.BrokenAt != tc.at) {
				t.Fatalf("report %+v, want broken at %d for %v", rep, tc.at, tc.reasons)
			}
		})
	}
}

// TestKeyedChainNeedsItsKey: the keyed part cannot be verified without
// the key, nor with another, and a new key does not reseal a database.
func TestKeyedChainNeedsItsKey(t *testing.T) {
	db := keyedChain(t)
	loc := db.Location()
	db.Close()
	open := func() *storage.DB {
		d, _, err := storage.OpenAt(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	rep, err := open().VerifyChain(context.Background())
	if err != nil || rep.Reason != "no_key" || rep.BrokenAt != 3 {
		t.Fatalf("without the key: %+v %v", rep, err)
	}
	if _, _, err := open().UseAuditKey(context.Background(), []byte(strings.Repeat("z", 40)), storage.SealNever); err == nil {
		t.Fatal("another key was taken")
	}
}

func recordMore(t *testing.T, db *storage.DB, doc int64, i int) {
	t.Helper()
	_, err := db.Write(context.Background(), "", func(tx flows.Tx) (flows.Outcome, error) {
		return flows.Outcome{}, tx.Record([]flows.AuditEvent{{DocID: doc, Kind: "k", Detail: strings.Repeat("y", i+1)}}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func attack(t *testing.T, db *storage.DB, statements ...string) {
	t.Helper()
	if err := storage.AttackForTest(db, statements...); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestDeletedSealIsNotMadeAgain: someone who can write the database but has
// no key deletes the seal and rewrites the whole chain as plain SHA-256.
// Neither the service (SealIfEmpty) nor verify (SealNever) seals it again
// and calls it intact: both refuse, seal_missing. Only an explicit
// SealNow (viza seal, for databases from before keys) seals a chain that
// holds events; an empty one the service seals itself.
func TestDeletedSealIsNotMadeAgain(t *testing.T) {
	db := keyedChain(t)
	stmts := append([]string{`DELETE FROM channel_state WHERE channel = 'audit'`, `UPDATE audit SET detail = 'rewritten' WHERE id = 4`}, rehash(t, db, 1)...)
	if err := storage.AttackForTest(db, stmts...); err != nil {
		t.Fatal(err)
	}
	loc := db.Location()
	db.Close()
	for _, policy := range []storage.SealPolicy{storage.SealIfEmpty, storage.SealNever} {
		again, _, err := storage.OpenAt(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := again.UseAuditKey(context.Background(), testKey, policy); !errors.Is(err, storage.ErrSealMissing) {
			t.Fatalf("policy %d on a chain whose seal was deleted: %v", policy, err)
		}
		raw := storage.RawForTest(t, again)
		var seals int
		raw.QueryRow(`SELECT COUNT(*) FROM channel_state WHERE channel = 'audit' AND key = 'seal'`).Scan(&seals)
		if seals != 0 {
			t.Fatalf("policy %d wrote a seal", policy)
		}
		again.Close()
	}
	// A new database is sealed by the service from its first event.
	fresh, _ := storagetest.Open(t)
	if s, made, err := fresh.UseAuditKey(context.Background(), testKey, storage.SealIfEmpty); err != nil || !made || s.From != 1 {
		t.Fatalf("an empty database: %+v %v %v", s, made, err)
	}
	// Sealing knowingly: the operator's command.
	again, _, err := storage.OpenAt(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if s, made, err := again.UseAuditKey(context.Background(), testKey, storage.SealNow); err != nil || !made || s.From != 7 {
		t.Fatalf("viza seal: %+v %v %v", s, made, err)
	}
}
