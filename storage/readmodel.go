package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/viza-app/viza/flows"
)

// goMigrations are the steps of a migration that SQL cannot take, run in
// its transaction after its SQL.
var goMigrations = map[int]func(ctx context.Context, tx *sql.Tx) error{
	9: backfillReaders,
}

// goMigrationsPG are PostgreSQL's, by its own numbering.
var goMigrationsPG = map[int]func(ctx context.Context, tx *sql.Tx) error{}

// backfillReaders fills the readers index from the documents' bodies.
func backfillReaders(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, body FROM documents`)
	if err != nil {
		return fmt.Errorf("read documents: %w", err)
	}
	var docs []*flows.Document
	for rows.Next() {
		var id int64
		var b body
		if err := rows.Scan(&id, &b); err != nil {
			rows.Close()
			return fmt.Errorf("scan document: %w", err)
		}
		d, err := decodeDocument(id, b)
		if err != nil {
			rows.Close()
			return err
		}
		docs = append(docs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range docs {
		for _, p := range d.Readers() {
			if _, err := tx.ExecContext(ctx, qInsertReader, string(p), d.ID); err != nil {
				return fmt.Errorf("index readers of %s: %w", d.Number, err)
			}
		}
	}
	return nil
}

// indexReaders adds the people who may now read d and could not when the
// command loaded it: the list only grows, so most commands add none.
func (t *txn) indexReaders(d *flows.Document) error {
	known := t.readers[d.ID]
	for _, p := range d.Readers() {
		if known[p] {
			continue
		}
		if _, err := t.exec(qInsertReader, string(p), d.ID); err != nil {
			return fmt.Errorf("index reader %s of %s: %w", p, d.Number, err)
		}
		if known == nil {
			known = map[flows.PersonID]bool{}
			t.readers[d.ID] = known
		}
		known[p] = true
	}
	return nil
}

// DocQuery chooses a page of the register. Zero fields do not filter.
type DocQuery struct {
	// Reader limits the page to the documents a person who is not a viewer
	// may read; empty for a viewer, who reads every one.
	Reader    flows.PersonID
	State     string
	Active    bool // not finished: in approval, sent back, being signed
	Type      string
	Initiator flows.PersonID
	// Search is words to find in number, title and counterparty (each a
	// word's beginning, all of them).
	Search string
	// Counterparty is words to find in the counterparty alone.
	Counterparty string
	// OverdueAt keeps documents with an open task due before it.
	OverdueAt time.Time
	// Approver keeps documents whose route names the person (asked, or to
	// be asked) and which they did not start themselves.
	Approver flows.PersonID
	// StartedFrom and StartedBefore keep documents started in [from, before).
	StartedFrom, StartedBefore time.Time
	// AmountMin and AmountMax keep documents with an amount in [min, max]
	// (minor units); documents without an amount drop out when either is set.
	AmountMin, AmountMax *int64
	// Sort is "" (newest first), number, amount (largest first), state or
	// waiting (documents waiting on someone, longest first).
	Sort          string
	Offset, Limit int
	// BeforeID keeps documents older than it, AfterID newer ones (newest
	// first either way): keysets for the next and the previous page, and
	// for reading the whole register in chunks, that cost a page however
	// deep it is.
	BeforeID, AfterID int64

	// wideDates is set by DocumentPage when the start dates match many
	// documents (see datesAreWide).
	wideDates bool
}

// wideDateRange is how many documents a start-date range may match before
// a page is better read newest first, skipping the ones outside it, than
// found by the date index and sorted.
var wideDateRange = 2000

// datesAreWide reports whether q's start dates match more than
// wideDateRange documents. The planner cannot tell a day from a year; a
// count over the date index, which stops at the limit, can, for a
// fraction of what sorting a year's documents would cost.
func (db *DB) datesAreWide(ctx context.Context, q DocQuery) (bool, error) {
	if q.StartedFrom.IsZero() && q.StartedBefore.IsZero() {
		return false, nil
	}
	from, before := int64(0), int64(1<<63-1)
	if !q.StartedFrom.IsZero() {
		from = q.StartedFrom.UnixNano()
	}
	if !q.StartedBefore.IsZero() {
		before = q.StartedBefore.UnixNano()
	}
	var n int
	err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM documents WHERE created_at >= ? AND created_at < ? LIMIT ?) AS matched`,
		from, before, wideDateRange+1).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("count documents in the date range: %w", err)
	}
	return n > wideDateRange, nil
}

