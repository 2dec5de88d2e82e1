// Package chat is Viza's conversation layer: every dialogue and command a
// person has with the bot, written once for every messenger. It starts
// documents step by step, answers /my, /status, /list, /history, /sheet
// and /export, asks for the reason of a rejection and the text of a
// comment, takes a file sent in answer to a card as a new version, links
// people by the phone they share, keeps each person's language, and
// delivers the core's notifications as cards with buttons.
//
// A messenger is a Transport: it turns its platform's updates into Events
// and carries out the layer's Messages in its own wire format, escaping
// rich text for its own markup. It declares what it can do (Caps) and the
// layer degrades for the rest: long texts are split, long lists paged,
// long button sets paged, answers asked as a next message where there is
// neither reply-to nor a form, outcomes sent as new messages where
// messages cannot be edited. Dialogue state lives in SQLite under the
// transport's name and the conversation's id, so a restart loses nothing.
//
// Who acts is always the platform's authenticated sender (Event.User); a
// button's action id only says what.
package chat

import (
	"context"
	"fmt"
	"io"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/storage"
)

// Caps is what a messenger can do.
type Caps struct {
	RowButtons int   // buttons side by side; 0: no limit
	MsgButtons int   // buttons on one message; 0: no limit
	MaxText    int   // characters in one message; 0: no limit
	MaxAction  int   // bytes in a button's action id; 0: no limit
	MaxFile    int64 // the largest file people can send the bot; 0: flows.MaxFileSize
	Edit       bool  // an earlier message can be changed, text and buttons
	Forms      bool  // a button tap can open a form that asks for text
	ReplyTo    bool  // an incoming message says which message it answers
	Contacts   bool  // people can be asked to share their phone number
	// Dialect names the markup rich text is rendered into ("telegram-html",
	// "slack-mrkdwn", "bbcode", "plain"), for logs and the README.
	Dialect string
	// Command is how people type a command: "/" (Telegram, Bitrix24) or
	// "/viza " (Slack's one slash command).
	Command string
	// MiniApp: buttons with WebApp open Viza's pages inside the messenger.
	MiniApp bool
}

// Transport is a messenger's wire side, as the conversation layer uses it.
// Errors are *flows.Error: KindTransient to retry later (with RetryAfter
// when the platform said when), flows.CodeUnreachable when the person can
// no longer be reached there (they blocked the bot), anything else to give
// up on that message.
type Transport interface {
	// Name is the channel's name in viza.yaml identities and deliveries.
	Name() string
	Caps() Caps
	// Open returns the private conversation with a platform user.
	Open(ctx context.Context, user string) (conv string, err error)
	// Send posts a message and returns its id.
	Send(ctx context.Context, conv string, m Message) (msgID string, err error)
	// Edit replaces an earlier message's text and buttons (none: no
	// buttons); only with Caps.Edit.
	Edit(ctx context.Context, conv, msgID string, m Message) error
	// SendFile posts a file with a caption and returns the message's id.
	SendFile(ctx context.Context, conv string, f File) (msgID string, err error)
	// Ask puts a question whose answer is free text or a file. It returns
	// the id of the message an answer will reply to (AskReply), or "".
	Ask(ctx context.Context, conv string, q Question) (msgID string, err error)
	// Answer acknowledges a button tap with a short note (a toast, an
	// ephemeral line), or nothing where the platform has none.
	Answer(ctx context.Context, tap *Tap, text string) error
	// Fetch downloads a file a person sent, at most max bytes; a larger one
	// is a *flows.Error with code file_too_big.
	Fetch(ctx context.Context, f FileRef, max int64) ([]byte, error)
}

// Identifier is implemented by a transport that can find people by other
// means than the id in viza.yaml (Slack: by the e-mail address).
type Identifier interface {
	// PersonOf finds the person a platform user is.
	PersonOf(ctx context.Context, dir *flows.Directory, user string) (*flows.Person, bool)
	// UserOf finds the platform user a person is.
	UserOf(ctx context.Context, p *flows.Person) (string, bool)
	// Knows reports, without asking the platform, whether UserOf may
	// succeed; the dispatcher asks it for every notification.
	Knows(p *flows.Person) bool
}

// CounterpartyFinder is implemented by a platform that keeps the
// company's counterparties (Bitrix24's CRM companies): when an initiator
// types a counterparty, the layer offers the ones that match to pick from.
type CounterpartyFinder interface {
	Counterparties(ctx context.Context, query string, limit int) ([]string, error)
}

// HomeTransport is implemented by a platform with a home view of the bot
// (Slack's App Home) that shows a person's open tasks and documents. The
// layer tells it whose home changed; the transport asks Messenger.Home for
// the content when it publishes, at the pace the platform allows.
type HomeTransport interface {
	HomeChanged(user string)
}

// Home is what a person's home view shows.
type Home struct {
	Header    rich.Text
	Tasks     []Message // each open task's request, with its buttons
	NoTasks   rich.Text // said instead when there are none
	Documents rich.Text // the documents the person started, with states
	// Web links the person's pages in the browser through a one-time
	// sign-in link, fresh with each view.
	Web rich.Text
}

// Message is what the bot says: rich text and rows of buttons.
type Message struct {
	Text rich.Text
	// Context is a request's secondary line (stage, deadline) that a
	// platform may show apart in small print; Text already says it, so a
	// transport without such a place leaves it out.
	Context rich.Text
	Buttons [][]Button
	// ShareContact offers a button, with this label, to share one's phone
	// number (Caps.Contacts); ClearContact takes it away again.
	ShareContact string
	ClearContact bool
}

