// Package config reads viza.yaml — the administrator's description of
// people, document types, routes and calendar — and secrets from the
// environment. It validates everything in one pass and builds the core's
// Directory.
package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is viza.yaml.
type Config struct {
	Company       string         `yaml:"company"`
	Timezone      string         `yaml:"timezone"`
	Language      string         `yaml:"language"`
	DataDir       string         `yaml:"data_dir"`
	Database      *Database      `yaml:"database"`
	Viewers       []string       `yaml:"viewers"`
	Calendar      Calendar       `yaml:"calendar"`
	People        []Person       `yaml:"people"`
	DocumentTypes []DocumentType `yaml:"document_types"`
	Telegram      *Telegram      `yaml:"telegram"`
	Slack         *Slack         `yaml:"slack"`
	Bitrix24      *Bitrix24      `yaml:"bitrix24"`
	SMS           *SMS           `yaml:"sms"`
	Email         *Email         `yaml:"email"`
	HTTP          *HTTP          `yaml:"http"`
	API           *API           `yaml:"api"`
	Retention     *Retention     `yaml:"retention"`
	Webhooks      []Webhook      `yaml:"webhooks"`
	Seal          *Seal          `yaml:"seal"`
	Signatures    *Signatures    `yaml:"signatures"`
	Log           *Log           `yaml:"log"`
	Lines         map[string]int `yaml:"-"`
	Reminders     []ReminderStep `yaml:"reminders"`
}

// Calendar is working time.
type Calendar struct {
	Country       string         `yaml:"country"`
	Workdays      []string       `yaml:"workdays"`
	Hours         string         `yaml:"hours"`
	Holidays      []string       `yaml:"holidays"`
	WorkdaysExtra []string       `yaml:"workdays_extra"`
	Lines         map[string]int `yaml:"-"`
}

// Person is one entry of people.
type Person struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Title    string   `yaml:"title"`
	Phone    string   `yaml:"phone"`
	Manager  string   `yaml:"manager"`
	Deputy   string   `yaml:"deputy"`
	Roles    []string `yaml:"roles"`
	Language string   `yaml:"language"`
	Timezone string   `yaml:"timezone"`
	Email    string   `yaml:"email"`
	Telegram string   `yaml:"telegram"`
	Slack    string   `yaml:"slack"`
	Bitrix24 string   `yaml:"bitrix24"`
	Away     []Away   `yaml:"away"`
	// Notify names the channels that push notifications to the person
	// (telegram, slack, bitrix24, sms, email); empty, every one that
	// reaches them.
	Notify []string       `yaml:"notify"`
	Line   int            `yaml:"-"`
	Lines  map[string]int `yaml:"-"`
}

// Away is a planned absence.
type Away struct {
	From   string         `yaml:"from"`
	To     string         `yaml:"to"`
	Deputy string         `yaml:"deputy"`
	Line   int            `yaml:"-"`
	Lines  map[string]int `yaml:"-"`
}

// DocumentType is one entry of document_types.
type DocumentType struct {
	ID        string         `yaml:"id"`
	Name      Localized      `yaml:"name"`
	Number    string         `yaml:"number"`
	Rework    string         `yaml:"rework"`
	Route     Route          `yaml:"route"`
	Reminders []ReminderStep `yaml:"reminders"`
	// Bulk false keeps the type's tasks out of approval in bulk;
	// BulkMaxAmount lets in bulk only documents up to that amount.
	Bulk          *bool          `yaml:"bulk"`
	BulkMaxAmount float64        `yaml:"bulk_max_amount"`
	Line          int            `yaml:"-"`
	Lines         map[string]int `yaml:"-"`
}

// Stage is one stage of a route.
type Stage struct {
	Stage     Localized `yaml:"stage"`
	Approvers []string  `yaml:"approvers"`
	Mode      string    `yaml:"mode"`
	Kind      string    `yaml:"kind"`
	When      string    `yaml:"when"`
	WhenLabel Localized `yaml:"when_label"`
	Deadline  string    `yaml:"deadline"`
	// OnTimeout is what happens when a task's deadline has passed by
	// TimeoutAfter: approve, skip or escalate (the default).
	// TimeoutMaxAmount caps approval on timeout of an approval stage.
	OnTimeout        string  `yaml:"on_timeout"`
	TimeoutAfter     string  `yaml:"timeout_after"`
	TimeoutMaxAmount float64 `yaml:"timeout_max_amount"`
	// Method is how a sign stage is signed: scan (the default: "done",
	// optionally with a signed scan) or upload (a detached electronic
	// signature checked by the verifier in signatures:).
	Method string         `yaml:"method"`
	Line   int            `yaml:"-"`
	Lines  map[string]int `yaml:"-"`
}

