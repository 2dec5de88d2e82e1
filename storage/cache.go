package storage

import "github.com/viza-app/viza/flows"

// maxCachedDocs bounds the writer's document cache; past it the cache
// starts over, which costs only decodes.
const maxCachedDocs = 20000

// docCache holds the documents as the writer last committed them. Only the
// writer goroutine touches it, and only the writer changes documents, so it
// cannot go stale.
type docCache struct{ m map[int64]*flows.Document }

// batch is the writer's state for one transaction of grouped commands.
type batch struct {
	head    string                    // audit chain head including this batch
	pending map[int64]*flows.Document // saved in this batch, not yet committed
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
	}
	for id, d := range pending {
		c.m[id] = d
	}
}
