// Package sms sends the SMS step of the reminder ladder through SMS.ru,
// SMSC.ru or Twilio. Each gateway is a small typed client of its HTTP API
// (none of them has a maintained Go library); the Channel turns reminder
// notifications into short texts and classifies failures: network trouble,
// 5xx and rate limits are retried by the dispatcher, bad numbers, missing
// balance and bad credentials are not.
package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/viza-app/viza/bot/secret"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// Sender sends one SMS and returns the gateway's message id. Errors are
// *flows.Error of KindTransient (retry) or KindPermanent.
type Sender interface {
	Send(ctx context.Context, to, text string) (string, error)
}

func transient(code string, err error) error {
	return &flows.Error{Kind: flows.KindTransient, Code: code, Err: err}
}

func permanent(code string, err error) error {
	return &flows.Error{Kind: flows.KindPermanent, Code: code, Err: err}
}

// postForm posts a form and returns the answer; the request itself cannot
// be built only for a malformed base URL, which is a configuration error.
func postForm(ctx context.Context, client *http.Client, endpoint string, form url.Values) ([]byte, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, permanent("sms_bad_request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(client, req)
}

func do(client *http.Client, req *http.Request) ([]byte, *http.Response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, transient("sms_unavailable", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp, transient("sms_unavailable", err)
	}
	if resp.StatusCode >= 500 {
		return body, resp, transient("sms_unavailable", fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body))
	}
	return body, resp, nil
}

// SMSRu is https://sms.ru/sms/send. Errors come inside HTTP 200 answers.
type SMSRu struct {
	BaseURL string // https://sms.ru
	APIID   string
	From    string
	HTTP    *http.Client
}

// smsruTransient are SMS.ru codes worth retrying: the service is down or a
// rate limit was hit.
var smsruTransient = map[int]bool{220: true, 230: true, 231: true, 232: true}

// Send implements Sender.
func (s *SMSRu) Send(ctx context.Context, to, text string) (string, error) {
	phone := strings.TrimPrefix(to, "+")
	form := url.Values{"api_id": {s.APIID}, "to": {phone}, "msg": {text}, "json": {"1"}}
	if s.From != "" {
		form.Set("from", s.From)
	}
	body, _, err := postForm(ctx, s.HTTP, strings.TrimRight(s.BaseURL, "/")+"/sms/send", form)
	if err != nil {
		return "", err
	}
	var r struct {
		Status     string `json:"status"`
		StatusCode int    `json:"status_code"`
		StatusText string `json:"status_text"`
		SMS        map[string]struct {
			Status     string `json:"status"`
			StatusCode int    `json:"status_code"`
			StatusText string `json:"status_text"`
			SMSID      string `json:"sms_id"`
		} `json:"sms"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", transient("sms_unavailable", fmt.Errorf("sms.ru: undecodable answer %.200q", body))
	}
	classify := func(code int, text string) error {
		err := fmt.Errorf("sms.ru %d: %s", code, text)
		if smsruTransient[code] {
			return transient("sms_unavailable", err)
		}
		return permanent("sms_rejected", err)
	}
	if r.Status != "OK" {
		return "", classify(r.StatusCode, r.StatusText)
	}
	one, ok := r.SMS[phone]
	if !ok {
		return "", permanent("sms_rejected", fmt.Errorf("sms.ru: no status for %s", phone))
	}
	if one.Status != "OK" {
		return "", classify(one.StatusCode, one.StatusText)
	}
	return one.SMSID, nil
}

// SMSC is https://smsc.ru/sys/send.php with fmt=3 (JSON) and UTF-8 text
// (its default charset is windows-1251). Errors come inside HTTP 200.
type SMSC struct {
	BaseURL  string // https://smsc.ru
	Login    string
	Password string // or, with Login empty, an API key
	Sender   string
	HTTP     *http.Client
}

// smscTransient: 4 — IP temporarily blocked, 9 — too many identical
// requests for now.
var smscTransient = map[int]bool{4: true, 9: true}

// Send implements Sender.
func (s *SMSC) Send(ctx context.Context, to, text string) (string, error) {
	form := url.Values{"phones": {strings.TrimPrefix(to, "+")}, "mes": {text}, "fmt": {"3"}, "charset": {"utf-8"}}
	if s.Login != "" {
		form.Set("login", s.Login)
		form.Set("psw", s.Password)
	} else {
		form.Set("apikey", s.Password)
	}
	if s.Sender != "" {
		form.Set("sender", s.Sender)
	}
	body, _, err := postForm(ctx, s.HTTP, strings.TrimRight(s.BaseURL, "/")+"/sys/send.php", form)
	if err != nil {
		return "", err
	}
	var r struct {
		ID        json.Number `json:"id"`
		Cnt       int         `json:"cnt"`
		Error     string      `json:"error"`
		ErrorCode int         `json:"error_code"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", transient("sms_unavailable", fmt.Errorf("smsc: undecodable answer %.200q", body))
	}
	if r.Error != "" || r.ErrorCode != 0 {
		err := fmt.Errorf("smsc %d: %s", r.ErrorCode, r.Error)
		if smscTransient[r.ErrorCode] {
			return "", transient("sms_unavailable", err)
		}
		return "", permanent("sms_rejected", err)
	}
	return r.ID.String(), nil
}

