package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/viza-app/viza/calendar"
	"github.com/viza-app/viza/flows"
)

// Languages the locales ship.
var Languages = []string{"ru", "en"}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// emailRE accepts what mail servers do in practice: a local part and a
// domain with a dot; the mail server has the last word.
var emailRE = regexp.MustCompile(`^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$`)

func line(lines map[string]int, key string, fallback int) int {
	if l, ok := lines[key]; ok {
		return l
	}
	return fallback
}

func (c *Config) validate(ps *Problems) {
	top := func(key string) int { return line(c.Lines, key, 1) }
	if strings.TrimSpace(c.Company) == "" {
		ps.add(1, "company", "is required")
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		ps.add(top("timezone"), "timezone", "unknown time zone %q", c.Timezone)
	}
	if !slices.Contains(Languages, c.Language) {
		ps.add(top("language"), "language", "%q is not one of %v", c.Language, Languages)
	}
	c.validateCalendar(ps)

	people := map[string]*Person{}
	roles := map[string]bool{}
	for i := range c.People {
		p := &c.People[i]
		path := fmt.Sprintf("people[%d]", i)
		switch {
		case p.ID == "":
			ps.add(p.Line, path+".id", "is required")
		case !idRE.MatchString(p.ID):
			ps.add(line(p.Lines, "id", p.Line), path+".id", "%q: use lower-case letters, digits, _ . -", p.ID)
		case people[p.ID] != nil:
			ps.add(line(p.Lines, "id", p.Line), path+".id", "duplicate person id %q (first at line %d)", p.ID, people[p.ID].Line)
		default:
			people[p.ID] = p
		}
		if strings.TrimSpace(p.Name) == "" {
			ps.add(p.Line, path+".name", "is required")
		}
		for _, r := range p.Roles {
			roles[r] = true
		}
		if p.Phone != "" {
			if _, err := c.NormalizePhone(p.Phone); err != nil {
				ps.add(line(p.Lines, "phone", p.Line), path+".phone", "%v", err)
			}
		}
		if p.Language != "" && !slices.Contains(Languages, p.Language) {
			ps.add(line(p.Lines, "language", p.Line), path+".language", "%q is not one of %v", p.Language, Languages)
		}
		if p.Timezone != "" {
			if _, err := time.LoadLocation(p.Timezone); err != nil {
				ps.add(line(p.Lines, "timezone", p.Line), path+".timezone", "unknown time zone %q", p.Timezone)
			}
		}
		if p.Email != "" && !emailRE.MatchString(p.Email) {
			ps.add(line(p.Lines, "email", p.Line), path+".email", "%q is not an e-mail address", p.Email)
		}
		for _, ch := range p.Notify {
			switch {
			case !slices.Contains(notifyChannels, ch):
				ps.add(line(p.Lines, "notify", p.Line), path+".notify", "%q: want one of %v", ch, notifyChannels)
			case ch == "email" && p.Email == "":
				ps.add(line(p.Lines, "notify", p.Line), path+".notify", "email needs the person's email address")
			case ch == "email" && c.Email == nil:
				ps.add(line(p.Lines, "notify", p.Line), path+".notify", "email needs the email section (its SMTP server)")
			case ch == "sms" && p.Phone == "":
				ps.add(line(p.Lines, "notify", p.Line), path+".notify", "sms needs the person's phone")
			}
		}
	}
	identities := map[string]string{}
	for i := range c.People {
		p := &c.People[i]
		path := fmt.Sprintf("people[%d]", i)
		if p.Manager != "" && people[p.Manager] == nil {
			ps.add(line(p.Lines, "manager", p.Line), path+".manager", "no person %q", p.Manager)
		}
		if p.Manager != "" && p.Manager == p.ID {
			ps.add(line(p.Lines, "manager", p.Line), path+".manager", "a person cannot be their own manager")
		}
		if p.Deputy != "" && people[p.Deputy] == nil {
			ps.add(line(p.Lines, "deputy", p.Line), path+".deputy", "no person %q", p.Deputy)
		}
		if p.Deputy != "" && p.Deputy == p.ID {
			ps.add(line(p.Lines, "deputy", p.Line), path+".deputy", "a person cannot be their own deputy")
		}
		// An identity the platform cannot mean is caught here, not when
		// the first message to it fails.
		if p.Telegram != "" && !numericID.MatchString(p.Telegram) {
			ps.add(line(p.Lines, "telegram", p.Line), path+".telegram",
				"%q is not a Telegram user id: write the number (the person's chat id), or leave it out and let the person share their phone with the bot", p.Telegram)
		}
		if p.Slack != "" && !slackUserID.MatchString(p.Slack) {
			ps.add(line(p.Lines, "slack", p.Line), path+".slack",
				"%q is not a Slack user id (U… or W…, from the profile's «Copy member ID»): write that id, or leave it out and give the person's email to find them by", p.Slack)
		}
		if p.Bitrix24 != "" && !numericID.MatchString(p.Bitrix24) {
			ps.add(line(p.Lines, "bitrix24", p.Line), path+".bitrix24",
				"%q is not a Bitrix24 user id: write the number (viza bitrix24 users lists them)", p.Bitrix24)
		}
		for ch, id := range map[string]string{"telegram": p.Telegram, "slack": p.Slack, "bitrix24": p.Bitrix24} {
			if id == "" {
				continue
			}
			k := ch + ":" + id
			if other, ok := identities[k]; ok {
				ps.add(line(p.Lines, ch, p.Line), path+"."+ch, "%s id %s is already %q's", ch, id, other)
			}
			identities[k] = p.ID
		}
		for j, a := range p.Away {
			apath := fmt.Sprintf("%s.away[%d]", path, j)
			from, errF := time.Parse(time.DateOnly, a.From)
			to, errT := time.Parse(time.DateOnly, a.To)
			if errF != nil || errT != nil {
				ps.add(a.Line, apath, "from and to must be dates yyyy-mm-dd")
			} else if to.Before(from) {
				ps.add(a.Line, apath, "ends before it starts")
			}
			dep := a.Deputy
			if dep == "" {
				dep = p.Deputy
			}
			if dep == "" {
				ps.add(a.Line, apath+".deputy", "no deputy given here nor in the person's deputy")
			} else if people[dep] == nil {
				ps.add(line(a.Lines, "deputy", a.Line), apath+".deputy", "no person %q", dep)
			}
		}
	}
	checkSelectors := func(sels []string, l int, path string, allowInitiator bool) {
		for _, s := range sels {
			kind, val, _ := strings.Cut(s, ":")
			switch {
			case kind == "person" && people[val] == nil:
				ps.add(l, path, "no person %q", val)
			case kind == "role" && !roles[val]:
				ps.add(l, path, "nobody has role %q", val)
			case kind == "manager" && allowInitiator && val == "initiator":
			case kind != "person" && kind != "role":
				want := "person:<id> or role:<role>"
				if allowInitiator {
					want += " or manager:initiator"
				}
				ps.add(l, path, "%q: want %s", s, want)
			}
		}
	}
	checkSelectors(c.Viewers, top("viewers"), "viewers", false)

	if tg := c.Telegram; tg != nil {
		switch tg.Mode {
		case "polling":
		case "webhook":
			if tg.WebhookURL == "" {
				ps.add(tg.Line, "telegram.webhook_url", "webhook mode needs webhook_url")
			}
		default:
			ps.add(tg.Line, "telegram.mode", "%q: want polling or webhook", tg.Mode)
		}
	}
	if sl := c.Slack; sl != nil {
		if sl.Mode != "socket" && sl.Mode != "http" {
			ps.add(sl.Line, "slack.mode", "%q: want socket or http", sl.Mode)
		}
		if sl.MaxFileMB < 0 || sl.MaxFileMB > 1024 {
			ps.add(sl.Line, "slack.max_file_mb", "%d: want 1 to 1024", sl.MaxFileMB)
		}
		if sl.MessagesPerSecond < 0 {
			ps.add(sl.Line, "slack.messages_per_second", "must not be negative")
		}
		for m, n := range sl.MethodLimits {
			if n <= 0 {
				ps.add(sl.Line, "slack.method_limits."+m, "%d: want calls a minute above 0", n)
			}
		}
	}
	if h := c.HTTP; h != nil {
		if d, err := time.ParseDuration(h.TaskLinkTTL); err != nil || d < time.Hour {
			ps.add(h.Line, "http.task_link_ttl", "%q: want a duration of an hour or more, such as 336h", h.TaskLinkTTL)
		}
	}
	if b := c.Bitrix24; b != nil {
		switch b.Mode {
		case "auto", "fetch", "events":
		default:
			ps.add(b.Line, "bitrix24.mode", "%q: want auto, fetch or events", b.Mode)
		}
		if b.PortalURL == "" && b.ClientID != "" {
			ps.add(b.Line, "bitrix24.portal_url", "a local application needs the portal's address")
		}
		if b.PortalURL != "" {
			if u, err := url.Parse(b.PortalURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				ps.add(b.Line, "bitrix24.portal_url", "%q: want https://your-portal.bitrix24.ru", b.PortalURL)
			}
		}
		if b.RequestsPerSecond < 0 || b.Burst < 0 {
			ps.add(b.Line, "bitrix24.requests_per_second", "the leaky bucket's rate and burst must not be negative")
		}
		if d, err := time.ParseDuration(b.FetchInterval); err != nil || d <= 0 {
			ps.add(b.Line, "bitrix24.fetch_interval", "%q: want a duration such as 5s", b.FetchInterval)
		}
		if b.MaxFileMB < 0 || b.MaxFileMB > 1024 {
			ps.add(b.Line, "bitrix24.max_file_mb", "%d: want 1 to 1024", b.MaxFileMB)
		}
		if l := b.RegistryList; l != nil {
			if l.ID == "" {
				ps.add(l.Line, "bitrix24.registry_list.id", "the list's id (IBLOCK_ID) is required")
			}
			for k := range l.Fields {
				switch k {
				case "number", "title", "counterparty", "amount", "state", "waiting_on", "final_version", "sheet":
				default:
					ps.add(l.Line, "bitrix24.registry_list.fields."+k, "want number, title, counterparty, amount, state, waiting_on, final_version or sheet")
				}
			}
		}
	}
	if sm := c.SMS; sm != nil {
		switch sm.Provider {
		case "smsru", "smsc":
		case "twilio":
			if sm.AccountSID == "" || !strings.HasPrefix(sm.Sender, "+") {
				ps.add(sm.Line, "sms", "twilio needs account_sid and a sender phone number in E.164 (+…)")
			}
		default:
			ps.add(sm.Line, "sms.provider", "%q: want smsru, smsc or twilio", sm.Provider)
		}
	}
	if d := c.Database; d != nil && d.URL != "" {
		u, err := url.Parse(d.URL)
		switch {
		case err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "":
			ps.add(d.Line, "database.url", "%q: want postgres://user@host:5432/database", d.URL)
		case hasPassword(u):
			ps.add(d.Line, "database.url", "holds a password: keep it in the environment (VIZA_DATABASE_URL or PGPASSWORD), not in the file")
		}
	}
	if e := c.Email; e != nil {
		if e.SMTP.Host == "" {
			ps.add(e.Line, "email.smtp.host", "is required")
		}
		if !slices.Contains([]string{"starttls", "tls", "none"}, e.SMTP.TLS) {
			ps.add(e.Line, "email.smtp.tls", "%q: want starttls, tls or none", e.SMTP.TLS)
		}
		if e.SMTP.Port < 1 || e.SMTP.Port > 65535 {
			ps.add(e.Line, "email.smtp.port", "%d: want 1 to 65535", e.SMTP.Port)
		}
		if a, err := mail.ParseAddress(e.From); err != nil || !emailRE.MatchString(a.Address) {
			ps.add(e.Line, "email.from", "%q: want an address such as \"Viza <viza@example.ru>\"", e.From)
		}
		if e.Digest != "" {
			if _, err := time.Parse("15:04", e.Digest); err != nil {
				ps.add(e.Line, "email.digest", "%q: want a time of day such as 09:00", e.Digest)
			}
		}
		if e.StuckDays < 1 || e.StuckDays > 60 {
			ps.add(e.Line, "email.stuck_days", "%d: want 1 to 60", e.StuckDays)
		}
		if e.MaxAttachmentMB < 0 || e.MaxAttachmentMB > 50 {
			ps.add(e.Line, "email.max_attachment_mb", "%d: want 0 to 50", e.MaxAttachmentMB)
		}
	}
	c.validateConnector(ps)
	c.validateSeal(ps)
	c.validateSignatures(ps)
	c.validateRetention(ps)
	c.validateReminders(c.Reminders, top("reminders"), "reminders", ps)
	types := map[string]int{}
	for i := range c.DocumentTypes {
		t := &c.DocumentTypes[i]
		path := fmt.Sprintf("document_types[%d]", i)
		switch {
		case t.ID == "":
			ps.add(t.Line, path+".id", "is required")
		case !idRE.MatchString(t.ID):
			ps.add(line(t.Lines, "id", t.Line), path+".id", "%q: use lower-case letters, digits, _ . -", t.ID)
		case types[t.ID] != 0:
			ps.add(line(t.Lines, "id", t.Line), path+".id", "duplicate type id %q (first at line %d)", t.ID, types[t.ID])
		default:
			types[t.ID] = t.Line
		}
		if len(t.Name) == 0 {
			ps.add(t.Line, path+".name", "is required")
		}
		if err := flows.ValidateNumberPattern(t.Number); err != nil {
			ps.add(line(t.Lines, "number", t.Line), path+".number", "%v", err)
		}
		if !slices.Contains([]string{flows.ReworkEveryone, flows.ReworkNotYetApproved, flows.ReworkAsk}, t.Rework) {
			ps.add(line(t.Lines, "rework", t.Line), path+".rework", "%q: want everyone, not_yet_approved or ask", t.Rework)
		}
		c.validateReminders(t.Reminders, line(t.Lines, "reminders", t.Line), path+".reminders", ps)
		if t.Route.AdHoc {
			continue
		}
		if len(t.Route.Stages) == 0 {
			ps.add(line(t.Lines, "route", t.Line), path+".route", "a route needs at least one stage (or initiator_choice)")
		}
		for j := range t.Route.Stages {
			s := &t.Route.Stages[j]
			spath := fmt.Sprintf("%s.route[%d]", path, j)
			if len(s.Stage) == 0 {
				ps.add(s.Line, spath+".stage", "a stage needs a name")
			}
			if len(s.Approvers) == 0 {
				ps.add(s.Line, spath+".approvers", "a stage needs at least one approver")
			}
			checkSelectors(s.Approvers, line(s.Lines, "approvers", s.Line), spath+".approvers", true)
			if _, err := flows.ParseMode(s.Mode); err != nil {
				ps.add(line(s.Lines, "mode", s.Line), spath+".mode", "%v", err)
			}
			if s.Kind != "" && !slices.Contains([]string{flows.KindApprove, flows.KindAcknowledge, flows.KindSign}, s.Kind) {
				ps.add(line(s.Lines, "kind", s.Line), spath+".kind", "%q: want approve, acknowledge or sign", s.Kind)
			}
			c.validateMethod(ps, s, spath)
			if s.When != "" {
				if _, err := flows.CompileCondition(s.When); err != nil {
					ps.add(line(s.Lines, "when", s.Line), spath+".when", "%v", err)
				}
			} else if len(s.WhenLabel) > 0 {
				ps.add(line(s.Lines, "when_label", s.Line), spath+".when_label", "says when the stage applies, but the stage has no when")
			}
			if _, err := flows.ParseWorkDuration(s.Deadline); err != nil {
				ps.add(line(s.Lines, "deadline", s.Line), spath+".deadline", "%v", err)
			}
			validateTimeout(ps, s, spath)
		}
	}
}

