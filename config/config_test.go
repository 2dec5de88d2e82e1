package config

import (
	"os"
	"strings"
	"testing"
)

func TestExampleLoads(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatalf("the issue's example must load: %v", err)
	}
	d, err := c.Directory()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := d.Person("sidorov")
	if p.Phone != "+79001112255" {
		t.Errorf("phone = %q, want E.164", p.Phone)
	}
	iv, _ := d.Person("ivanova")
	if iv.Identities["telegram"] != "111111111" || iv.Identities["bitrix24"] != "17" {
		t.Errorf("identities = %v", iv.Identities)
	}
	ct, ok := d.Type("contract")
	if !ok || len(ct.Route) != 4 || ct.Route[0].Mode.Kind != "any" || ct.Route[0].Deadline.Minutes != 480 ||
		ct.Route[1].When == nil || ct.Route[3].Kind != "sign" || ct.Name["en"] != "Contract" {
		t.Errorf("contract = %+v", ct)
	}
	memo, _ := d.Type("memo")
	if !memo.AdHoc {
		t.Error("memo must be ad-hoc")
	}
	if !d.IsViewer("kuznetsova") || d.IsViewer("sidorov") {
		t.Error("viewers: role:management")
	}
}

// TestMistakes: each kind of mistake yields its message at its line, and
// all problems of a file are reported together.
func TestMistakes(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new string
		line     int
		want     string
	}{
		{"unknown key", "    title: Юрист\n", "    title: Юрист\n    titel: x\n", 35, `unknown key "titel"`},
		{"dangling manager", "    manager: petrov\n    roles: [sales]", "    manager: petrova\n    roles: [sales]", 19, `manager: no person "petrova"`},
		{"dangling deputy", "deputy: sidorov ", "deputy: sidorova", 30, `deputy: no person "sidorova"`},
		{"dangling person selector", "approvers: [person:director]\n  - id: memo", "approvers: [person:boss]\n  - id: memo", 70, `no person "boss"`},
		{"dangling role", "approvers: [role:cfo]", "approvers: [role:accountant]", 63, `nobody has role "accountant"`},
		{"duplicate person", "  - id: director\n", "  - id: kuznetsova\n", 46, `duplicate person id "kuznetsova"`},
		{"duplicate type", "  - id: memo\n", "  - id: contract\n", 71, `duplicate type id "contract"`},
		{"bad duration", "deadline: 8h", "deadline: 8 hours", 61, `bad duration "8 hours"`},
		{"when_label without when", "      - stage: {ru: Директор, en: Director}\n", "      - stage: {ru: Директор, en: Director}\n        when_label: крупная сделка\n", 67, `when_label: says when the stage applies, but the stage has no when`},
		{"bad phone", `"+79001112244"`, `"12345"`, 27, `phone "12345" is not a valid number`},
		{"bad when", "when: amount >= 1000000", "when: amount >=", 65, "compile when"},
		{"when on unknown field", "when: amount >= 1000000", "when: sum > 5", 65, "compile when"},
		{"route without approver", "        approvers: [role:cfo]\n", "", 62, "a stage needs at least one approver"},
		{"bad mode", "mode: any ", "mode: most", 60, "mode must be all, any or quorum:N"},
		{"bad kind", "kind: sign ", "kind: seal ", 69, `"seal": want approve, acknowledge or sign`},
		{"bad rework", "rework: not_yet_approved ", "rework: nobody ", 56, `"nobody": want everyone`},
		{"bad timezone", "timezone: Europe/Moscow", "timezone: Mars/Olympus", 2, "unknown time zone"},
		{"bad hours", `hours: "09:00-18:00"`, `hours: "18:00-09:00"`, 10, "the end must be after the start"},
		{"bad holiday", `"2027-01-07"`, `"7 Jan"`, 11, `"7 Jan": want yyyy-mm-dd`},
		{"bad number pattern", `number: "Д-{yyyy}-{seq:4}"`, `number: "Д-{yyyy}"`, 55, "needs {seq}"},
		{"same telegram id twice", "    telegram: 555555555", "    telegram: 444444444", 50, "telegram id 444444444 is already"},
		{"telegram username for an id", "    telegram: 555555555", "    telegram: \"@orlov\"", 50, `"@orlov" is not a Telegram user id: write the number`},
		{"slack e-mail for an id", "    slack: U0AAA111", "    slack: anna@romashka.example", 22, `is not a Slack user id (U… or W…`},
		{"slack display name for an id", "    slack: U0AAA111", "    slack: anna.ivanova", 22, `leave it out and give the person's email`},
		{"bitrix24 name for an id", "    bitrix24: 17", "    bitrix24: Анна", 23, `"Анна" is not a Bitrix24 user id`},
		{"bad route shape", "route: initiator_choice", "route: whatever", 73, "route must be a list of stages or initiator_choice"},
		{"bad person time zone", "    timezone: Asia/Yekaterinburg", "    timezone: Asia/Ekat", 43, `timezone: unknown time zone "Asia/Ekat"`},
		{"bad e-mail", "    email: k.kuznetsova@romashka.example", "    email: kuznetsova", 44, `"kuznetsova" is not an e-mail address`},
		{"wrong type of value", "roles: [management]\n    telegram: 555555555", "roles: management\n    telegram: 555555555", 49, "expected a list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := string(base)
			if !strings.Contains(src, tc.old) {
				t.Fatalf("fixture does not contain %q", tc.old)
			}
			src = strings.Replace(src, tc.old, tc.new, 1)
			_, err := Parse("viza.yaml", []byte(src))
			ps, ok := err.(*Problems)
			if !ok {
				t.Fatalf("err = %v, want *Problems", err)
			}
			for _, p := range ps.List {
				if strings.Contains(p.String(), tc.want) {
					if p.Line != tc.line {
						t.Fatalf("%q reported at line %d, want %d", tc.want, p.Line, tc.line)
					}
					return
				}
			}
			t.Fatalf("no problem %q in:\n%v", tc.want, err)
		})
	}
}