// searchWords is what PostgreSQL searches for a document's texts: their
// words, folded as SQLite's full-text tokenizer folds them (case, ё), each
// after a space, so that "starts a word" is LIKE '% word%' whatever the
// database's locale.
func searchWords(texts ...string) string {
	var b strings.Builder
	for _, t := range texts {
		for _, w := range words(t) {
			b.WriteByte(' ')
			b.WriteString(w)
		}
	}
	return b.String()
}

// words splits typed text into folded words.
func words(s string) []string {
	out := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i, w := range out {
		out[i] = strings.ReplaceAll(strings.ToLower(w), "ё", "е")
	}
	return out
}

// wordConds requires each typed word to start a word of column (see
// searchWords).
func wordConds(column, typed string) (conds []string, args []any) {
	for _, w := range words(typed) {
		conds, args = append(conds, `d.`+column+` LIKE ?`), append(args, "% "+w+"%")
	}
	return conds, args
}

// ftsQuery turns typed words into an FTS5 query of word prefixes, every
// one required; the words are quoted, so nothing typed is FTS syntax.
func ftsQuery(s string) string {
	var parts []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		parts = append(parts, `"`+w+`"*`)
	}
	return strings.Join(parts, " ")
}

// activeStates are the states a document is still moving in.
var activeStates = []string{flows.StateDraft, flows.StateInApproval, flows.StateChangesRequested, flows.StateSigning}

// joinsReaders says whether a person's documents are read through their
// readers rows (all they ever took part in, newest first) — or, for
// what is active, through the documents still moving, each checked
// against the person: then the cost is what is active, not the person's
// whole history.
func (q DocQuery) joinsReaders() bool { return q.Reader != "" && !q.Active }

func (q DocQuery) where(pg bool) (from, where string, args []any) {
	from = `documents d`
	var conds []string
	if q.joinsReaders() {
		from += ` JOIN readers r ON r.doc_id = d.id AND r.person = ?`
		args = append(args, string(q.Reader))
	}
	if q.Sort == "waiting" {
		from += ` JOIN (SELECT doc_id, MIN(id) AS first_task FROM open_tasks GROUP BY doc_id) w ON w.doc_id = d.id`
	}
	if q.State != "" {
		conds, args = append(conds, `d.state = ?`), append(args, q.State)
	}
	if q.Active {
		conds = append(conds, `d.state IN (?, ?, ?, ?)`)
		for _, s := range activeStates {
			args = append(args, s)
		}
		if q.Reader != "" {
			conds = append(conds, `EXISTS (SELECT 1 FROM readers r WHERE r.person = ? AND r.doc_id = d.id)`)
			args = append(args, string(q.Reader))
		}
	}
	if q.Type != "" {
		conds, args = append(conds, `d.type = ?`), append(args, q.Type)
	}
	if q.Initiator != "" {
		conds, args = append(conds, `d.initiator = ?`), append(args, string(q.Initiator))
	}
	switch fq := ftsQuery(q.Search); {
	case fq != "" && pg:
		c, a := wordConds("words", q.Search)
		conds, args = append(conds, c...), append(args, a...)
	case fq != "":
		conds, args = append(conds, `d.id IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?)`), append(args, fq)
	case strings.TrimSpace(q.Search) != "":
		conds = append(conds, `FALSE`) // only punctuation: nothing matches
	}
	switch fq := ftsQuery(q.Counterparty); {
	case fq != "" && pg:
		c, a := wordConds("cp_words", q.Counterparty)
		conds, args = append(conds, c...), append(args, a...)
	case fq != "":
		conds, args = append(conds, `d.id IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?)`), append(args, "counterparty : ("+fq+")")
	}
	key := `d.id`
	if q.joinsReaders() {
		key = `r.doc_id`
	}
	if q.BeforeID > 0 {
		conds, args = append(conds, key+` < ?`), append(args, q.BeforeID)
	}
	if q.AfterID > 0 {
		conds, args = append(conds, key+` > ?`), append(args, q.AfterID)
	}
	if q.Approver != "" {
		conds = append(conds, `d.id IN (SELECT doc_id FROM readers WHERE person = ?) AND d.initiator <> ?`)
		args = append(args, string(q.Approver), string(q.Approver))
	}
	created := `d.created_at`
	if q.wideDates {
		created = `+d.created_at` // unary plus: not by the date index
	}
	if !q.StartedFrom.IsZero() {
		conds, args = append(conds, created+` >= ?`), append(args, q.StartedFrom.UnixNano())
	}
	if !q.StartedBefore.IsZero() {
		conds, args = append(conds, created+` < ?`), append(args, q.StartedBefore.UnixNano())
	}
	if q.AmountMin != nil {
		conds, args = append(conds, `d.amount_minor >= ?`), append(args, *q.AmountMin)
	}
	if q.AmountMax != nil {
		conds, args = append(conds, `d.amount_minor <= ?`), append(args, *q.AmountMax)
	}
	if !q.OverdueAt.IsZero() {
		conds = append(conds, `d.id IN (SELECT doc_id FROM open_tasks WHERE due_at IS NOT NULL AND due_at < ?)`)
		args = append(args, q.OverdueAt.UnixNano())
	}
	where = `TRUE`
	if len(conds) > 0 {
		where = strings.Join(conds, ` AND `)
	}
	return from, where, args
}

