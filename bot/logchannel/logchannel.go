// Package logchannel is a channel that writes each notification, rendered
// in the recipient's language, to the log. It stands in for messengers on
// installations and demos that have none configured, so the outbox can be
// seen working.
package logchannel

import (
	"context"
	"log/slog"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// Channel implements flows.Channel.
type Channel struct {
	Log      *slog.Logger
	Renderer func() messages.Renderer
}

var _ flows.Channel = (*Channel)(nil)

// Name implements flows.Channel.
func (c *Channel) Name() string { return "log" }

// Reaches implements flows.Channel: everyone.
func (c *Channel) Reaches(*flows.Person) bool { return true }

// Deliver implements flows.Channel.
func (c *Channel) Deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	r := c.Renderer()
	m, err := r.Notification(n, r.Language(p.ID))
	if err != nil {
		return "", err
	}
	c.Log.InfoContext(ctx, "notification", "person", p.ID, "doc", n.Number, "kind", n.Kind, "text", messages.Plain(m))
	return "", nil
}