// ReminderStep is one step of the reminder ladder.
type ReminderStep struct {
	At    string         `yaml:"at"`
	Every string         `yaml:"every"`
	Send  string         `yaml:"send"`
	Line  int            `yaml:"-"`
	Lines map[string]int `yaml:"-"`
}

// Slack configures the Slack channel.
type Slack struct {
	Mode             string `yaml:"mode"` // socket | http
	BotTokenEnv      string `yaml:"bot_token_env"`
	AppTokenEnv      string `yaml:"app_token_env"`
	SigningSecretEnv string `yaml:"signing_secret_env"`
	APIURL           string `yaml:"api_url"`
	MaxFileMB        int    `yaml:"max_file_mb"`
	// MessagesPerSecond and MethodLimits (calls a minute by method) are
	// Slack's limits for the workspace, where they differ from the
	// published tiers (Enterprise Grid).
	MessagesPerSecond float64        `yaml:"messages_per_second"`
	MethodLimits      map[string]int `yaml:"method_limits"`
	Line              int            `yaml:"-"`
}

// Bitrix24 configures the Bitrix24 chat channel: an inbound webhook
// (its URL, a secret, in webhook_env) or a local application (client_id
// and its secret) on portal_url.
type Bitrix24 struct {
	PortalURL           string `yaml:"portal_url"`
	WebhookEnv          string `yaml:"webhook_env"`
	ClientID            string `yaml:"client_id"`
	ClientSecretEnv     string `yaml:"client_secret_env"`
	ApplicationTokenEnv string `yaml:"application_token_env"`
	Mode                string `yaml:"mode"` // auto | fetch | events
	// APIURL replaces the portal's REST endpoint (portal_url + /rest/) and
	// OAuthURL the OAuth server, for a test server.
	APIURL   string `yaml:"api_url"`
	OAuthURL string `yaml:"oauth_url"`
	// RequestsPerSecond and Burst are the portal's leaky bucket: 2 and 50,
	// 5 and 250 on Enterprise plans.
	RequestsPerSecond float64        `yaml:"requests_per_second"`
	Burst             int            `yaml:"burst"`
	FetchInterval     string         `yaml:"fetch_interval"`
	MaxFileMB         int            `yaml:"max_file_mb"`
	RegistryList      *Bitrix24List  `yaml:"registry_list"`
	Line              int            `yaml:"-"`
	Lines             map[string]int `yaml:"-"`
}

// Bitrix24List is the universal list where the company keeps its contract
// register: every document is mirrored there as one element.
type Bitrix24List struct {
	ID     string `yaml:"id"`      // IBLOCK_ID
	TypeID string `yaml:"type_id"` // IBLOCK_TYPE_ID, default "lists"
	// Fields maps Viza's columns (number, title, counterparty, amount,
	// state, waiting_on, final_version, sheet) to the list's fields (NAME,
	// PROPERTY_123 …).
	Fields map[string]string `yaml:"fields"`
	Line   int               `yaml:"-"`
}

// Telegram configures the Telegram channel.
type Telegram struct {
	TokenEnv         string `yaml:"token_env"`
	APIURL           string `yaml:"api_url"`
	Mode             string `yaml:"mode"`
	WebhookURL       string `yaml:"webhook_url"`
	WebhookSecretEnv string `yaml:"webhook_secret_env"`
	Line             int    `yaml:"-"`
}

// SMS configures the SMS gateway.
type SMS struct {
	Provider   string `yaml:"provider"` // smsru | smsc | twilio
	Sender     string `yaml:"sender"`
	APIKeyEnv  string `yaml:"api_key_env"` // SMS.ru api_id; SMSC "login:password" or API key; Twilio auth token
	APIURL     string `yaml:"api_url"`     // the gateway's base URL; a test server may replace it
	AccountSID string `yaml:"account_sid"` // Twilio only
	Line       int    `yaml:"-"`
}

