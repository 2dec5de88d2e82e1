package storage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/viza-app/viza/flows"
)

// txn implements flows.Tx on one write transaction.
type txn struct {
	ctx     context.Context
	w       *wconn
	db      *DB
	batch   *batch
	loaded  map[int64]taskIndexed             // task id → what the task tables held at load
	states  map[int64]string                  // document id → state at load
	nvers   map[int64]int                     // document id → how many versions it had at load
	nrounds map[int64]int                     // document id → how many rounds it had at load
	readers map[int64]map[flows.PersonID]bool // document id → who could read it at load
	pending map[int64]*flows.Document         // saved by this command
	rows    map[int64]*docRow                 // documents rows it changed, merged into the batch's when it succeeds
	marked  hours                             // hours whose facts it counted as written (markHours)
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	return t.w.ExecContext(t.ctx, q, args...)
}

func (t *txn) queryRow(q string, args ...any) row { return t.w.queryRow(q, args...) }

var _ flows.Tx = (*txn)(nil)

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadDocument(ctx context.Context, q queryer, where string, arg any) (*flows.Document, error) {
	return scanDocument(q.QueryRowContext(ctx, `SELECT id, body FROM documents WHERE `+where, arg).Scan, where, arg)
}

func scanDocument(scan func(...any) error, where string, arg any) (*flows.Document, error) {
	var id int64
	var b body
	err := scan(&id, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flows.Errorf(flows.KindNotFound, "doc_not_found", "document %s %v", where, arg)
	}
	if err != nil {
		return nil, fmt.Errorf("load document %v: %w", arg, err)
	}
	return decodeDocument(id, b)
}

// load reads a document for a command and remembers its tasks' states, so
// that SaveDocument writes only what changed.
func (t *txn) load(q, where string, arg any) (*flows.Document, error) {
	d, err := scanDocument(t.queryRow(q, arg).Scan, where, arg)
	if err != nil {
		return nil, err
	}
	t.remember(d)
	return d, nil
}

// taskIndexed is what the task tables hold of a task: the open ones are
// listed under their assignee.
type taskIndexed struct {
	open     bool
	assignee flows.PersonID
	// state and closed decide whether analytics' row of the task changed.
	state  string
	closed int64
}

func indexed(tk flows.Task) taskIndexed {
	return taskIndexed{open: tk.State == flows.TaskOpen, assignee: tk.Assignee, state: tk.State, closed: tk.ClosedAt.UnixNano()}
}

func (t *txn) Document(id int64) (*flows.Document, error) {
	if d := t.cached(id); d != nil {
		return d, nil
	}
	return t.load(qDocByID, "id", id)
}

// DocumentByNumber finds the id first: the row's body may be older than a
// save earlier in the batch (see docRow), and Document knows the newer one.
func (t *txn) DocumentByNumber(number string) (*flows.Document, error) {
	return t.documentVia(qDocIDByNumber, number, "doc_not_found", "document number")
}

func (t *txn) DocumentOfTask(taskID int64) (*flows.Document, error) {
	if id, ok := t.db.cache.docOfTask(taskID, t.pending, t.batch.pending); ok {
		return t.Document(id)
	}
	return t.documentVia(qDocOfTask, taskID, "task_not_found", "task")
}

// documentVia reads the document whose id q finds for arg; what names arg
// in errors, and code is the not-found error's.
func (t *txn) documentVia(q string, arg any, code, what string) (*flows.Document, error) {
	var id int64
	err := t.queryRow(q, arg).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flows.Errorf(flows.KindNotFound, code, "%s %v", what, arg)
	}
	if err != nil {
		return nil, fmt.Errorf("find the document of %s %v: %w", what, arg, err)
	}
	return t.Document(id)
}

// cached returns a private copy of a document the writer saved earlier —
// in this transaction or in a committed one — sparing the JSON decode that
// dominates a command's cost.
func (t *txn) cached(id int64) *flows.Document {
	d := t.db.cache.get(id, t.pending, t.batch.pending)
	if d == nil {
		return nil
	}
	c := d.Clone()
	t.remember(c)
	return c
}