// Button is one action. Action is opaque to the transport: it comes back
// in the Tap as it was, and never says who is acting.
type Button struct {
	Label  string
	Action string
	Style  string // StylePrimary, StyleDanger or ""
	// WebApp, instead of an action, is a page of Viza's (a path, "/doc/N")
	// the platform opens inside the messenger, where Caps.MiniApp says it
	// can; the page signs the person in with what the platform vouches.
	WebApp string
}

// Button styles, for platforms that colour buttons.
const (
	StylePrimary = "primary"
	StyleDanger  = "danger"
)

// File is a file the bot sends.
type File struct {
	Name string
	// SHA256 names the content: a transport may upload it once and reuse
	// the platform's reference afterwards.
	SHA256  string
	Size    int64
	Open    func() (io.ReadCloser, error)
	Caption rich.Text
}

// Bytes reads the whole file, for platforms that take it in one request.
func (f File) Bytes() ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name, err)
	}
	return b, nil
}

// How a question is answered.
const (
	AskReply = "reply" // the answer replies to the question's message (Caps.ReplyTo)
	AskForm  = "form"  // a form opened from the tap (Caps.Forms)
	AskNext  = "next"  // the person's next message in the conversation
)

// Question asks for free text (or a file, with File).
type Question struct {
	ID   string // comes back in Event.Form for forms
	Mode string
	Text rich.Text
	File bool
	// For forms: the tap that opens it, its title, the field's label and
	// the buttons' labels.
	Tap           *Tap
	Title, Label  string
	Submit, Close string
	// Required is what a form says when submitted empty; Lang the
	// language of the person asked.
	Required string
	Lang     string
}

// Event is one thing a person did, in neutral terms.
type Event struct {
	// Key is the command's idempotency key, made from the platform's own
	// ids, so that a redelivered update changes nothing.
	Key  string
	Conv string
	// User is the platform's authenticated sender; Lang its language hint
	// for people the bot does not know yet.
	User string
	Lang string

	Text    string // a message's text, or a file's caption
	Command string // a command's name, without the slash
	Args    string
	// ReplyTo is the message this one answers, when the platform says;
	// ReplyText that message's text when it was the bot's.
	ReplyTo   string
	ReplyText string

	Tap     *Tap
	File    *FileRef
	Contact *Contact
	Form    *Form
	// Home is set when the person opened the bot's home view (Slack's App
	// Home): a HomeTransport shows it afresh.
	Home bool
}

// Tap is a button pressed.
type Tap struct {
	ID      string // the platform's id of the tap, to answer it
	Action  string
	Message string // the message the button is on
	// MessageText is that message's text as the platform shows it, for
	// messages whose rich text the layer did not keep.
	MessageText string
	Trigger     string // what opens a form (Slack's trigger_id)
	// MessageMaybe: the platform does not promise that Message is the
	// message the button was on (Bitrix24's Chatbots 2.0 names "the
	// message with the command"). The layer then trusts it only when it
	// sent that message itself; otherwise it finds the card through the
	// task.
	MessageMaybe bool
}

// FileRef is a file a person sent: enough to fetch it later, after the
// dialogue has asked its questions.
type FileRef struct {
	Ref  string `json:"id"`
	Name string `json:"name"`
	MIME string `json:"mime"`
	Size int64  `json:"size"`
}

// Contact is a phone number a person shared; Own when it is their own.
type Contact struct {
	Phone string
	Own   bool
}

// Form is a submitted form: the question's id and the text typed.
type Form struct {
	Question string
	Text     string
}

// Store is what the layer keeps and reads.
type Store interface {
	StateGet(ctx context.Context, channel, key string) (string, bool, error)
	StatePut(ctx context.Context, channel, key, value string) error
	StatePrefix(ctx context.Context, channel, prefix string) (map[string]string, error)
	Document(ctx context.Context, id int64) (*flows.Document, error)
	DocumentOfTask(ctx context.Context, taskID int64) (*flows.Document, error)
	DocumentsOf(ctx context.Context, p flows.PersonID, limit int) ([]*flows.Document, error)
	OpenTasksOf(ctx context.Context, p flows.PersonID) ([]storage.OpenTask, error)
	FailedDeliveries(ctx context.Context, docID int64, channel string) ([]storage.FailedDelivery, error)
	DocumentsByCounterparty(ctx context.Context, q string, limit int) ([]*flows.Document, error)
	DocumentPage(ctx context.Context, q storage.DocQuery) ([]*flows.Document, error)
	CountDocumentsUpTo(ctx context.Context, q storage.DocQuery, limit int) (int, bool, error)
}

// Reports renders the approval sheet and the registry.
type Reports interface {
	Sheet(ctx context.Context, d *flows.Document, lang string, w io.Writer) error
	// Registry writes the registry of what reader may read ("" for all)
	// and says how many documents it holds.
	// progress, when set, is told how many rows are written so far.
	Registry(ctx context.Context, reader flows.PersonID, lang string, csv bool, w io.Writer, progress func(done int)) (int, error)
}

// FinalSealer is what a Reports that seals the final version also does
// (the company's seal, when the configuration asks for it): the sealed
// copy of the approved PDF, or ok false to send the version as uploaded.
type FinalSealer interface {
	SealsFinal() bool
	SealedFinal(ctx context.Context, d *flows.Document, lang string) (name string, pdf []byte, ok bool)
}

// Commands are the commands people type, each with a catalogue entry
// "cmd.<name>" that describes it; transports register them where the
// platform has a command menu.
var Commands = []string{"start", "help", "new", "my", "status", "list", "history", "diff", "sheet", "export", "stats", "web", "cancel", "lang"}