// Email configures the e-mail channel: notifications with one-tap links
// and the morning digest. Without smtp.host the channel is off.
type Email struct {
	SMTP SMTP   `yaml:"smtp"`
	From string `yaml:"from"` // "Viza <viza@example.ru>"
	// Digest is the time of day ("09:00", company time) of the digest on
	// working days; empty, no digest.
	Digest string `yaml:"digest"`
	// StuckDays is how many working days without a move make a document
	// "stuck" in the digest of managers and viewers; default 3.
	StuckDays int `yaml:"stuck_days"`
	// MaxAttachmentMB is the largest document attached to a mail (a
	// bigger one is linked); default 10.
	MaxAttachmentMB int `yaml:"max_attachment_mb"`
	Line            int `yaml:"-"`
}

// API configures the connector's HTTP API (/api/v1), which other systems
// call with keys made by "viza api-key create".
type API struct {
	// RequestsPerMinute is each key's rate limit; default 120.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// LinkTTL is how long the download links of a result event work;
	// default 168h, a week (longer than webhook retries last).
	LinkTTL string `yaml:"link_ttl"`
	Line    int    `yaml:"-"`
}

// Retention says how long bookkeeping is kept; the audit log, documents
// and versions are kept for ever.
type Retention struct {
	// Notifications: delivered notifications (failed ones stay); default
	// 720h, a month.
	Notifications string `yaml:"notifications"`
	// Dialogues: chat leftovers (references to cards sent, unanswered
	// prompts) and processed inbound updates; default 2160h, three months.
	Dialogues string `yaml:"dialogues"`
	Line      int    `yaml:"-"`
}

// Webhook is one subscriber of the connector's events.
type Webhook struct {
	URL string `yaml:"url"`
	// Events are the event types sent; empty, every one.
	Events []string `yaml:"events"`
	// SecretEnv names the variable holding the signing secret
	// (whsec_ + base64, the Standard Webhooks format).
	SecretEnv string `yaml:"secret_env"`
	// Types are the document types whose events it gets; empty, every
	// type (or, with api_key, the key's types).
	Types []string `yaml:"types"`
	// APIKey names the connector key the subscription is made for: it
	// gets no type that key may not see.
	APIKey string `yaml:"api_key"`
	// AllowPrivate lets it deliver to loopback, link-local and private
	// addresses (a receiver on the same host or network).
	AllowPrivate bool `yaml:"allow_private"`
	Line         int  `yaml:"-"`
}

// Database points Viza at PostgreSQL instead of the SQLite file in
// data_dir, for two or more replicas on one database.
type Database struct {
	// URL is postgres://user@host:5432/db without its password, which comes
	// from the environment: URLEnv (default VIZA_DATABASE_URL) may hold the
	// whole URL instead, or PGPASSWORD the password alone.
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
	Line   int    `yaml:"-"`
}

// DatabaseURL is the PostgreSQL URL to use — the environment's before the
// file's — or "" for SQLite in data_dir.
func (c *Config) DatabaseURL() (string, error) {
	env := "VIZA_DATABASE_URL"
	if c.Database != nil && c.Database.URLEnv != "" {
		env = c.Database.URLEnv
	}
	u, err := Secret(env)
	if err != nil || u != "" {
		return u, err
	}
	if c.Database != nil {
		return c.Database.URL, nil
	}
	return "", nil
}

// SMTP is the mail server mail is handed to.
type SMTP struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"` // default 587, 465 with tls: tls
	// TLS is starttls (default: required), tls (implicit, port 465) or
	// none (a relay on localhost).
	TLS         string `yaml:"tls"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"` // default VIZA_SMTP_PASSWORD
	Line        int    `yaml:"-"`
}

