package chat

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/viza-app/viza/storage"
)

// InboxStore is where a channel keeps the updates it received before
// acknowledging them.
type InboxStore interface {
	InboxPending(ctx context.Context, channel string, limit int) ([]storage.InboxItem, error)
	InboxDone(ctx context.Context, channel, id string) error
}

// Inbox hands a channel's stored updates to the conversation, oldest
// first, one at a time — per-conversation order matters: an answer must
// follow its question — and marks each handled. An update a shutdown left
// unfinished is handled again after the restart, idempotently by its key.
type Inbox struct {
	Store   InboxStore
	Channel string
	Log     *slog.Logger
	// Event translates a stored update into the layer's terms, its Key
	// made from the platform's own ids; false drops it.
	Event func(ctx context.Context, it storage.InboxItem) (Event, bool)

	once sync.Once
	wake chan struct{}
}

func (in *Inbox) init() { in.once.Do(func() { in.wake = make(chan struct{}, 1) }) }

// Wake makes the inbox look for updates now (after one was stored).
func (in *Inbox) Wake() {
	in.init()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// Run handles stored updates with m until ctx ends.
func (in *Inbox) Run(ctx context.Context, m *Messenger) error {
	in.init()
	for {
		items, err := in.Store.InboxPending(ctx, in.Channel, 50)
		if err != nil && ctx.Err() == nil {
			in.Log.Error("read inbox", "err", err)
		}
		for _, it := range items {
			if ev, ok := in.Event(ctx, it); ok {
				m.Handle(ctx, ev)
			}
			if ctx.Err() != nil {
				return nil // unfinished: handled again after restart
			}
			if err := in.Store.InboxDone(context.WithoutCancel(ctx), in.Channel, it.ID); err != nil {
				in.Log.Error("mark update handled", "update", it.ID, "err", err)
			}
		}
		if len(items) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-in.wake:
		case <-time.After(2 * time.Second):
		}
	}
}
