package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/viza-app/viza/flows"
)

// Sender hands one message to a mail server. Errors are *flows.Error of
// KindTransient (try again later) or KindPermanent (the server refused the
// message for good).
type Sender interface {
	Send(ctx context.Context, m *mail.Msg) error
}

// SMTP sends through one SMTP server with go-mail, a connection per
// message: notifications are few and far between per person, and a fresh
// connection never trips over one the server closed while idle.
type SMTP struct {
	Host     string
	Port     int
	TLS      string // starttls (required), tls (implicit) or none
	Username string
	Password string
	// TLSConfig replaces the system's trust (a test server's certificate).
	TLSConfig *tls.Config
	Timeout   time.Duration // per connection; default 30 s
	// Connections is how many messages go out at once (mail servers
	// limit a client's connections); default 4.
	Connections int

	once  sync.Once
	slots chan struct{}
}

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, m *mail.Msg) error {
	s.once.Do(func() {
		n := s.Connections
		if n <= 0 {
			n = 4
		}
		s.slots = make(chan struct{}, n)
	})
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	c, err := s.client()
	if err != nil {
		return permanent("email_config", fmt.Errorf("smtp client for %s: %w", s.Host, err))
	}
	err = c.DialAndSendWithContext(ctx, m)
	if err == nil || m.IsDelivered() {
		// Accepted: a failure to say goodbye afterwards does not make the
		// message unsent, and sending it again would duplicate it.
		return nil
	}
	return classify(err)
}

func (s *SMTP) client() (*mail.Client, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []mail.Option{mail.WithPort(s.Port), mail.WithTimeout(timeout)}
	switch s.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.TLSConfig))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	return mail.NewClient(s.Host, opts...)
}

// classify keeps a message for later unless the server said 5xx: a server
// that is down, slow, greylisting (4xx) or refusing our login now may take
// it in an hour, and mail should arrive late rather than never.
func classify(err error) error {
	var se *mail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return permanent("email_rejected", err)
		}
	}
	return transient("email_unavailable", err)
}

func transient(code string, err error) error {
	return &flows.Error{Kind: flows.KindTransient, Code: code, Err: err}
}

func permanent(code string, err error) error {
	return &flows.Error{Kind: flows.KindPermanent, Code: code, Err: err}
}
