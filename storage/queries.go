package storage

import (
	"strings"
	"sync"
)

// The writer's statements, prepared once on its connection at Open: parsing
// SQL costs more than running it in modernc.org/sqlite.
const (
	qNextSequence = `INSERT INTO counters(name, value) VALUES (?, 1)
		ON CONFLICT(name) DO UPDATE SET value = counters.value + 1 RETURNING value`
	qInsertDocument = `INSERT INTO documents(number, type, title, counterparty, amount_minor, currency,
		initiator, state, created_at, updated_at, finished_at, body, external_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`
	// last_event is NULL when the command recorded no event.
	qUpdateDocument = `UPDATE documents SET title=?, counterparty=?, amount_minor=?, currency=?, state=?,
		updated_at=?, finished_at=?, body=?, last_event=COALESCE(?, last_event) WHERE id=?`
	// Most commands leave the state as it was; naming state in SET would
	// rewrite its index entry (one more page in the WAL) every time.
	qUpdateDocumentSameState = `UPDATE documents SET title=?, counterparty=?, amount_minor=?, currency=?,
		updated_at=?, finished_at=?, body=?, last_event=COALESCE(?, last_event) WHERE id=?`
	// PostgreSQL's, with the search words (see searchWords).
	qInsertDocumentPG = `INSERT INTO documents(number, type, title, counterparty, amount_minor, currency,
		initiator, state, created_at, updated_at, finished_at, body, external_id, words, cp_words) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`
	qUpdateDocumentPG = `UPDATE documents SET title=?, counterparty=?, amount_minor=?, currency=?, state=?,
		updated_at=?, finished_at=?, body=?, last_event=COALESCE(?, last_event), words=?, cp_words=? WHERE id=?`
	qSetDocumentHead = `UPDATE documents SET last_event=? WHERE id=?`
	qInsertTask      = `INSERT INTO tasks(id, doc_id) VALUES (?, ?)`
	qInsertOpenTask  = `INSERT INTO open_tasks(assignee, id, doc_id, due_at) VALUES (?, ?, ?, ?)`
	qDeleteOpenTask  = `DELETE FROM open_tasks WHERE assignee = ? AND id = ?`
	qActiveAbsence   = `SELECT deputy, from_at, to_at FROM absences
		WHERE person = ? AND from_at <= ? AND to_at > ? ORDER BY id DESC LIMIT 1`
	qAddCounter = `INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value`
	// A row that looks at a DSS operation (send 'dss') is not a reminder
	// anyone got: it is not counted.
	qCountReminder = `INSERT INTO counters(name, value) SELECT 'reminders_sent:' || send, 1 FROM reminders WHERE id = ? AND send <> 'dss'
		ON CONFLICT(name) DO UPDATE SET value = counters.value + 1`
	qInsertReader    = `INSERT INTO readers(person, doc_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qInboundLookup   = `SELECT doc_id, number, state, task_id, round, version, request FROM inbound WHERE key = ?`
	qDocByID         = `SELECT id, body FROM documents WHERE id = ?`
	qDocIDByNumber   = `SELECT id FROM documents WHERE number = ?`
	qDocOfTask       = `SELECT doc_id FROM tasks WHERE id = ?`
	qInsertReminder  = `INSERT INTO reminders(task_id, doc_id, step, send, due_at, every_min, every_day, sent_at) VALUES (?,?,?,?,?,?,?,?)`
	qCancelReminders = `UPDATE reminders SET cancelled = 1 WHERE task_id = ? AND sent_at IS NULL AND cancelled = 0`
	qMarkReminder    = `UPDATE reminders SET sent_at = ? WHERE id = ?`
	qLastManual      = `SELECT MAX(sent_at) FROM reminders WHERE task_id = ? AND step = -1`
	qLastEvent       = `SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1`
	qBegin           = `BEGIN IMMEDIATE`
	qCommit          = `COMMIT`
	qRollback        = `ROLLBACK`
)

var writerStatements = []string{qNextSequence, qInsertDocument, qUpdateDocument, qUpdateDocumentSameState, qSetDocumentHead, qInsertTask, qInsertOpenTask, qDeleteOpenTask,
	qActiveAbsence, qInboundLookup, qDocByID, qDocIDByNumber, qDocOfTask, qBegin, qCommit, qRollback,
	qInsertReminder, qCancelReminders, qMarkReminder, qLastManual, qInsertReader, qAddCounter, qCountReminder}

// A batch's audit events, notifications and keys are each inserted with
// one statement of many rows (see flush), and its keys looked up with one
// (see lookUpKeys): a statement's fixed cost is a good part of a row's.
var (
	// doc_prev links an event to its document's previous one: given when
	// the batch knows it, else the head in the document's row.
	auditRows = &repeated{
		head:    `INSERT INTO audit(id, doc_id, at, actor, on_behalf_of, kind, version, task_id, detail, prev_hash, hash, doc_prev) VALUES `,
		part:    `(?,?,?,?,?,?,?,?,?,?,?, COALESCE(?, (SELECT last_event FROM documents WHERE id = ?), 0))`,
		perPart: 13,
	}
	notificationRows = &repeated{
		head:    `INSERT INTO notifications(recipient, kind, doc_id, payload, created_at) VALUES `,
		part:    `(?,?,?,?,?)`,
		perPart: 5,
	}
	inboundRows = &repeated{
		head:    `INSERT INTO inbound(key, doc_id, number, state, task_id, round, version, request, at) VALUES `,
		part:    `(?,?,?,?,?,?,?,?,?)`,
		perPart: 9,
	}
	keyLookup = &repeated{
		head:    `SELECT key, doc_id, number, state, task_id, round, version, request FROM inbound WHERE key IN (`,
		part:    `?`,
		tail:    `)`,
		perPart: 1,
	}
)

// maxRowsPerInsert bounds one multi-row INSERT (SQLite allows 32766
// parameters).
const maxRowsPerInsert = 64

// repeated is a statement with a part repeated n times, separated by
// commas; its text for each n is built when first used. The statements are
// shared by every open database, hence the lock.
type repeated struct {
	head, part, tail string
	perPart          int // arguments each part takes

	mu    sync.Mutex
	texts map[int]string
}

func (r *repeated) text(n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := r.texts[n]; ok {
		return q
	}
	if r.texts == nil {
		r.texts = map[int]string{}
	}
	q := r.head + r.part + strings.Repeat(","+r.part, n-1) + r.tail
	r.texts[n] = q
	return q
}