// Twilio is the Messages API: form POST with basic auth, 201 on success,
// 4xx with a JSON error, 429 with Retry-After.
type Twilio struct {
	BaseURL    string // https://api.twilio.com
	AccountSID string
	AuthToken  string
	From       string
	HTTP       *http.Client
}

// Send implements Sender.
func (s *Twilio) Send(ctx context.Context, to, text string) (string, error) {
	form := url.Values{"To": {to}, "From": {s.From}, "Body": {text}}
	u := strings.TrimRight(s.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(s.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", permanent("sms_bad_request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID, s.AuthToken)
	body, resp, err := do(s.HTTP, req)
	if err != nil {
		return "", err
	}
	var r struct {
		SID     string `json:"sid"`
		Status  any    `json:"status"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	json.Unmarshal(body, &r)
	switch {
	case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
		return r.SID, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return "", &flows.Error{Kind: flows.KindTransient, Code: "sms_rate_limited", RetryAfter: time.Duration(secs) * time.Second,
			Err: fmt.Errorf("twilio %d: %s", r.Code, r.Message)}
	}
	return "", permanent("sms_rejected", fmt.Errorf("twilio HTTP %d, code %d: %s", resp.StatusCode, r.Code, r.Message))
}

// Segments counts the parts an SMS is split into: 160/153 characters in
// GSM-7, 70/67 when any character needs UCS-2 (Cyrillic does).
func Segments(text string) int {
	n := utf8.RuneCountInString(text)
	single, multi := 160, 153
	for _, r := range text {
		if r > 0x7e || r == '`' {
			single, multi = 70, 67
			break
		}
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// Name is the channel's name.
const Name = "sms"

// Channel delivers the SMS step of the ladder to people with a phone, and
// new tasks and reminders to people on no messenger, with a one-tap link
// to the task's web page when TaskLink is set.
type Channel struct {
	Sender   Sender
	Renderer func() messages.Renderer
	Lang     func(flows.PersonID) string
	Log      *slog.Logger
	TaskLink func(ctx context.Context, taskID int64, p flows.PersonID) (string, error)
	// OnMessenger tells whether a messenger reaches a person now — a chat
	// id from viza.yaml or one linked by the phone they shared, and not
	// blocked. Unset, only chat ids in viza.yaml count.
	OnMessenger func(p *flows.Person) bool
	// Secrets are the gateway's credentials: masked in every error, which
	// reaches the log and the document's status card, since a gateway may
	// echo the request (its key in the form) in an error page.
	Secrets []string
}

var (
	_ flows.Channel          = (*Channel)(nil)
	_ flows.KindFilter       = (*Channel)(nil)
	_ flows.PersonKindFilter = (*Channel)(nil)
)

// Name implements flows.Channel.
func (c *Channel) Name() string { return Name }

// Accepts implements flows.KindFilter: only the ladder's SMS step.
func (c *Channel) Accepts(kind string) bool { return kind == flows.NoteReminderSMS }

// AcceptsFor implements flows.PersonKindFilter: the ladder's SMS step for
// everyone; new tasks and chat reminders for people on no messenger, who
// act through the link.
func (c *Channel) AcceptsFor(p *flows.Person, kind string) bool {
	if kind == flows.NoteReminderSMS {
		return true
	}
	// A person who chose SMS (notify) is told of tasks by SMS even when a
	// messenger could reach them.
	chose := slices.Contains(p.Notify, Name)
	return (chose || !c.onMessenger(p)) && c.TaskLink != nil && (kind == flows.NoteTaskAssigned || kind == flows.NoteReminder)
}

func (c *Channel) onMessenger(p *flows.Person) bool {
	if c.OnMessenger != nil {
		return c.OnMessenger(p)
	}
	return len(p.Identities) > 0
}

// Reaches implements flows.Channel.
func (c *Channel) Reaches(p *flows.Person) bool { return p.Phone != "" }

// Deliver implements flows.Channel. A new task's SMS names the
// counterparty and the amount when that costs no extra segment.
func (c *Channel) Deliver(ctx context.Context, n flows.Notification, p *flows.Person) (string, error) {
	r := c.Renderer()
	lang := c.Lang(p.ID)
	short := n
	short.Kind = flows.NoteReminderSMS // one short text for every kind SMS carries
	if n.Kind == flows.NoteTaskAssigned {
		short.Kind = "task_sms"
	}
	m, err := r.Notification(short, lang)
	if err != nil {
		return "", err
	}
	link := ""
	if c.TaskLink != nil && n.TaskID != 0 {
		if link, err = c.TaskLink(ctx, n.TaskID, p.ID); err != nil {
			return "", err
		}
		link = " " + link
	}
	text := m.Text.String() + link
	if n.Kind == flows.NoteTaskAssigned && (n.Counterparty != "" || n.HasAmount) {
		full := n
		full.Kind = "task_sms_full"
		if fm, err := r.Notification(full, lang); err == nil {
			if t := fm.Text.String() + link; Segments(t) <= Segments(text) {
				text = t
			}
		}
	}
	id, err := c.Sender.Send(ctx, p.Phone, text)
	if err != nil {
		return "", secret.Redact(err, c.Secrets...)
	}
	c.Log.Info("sms sent", "person", p.ID, "doc", n.Number, "kind", n.Kind, "segments", Segments(text), "gateway_id", id)
	return id, nil
}
