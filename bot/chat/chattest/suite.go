package chattest

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/messages/rich/richtest"
)

// People of the suite's company (config.yaml): ivanova starts documents
// and reads Russian; petrov and sidorov are the lawyers (petrov reads
// English); kuznetsova is finance; director sees every document; volkov
// takes part in nothing.
const (
	Ivanova    flows.PersonID = "ivanova"
	Petrov     flows.PersonID = "petrov"
	Sidorov    flows.PersonID = "sidorov"
	Kuznetsova flows.PersonID = "kuznetsova"
	Director   flows.PersonID = "director"
	Volkov     flows.PersonID = "volkov"
)

// People lists them all.
var People = []flows.PersonID{Ivanova, Petrov, Sidorov, Kuznetsova, Director, Volkov}

var langs = map[flows.PersonID]string{Ivanova: "ru", Petrov: "en", Sidorov: "ru", Kuznetsova: "ru", Director: "ru", Volkov: "ru"}

//go:embed config.yaml
var configYAML string

var identRE = regexp.MustCompile(`(?m)^    IDENT: (\w+)\n`)

// Config is the suite's viza.yaml: DATA_DIR to be replaced, each person's
// identity line made by ident (an empty string for none), and the
// channel's own section appended.
func Config(dataDir string, ident func(flows.PersonID) string, channel string) string {
	body := identRE.ReplaceAllStringFunc(configYAML, func(line string) string {
		id := identRE.FindStringSubmatch(line)[1]
		if s := ident(flows.PersonID(id)); s != "" {
			return "    " + s + "\n"
		}
		return ""
	})
	return strings.ReplaceAll(body, "DATA_DIR", dataDir) + channel
}

// Msg is a message as its reader sees it.
type Msg struct {
	ID       string
	Text     string // as shown, markup taken away
	Buttons  []chat.Button
	File     string
	Data     []byte
	Question bool // a question waiting for a reply, a form or the next message
}

// Button returns the first button whose action starts with prefix.
func (m Msg) Button(prefix string) (chat.Button, bool) {
	for _, b := range m.Buttons {
		if strings.HasPrefix(b.Action, prefix) {
			return b, true
		}
	}
	return chat.Button{}, false
}

// File is a file a person sends.
type File struct {
	Name, MIME string
	Data       []byte
	Caption    string
	Size       int64 // the size the platform reports; 0: len(Data)
}

// Env is one channel's fake platform with Viza running against it. Every
// call acts as the platform's authenticated user.
type Env interface {
	// Caps are the channel's capabilities, as the suite may need to know
	// what to expect.
	Caps() chat.Caps
	// Stranger is a platform user the directory does not know.
	Stranger() string
	// User is a person's platform user.
	User(p flows.PersonID) string
	Text(user, text string)
	Command(user, name, args string)
	Upload(user string, f File)
	// ReplyFile sends a file in answer to one of the bot's messages, the
	// way the platform does it (a reply, a thread, the button that asks
	// for it).
	ReplyFile(user string, to Msg, f File)
	// Tap presses a button and returns the answer the person saw (a toast,
	// an ephemeral line), "" for none.
	Tap(user string, on Msg, action string) string
	// Answer answers a question: a reply, a form or the next message.
	Answer(user string, q Msg, text string)
	// Messages is the user's private conversation with the bot, oldest first.
	Messages(user string) []Msg
	// Fetches counts the files downloaded from the platform.
	Fetches() int
	Engine() *flows.Engine
	Document(number string) *flows.Document
}

// Scenario is one conversation every channel must carry.
type Scenario struct {
	Name string
	Run  func(t *testing.T, s *Session)
}

// Run runs every scenario, each on a fresh Env.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			sc.Run(t, &Session{t: t, env: newEnv(t), seen: map[string]int{}})
		})
	}
}

// Wait bounds every wait for the bot.
const Wait = 15 * time.Second

// Session drives one Env in a scenario.
type Session struct {
	t    *testing.T
	env  Env
	seen map[string]int // per user: messages already matched by Next
}

// Env is the session's environment.
func (s *Session) Env() Env { return s.env }

// Say is the catalogue's text in lang as a person reads it.
func Say(lang, id string, data map[string]any) string {
	return messages.Say(lang, id, data).String()
}

// say is the text a person reads, in their language, cut at the first
// placeholder-free run worth matching.
func sayTo(p flows.PersonID, id string, data map[string]any) string { return Say(langs[p], id, data) }