// order is the ORDER BY of a query: a person's newest first follows the
// readers index, so that their page is read in order, not sorted.
func (q DocQuery) order() string {
	if q.AfterID > 0 && q.Sort == "" {
		// The page just newer than AfterID: read upwards, turned round
		// by DocumentPage.
		if q.joinsReaders() {
			return `r.doc_id ASC`
		}
		return `d.id ASC`
	}
	if q.joinsReaders() && q.Sort == "" {
		return `r.doc_id DESC`
	}
	if o, ok := docOrders[q.Sort]; ok {
		return o
	}
	return docOrders[""]
}

var docOrders = map[string]string{
	"":        `d.id DESC`,
	"number":  `d.number`,
	"amount":  `d.amount_minor DESC NULLS LAST, d.id DESC`,
	"state":   `d.state, d.id DESC`,
	"waiting": `w.first_task, d.id DESC`,
}

// DocumentPage reads one page of the register. Its cost is the page's
// documents and the index entries before it, not the register's size.
func (db *DB) DocumentPage(ctx context.Context, q DocQuery) ([]*flows.Document, error) {
	var err error
	if q.wideDates, err = db.datesAreWide(ctx, q); err != nil {
		return nil, err
	}
	order := q.order()
	from, where, args := q.where(db.pg)
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit, max(q.Offset, 0))
	docs, err := db.documents(ctx, `SELECT d.id, d.body FROM `+from+` WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`, args...)
	if q.AfterID > 0 && q.Sort == "" {
		slices.Reverse(docs)
	}
	return docs, err
}

// CountDocuments counts what DocumentPage pages through.
func (db *DB) CountDocuments(ctx context.Context, q DocQuery) (int, error) {
	n, _, err := db.CountDocumentsUpTo(ctx, q, 0)
	return n, err
}

// CountDocumentsUpTo counts what DocumentPage pages through, up to limit
// (0: all): past it, more is true and n is limit. A page says "more than
// 1,000" rather than count a register of 100,000 at every view.
func (db *DB) CountDocumentsUpTo(ctx context.Context, q DocQuery, limit int) (n int, more bool, err error) {
	from, where, args := q.where(db.pg)
	query := `SELECT COUNT(*) FROM ` + from + ` WHERE ` + where
	if limit > 0 {
		query = `SELECT COUNT(*) FROM (SELECT 1 FROM ` + from + ` WHERE ` + where + ` LIMIT ?) AS matched`
		args = append(args, limit+1)
	}
	if err := db.reader.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count documents: %w", err)
	}
	if limit > 0 && n > limit {
		return limit, true, nil
	}
	return n, false, nil
}