func (t *txn) remember(d *flows.Document) {
	if t.loaded == nil {
		t.loaded, t.states, t.readers = map[int64]taskIndexed{}, map[int64]string{}, map[int64]map[flows.PersonID]bool{}
		t.nvers, t.nrounds = map[int64]int{}, map[int64]int{}
	}
	t.states[d.ID] = d.State
	t.nvers[d.ID] = len(d.Versions)
	t.nrounds[d.ID] = len(d.Rounds)
	known := map[flows.PersonID]bool{}
	for _, p := range d.Readers() {
		known[p] = true
	}
	t.readers[d.ID] = known
	for _, tk := range d.Tasks {
		t.loaded[tk.ID] = indexed(tk)
	}
}

func (t *txn) NextSequence(name string) (int64, error) {
	var v int64
	err := t.queryRow(qNextSequence, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next %s: %w", name, err)
	}
	return v, nil
}

func (t *txn) SaveDocument(d *flows.Document) error {
	now := time.Now().UnixNano()
	// A version's text is read only once there is something to compare it
	// with: most documents never get a second version. When one comes,
	// every version is queued (the earlier ones too; one already read
	// keeps its row).
	var texts []string
	fresh := false
	for i, v := range d.Versions {
		if v.Scan || v.SHA256 == "" {
			continue
		}
		texts = append(texts, v.SHA256)
		fresh = fresh || i >= t.nvers[d.ID] // a new document has none at load
	}
	if fresh && len(texts) >= 2 {
		if err := t.queueTexts(texts); err != nil {
			return err
		}
	}
	if d.ID == 0 {
		body, err := t.db.bodies.encode(d)
		if err != nil {
			return err
		}
		q, args := qInsertDocument, []any{d.Number, d.TypeID, d.Title, d.Counterparty, amountArg(d), d.Currency, string(d.Initiator), d.State,
			d.CreatedAt.UnixNano(), now, nanos(d.FinishedAt), body, d.ExternalID}
		if t.db.pg {
			q, args = qInsertDocumentPG, append(args, searchWords(d.Number, d.Title, d.Counterparty), searchWords(d.Counterparty))
		}
		err = t.queryRow(q, args...).Scan(&d.ID)
		if isConstraint(err) {
			return flows.Errorf(flows.KindConflict, "duplicate_number", "number %s exists", d.Number)
		}
		if err != nil {
			return fmt.Errorf("insert document %s: %w", d.Number, err)
		}
	} else {
		r := t.row(d.ID)
		r.doc, r.updatedAt = d, now
		r.stateWas, r.knownWas = t.states[d.ID]
	}
	for _, tk := range d.Tasks {
		if err := t.indexTask(d, tk); err != nil {
			return fmt.Errorf("index task %d: %w", tk.ID, err)
		}
	}
	if err := t.saveDocFact(d); err != nil {
		return err
	}
	if t.readers == nil {
		t.readers = map[int64]map[flows.PersonID]bool{}
	}
	if err := t.indexReaders(d); err != nil {
		return err
	}
	t.pending[d.ID] = d
	return nil
}

func amountArg(d *flows.Document) any {
	if d.HasAmount {
		return d.AmountMinor
	}
	return nil
}

// docRow is what a batch still has to write to a document's row. Rows are
// written when the batch ends, not at SaveDocument: the events recorded
// after a save move the document's head (documents.last_event), so one
// UPDATE carries both, and a document changed by several commands of a
// batch is encoded and written once.
type docRow struct {
	doc       *flows.Document // the state to write; nil when only the head moved
	updatedAt int64
	stateWas  string // the state the row holds, when knownWas
	knownWas  bool
	lastEvent int64 // the document's newest event; 0 if none in this batch
}

func (t *txn) row(docID int64) *docRow {
	if t.rows == nil {
		t.rows = map[int64]*docRow{}
	}
	r := t.rows[docID]
	if r == nil {
		r = &docRow{}
		t.rows[docID] = r
	}
	return r
}

// mergeRows adds a command's rows to its batch's, once the command has
// succeeded.
func (b *batch) mergeRows(rows map[int64]*docRow) {
	for id, r := range rows {
		br := b.rows[id]
		if br == nil {
			b.rows[id] = r
			continue
		}
		if r.doc != nil {
			br.doc, br.updatedAt = r.doc, r.updatedAt
		}
		if !br.knownWas {
			br.stateWas, br.knownWas = r.stateWas, r.knownWas
		}
		if r.lastEvent != 0 {
			br.lastEvent = r.lastEvent
		}
	}
}

