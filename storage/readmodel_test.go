package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
	"github.com/viza-app/viza/storage/storagetest"
)

// register makes a register of every shape: contracts and memos by three
// initiators, approved, sent back, withdrawn, reassigned and open — some
// of them overdue.
func register(t *testing.T) *storagetest.Rig {
	t.Helper()
	r := storagetest.NewRig(t, false)
	fillRegister(t, r)
	return r
}

func fillRegister(t *testing.T, r *storagetest.Rig) {
	t.Helper()
	ctx := context.Background()
	cps := []string{"ООО «Север»", "АО «Южный порт»", "ИП Северов", ""}
	initiators := []flows.PersonID{"ivanova", "kuznetsova", "director"}
	for i := range 24 {
		cmd := flows.StartCmd{Key: fmt.Sprint("s", i), Actor: initiators[i%3], TypeID: "contract", Title: fmt.Sprintf("Договор %d поставки", i),
			Counterparty: cps[i%4], AmountMinor: int64(i*37%11) * 1_000_000_00, HasAmount: i%5 != 0, Currency: "RUB",
			File: flows.Upload{Name: "d.pdf", Content: strings.NewReader(fmt.Sprint("%PDF ", i))}}
		if i%4 == 3 {
			cmd.TypeID, cmd.Title, cmd.Approvers = "memo", fmt.Sprintf("Записка %d", i), []flows.PersonID{"petrov", "director"}
		}
		out, err := r.Engine.Start(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := r.DB.Document(ctx, out.DocID)
		task := d.OpenTasks()[0]
		switch i % 6 {
		case 1: // approved all the way
			for n := 0; n < 5; n++ {
				d, _ = r.DB.Document(ctx, out.DocID)
				open := d.OpenTasks()
				if len(open) == 0 {
					break
				}
				action := map[string]string{flows.KindApprove: flows.ActionApprove, flows.KindSign: flows.ActionDone,
					flows.KindAcknowledge: flows.ActionAcknowledge}[open[0].Kind]
				if _, err := r.Engine.Decide(ctx, flows.DecideCmd{Key: fmt.Sprint("a", i, n), Actor: open[0].Assignee, TaskID: open[0].ID,
					Action: action}); err != nil {
					t.Fatal(err)
				}
			}
		case 2:
			if _, err := r.Engine.Decide(ctx, flows.DecideCmd{Key: fmt.Sprint("r", i), Actor: task.Assignee, TaskID: task.ID,
				Action: flows.ActionReject, Comment: "нет"}); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := r.Engine.Withdraw(ctx, flows.WithdrawCmd{Key: fmt.Sprint("w", i), Actor: cmd.Actor, DocID: out.DocID}); err != nil {
				t.Fatal(err)
			}
		case 4:
			if _, err := r.Engine.Reassign(ctx, flows.ReassignCmd{Key: fmt.Sprint("re", i), Actor: task.Assignee, TaskID: task.ID,
				To: "kuznetsova", Reason: "отпуск"}); err != nil {
				t.Fatal(err)
			}
		}
		r.Clock.Advance(3 * time.Hour)
	}
}

// TestDocumentPageIsTheFilteredRegister: every query's pages, put
// together, are what filtering the whole register in Go gives — in the
// same order — and the count agrees.
func TestDocumentPageIsTheFilteredRegister(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	all, err := r.DB.AllDocuments(ctx) // newest first
	if err != nil {
		t.Fatal(err)
	}
	now := r.Clock.Now()
	start := all[len(all)-1].CreatedAt
	overdue := func(d *flows.Document) bool {
		for _, tk := range d.OpenTasks() {
			if !tk.Due.IsZero() && tk.Due.Before(now) {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name string
		q    storage.DocQuery
		keep func(*flows.Document) bool
	}{
		{"all", storage.DocQuery{}, func(*flows.Document) bool { return true }},
		{"petrov's", storage.DocQuery{Reader: "petrov"}, func(d *flows.Document) bool { return slices.Contains(d.Readers(), "petrov") }},
		{"ivanova's memos", storage.DocQuery{Reader: "ivanova", Type: "memo"},
			func(d *flows.Document) bool { return slices.Contains(d.Readers(), "ivanova") && d.TypeID == "memo" }},
		{"in approval", storage.DocQuery{State: flows.StateInApproval}, func(d *flows.Document) bool { return d.State == flows.StateInApproval }},
		{"active", storage.DocQuery{Active: true}, func(d *flows.Document) bool { return !d.IsFinal() }},
		{"petrov's active", storage.DocQuery{Reader: "petrov", Active: true}, func(d *flows.Document) bool {
			return !d.IsFinal() && slices.Contains(d.Readers(), "petrov")
		}},
		{"by kuznetsova", storage.DocQuery{Initiator: "kuznetsova"}, func(d *flows.Document) bool { return d.Initiator == "kuznetsova" }},
		{"search север", storage.DocQuery{Search: "север"}, func(d *flows.Document) bool {
			return strings.Contains(strings.ToLower(d.Counterparty), "север")
		}},
		{"search two words", storage.DocQuery{Search: "Договор пост"}, func(d *flows.Document) bool { return strings.Contains(d.Title, "поставки") }},
		{"search a number", storage.DocQuery{Search: all[3].Number}, func(d *flows.Document) bool { return d.Number == all[3].Number }},
		{"search punctuation", storage.DocQuery{Search: "«»"}, func(*flows.Document) bool { return false }},
		{"search FTS syntax", storage.DocQuery{Search: `север" OR title:*`}, func(*flows.Document) bool { return false }},
		{"overdue", storage.DocQuery{OverdueAt: now}, overdue},
		{"sidorov's overdue", storage.DocQuery{Reader: "sidorov", OverdueAt: now}, func(d *flows.Document) bool {
			return slices.Contains(d.Readers(), "sidorov") && overdue(d)
		}},
		{"director approves", storage.DocQuery{Approver: "director"}, func(d *flows.Document) bool {
			return slices.Contains(d.Readers(), "director") && d.Initiator != "director"
		}},
		{"started in a window", storage.DocQuery{StartedFrom: start.Add(10 * time.Hour), StartedBefore: start.Add(40 * time.Hour)}, func(d *flows.Document) bool {
			return !d.CreatedAt.Before(start.Add(10*time.Hour)) && d.CreatedAt.Before(start.Add(40*time.Hour))
		}},
		{"amount from 3 to 8 million", storage.DocQuery{AmountMin: ptr(int64(3_000_000_00)), AmountMax: ptr(int64(8_000_000_00))}, func(d *flows.Document) bool {
			return d.HasAmount && d.AmountMinor >= 3_000_000_00 && d.AmountMinor <= 8_000_000_00
		}},
		{"amount at least 5 million, kuznetsova's reading", storage.DocQuery{Reader: "kuznetsova", AmountMin: ptr(int64(5_000_000_00))}, func(d *flows.Document) bool {
			return slices.Contains(d.Readers(), "kuznetsova") && d.HasAmount && d.AmountMinor >= 5_000_000_00
		}},
	}
	// The same date window read the other way: as if it held thousands.
	i := slices.IndexFunc(tests, func(tc struct {
		name string
		q    storage.DocQuery
		keep func(*flows.Document) bool
	}) bool {
		return tc.name == "started in a window"
	})
	wide := tests[i]
	wide.name = "started in a window, read newest first"
	tests = append(tests, wide)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if i == len(tests)-1 {
				storage.SetWideDateRange(t, 3)
			}
			var want []string
			for _, d := range all {
				if tc.keep(d) {
					want = append(want, d.Number)
				}
			}
			var got []string
			q := tc.q
			q.Limit = 5
			for q.Offset = 0; q.Offset < 100; q.Offset += q.Limit {
				page, err := r.DB.DocumentPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range page {
					got = append(got, d.Number)
				}
				if len(page) < q.Limit {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages\n%v\nwant\n%v", got, want)
			}
			if n, err := r.DB.CountDocuments(ctx, tc.q); err != nil || n != len(want) {
				t.Errorf("count = %d, %v; want %d", n, err, len(want))
			}
		})
	}
	if len(all) != 24 {
		t.Fatalf("%d documents", len(all))
	}
}

func TestDocumentPageSorts(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	page := func(sort string) []*flows.Document {
		docs, err := r.DB.DocumentPage(ctx, storage.DocQuery{Sort: sort, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return docs
	}
	byNumber := page("number")
	if !slices.IsSortedFunc(byNumber, func(a, b *flows.Document) int { return strings.Compare(a.Number, b.Number) }) || len(byNumber) != 24 {
		t.Error("by number: not in order")
	}
	amounts := page("amount")
	amount := func(d *flows.Document) int64 { // documents without one last
		if !d.HasAmount {
			return -1
		}
		return d.AmountMinor
	}
	for i := 1; i < len(amounts); i++ {
		if amount(amounts[i-1]) < amount(amounts[i]) {
			t.Errorf("by amount: %d before %d", amount(amounts[i-1]), amount(amounts[i]))
		}
	}
	// Waiting: only documents someone holds a task on, the longest waiting
	// (the oldest open task) first.
	waiting := page("waiting")
	var firsts []int64
	for _, d := range waiting {
		open := d.OpenTasks()
		if len(open) == 0 {
			t.Fatalf("%s waits on nobody", d.Number)
		}
		first := open[0].ID
		for _, tk := range open {
			first = min(first, tk.ID)
		}
		firsts = append(firsts, first)
	}
	if !slices.IsSorted(firsts) || len(waiting) == 0 {
		t.Errorf("waiting order: %v", firsts)
	}
}

// TestReadersIndexFollowsDocuments: after every kind of command, the
// readers index holds exactly who may read each document.
func TestReadersIndexFollowsDocuments(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	all, _ := r.DB.AllDocuments(ctx)
	for _, p := range r.Dir.People {
		docs, err := r.DB.DocumentPage(ctx, storage.DocQuery{Reader: p.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, d := range docs {
			got[d.Number] = true
		}
		for _, d := range all {
			if may := r.Engine.MayRead(d, p.ID) || r.Dir.IsViewer(p.ID); slices.Contains(d.Readers(), p.ID) != got[d.Number] && !r.Dir.IsViewer(p.ID) {
				t.Errorf("%s on %s: indexed %v, may read %v", p.ID, d.Number, got[d.Number], may)
			}
		}
	}
}

// TestPagesUseIndexes: a person's page is read through the readers index,
// a search through the full-text index, and neither sorts the register.
func TestPagesUseIndexes(t *testing.T) {
	storagetest.SQLiteOnly(t) // SQLite's query plans
	r := register(t)
	ctx := context.Background()
	tests := []struct {
		q          storage.DocQuery
		want, none []string
	}{
		{storage.DocQuery{}, nil, []string{"TEMP B-TREE"}},
		{storage.DocQuery{Reader: "petrov"}, []string{"USING PRIMARY KEY"}, []string{"TEMP B-TREE", "SCAN d\n", "SCAN r"}},
		{storage.DocQuery{Search: "север"}, []string{"VIRTUAL TABLE INDEX"}, nil},
		{storage.DocQuery{Sort: "number"}, []string{"sqlite_autoindex_documents"}, []string{"TEMP B-TREE"}},
		{storage.DocQuery{Sort: "amount"}, []string{"documents_amount"}, []string{"TEMP B-TREE"}},
		{storage.DocQuery{Approver: "director"}, []string{"USING PRIMARY KEY"}, []string{"TEMP B-TREE"}},
		// A person's active documents: the moving ones, each checked
		// against the person — not everything the person ever saw.
		{storage.DocQuery{Reader: "petrov", Active: true}, []string{"documents_state"}, []string{"SCAN r"}},
		// A narrow date range by its index (then sorted: it is small).
		{storage.DocQuery{StartedFrom: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), StartedBefore: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)},
			[]string{"documents_created"}, nil},
	}
	for _, tc := range tests {
		plan, err := r.DB.QueryPlan(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(plan+"\n", w) {
				t.Errorf("%+v: plan lacks %q:\n%s", tc.q, w, plan)
			}
		}
		for _, n := range tc.none {
			if strings.Contains(plan+"\n", n) {
				t.Errorf("%+v: plan has %q:\n%s", tc.q, n, plan)
			}
		}
	}
	// A wide date range is read newest first, never sorted whole.
	storage.SetWideDateRange(t, 0)
	plan, err := r.DB.QueryPlan(ctx, storage.DocQuery{StartedFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "documents_created") {
		t.Errorf("a wide date range sorts or goes by the date index:\n%s", plan)
	}
}

// TestKeysetChunks: reading the register in chunks by BeforeID (as the
// export does) gives every document once, newest first.
func TestKeysetChunks(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	for _, reader := range []flows.PersonID{"", "petrov", "ivanova"} {
		want, err := r.DB.DocumentPage(ctx, storage.DocQuery{Reader: reader, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got []*flows.Document
		q := storage.DocQuery{Reader: reader, Limit: 4}
		for range 20 {
			docs, err := r.DB.DocumentPage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, docs...)
			if len(docs) < q.Limit {
				break
			}
			q.BeforeID = docs[len(docs)-1].ID
		}
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("reader %q: %d in chunks, %d at once", reader, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Errorf("reader %q: chunk order differs at %d", reader, i)
			}
		}
	}
}

// TestKeysetBothWays: from any page, the page after (BeforeID its last)
// and the page before (AfterID its first) are the neighbours OFFSET gives.
func TestKeysetBothWays(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	for _, reader := range []flows.PersonID{"", "ivanova"} {
		page := func(q storage.DocQuery) []string {
			q.Reader, q.Limit = reader, 5
			docs, err := r.DB.DocumentPage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, d := range docs {
				out = append(out, fmt.Sprint(d.ID))
			}
			return out
		}
		second := page(storage.DocQuery{Offset: 5})
		third := page(storage.DocQuery{Offset: 10})
		first := page(storage.DocQuery{})
		var last, firstOfSecond int64
		fmt.Sscan(second[len(second)-1], &last)
		fmt.Sscan(second[0], &firstOfSecond)
		if got := page(storage.DocQuery{BeforeID: last}); !slices.Equal(got, third) {
			t.Errorf("reader %q: after page 2 came %v, want %v", reader, got, third)
		}
		if got := page(storage.DocQuery{AfterID: firstOfSecond}); !slices.Equal(got, first) {
			t.Errorf("reader %q: before page 2 came %v, want %v", reader, got, first)
		}
	}
}

// TestDecisionCounters: /metrics' decision counts, taken from the events
// after the last count, agree with counting the whole log — after more
// decisions, and with scrapes at once.
func TestDecisionCounters(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	want := func() map[string]int {
		events, err := r.DB.AuditSince(ctx, 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, e := range events {
			switch e.Kind {
			case flows.ActionApprove, flows.ActionReject, flows.ActionComment, flows.ActionAcknowledge:
				out[e.Kind]++
			case flows.ActionDone:
				if e.TaskID != 0 {
					out[e.Kind]++
				}
			}
		}
		return out
	}
	check := func(when string) {
		t.Helper()
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.DB.Stats(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		st, err := r.DB.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if w := want(); fmt.Sprint(st.Decisions) != fmt.Sprint(w) || len(w) == 0 {
			t.Errorf("%s: counted %v, the log has %v", when, st.Decisions, w)
		}
	}
	check("first scrape")
	d, _ := r.DB.DocumentPage(ctx, storage.DocQuery{State: flows.StateInApproval, Limit: 1})
	task := d[0].OpenTasks()[0]
	if _, err := r.Engine.Decide(ctx, flows.DecideCmd{Key: "more", Actor: task.Assignee, TaskID: task.ID, Action: flows.ActionComment,
		Comment: "ещё"}); err != nil {
		t.Fatal(err)
	}
	check("after another decision")
}

func ptr[T any](v T) *T { return &v }

// TestCountStopsAtItsLimit: a count asked to stop at a limit says "more"
// past it, and the exact number up to it.
func TestCountStopsAtItsLimit(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	all, err := r.DB.CountDocuments(ctx, storage.DocQuery{})
	if err != nil || all < 5 {
		t.Fatalf("count %d %v", all, err)
	}
	for _, tc := range []struct {
		limit int
		n     int
		more  bool
	}{{0, all, false}, {all, all, false}, {all + 10, all, false}, {all - 1, all - 1, true}, {3, 3, true}} {
		n, more, err := r.DB.CountDocumentsUpTo(ctx, storage.DocQuery{}, tc.limit)
		if err != nil || n != tc.n || more != tc.more {
			t.Errorf("limit %d: %d %v %v, want %d %v", tc.limit, n, more, err, tc.n, tc.more)
		}
	}
}

// TestDecisionCountCatchesUpByChunks: after a long gap the count goes by
// chunks, each kept; a scrape whose budget runs out answers with what was
// counted so far, and the next ones go on from there — none starts over —
// until the counts are the log's.
func TestDecisionCountCatchesUpByChunks(t *testing.T) {
	r := register(t)
	ctx := context.Background()
	storage.SetDecisionCount(t, 3, 0) // three events a step, one step a scrape
	var events int
	if all, err := r.DB.AuditSince(ctx, 0, 100000); err != nil || len(all) < 10 {
		t.Fatalf("%d events, %v", len(all), err)
	} else {
		events = len(all)
	}
	total := func(st storage.Stats) int {
		n := 0
		for _, v := range st.Decisions {
			n += v
		}
		return n
	}
	prev, scrapes := -1, 0
	for ; scrapes < events; scrapes++ {
		st, err := r.DB.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := total(st); n < prev {
			t.Fatalf("scrape %d counted %d after %d: it started over", scrapes, n, prev)
		} else {
			prev = n
		}
	}
	storage.SetDecisionCount(t, 100000, time.Second)
	st, _ := r.DB.Stats(ctx)
	if total(st) != prev {
		t.Fatalf("after %d small scrapes %d were counted, a full count says %d", scrapes, prev, total(st))
	}
	if scrapes < 3 {
		t.Fatal("the catch-up was not split")
	}
}