func TestEveryProblemReported(t *testing.T) {
	src := `company: X
language: fr
people:
  - {id: a, name: A, manager: nobody, colour: red}
  - {id: a, name: B, deputy: ghost}
document_types:
  - id: t
    name: T
    route:
      - stage: S
        approvers: [role:none]
        mode: sometimes
`
	_, err := Parse("viza.yaml", []byte(src))
	ps, ok := err.(*Problems)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	if len(ps.List) < 6 {
		t.Fatalf("%d problems, want every one of at least 6:\n%v", len(ps.List), err)
	}
	msg := err.Error()
	for _, want := range []string{"viza.yaml:2:", "viza.yaml:4:", "viza.yaml:5:", "viza.yaml:11:", "viza.yaml:12:", `unknown key "colour"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestSecretFromFile(t *testing.T) {
	f := t.TempDir() + "/tok"
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIZA_TEST_TOKEN_FILE", f)
	got, err := Secret("VIZA_TEST_TOKEN")
	if err != nil || got != "s3cret" {
		t.Fatalf("Secret = %q, %v", got, err)
	}
	t.Setenv("VIZA_TEST_TOKEN", "env")
	if got, _ := Secret("VIZA_TEST_TOKEN"); got != "env" {
		t.Fatalf("env must win over the file, got %q", got)
	}
}

// TestWhenLabel: a stage's when_label, one string or per language, reaches
// the route the engine computes.
func TestWhenLabel(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(base), "when: amount >= 1000000\n", "when: amount >= 1000000\n        when_label: {ru: сумма от 1 млн ₽, en: amount of 1 M RUB or more}\n", 1)
	cfg, err := Parse("viza.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := cfg.Directory()
	if err != nil {
		t.Fatal(err)
	}
	for _, ty := range dir.Types {
		for _, st := range ty.Route {
			if st.When != nil {
				if st.WhenLabel["ru"] != "сумма от 1 млн ₽" || st.WhenLabel["en"] != "amount of 1 M RUB or more" {
					t.Fatalf("when_label = %v", st.WhenLabel)
				}
				return
			}
		}
	}
	t.Fatal("no stage with when")
}

// TestMisindentedLine: a line stepped back to an indentation no block has
// is reported at that line, not at the section heading the parser names.
func TestMisindentedLine(t *testing.T) {
	for _, tc := range []struct {
		src  string
		line int
	}{
		{"people:\n  - id: a\n    name: A\n   title: B\n", 4},
		{"company: X\npeople:\n  - id: a\n    name: A\n  - id: b\n     name: B\n   title: C\n", 7},
	} {
		_, err := Parse("viza.yaml", []byte(tc.src))
		ps, ok := err.(*Problems)
		if !ok || len(ps.List) == 0 || ps.List[0].Line != tc.line || !strings.Contains(ps.List[0].Msg, "indentation") {
			t.Errorf("%q: %v, want the indentation at line %d", tc.src, err, tc.line)
		}
	}
}

func TestMalformedYAML(t *testing.T) {
	_, err := Parse("viza.yaml", []byte("company: [unclosed\n"))
	if err == nil || !strings.Contains(err.Error(), "viza.yaml:") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Parse("viza.yaml", nil); err == nil {
		t.Fatal("an empty file must be refused")
	}
}

func TestReminderLadderConfig(t *testing.T) {
	base, _ := os.ReadFile("testdata/example.yaml")
	src := string(base) + `reminders:
  - at: deadline
    send: chat
  - at: deadline+2h
    send: sms
  - every: 2d
    send: chat
sms:
  provider: smsru
  sender: Viza
`
	c, err := Parse("viza.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := c.Directory()
	ct, _ := d.Type("contract")
	if len(ct.Reminders) != 3 || ct.Reminders[1].At.Minutes != 120 || ct.Reminders[1].Send != "sms" || ct.Reminders[2].Every.Days != 2 {
		t.Fatalf("ladder = %+v", ct.Reminders)
	}
	if c.SMS.APIKeyEnv != "VIZA_SMS_API_KEY" || c.SMS.APIURL != "https://sms.ru" {
		t.Fatalf("sms defaults = %+v", c.SMS)
	}
	bad := string(base) + "reminders:\n  - at: tomorrow\n    send: pigeon\n"
	_, err = Parse("viza.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "want deadline or deadline+<duration>") || !strings.Contains(err.Error(), `"pigeon": want chat, sms, email or escalate`) {
		t.Fatalf("bad ladder: %v", err)
	}
}

// TestSlackLimits: a workspace's own limits are read, and impossible ones
// refused with the key named.
func TestSlackLimits(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(base) + "slack:\n  messages_per_second: 20\n  method_limits: {chat.update: 200}\n"
	c, err := Parse("viza.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Slack.MessagesPerSecond != 20 || c.Slack.MethodLimits["chat.update"] != 200 || c.Slack.Mode != "socket" {
		t.Fatalf("slack = %+v", c.Slack)
	}
	bad := string(base) + "slack:\n  messages_per_second: -1\n  method_limits: {chat.update: 0}\n"
	_, err = Parse("viza.yaml", []byte(bad))
	for _, want := range []string{"slack.messages_per_second: must not be negative", "slack.method_limits.chat.update: 0: want calls a minute above 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no problem %q in %v", want, err)
		}
	}
}

// TestDeployExampleLoads: the example the README points administrators at
// is a valid configuration.
func TestDeployExampleLoads(t *testing.T) {
	c, err := Load("../deploy/viza.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Bitrix24 == nil || c.Bitrix24.RegistryList == nil || c.Bitrix24.RegistryList.Fields["sheet"] != "PROPERTY_SHEET" ||
		c.Bitrix24.WebhookEnv != "VIZA_BITRIX24_WEBHOOK" || c.Bitrix24.APIURL != "https://romashka.bitrix24.ru/rest/" || c.Slack.Mode != "socket" {
		t.Fatalf("bitrix24 = %+v, slack = %+v", c.Bitrix24, c.Slack)
	}
}

// TestBitrix24Mistakes: impossible Bitrix24 settings are reported with the
// key named.
func TestBitrix24Mistakes(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := string(base) + `bitrix24:
  portal_url: romashka
  mode: push
  fetch_interval: soon
  client_id: local.1
  registry_list: {fields: {price: PROPERTY_1}}
`
	_, err = Parse("viza.yaml", []byte(bad))
	for _, want := range []string{`bitrix24.mode: "push": want auto, fetch or events`, `bitrix24.portal_url: "romashka"`,
		`bitrix24.fetch_interval: "soon"`, "bitrix24.registry_list.id", "bitrix24.registry_list.fields.price"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no problem %q in %v", want, err)
		}
	}
}

func TestEmailMistakes(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		extra string
		old   string
		new   string
		want  []string
	}{
		{"bad section", "email:\n  smtp: {tls: maybe, port: 70000}\n  from: nobody\n  digest: \"9 am\"\n  stuck_days: 100\n", "", "",
			[]string{"email.smtp.host: is required", `email.smtp.tls: "maybe"`, "email.smtp.port: 70000", `email.from: "nobody"`,
				`email.digest: "9 am"`, "email.stuck_days: 100"}},
		{"email step without section", "reminders:\n  - at: deadline\n    send: email\n", "", "",
			[]string{"reminders[0].send: email needs the email section"}},
		{"unknown notify channel", "", "    email: k.kuznetsova@romashka.example", "    email: k.kuznetsova@romashka.example\n    notify: [pigeon]",
			[]string{`notify: "pigeon": want one of`}},
		{"notify email without address", "email:\n  smtp: {host: mail.example}\n  from: viza@romashka.example\n",
			"    manager: petrov\n    roles: [sales]", "    manager: petrov\n    notify: [email]\n    roles: [sales]",
			[]string{"notify: email needs the person's email address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := string(base)
			if tc.old != "" {
				if !strings.Contains(src, tc.old) {
					t.Fatalf("fixture does not contain %q", tc.old)
				}
				src = strings.Replace(src, tc.old, tc.new, 1)
			}
			wantProblems(t, src+tc.extra, tc.want)
		})
	}
	good := string(base) + "email:\n  smtp: {host: mail.example, username: viza}\n  from: \"Viza <viza@romashka.example>\"\n  digest: \"09:00\"\n"
	c, err := Parse("viza.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Email; e.SMTP.Port != 587 || e.SMTP.TLS != "starttls" || e.SMTP.PasswordEnv != "VIZA_SMTP_PASSWORD" || e.StuckDays != 3 || e.MaxAttachmentMB != 10 {
		t.Errorf("defaults = %+v", e)
	}
}

func TestConnectorMistakes(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		extra string
		want  []string
	}{
		{"bad api", "api:\n  requests_per_minute: -1\n  link_ttl: soon\n",
			[]string{"api.requests_per_minute: -1", `api.link_ttl: "soon"`}},
		{"bad retention", "retention:\n  notifications: 1h\n  dialogues: forever\n",
			[]string{`retention.notifications: "1h"`, `retention.dialogues: "forever"`}},
		{"bad webhooks", "webhooks:\n  - url: ftp://crm.example/hook\n    events: [document.signed]\n  - events: [document.approved]\n" +
			"    secret_env: CRM_SECRET\n  - {url: \"https://a.example/h\", secret_env: A}\n  - {url: \"https://a.example/h\", secret_env: A}\n",
			[]string{`webhooks[0].url: want an http(s) address`, `webhooks[0].events: "document.signed": want one of document.started`,
				"webhooks[0].secret_env: is required", "webhooks[1].url: is required", `webhooks[3].url: the same address is subscribed twice`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblems(t, string(base)+tc.extra, tc.want)
		})
	}
	good := string(base) + "webhooks:\n  - url: https://crm.example/viza\n    events: [document.approved, document.done]\n    secret_env: CRM_WEBHOOK_SECRET\n"
	c, err := Parse("viza.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Retention.Notifications != "720h" || c.Retention.Dialogues != "2160h" {
		t.Errorf("retention = %+v", c.Retention)
	}
	if c.API.RequestsPerMinute != 120 || c.API.LinkTTL != "168h" || len(c.Webhooks) != 1 || c.Webhooks[0].Line == 0 {
		t.Errorf("api = %+v, webhooks = %+v", c.API, c.Webhooks)
	}
}

// wantProblems parses src and wants each of the problems named.
func wantProblems(t *testing.T, src string, want []string) {
	t.Helper()
	_, err := Parse("viza.yaml", []byte(src))
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("no problem %q in %v", w, err)
		}
	}
}

func TestDatabaseSection(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, extra, want string }{
		{"not postgres", "database:\n  url: mysql://db/viza\n", `database.url: "mysql://db/viza": want postgres://`},
		{"no host", "database:\n  url: \"postgres:///viza\"\n", `database.url: "postgres:///viza": want postgres://`},
		{"password in the file", "database:\n  url: postgres://viza:secret@db:5432/viza\n", "database.url: holds a password"},
		{"password as a parameter", "database:\n  url: postgres://viza@db/viza?password=secret\n", "database.url: holds a password"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantProblems(t, string(base)+tc.extra, []string{tc.want}) })
	}

	c, err := Parse("viza.yaml", append(base, "database:\n  url: postgres://viza@db:5432/viza\n  url_env: TEST_VIZA_DB\n"...))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ env, want string }{
		{"", "postgres://viza@db:5432/viza"},
		{"postgres://viza:pw@other/viza", "postgres://viza:pw@other/viza"}, // the environment's first
	} {
		t.Setenv("TEST_VIZA_DB", tc.env)
		if got, err := c.DatabaseURL(); err != nil || got != tc.want {
			t.Errorf("with %q in the environment: %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
	sqlite, err := Parse("viza.yaml", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIZA_DATABASE_URL", "")
	if got, err := sqlite.DatabaseURL(); err != nil || got != "" {
		t.Errorf("without a database section: %q, %v", got, err)
	}
	t.Setenv("VIZA_DATABASE_URL", "postgres://env@db/viza")
	if got, _ := sqlite.DatabaseURL(); got != "postgres://env@db/viza" {
		t.Errorf("VIZA_DATABASE_URL alone: %q", got)
	}
}

// TestBulkPolicy: bulk: false and bulk_max_amount reach the type.
func TestBulkPolicy(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(base), "  - id: memo\n", "  - id: memo\n    bulk: false\n", 1)
	src = strings.Replace(src, "  - id: contract\n", "  - id: contract\n    bulk_max_amount: 150000.50\n", 1)
	cfg, err := Parse("viza.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := cfg.Directory()
	if err != nil {
		t.Fatal(err)
	}
	memo, _ := dir.Type("memo")
	contract, _ := dir.Type("contract")
	if !memo.NoBulk || memo.BulkMaxMinor != 0 || contract.NoBulk || contract.BulkMaxMinor != 15_000_050 {
		t.Fatalf("memo %v %d, contract %v %d", memo.NoBulk, memo.BulkMaxMinor, contract.NoBulk, contract.BulkMaxMinor)
	}
}

// TestOnTimeout: a stage's decision on timeout reaches the stage, and
// what would let a rule approve too much is refused with the reason.
func TestOnTimeout(t *testing.T) {
	base, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	legal := "        deadline: 8h          # working hours\n"
	cases := []struct {
		name, add, want string
	}{
		{"skip", "        on_timeout: skip\n        timeout_after: 4h\n", ""},
		{"approve up to an amount", "        on_timeout: approve\n        timeout_max_amount: 50000\n", ""},
		{"approve without a cap", "        on_timeout: approve\n", "needs timeout_max_amount"},
		{"an unknown rule", "        on_timeout: ignore\n", "approve, skip or escalate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("viza.yaml", []byte(strings.Replace(string(base), legal, legal+c.add, 1)))
			if err == nil {
				_, err = cfg.Directory()
			}
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("got %v, want %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dir, _ := cfg.Directory()
			contract, _ := dir.Type("contract")
			if to := contract.Route[0].Timeout; to.On == "" || to.After.IsZero() {
				t.Fatalf("timeout %+v", to)
			}
		})
	}
	sign := "        kind: sign            # approve (default) | acknowledge | sign\n"
	cfg, err := Parse("viza.yaml", []byte(strings.Replace(string(base), sign, sign+"        deadline: 1d\n        on_timeout: approve\n", 1)))
	if err == nil {
		_, err = cfg.Directory()
	}
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("a signature approved on timeout: %v", err)
	}
}