func (c *Config) validateCalendar(ps *Problems) {
	cl := &c.Calendar
	l := func(k string) int { return line(cl.Lines, k, line(c.Lines, "calendar", 1)) }
	if !calendar.SupportedCountry(cl.Country) {
		ps.add(l("country"), "calendar.country", "no public holidays known for %q", cl.Country)
	}
	for _, w := range cl.Workdays {
		if _, err := calendar.ParseWeekday(w); err != nil {
			ps.add(l("workdays"), "calendar.workdays", "%v", err)
		}
	}
	if _, _, err := calendar.ParseHours(cl.Hours); err != nil {
		ps.add(l("hours"), "calendar.hours", "%v", err)
	}
	for _, d := range cl.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			ps.add(l("holidays"), "calendar.holidays", "%q: want yyyy-mm-dd", d)
		}
	}
	for _, d := range cl.WorkdaysExtra {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			ps.add(l("workdays_extra"), "calendar.workdays_extra", "%q: want yyyy-mm-dd", d)
		}
	}
}

func (c *Config) validateReminders(steps []ReminderStep, l int, path string, ps *Problems) {
	for i, s := range steps {
		p := fmt.Sprintf("%s[%d]", path, i)
		if (s.At == "") == (s.Every == "") {
			ps.add(s.Line, p, "give exactly one of at or every")
		}
		if s.At != "" {
			rest, ok := strings.CutPrefix(s.At, "deadline")
			rest = strings.TrimPrefix(rest, "+")
			if !ok {
				ps.add(line(s.Lines, "at", s.Line), p+".at", "%q: want deadline or deadline+<duration>", s.At)
			} else if _, err := flows.ParseWorkDuration(rest); err != nil {
				ps.add(line(s.Lines, "at", s.Line), p+".at", "%v", err)
			}
		}
		if s.Every != "" {
			if d, err := flows.ParseWorkDuration(s.Every); err != nil || d.IsZero() {
				ps.add(line(s.Lines, "every", s.Line), p+".every", "bad duration %q", s.Every)
			}
		}
		switch {
		case !slices.Contains([]string{"chat", "sms", "email", "escalate"}, s.Send):
			ps.add(line(s.Lines, "send", s.Line), p+".send", "%q: want chat, sms, email or escalate", s.Send)
		case s.Send == "email" && c.Email == nil:
			ps.add(line(s.Lines, "send", s.Line), p+".send", "email needs the email section (its SMTP server)")
		}
	}
	_ = l
}