// indexTask brings the task tables in line with a task of the aggregate.
// They are indexes of it, and most commands change one or two tasks of
// many, so only the differences from the load are written.
func (t *txn) indexTask(d *flows.Document, tk flows.Task) error {
	docID := d.ID
	now := indexed(tk)
	was, known := t.loaded[tk.ID]
	if known && was == now {
		return nil
	}
	if err := t.saveTaskFact(d, tk); err != nil {
		return err
	}
	if !known {
		if _, err := t.exec(qInsertTask, tk.ID, docID); err != nil {
			return err
		}
	}
	if was.open {
		if _, err := t.exec(qDeleteOpenTask, string(was.assignee), tk.ID); err != nil {
			return err
		}
	}
	if now.open {
		if _, err := t.exec(qInsertOpenTask, string(tk.Assignee), tk.ID, docID, nanos(tk.Due)); err != nil {
			return err
		}
	}
	return nil
}

// auditContent is what an audit event's hash covers, in a fixed field
// order so that verify recomputes the same bytes.
type auditContent struct {
	DocID   int64  `json:"doc"`
	At      int64  `json:"at"`
	Actor   string `json:"actor"`
	For     string `json:"for"`
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	TaskID  int64  `json:"task"`
	Detail  string `json:"detail"`
}

func chainHash(prev string, c auditContent) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode audit event: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// scanLastEvent reads the id and hash of the newest audit event from
// qLastEvent's row; an empty log has neither.
func scanLastEvent(scan func(...any) error) (int64, string, error) {
	var id int64
	var h string
	err := scan(&id, &h)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("last audit event: %w", err)
	}
	return id, h, nil
}

func (t *txn) Record(events []flows.AuditEvent, notes []flows.Notification) error {
	prev := t.batch.head
	for _, e := range events {
		c := auditContent{DocID: e.DocID, At: e.At.UnixNano(), Actor: string(e.Actor), For: string(e.For), Kind: e.Kind,
			Version: e.Version, TaskID: e.TaskID, Detail: e.Detail}
		h, err := t.db.hashEvent(t.batch.lastAudit+1, prev, c)
		if err != nil {
			return err
		}
		r := t.row(e.DocID)
		var docPrev any // NULL: the head in the row, which the batch has not moved
		if r.lastEvent != 0 {
			docPrev = r.lastEvent
		} else if br := t.batch.rows[e.DocID]; br != nil && br.lastEvent != 0 {
			docPrev = br.lastEvent
		}
		// The writer alone appends to the log, so it numbers the events
		// itself and they can be inserted with the batch's (see flush).
		t.batch.lastAudit++
		r.lastEvent = t.batch.lastAudit
		t.batch.audit = append(t.batch.audit, r.lastEvent, c.DocID, c.At, c.Actor, c.For, c.Kind, c.Version, c.TaskID, c.Detail, prev, h,
			docPrev, c.DocID)
		prev = h
		t.batch.head = h
	}
	// The notifications join the batch's and are inserted with them before
	// it commits: one statement for the batch's instead of one per command.
	t.batch.notes = append(t.batch.notes, notes...)
	return nil
}

func (t *txn) ActiveAbsence(p flows.PersonID, at time.Time) (flows.Absence, bool, error) {
	var a flows.Absence
	var from, to int64
	err := t.queryRow(qActiveAbsence, string(p), at.UnixNano(), at.UnixNano()).
		Scan(&a.Deputy, &from, &to)
	if errors.Is(err, sql.ErrNoRows) {
		return flows.Absence{}, false, nil
	}
	if err != nil {
		return flows.Absence{}, false, fmt.Errorf("absence of %s: %w", p, err)
	}
	a.Person, a.From, a.To = p, time.Unix(0, from), time.Unix(0, to)
	return a, true, nil
}

func (t *txn) PutAbsence(a flows.Absence, by flows.PersonID, at time.Time) error {
	_, err := t.exec(`INSERT INTO absences(person, deputy, from_at, to_at, created_by, created_at) VALUES (?,?,?,?,?,?)`,
		string(a.Person), string(a.Deputy), a.From.UnixNano(), a.To.UnixNano(), string(by), at.UnixNano())
	if err != nil {
		return fmt.Errorf("store absence of %s: %w", a.Person, err)
	}
	return nil
}

