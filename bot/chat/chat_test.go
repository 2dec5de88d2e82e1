package chat_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/chat/chattest"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage/storagetest"
)

func messenger(t *testing.T, caps chat.Caps) (*chat.Messenger, *chattest.Mem, *storagetest.Rig) {
	t.Helper()
	rig := storagetest.NewRig(t, false)
	mem := chattest.NewMem(caps)
	c := &chat.Conversation{Engine: rig.Engine, Store: rig.DB, Files: rig.Files, Clock: rig.Clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m, err := chat.New(context.Background(), c, mem)
	if err != nil {
		t.Fatal(err)
	}
	return m, mem, rig
}

func start(t *testing.T, rig *storagetest.Rig, title string) flows.Outcome {
	t.Helper()
	out, err := rig.Engine.Start(context.Background(), flows.StartCmd{Key: "k:" + title, Actor: "ivanova", TypeID: "contract", Title: title,
		File: flows.Upload{Name: "a.pdf", Content: strings.NewReader("%PDF a")}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deliver hands the document's request for petrov to the messenger, as
// the dispatcher would.
func deliver(t *testing.T, m *chat.Messenger, rig *storagetest.Rig, docID int64) {
	t.Helper()
	d, err := rig.DB.Document(context.Background(), docID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range d.OpenTasks() {
		if tk.Assignee == "petrov" {
			n := flows.TaskNotification(d, tk)
			p, _ := rig.Dir.Person("petrov")
			if _, err := m.Deliver(context.Background(), n, p); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("petrov has no task")
}

func buttonsOf(msg chattest.MemMsg) []chat.Button {
	var out []chat.Button
	for _, row := range msg.Buttons {
		out = append(out, row...)
	}
	return out
}

// TestButtonsArePagedAndActionsShortened: a card with more buttons than
// the platform allows shows a page of them and a More button that brings
// the rest; actions over the platform's length are kept server-side and
// still work when tapped.
func TestButtonsArePagedAndActionsShortened(t *testing.T) {
	m, mem, rig := messenger(t, chat.Caps{MsgButtons: 4, RowButtons: 2, MaxAction: 8, Edit: true})
	out := start(t, rig, "Аренда")
	deliver(t, m, rig, out.DocID)
	conv := mem.Conv("c-u-petrov")
	card := conv[len(conv)-1]
	shown := buttonsOf(card)
	if len(shown) != 3 {
		t.Fatalf("page 1 shows %d buttons: %+v", len(shown), shown)
	}
	for _, row := range card.Buttons {
		if len(row) > 2 {
			t.Fatalf("a row of %d buttons", len(row))
		}
	}
	var seen []string
	var approve chat.Button
	for page := 0; page < 5; page++ {
		var more chat.Button
		for _, b := range buttonsOf(card) {
			if len(b.Action) > 8 {
				t.Fatalf("action %q is over the limit", b.Action)
			}
			if strings.HasPrefix(b.Label, "Ещё") {
				more = b
			} else if !strings.HasPrefix(b.Label, "◀") {
				seen = append(seen, b.Label)
			}
			if b.Label == "Approve" {
				approve = b
			}
		}
		if more.Action == "" {
			break
		}
		m.Handle(context.Background(), chat.Event{Key: "tap-more", Conv: "c-u-petrov", User: "u-petrov",
			Tap: &chat.Tap{ID: "t" + string(rune('a'+page)), Action: more.Action, Message: card.ID}})
		for _, msg := range mem.Conv("c-u-petrov") {
			if msg.ID == card.ID {
				card = msg
			}
		}
	}
	// petrov reads English: every button of the card, page by page.
	if strings.Join(seen, ",") != "Approve,Reject,Approve with comment,Comment,New version,History" {
		t.Fatalf("the pages showed %v", seen)
	}
	// A shortened action still decides the task.
	d, _ := rig.DB.Document(context.Background(), out.DocID)
	if !strings.HasPrefix(approve.Action, "@") && !strings.HasPrefix(approve.Action, "ap:") {
		t.Fatalf("approve action %q", approve.Action)
	}
	m.Handle(context.Background(), chat.Event{Key: "tap-approve", Conv: "c-u-petrov", User: "u-petrov",
		Tap: &chat.Tap{ID: "approve", Action: approve.Action, Message: card.ID}})
	after, _ := rig.DB.Document(context.Background(), out.DocID)
	if len(after.Decisions) != len(d.Decisions)+1 || after.Decisions[len(after.Decisions)-1].Kind != flows.ActionApprove {
		t.Fatalf("the tap did not approve: %+v", after.Decisions)
	}
}

// TestLongTextIsSplit: a text over the platform's limit goes as several
// messages, none over the limit, the buttons on the last.
func TestLongTextIsSplit(t *testing.T) {
	m, mem, _ := messenger(t, chat.Caps{MaxText: 120})
	m.Handle(context.Background(), chat.Event{Key: "help", Conv: "c-u-ivanova", User: "u-ivanova", Command: "help"})
	msgs := mem.Conv("c-u-ivanova")
	if len(msgs) < 3 {
		t.Fatalf("help in %d messages", len(msgs))
	}
	var all string
	for _, msg := range msgs {
		if msg.Text.Len() > 120 {
			t.Fatalf("a message of %d characters", msg.Text.Len())
		}
		all += msg.Text.String()
	}
	if !strings.Contains(all, "Анна Иванова, чтобы отправить документ") || !strings.Contains(all, "название контрагента") {
		t.Fatalf("help lost text: %q", all)
	}
}

// TestStateWrittenByEarlierVersionsIsRead: task and card references kept
// before the layer was shared (numeric Telegram ids, a bare document id)
// still lead to the right message.
func TestStateWrittenByEarlierVersionsIsRead(t *testing.T) {
	m, mem, rig := messenger(t, chat.Caps{Edit: true, ReplyTo: true})
	out := start(t, rig, "Старая карточка")
	conv := "c-u-petrov"
	id, err := mem.Send(context.Background(), conv, chat.Message{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := rig.DB.Document(context.Background(), out.DocID)
	var task int64
	for _, tk := range d.OpenTasks() {
		if tk.Assignee == "petrov" {
			task = tk.ID
		}
	}
	legacy, _ := json.Marshal(map[string]any{"chat": conv, "msg": 0, "text": "old card"})
	legacy = []byte(strings.Replace(string(legacy), `"msg":0`, `"msg":`+id, 1))
	if err := rig.DB.StatePut(context.Background(), chattest.MemName, "task:"+itoa(task), string(legacy)); err != nil {
		t.Fatal(err)
	}
	if err := rig.DB.StatePut(context.Background(), chattest.MemName, "card:"+conv+":"+id, itoa(out.DocID)); err != nil {
		t.Fatal(err)
	}
	// A decision made elsewhere shows its outcome on the old card.
	if _, err := rig.Engine.Decide(context.Background(), flows.DecideCmd{Key: "web", Actor: "petrov", TaskID: task, Action: flows.ActionApprove}); err != nil {
		t.Fatal(err)
	}
	p, _ := rig.Dir.Person("petrov")
	n := flows.Notification{Kind: flows.NoteTaskClosed, To: "petrov", DocID: out.DocID, Number: out.Number, TaskID: task,
		Reason: flows.CloseDecided, Decision: flows.ActionApprove, At: rig.Clock.Now()}
	if _, err := m.Deliver(context.Background(), n, p); err != nil {
		t.Fatal(err)
	}
	for _, msg := range mem.Conv(conv) {
		if msg.ID == id {
			if !strings.HasPrefix(msg.Text.String(), "old card") || !strings.Contains(msg.Text.String(), "Approved by you") {
				t.Fatalf("the old card reads %q", msg.Text.String())
			}
			return
		}
	}
	t.Fatal("the old card is gone")
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestEveryCopyOfARequestShowsTheOutcome: the request, a reminder of it and
// a /my answer are three messages with the same buttons; deciding on one
// takes the buttons off all three.
func TestEveryCopyOfARequestShowsTheOutcome(t *testing.T) {
	m, mem, rig := messenger(t, chat.Caps{Edit: true, ReplyTo: true})
	out := start(t, rig, "Три копии")
	deliver(t, m, rig, out.DocID)
	d, _ := rig.DB.Document(context.Background(), out.DocID)
	var task *flows.Task
	for _, tk := range d.OpenTasks() {
		if tk.Assignee == "petrov" {
			task = tk
		}
	}
	reminder := flows.TaskNotification(d, task)
	reminder.Kind = flows.NoteReminder
	p, _ := rig.Dir.Person("petrov")
	if _, err := m.Deliver(context.Background(), reminder, p); err != nil {
		t.Fatal(err)
	}
	m.Handle(context.Background(), chat.Event{Key: "my", Conv: "c-u-petrov", User: "u-petrov", Command: "my"})
	var cards []chattest.MemMsg
	for _, msg := range mem.Conv("c-u-petrov") {
		for _, b := range buttonsOf(msg) {
			if strings.HasPrefix(b.Action, "ap:") {
				cards = append(cards, msg)
			}
		}
	}
	if len(cards) != 3 {
		t.Fatalf("%d messages with Approve, want 3", len(cards))
	}
	m.Handle(context.Background(), chat.Event{Key: "tap", Conv: "c-u-petrov", User: "u-petrov",
		Tap: &chat.Tap{ID: "t", Action: "ap:" + itoa(task.ID), Message: cards[1].ID}})
	for _, msg := range mem.Conv("c-u-petrov") {
		for _, c := range cards {
			if msg.ID != c.ID {
				continue
			}
			for _, b := range buttonsOf(msg) {
				if strings.HasPrefix(b.Action, "ap:") {
					t.Fatalf("message %s still offers Approve: %q", msg.ID, msg.Text.String())
				}
			}
			if !strings.Contains(msg.Text.String(), "Approved by you") {
				t.Fatalf("message %s does not show the outcome: %q", msg.ID, msg.Text.String())
			}
		}
	}
}

// flaky is the in-memory messenger whose edits fail while broken is set,
// as when the process is killed mid-edit (context canceled).
type flaky struct {
	*chattest.Mem
	broken bool
}

func (f *flaky) Edit(ctx context.Context, conv, msgID string, msg chat.Message) error {
	if f.broken {
		return context.Canceled
	}
	return f.Mem.Edit(ctx, conv, msgID, msg)
}

// TestDecidedCardIsEditedFromTheOutbox: the edit that takes the decision's
// buttons off a card is cut short (the process died after the decision
// committed); the task's closing notification, which the outbox delivers
// after any restart, makes it. Once the document is finished, the card
// keeps no button at all, Add remark included.
func TestDecidedCardIsEditedFromTheOutbox(t *testing.T) {
	rig := storagetest.NewRig(t, false)
	mem := &flaky{Mem: chattest.NewMem(chat.Caps{Edit: true, ReplyTo: true})}
	c := &chat.Conversation{Engine: rig.Engine, Store: rig.DB, Files: rig.Files, Clock: rig.Clock, Log: slog.New(slog.DiscardHandler)}
	m, err := chat.New(context.Background(), c, mem)
	if err != nil {
		t.Fatal(err)
	}
	out := start(t, rig, "Обрыв")
	deliver(t, m, rig, out.DocID)
	conv := mem.Conv("c-u-petrov")
	card := conv[len(conv)-1]
	var task int64
	for _, b := range buttonsOf(card) {
		if strings.HasPrefix(b.Action, "ap:") {
			fmtID := strings.TrimPrefix(b.Action, "ap:")
			json.Unmarshal([]byte(fmtID), &task)
		}
	}
	mem.broken = true
	m.Handle(context.Background(), chat.Event{Key: "tap", Conv: "c-u-petrov", User: "u-petrov",
		Tap: &chat.Tap{ID: "t", Action: "ap:" + itoa(task), Message: card.ID}})
	cardNow := func() chattest.MemMsg {
		for _, msg := range mem.Conv("c-u-petrov") {
			if msg.ID == card.ID {
				return msg
			}
		}
		t.Fatal("the card is gone")
		return chattest.MemMsg{}
	}
	if len(buttonsOf(cardNow())) == 0 {
		t.Fatal("the broken edit went through")
	}
	mem.broken = false // restarted
	p, _ := rig.Dir.Person("petrov")
	closed := flows.Notification{ID: 1001, Kind: flows.NoteTaskClosed, To: "petrov", DocID: out.DocID, Number: out.Number, TaskID: task,
		Reason: flows.CloseDecided, Decision: flows.ActionApprove, State: flows.StateInApproval, At: rig.Clock.Now()}
	if _, err := m.Deliver(context.Background(), closed, p); err != nil {
		t.Fatal(err)
	}
	got := cardNow()
	if b := buttonsOf(got); len(b) != 1 || !strings.HasPrefix(b[0].Action, "rm:") || !strings.Contains(got.Text.String(), "Approved by you") {
		t.Fatalf("after the outbox's edit the card reads %q with %+v", got.Text.String(), b)
	}
	// The document is approved: the notification takes Add remark off.
	approved := flows.Notification{ID: 1002, Kind: flows.NoteApproved, To: "petrov", DocID: out.DocID, Number: out.Number, At: rig.Clock.Now()}
	if _, err := m.Deliver(context.Background(), approved, p); err != nil {
		t.Fatal(err)
	}
	if b := buttonsOf(cardNow()); len(b) != 0 {
		t.Fatalf("a finished document's card keeps %+v", b)
	}
	if !strings.Contains(cardNow().Text.String(), "Approved by you") {
		t.Fatalf("the card lost its outcome: %q", cardNow().Text.String())
	}
}

// TestFileReplyBeforeTheCardIsRemembered: on a platform that does not say
// what a reply replies to (Slack's threads), a file sent in reply to a
// card a moment before the card's reference is stored is still the
// card's: a new version of its document, not a new document.
func TestFileReplyBeforeTheCardIsRemembered(t *testing.T) {
	m, mem, rig := messenger(t, chat.Caps{Edit: true, ReplyTo: true})
	ctx := context.Background()
	out := start(t, rig, "Быстрый ответ")
	conv := "c-u-petrov"
	id, err := mem.Send(ctx, conv, chat.Message{})
	if err != nil {
		t.Fatal(err)
	}
	stored := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		stored <- rig.DB.StatePut(ctx, chattest.MemName, "card:"+conv+":"+id, `{"doc":`+itoa(out.DocID)+`}`)
	}()
	data := []byte("%PDF v2")
	m.Handle(ctx, chat.Event{Key: "reply", Conv: conv, User: "u-petrov", Text: "исправлено", ReplyTo: id,
		File: &chat.FileRef{Ref: mem.Put("v2.pdf", data), Name: "v2.pdf", MIME: "application/pdf", Size: int64(len(data))}})
	if err := <-stored; err != nil {
		t.Fatal(err)
	}
	d, _ := rig.DB.Document(ctx, out.DocID)
	if len(d.Versions) != 2 || d.Versions[1].Comment != "исправлено" {
		t.Fatalf("the reply did not become version 2: %+v", d.Versions)
	}
}