// HTTP configures the web server.
type HTTP struct {
	Listen    string `yaml:"listen"`
	PublicURL string `yaml:"public_url"`
	// TaskLinkTTL is how long a one-tap task link works at most (it dies
	// sooner when the task closes); default 336h, two weeks.
	TaskLinkTTL string `yaml:"task_link_ttl"`
	// MetricsListen serves /metrics on an address of its own (say
	// 127.0.0.1:9090) instead of the public one; MetricsTokenEnv names
	// the variable with a bearer token /metrics then requires (default
	// VIZA_METRICS_TOKEN; unset, no token is asked).
	MetricsListen   string `yaml:"metrics_listen"`
	MetricsTokenEnv string `yaml:"metrics_token_env"`
	Line            int    `yaml:"-"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // text | json; default by terminal
}

// Localized is a name given either as one string or per language.
type Localized map[string]string

func (l *Localized) decodeNode(n *yaml.Node, path string, ps *Problems) {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = Localized{"": n.Value}
	case yaml.MappingNode:
		m := map[string]string{}
		decodeStrict(n, reflect.ValueOf(&m).Elem(), path, ps)
		*l = m
	default:
		ps.add(n.Line, path, "expected a name or {ru: …, en: …}")
	}
}

// In returns the name in lang, falling back to any.
func (l Localized) In(lang string) string {
	if v, ok := l[lang]; ok {
		return v
	}
	if v, ok := l[""]; ok {
		return v
	}
	for _, k := range []string{"en", "ru"} {
		if v, ok := l[k]; ok {
			return v
		}
	}
	for _, v := range l {
		return v
	}
	return ""
}

// Route is either a list of stages or "initiator_choice".
type Route struct {
	Stages []Stage
	AdHoc  bool
	Line   int
}

func (r *Route) decodeNode(n *yaml.Node, path string, ps *Problems) {
	r.Line = n.Line
	switch {
	case n.Kind == yaml.ScalarNode && n.Value == "initiator_choice":
		r.AdHoc = true
	case n.Kind == yaml.SequenceNode:
		decodeStrict(n, reflect.ValueOf(&r.Stages).Elem(), path, ps)
	default:
		ps.add(n.Line, path, "route must be a list of stages or initiator_choice")
	}
}

// Parse decodes and validates viza.yaml content. name is used in messages.
func Parse(name string, data []byte) (*Config, error) {
	ps := &Problems{File: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line := yamlErrLine(err)
		if bad := misindentedLine(data, line); bad > 0 {
			ps.add(bad, "", "this line's indentation matches none of the lines above it (YAML: %s)", cleanYAMLError(err))
		} else {
			ps.add(line, "", "YAML syntax: %s", cleanYAMLError(err))
		}
		return nil, ps
	}
	cfg := &Config{}
	if root.Kind == 0 {
		ps.add(1, "", "the file is empty")
		return nil, ps
	}
	decodeStrict(&root, reflect.ValueOf(cfg).Elem(), "", ps)
	cfg.applyDefaults()
	cfg.validate(ps)
	if len(ps.List) > 0 {
		return cfg, ps
	}
	return cfg, nil
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// misindentedLine finds, from line from on, the first line that steps back
// to an indentation no enclosing block has: the usual slip in a
// hand-edited file. The YAML parser reports such a slip at the block it
// was reading — often the section's heading a few lines up — which sends
// the administrator to the wrong line. 0 when there is no such line.
func misindentedLine(data []byte, from int) int {
	var levels []int // indentations of the blocks open at this point
	prev := -1
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimRight(raw, " \t\r")
		body := strings.TrimLeft(line, " ")
		if body == "" || strings.HasPrefix(body, "#") {
			continue
		}
		indent := len(line) - len(body)
		for len(levels) > 0 && indent < levels[len(levels)-1] {
			levels = levels[:len(levels)-1]
		}
		top := -1
		if len(levels) > 0 {
			top = levels[len(levels)-1]
		}
		if indent < prev && indent != top && i+1 >= from {
			return i + 1
		}
		if indent > top {
			levels = append(levels, indent)
		}
		// A list item's fields line up after its dash.
		if strings.HasPrefix(body, "- ") {
			levels = append(levels, indent+2+len(body[2:])-len(strings.TrimLeft(body[2:], " ")))
		}
		prev = indent
		if strings.HasPrefix(body, "- ") {
			prev = levels[len(levels)-1]
		}
	}
	return 0
}

func yamlErrLine(err error) int {
	var line int
	if _, scanErr := fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &line); scanErr == nil {
		return line
	}
	return 1
}

func (c *Config) applyDefaults() {
	if c.Timezone == "" {
		c.Timezone = "UTC"
	}
	if c.Language == "" {
		c.Language = "en"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if len(c.Calendar.Workdays) == 0 {
		c.Calendar.Workdays = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	if c.Calendar.Hours == "" {
		c.Calendar.Hours = "09:00-18:00"
	}
	for i := range c.DocumentTypes {
		t := &c.DocumentTypes[i]
		if t.Rework == "" {
			t.Rework = "not_yet_approved"
		}
		if t.Number == "" {
			t.Number = "{type}-{yyyy}-{seq:4}"
		}
	}
	if c.Telegram != nil {
		if c.Telegram.APIURL == "" {
			c.Telegram.APIURL = "https://api.telegram.org"
		}
		if c.Telegram.Mode == "" {
			c.Telegram.Mode = "polling"
		}
		if c.Telegram.TokenEnv == "" {
			c.Telegram.TokenEnv = "VIZA_TELEGRAM_TOKEN"
		}
		if c.Telegram.WebhookSecretEnv == "" {
			c.Telegram.WebhookSecretEnv = "VIZA_TELEGRAM_WEBHOOK_SECRET"
		}
	}
	if sl := c.Slack; sl != nil {
		if sl.Mode == "" {
			sl.Mode = "socket"
		}
		if sl.BotTokenEnv == "" {
			sl.BotTokenEnv = "VIZA_SLACK_BOT_TOKEN"
		}
		if sl.AppTokenEnv == "" {
			sl.AppTokenEnv = "VIZA_SLACK_APP_TOKEN"
		}
		if sl.SigningSecretEnv == "" {
			sl.SigningSecretEnv = "VIZA_SLACK_SIGNING_SECRET"
		}
		if sl.APIURL == "" {
			sl.APIURL = "https://slack.com/api/"
		}
		if sl.MaxFileMB == 0 {
			sl.MaxFileMB = 20
		}
	}
	if b := c.Bitrix24; b != nil {
		if b.Mode == "" {
			b.Mode = "auto"
		}
		if b.WebhookEnv == "" {
			b.WebhookEnv = "VIZA_BITRIX24_WEBHOOK"
		}
		if b.ClientSecretEnv == "" {
			b.ClientSecretEnv = "VIZA_BITRIX24_CLIENT_SECRET"
		}
		if b.ApplicationTokenEnv == "" {
			b.ApplicationTokenEnv = "VIZA_BITRIX24_APP_TOKEN"
		}
		if b.APIURL == "" && b.PortalURL != "" {
			b.APIURL = strings.TrimSuffix(b.PortalURL, "/") + "/rest/"
		}
		if b.OAuthURL == "" {
			b.OAuthURL = "https://oauth.bitrix.info/oauth/token/"
		}
		if b.RequestsPerSecond == 0 {
			b.RequestsPerSecond = 2
		}
		if b.Burst == 0 {
			b.Burst = 50
		}
		if b.FetchInterval == "" {
			b.FetchInterval = "5s"
		}
		if b.MaxFileMB == 0 {
			b.MaxFileMB = 20
		}
		if l := b.RegistryList; l != nil && l.TypeID == "" {
			l.TypeID = "lists"
		}
	}
	if c.SMS != nil {
		if c.SMS.APIKeyEnv == "" {
			c.SMS.APIKeyEnv = "VIZA_SMS_API_KEY"
		}
		if c.SMS.APIURL == "" {
			c.SMS.APIURL = map[string]string{"smsru": "https://sms.ru", "smsc": "https://smsc.ru", "twilio": "https://api.twilio.com"}[c.SMS.Provider]
		}
	}
	if e := c.Email; e != nil {
		if e.SMTP.TLS == "" {
			e.SMTP.TLS = "starttls"
		}
		if e.SMTP.Port == 0 {
			e.SMTP.Port = 587
			if e.SMTP.TLS == "tls" {
				e.SMTP.Port = 465
			}
		}
		if e.SMTP.PasswordEnv == "" {
			e.SMTP.PasswordEnv = "VIZA_SMTP_PASSWORD"
		}
		if e.StuckDays == 0 {
			e.StuckDays = 3
		}
		if e.MaxAttachmentMB == 0 {
			e.MaxAttachmentMB = 10
		}
	}
	if c.Retention == nil {
		c.Retention = &Retention{}
	}
	if c.Retention.Notifications == "" {
		c.Retention.Notifications = "720h"
	}
	if c.Retention.Dialogues == "" {
		c.Retention.Dialogues = "2160h"
	}
	if c.API == nil {
		c.API = &API{}
	}
	if c.API.RequestsPerMinute == 0 {
		c.API.RequestsPerMinute = 120
	}
	if c.API.LinkTTL == "" {
		c.API.LinkTTL = "168h"
	}
	if c.HTTP == nil {
		c.HTTP = &HTTP{}
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	if c.HTTP.MetricsTokenEnv == "" {
		c.HTTP.MetricsTokenEnv = "VIZA_METRICS_TOKEN"
	}
	if c.HTTP.TaskLinkTTL == "" {
		c.HTTP.TaskLinkTTL = "336h"
	}
}

// Secret reads an environment variable, or the file named by NAME_FILE
// (for Docker and systemd credentials). Empty when neither is set.
func Secret(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if f := os.Getenv(name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read %s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}