// until polls cond until it holds or Wait passes.
func until(cond func() bool) bool {
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func dump(msgs []Msg) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "#%s %q", m.ID, m.Text)
		if m.File != "" {
			fmt.Fprintf(&b, " [file %s]", m.File)
		}
		for _, btn := range m.Buttons {
			fmt.Fprintf(&b, " [%s → %s]", btn.Label, btn.Action)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Find waits for any message of user (old or new, edited included) that
// contains want.
func (s *Session) Find(user, want string) Msg {
	s.t.Helper()
	var found Msg
	if !until(func() bool {
		for _, m := range s.env.Messages(user) {
			if strings.Contains(m.Text, want) {
				found = m
				return true
			}
		}
		return false
	}) {
		s.t.Fatalf("%s never saw %q; the conversation:\n%s", user, want, dump(s.env.Messages(user)))
	}
	return found
}

// Next waits for a message of user after those Next already returned that
// contains want, so that a question asked twice is not taken for its
// first time.
func (s *Session) Next(user, want string) Msg {
	s.t.Helper()
	var found Msg
	var at int
	if !until(func() bool {
		msgs := s.env.Messages(user)
		for i := s.seen[user]; i < len(msgs); i++ {
			if strings.Contains(msgs[i].Text, want) {
				found, at = msgs[i], i
				return true
			}
		}
		return false
	}) {
		s.t.Fatalf("%s never got a new message with %q; the conversation:\n%s", user, want, dump(s.env.Messages(user)))
	}
	s.seen[user] = at + 1
	return found
}

// Skip marks everything user has seen so far as read for Next.
func (s *Session) Skip(user string) { s.seen[user] = len(s.env.Messages(user)) }

// WithButton waits for a message of user containing want that has a
// button whose action starts with prefix, turning pages of buttons where
// the platform shows only some at a time.
func (s *Session) WithButton(user, want, prefix string) (Msg, chat.Button) {
	s.t.Helper()
	return s.withButton(user, want, prefix, "", 0)
}

// WithButtonLike is WithButton for a button whose label also holds
// label, among the messages since Skip.
func (s *Session) WithButtonLike(user, want, prefix, label string) (Msg, chat.Button) {
	s.t.Helper()
	return s.withButton(user, want, prefix, label, s.seen[user])
}

func (s *Session) withButton(user, want, prefix, label string, from int) (Msg, chat.Button) {
	s.t.Helper()
	var found Msg
	var btn chat.Button
	turned := map[string]bool{}
	if !until(func() bool {
		msgs := s.env.Messages(user)
		for _, m := range msgs[min(from, len(msgs)):] {
			if !strings.Contains(m.Text, want) {
				continue
			}
			for _, b := range m.Buttons {
				if strings.HasPrefix(b.Action, prefix) && strings.Contains(b.Label, label) {
					found, btn = m, b
					return true
				}
			}
			if more, ok := moreButton(m); ok && !turned[m.ID+more.Action] {
				turned[m.ID+more.Action] = true
				s.env.Tap(user, m, more.Action)
			}
		}
		return false
	}) {
		s.t.Fatalf("%s has no message with %q and a %q button %q; the conversation:\n%s", user, want, prefix, label, dump(s.env.Messages(user)))
	}
	return found, btn
}

// moreButton is the button that shows a message's next page of buttons.
func moreButton(m Msg) (chat.Button, bool) {
	more := Say("ru", "chat.page", nil)
	for _, b := range m.Buttons {
		if strings.HasPrefix(b.Action, "pg:") || b.Label == more {
			return b, true
		}
	}
	return chat.Button{}, false
}

// TapOn finds the button and presses it, returning the answer.
func (s *Session) TapOn(user, want, prefix string) (Msg, string) {
	s.t.Helper()
	m, b := s.WithButton(user, want, prefix)
	return m, s.env.Tap(user, m, b.Action)
}

// Start starts a supply contract through the engine (the dialogue has its
// own scenario) and returns its number once both lawyers have their cards.
func (s *Session) Start(title string) *flows.Document {
	s.t.Helper()
	return s.StartWith(title, title+".pdf", []byte("%PDF-1.4 "+title))
}

// StartWith is Start with a file of the scenario's.
func (s *Session) StartWith(title, name string, data []byte) *flows.Document {
	s.t.Helper()
	out, err := s.env.Engine().Start(s.t.Context(), flows.StartCmd{Key: "suite:" + title, Actor: Ivanova, TypeID: "supply",
		Title: title, Counterparty: "ООО «Бумага»", File: flows.Upload{Name: name, Content: bytes.NewReader(data)}})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, p := range []flows.PersonID{Petrov, Sidorov} {
		s.WithButton(s.env.User(p), out.Number, "ap:")
	}
	return s.env.Document(out.Number)
}

// decide decides a task through the engine, as someone on another channel.
func (s *Session) decide(d *flows.Document, p flows.PersonID, action, comment string) {
	s.t.Helper()
	for _, tk := range d.OpenTasks() {
		if tk.Assignee == p {
			if _, err := s.env.Engine().Decide(s.t.Context(), flows.DecideCmd{Key: fmt.Sprint("suite:", tk.ID, action), Actor: p,
				TaskID: tk.ID, Action: action, Comment: comment}); err != nil {
				s.t.Fatal(err)
			}
			return
		}
	}
	s.t.Fatalf("%s holds no open task of %s", p, d.Number)
}

// rejected starts a document, has both lawyers approve, and finance reject
// it in chat; it returns the document and the initiator's message about it.
func (s *Session) rejected(title, reason string) (*flows.Document, Msg) {
	s.t.Helper()
	return s.rejectedDoc(s.Start(title), reason)
}

// rejectedDoc is rejected for a document already started.
func (s *Session) rejectedDoc(d *flows.Document, reason string) (*flows.Document, Msg) {
	s.t.Helper()
	s.decide(d, Petrov, flows.ActionApprove, "")
	s.decide(d, Sidorov, flows.ActionApprove, "")
	k := s.env.User(Kuznetsova)
	_, answer := s.TapOn(k, d.Number, "rj:")
	switch answer {
	case "", sayTo(Kuznetsova, "chat.answer.reply", nil), sayTo(Kuznetsova, "chat.answer.next", nil), sayTo(Kuznetsova, "chat.answer.form", nil):
	default:
		s.t.Fatalf("the reject tap answered %q", answer)
	}
	q := s.question(k, d.Number)
	s.env.Answer(k, q, reason)
	// The initiator's message about it is the one that offers a new version.
	back, _ := s.WithButton(s.env.User(Ivanova), d.Number, "uv:")
	return s.env.Document(d.Number), back
}

// question waits for the question the bot asked user about number.
func (s *Session) question(user, number string) Msg {
	s.t.Helper()
	return s.questionFrom(user, number, 0)
}

// newQuestion is question among the messages since Skip.
func (s *Session) newQuestion(user, number string) Msg {
	s.t.Helper()
	return s.questionFrom(user, number, s.seen[user])
}

func (s *Session) questionFrom(user, number string, from int) Msg {
	s.t.Helper()
	var q Msg
	if !until(func() bool {
		msgs := s.env.Messages(user)
		for _, m := range msgs[min(from, len(msgs)):] {
			if m.Question && strings.Contains(m.Text, number) {
				q = m
				return true
			}
		}
		return false
	}) {
		s.t.Fatalf("%s was asked nothing about %s:\n%s", user, number, dump(s.env.Messages(user)))
	}
	return q
}

func decisions(d *flows.Document, kind string, p flows.PersonID) int {
	n := 0
	for _, dc := range d.Decisions {
		if dc.Kind == kind && (p == "" || dc.Actor == p) {
			n++
		}
	}
	return n
}

// hostileTitle is a title made of what would be markup or a mention in
// every dialect the channels speak.
var hostileTitle = strings.Join([]string{richtest.Hostile[0], richtest.Hostile[5], richtest.Hostile[7], richtest.Hostile[9], richtest.Hostile[10]}, " ")

// NextQuestion reports whether a bot's message is one of the questions
// answered by the next message (the catalogue's "….next" entries, in any
// language), for a platform whose messages carry no mark of a question.
func NextQuestion(text string) bool {
	nextQuestionsOnce.Do(loadNextQuestions)
	text = strings.TrimSpace(text)
	for _, re := range nextQuestions {
		if re.MatchString(text) {
			return true
		}
	}
	return false
}

var (
	nextQuestionsOnce sync.Once
	nextQuestions     []*regexp.Regexp
)

func loadNextQuestions() {
	placeholder := regexp.MustCompile(`\\\{\\\{[^}]*\\\}\\\}`)
	for _, lang := range locales.Languages {
		raw, err := locales.Raw(lang)
		if err != nil {
			panic(err)
		}
		var cat map[string]any
		if err := yaml.Unmarshal(raw, &cat); err != nil {
			panic(err)
		}
		for k, x := range cat {
			if v, ok := x.(string); ok && strings.HasSuffix(k, ".next") {
				pattern := placeholder.ReplaceAllString(regexp.QuoteMeta(strings.TrimSpace(rich.MustParse(v).String())), ".*")
				nextQuestions = append(nextQuestions, regexp.MustCompile("^"+pattern+"$"))
			}
		}
	}
}
