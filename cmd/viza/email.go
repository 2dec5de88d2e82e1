package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	netmail "net/mail"
	"time"

	"github.com/viza-app/viza/bot/email"
	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/calendar"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// email builds the e-mail channel, and its digest when one is configured.
// Without an SMTP host the channel is off.
func (m *Main) email(ctx context.Context, ec *config.Email, publicURL string) (*email.Channel, error) {
	if ec.SMTP.Host == "" {
		return nil, nil
	}
	password, err := config.Secret(ec.SMTP.PasswordEnv)
	if err != nil {
		return nil, err
	}
	sender := &email.SMTP{Host: ec.SMTP.Host, Port: ec.SMTP.Port, TLS: ec.SMTP.TLS, Username: ec.SMTP.Username, Password: password}
	from, err := netmail.ParseAddress(ec.From)
	if err != nil {
		return nil, fmt.Errorf("email.from %q: %w", ec.From, err) // validated with the configuration
	}
	// Made once per record and kept: Message-IDs are unique to it.
	b := make([]byte, 8)
	rand.Read(b)
	installation, err := m.DB.StateKeep(ctx, "email", "installation", hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("email installation id: %w", err)
	}
	ch := &email.Channel{Sender: sender, From: from, PublicURL: publicURL, Store: m.DB, Files: m.Files, Clock: m.Clock, Log: m.Log, Compare: m.Compare, Stats: m.Stats,
		Installation: installation,
		Renderer:     func() messages.Renderer { return messages.Renderer{Dir: m.Engine.Directory()} },
		OnMessenger:  m.onMessenger, MaxAttachment: int64(ec.MaxAttachmentMB) << 20,
		Stuck: flows.WorkDuration{Days: ec.StuckDays}, Cal: liveCalendar{m},
		Sheet: func(ctx context.Context, d *flows.Document, lang string, w io.Writer) error {
			return m.reports().Sheet(ctx, d, lang, w)
		},
		SealedFinal: func(ctx context.Context, d *flows.Document, lang string) (string, []byte, bool) {
			return m.reports().SealedFinal(ctx, d, lang)
		},
		// The web pages are set up after the channels; the link is made
		// at delivery time.
		Unsubscribe: func(p flows.PersonID) string { return m.Web.UnsubscribeURL(p) },
		SignIn: func(ctx context.Context, p flows.PersonID, path string) (string, error) {
			return m.Web.LoginLinkTo(ctx, p, web.MailLinkTTL, path)
		},
		TaskLink: func(ctx context.Context, taskID int64, p flows.PersonID) (string, error) {
			return m.Web.TaskLink(ctx, taskID, p)
		}}
	m.Log.Info("email on", "smtp", fmt.Sprintf("%s:%d", ec.SMTP.Host, ec.SMTP.Port), "tls", ec.SMTP.TLS, "digest", ec.Digest)
	if ec.Digest != "" {
		d := &email.Digest{At: ec.Digest, Channel: ch, Announce: m.Engine.Announce, Directory: m.Engine.Directory, Log: m.Log}
		m.runners = append(m.runners, d.Run)
	}
	return ch, nil
}

// liveCalendar is the calendar in force, which a reload replaces.
type liveCalendar struct{ m *Main }

func (c liveCalendar) now() *calendar.Calendar {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.m.Calendar
}

func (c liveCalendar) AddWorking(from time.Time, d flows.WorkDuration) time.Time {
	return c.now().AddWorking(from, d)
}

func (c liveCalendar) IsWorkday(t time.Time) bool { return c.now().IsWorkday(t) }