// notifyChannels are the names a person's notify list may hold.
var (
	numericID   = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
)

var notifyChannels = []string{"telegram", "slack", "bitrix24", "sms", "email"}

// NormalizePhone returns the phone in E.164, reading local formats in the
// calendar's country (RU by default).
func (c *Config) NormalizePhone(raw string) (string, error) {
	region := strings.ToUpper(c.Calendar.Country)
	if region == "" {
		region = "RU"
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("phone %q is not a valid number", raw)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

func (c *Config) validateRetention(ps *Problems) {
	r := c.Retention
	if r == nil {
		return
	}
	for _, f := range []struct{ name, v string }{{"notifications", r.Notifications}, {"dialogues", r.Dialogues}} {
		if d, err := time.ParseDuration(f.v); err != nil || d < 24*time.Hour {
			ps.add(r.Line, "retention."+f.name, "%q: want a duration of a day or more, such as 720h", f.v)
		}
	}
}

func (c *Config) validateConnector(ps *Problems) {
	if a := c.API; a != nil {
		if a.RequestsPerMinute < 1 || a.RequestsPerMinute > 100000 {
			ps.add(a.Line, "api.requests_per_minute", "%d: want 1 to 100000", a.RequestsPerMinute)
		}
		if d, err := time.ParseDuration(a.LinkTTL); err != nil || d < time.Hour {
			ps.add(a.Line, "api.link_ttl", "%q: want a duration of an hour or more, such as 168h", a.LinkTTL)
		}
	}
	seen := map[string]bool{}
	types := map[string]bool{}
	for _, t := range c.DocumentTypes {
		types[t.ID] = true
	}
	for i, w := range c.Webhooks {
		path := fmt.Sprintf("webhooks[%d]", i)
		u, err := url.Parse(w.URL)
		switch {
		case w.URL == "":
			ps.add(w.Line, path+".url", "is required")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			// Not quoted: a hook address may carry its token.
			ps.add(w.Line, path+".url", "want an http(s) address")
		case seen[w.URL]:
			ps.add(w.Line, path+".url", "the same address is subscribed twice: list its events in one entry")
		}
		seen[w.URL] = true
		for _, e := range w.Events {
			if !slices.Contains(flows.IntegrationEvents, e) {
				ps.add(w.Line, path+".events", "%q: want one of %s", e, strings.Join(flows.IntegrationEvents, ", "))
			}
		}
		if w.SecretEnv == "" {
			ps.add(w.Line, path+".secret_env", "is required: the variable that holds the signing secret (whsec_…)")
		}
		for _, typ := range w.Types {
			if !types[typ] {
				ps.add(w.Line, path+".types", "no document type %q", typ)
			}
		}
	}
}

func hasPassword(u *url.URL) bool {
	_, ok := u.User.Password()
	return ok || u.Query().Has("password")
}

// validateTimeout checks a stage's decision on timeout: a rule must not
// approve what only a person may (a signature, an approval of any amount).
func validateTimeout(ps *Problems, s *Stage, spath string) {
	at := line(s.Lines, "on_timeout", s.Line)
	switch s.OnTimeout {
	case "", flows.OnTimeoutEscalate, flows.OnTimeoutSkip:
	case flows.OnTimeoutApprove:
		switch s.Kind {
		case flows.KindSign:
			ps.add(at, spath+".on_timeout", "a signature cannot be approved on timeout")
		case "", flows.KindApprove:
			if s.TimeoutMaxAmount <= 0 {
				ps.add(at, spath+".on_timeout", "approval on timeout of an approval stage needs timeout_max_amount")
			}
		}
	default:
		ps.add(at, spath+".on_timeout", "%q: want approve, skip or escalate", s.OnTimeout)
	}
	if (s.OnTimeout == flows.OnTimeoutApprove || s.OnTimeout == flows.OnTimeoutSkip) && s.Deadline == "" {
		ps.add(at, spath+".on_timeout", "a decision on timeout needs the stage's deadline")
	}
	if s.TimeoutAfter != "" {
		if _, err := flows.ParseWorkDuration(s.TimeoutAfter); err != nil {
			ps.add(line(s.Lines, "timeout_after", s.Line), spath+".timeout_after", "%v", err)
		}
	}
}