// Document implements flows.Store for reads outside a write.
func (db *DB) Document(ctx context.Context, id int64) (*flows.Document, error) {
	return loadDocument(ctx, db.reader, "id = ?", id)
}

// DocumentByNumber implements flows.Store.
func (db *DB) DocumentByNumber(ctx context.Context, number string) (*flows.Document, error) {
	return loadDocument(ctx, db.reader, "number = ?", number)
}

var _ flows.Store = (*DB)(nil)

// OpenTask is a row of the tasks index.
type OpenTask struct {
	ID       int64
	DocID    int64
	Assignee flows.PersonID
	Due      time.Time
}

// OpenTasksOfDocument lists a document's open tasks, in order.
func (db *DB) OpenTasksOfDocument(ctx context.Context, docID int64) ([]OpenTask, error) {
	d, err := db.Document(ctx, docID)
	if err != nil {
		return nil, err
	}
	var out []OpenTask
	for _, tk := range d.OpenTasks() {
		out = append(out, OpenTask{ID: tk.ID, DocID: d.ID, Assignee: tk.Assignee, Due: tk.Due})
	}
	slices.SortFunc(out, func(a, b OpenTask) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// OpenTasksOf lists a person's open tasks, oldest first.
func (db *DB) OpenTasksOf(ctx context.Context, p flows.PersonID) ([]OpenTask, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, doc_id, assignee, due_at FROM open_tasks WHERE assignee = ? ORDER BY id`, string(p))
	if err != nil {
		return nil, fmt.Errorf("open tasks of %s: %w", p, err)
	}
	return scanOpenTasks(rows)
}

// OpenTasks lists every open task, by id: the work in progress, which
// stays small however long the register grows.
func (db *DB) OpenTasks(ctx context.Context) ([]OpenTask, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id, doc_id, assignee, due_at FROM open_tasks ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("open tasks: %w", err)
	}
	return scanOpenTasks(rows)
}

func scanOpenTasks(rows *sql.Rows) ([]OpenTask, error) {
	defer rows.Close()
	var out []OpenTask
	for rows.Next() {
		var t OpenTask
		var assignee string
		var due sql.NullInt64
		if err := rows.Scan(&t.ID, &t.DocID, &assignee, &due); err != nil {
			return nil, fmt.Errorf("scan task: %w", err)
		}
		t.Assignee, t.Due = flows.PersonID(assignee), fromNanos(due)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DocumentOfTask reads the document a task belongs to.
func (db *DB) DocumentOfTask(ctx context.Context, taskID int64) (*flows.Document, error) {
	d, err := loadDocument(ctx, db.reader, "id = (SELECT doc_id FROM tasks WHERE id = ?)", taskID)
	if flows.ErrorKind(err) == flows.KindNotFound {
		return nil, flows.Errorf(flows.KindNotFound, "task_not_found", "task %d", taskID)
	}
	return d, err
}

// RequestDelivered implements flows.Tx: a task's request reached its
// holder when one of its task_assigned notifications has a sent delivery.
// Retention removes only delivered notifications, so a task whose request
// has none left was delivered long ago.
func (t *txn) RequestDelivered(docID, taskID int64) (bool, error) {
	seen, sent := false, false
	err := t.w.queryRows(`SELECT n.payload, (SELECT COUNT(*) FROM deliveries dl WHERE dl.notification_id = n.id AND dl.state = 'sent')
		FROM notifications n WHERE n.doc_id = ? AND n.kind = ?`, []any{docID, flows.NoteTaskAssigned}, func(v []driver.Value) error {
		var n struct {
			TaskID int64 `json:"task_id"`
		}
		raw, _ := v[0].(string)
		if b, ok := v[0].([]byte); ok {
			raw = string(b)
		}
		if json.Unmarshal([]byte(raw), &n) != nil || n.TaskID != taskID {
			return nil
		}
		seen = true
		if c, ok := v[1].(int64); ok && c > 0 {
			sent = true
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("deliveries of task %d: %w", taskID, err)
	}
	return sent || !seen, nil
}
