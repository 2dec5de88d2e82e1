package storage

import "github.com/viza-app/viza/flows"

// maxCachedDocs bounds the writer's document cache; past it the cache
// starts over, which costs only decodes.
const maxCachedDocs = 20000

// docCache holds the documents as the writer last committed them. Only the
// leader touches it, and only the writer changes documents, so it
// cannot go stale — on PostgreSQL, where other replicas write too, it is
// dropped whenever one did (see beginShared).
type docCache struct {
	m      map[int64]*flows.Document
	taskOf map[int64]int64 // task id → document id, for the documents in m
}

// batch is the writer's state for one transaction of grouped commands.
type batch struct {
	head    string                    // audit chain head including this batch
	pending map[int64]*flows.Document // saved in this batch, not yet committed

	// Keys: known holds the outcomes of the batch's keys stored before it,
	// when they were looked up together (lookedUp); done holds those of its
	// own commands that succeeded.
	lookedUp bool
	known    map[string]flows.Outcome
	done     map[string]flows.Outcome

	// What the batch writes when it ends (see flush): the documents rows
	// it changed, and in buffers its audit events (lastAudit is the id of
	// the newest), notifications and keys.
	rows      map[int64]*docRow
	lastAudit int64
	buffers
}

// mark is how far a batch had got before a command, so that a refused
// command's share can be dropped.
type mark struct {
	head         string
	audit, notes int
	lastAudit    int64
}

func (b *batch) mark() mark {
	return mark{head: b.head, audit: len(b.audit), notes: len(b.notes), lastAudit: b.lastAudit}
}

func (b *batch) reset(m mark) {
	b.head, b.audit, b.notes, b.lastAudit = m.head, b.audit[:m.audit], b.notes[:m.notes], m.lastAudit
}

func (c *docCache) get(id int64, layers ...map[int64]*flows.Document) *flows.Document {
	for _, l := range layers {
		if d := l[id]; d != nil {
			return d
		}
	}
	return c.m[id]
}

func (c *docCache) commit(pending map[int64]*flows.Document) {
	if c.m == nil || len(c.m)+len(pending) > maxCachedDocs {
		c.m = make(map[int64]*flows.Document, len(pending))
		c.taskOf = map[int64]int64{}
	}
	for id, d := range pending {
		c.m[id] = d
		for _, tk := range d.Tasks {
			c.taskOf[tk.ID] = id
		}
	}
}

// docOfTask finds the document of a task among the documents the writer
// holds, sparing a query for the common case of a decision on a document
// the writer saved before.
func (c *docCache) docOfTask(taskID int64, layers ...map[int64]*flows.Document) (int64, bool) {
	// A task never moves between documents, so the committed map answers
	// first; the uncommitted layers only hold tasks created in this batch.
	if id, ok := c.taskOf[taskID]; ok {
		return id, true
	}
	for _, l := range layers {
		for id, d := range l {
			if _, ok := d.Task(taskID); ok {
				return id, true
			}
		}
	}
	return 0, false
}
