package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/stats"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

// TestDayTallies: everyone's figures read from the days' tallies are the
// figures tallied from the facts themselves, after a write into a past
// day, over a garbled tally, and in another zone.
func TestDayTallies(t *testing.T) {
	rig := storagetest.NewRig(t, false)
	ctx := context.Background()
	zone := rig.Dir.Location
	start := time.Date(2026, 1, 1, 15, 0, 0, 0, zone)
	if err := storagetest.SeedFacts(ctx, rig.DB, start, 3000); err != nil {
		t.Fatal(err)
	}
	everyone := []flows.PersonID{"ivanova"}
	for i := range storagetest.SeedPeople {
		everyone = append(everyone, flows.PersonID(fmt.Sprintf("p%03d", i)))
	}
	raw := storage.RawForTest(t, rig.DB)
	days := func() int {
		var n int
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM fact_days`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// figures reads q both ways: as everyone's (day tallies and edges) and
	// as every person's (the facts alone), and says where they differ.
	figures := func(q stats.Query) stats.Report {
		t.Helper()
		all, err := rig.DB.Facts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		q.People = everyone
		each, err := rig.DB.Facts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		r, want := stats.Compute(all, stats.Options{}), stats.Compute(each, stats.Options{})
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("from the day tallies\n%+v\nfrom the facts\n%+v", r, want)
		}
		return r
	}
	month := stats.Query{From: start.AddDate(0, 2, 0).Add(-5 * time.Hour), To: start.AddDate(0, 3, 0).Add(2 * time.Hour), Zone: zone}
	before := figures(month)
	if before.Decision.Count < 500 || before.Rework.Docs < 200 || len(before.Cycle) == 0 {
		t.Fatalf("too few figures to compare: %+v", before.Decision)
	}
	made := days()
	if made < 28 || made > 32 {
		t.Fatalf("%d day tallies kept for a month", made)
	}
	if figures(month); days() != made {
		t.Fatalf("the second reading made tallies again: %d", days())
	}
	for _, typ := range storagetest.SeedTypes {
		q := month
		q.Type = typ
		if figures(q).Rework.Docs == 0 {
			t.Fatalf("no %s documents", typ)
		}
	}

	// A document started in the middle of the month and approved now: its
	// day's tally no longer holds.
	mid := month.From.AddDate(0, 0, 10)
	late := []stats.TaskFact{{ID: 1_000_001, DocID: 1_000_001, Type: "memo", Stage: 0, Kind: flows.KindApprove, Holder: "p001",
		Actor: "p001", Round: 1, Opened: mid, Closed: mid.Add(50 * time.Hour), State: flows.TaskRejected}}
	doc := []stats.DocFact{{ID: 1_000_001, Type: "memo", Initiator: "ivanova", Started: mid, Rounds: 3, Rejected: true,
		State: flows.StateApproved, Approved: mid.Add(50 * time.Hour)}}
	if err := rig.DB.InsertFacts(ctx, late, doc); err != nil {
		t.Fatal(err)
	}
	rejections := func(r stats.Report) int {
		for _, c := range r.Rework.ByPerson {
			if c.Key == "p001" {
				return c.N
			}
		}
		return 0
	}
	after := figures(month)
	if after.Rework.Docs != before.Rework.Docs+1 || rejections(after) != rejections(before)+1 {
		t.Fatalf("the late write is not in the figures: %d documents, was %d; p001 rejected %d, was %d", after.Rework.Docs,
			before.Rework.Docs, rejections(after), rejections(before))
	}

	// A garbled tally is read around: the figures still agree.
	if _, err := raw.ExecContext(ctx, `UPDATE fact_days SET tally = ?`, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if figures(month).Rework.Docs != after.Rework.Docs {
		t.Fatal("a garbled tally changed the figures")
	}
	// They were dropped, and the next reading made them again.
	if figures(month); days() != made {
		t.Fatalf("%d day tallies after the garbled were dropped, want %d", days(), made)
	}

	// Another zone's days are other days.
	q := month
	q.Zone = time.FixedZone("UTC+5:30", 5*3600+1800)
	figures(q)

	// Most of a year: whole months from their tallies, made from their
	// days'; a late write into one of them makes it be made again.
	year := stats.Query{From: start.Add(2 * time.Hour), To: start.AddDate(0, 11, 3), Zone: zone}
	before = figures(year)
	var months int
	if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM fact_days WHERE to_ns - from_ns > 2 * 86400000000000`).Scan(&months); err != nil {
		t.Fatal(err)
	}
	if months != 10 {
		t.Fatalf("%d month tallies kept for 11 months from the 1st's afternoon, want 10", months)
	}
	inMay := time.Date(2026, 5, 12, 11, 0, 0, 0, zone)
	if err := rig.DB.InsertFacts(ctx, nil, []stats.DocFact{{ID: 1_000_002, Type: "memo", Initiator: "ivanova", Started: inMay, Rounds: 1,
		State: flows.StateInApproval}}); err != nil {
		t.Fatal(err)
	}
	if after := figures(year); after.Rework.Docs != before.Rework.Docs+1 {
		t.Fatalf("a document started in May is not in the year: %d, was %d", after.Rework.Docs, before.Rework.Docs)
	}
}
