package chat

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/bot/input"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// Dialogue steps of an initiator starting a document.
const (
	stepFile         = "file"
	stepType         = "type"
	stepTitle        = "title"
	stepCounterparty = "counterparty"
	stepAmount       = "amount"
	stepApprovers    = "approvers"
	stepConfirm      = "confirm"
	stepRework       = "rework" // rework "ask": who approves the uploaded version again
)

// dialogTTL is how long a half-filled draft waits.
const dialogTTL = 24 * time.Hour

// dialog is the state of one conversation's dialogue, kept in SQLite so
// that a restart does not lose it.
type dialog struct {
	Step             string    `json:"step"`
	Started          time.Time `json:"started"`
	File             FileRef   `json:"file,omitzero"`
	Caption          string    `json:"caption,omitzero"`
	TypeID           string    `json:"type,omitzero"`
	Title            string    `json:"title,omitzero"`
	Counterparty     string    `json:"counterparty,omitzero"`
	CounterpartyDone bool      `json:"counterparty_done,omitzero"`
	// Candidates are the platform's counterparties offered for what was
	// typed.
	Candidates    []string         `json:"candidates,omitzero"`
	AmountMinor   int64            `json:"amount,omitzero"`
	HasAmount     bool             `json:"has_amount,omitzero"`
	AmountDone    bool             `json:"amount_done,omitzero"`
	Approvers     []flows.PersonID `json:"approvers,omitzero"`
	ApproversDone bool             `json:"approvers_done,omitzero"`
	Parallel      bool             `json:"parallel,omitzero"`
	DocID         int64            `json:"doc,omitzero"` // stepRework
	Comment       string           `json:"comment,omitzero"`
}

func (d *dialog) startCmd(p flows.PersonID) flows.StartCmd {
	return flows.StartCmd{Actor: p, TypeID: d.TypeID, Title: d.Title, Counterparty: d.Counterparty, AmountMinor: d.AmountMinor,
		HasAmount: d.HasAmount, Approvers: d.Approvers, Parallel: d.Parallel}
}

func (m *Messenger) loadDialog(ctx context.Context, conv string) *dialog {
	var d dialog
	ok, err := m.recall(ctx, dialogKey(conv), &d)
	if err != nil {
		m.log.Error("load dialogue", "conv", conv, "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	return &d
}

func (m *Messenger) saveDialog(ctx context.Context, conv string, d *dialog) {
	m.remember(ctx, dialogKey(conv), d)
}

func (m *Messenger) clearDialog(ctx context.Context, conv string) { m.forget(ctx, dialogKey(conv)) }

// checkFile tells what is wrong with a file before anything downloads it:
// the catalogue entry of the problem, or "".
func (m *Messenger) checkFile(f *FileRef) string {
	if !flows.AllowedFile(f.Name) {
		return "chat.bad_file_type"
	}
	if f.Size > m.caps.MaxFile {
		return "chat.file_too_big"
	}
	return ""
}

func (m *Messenger) refuseFile(ctx context.Context, p flows.PersonID, conv, lang string, f *FileRef, problem string) {
	m.log.Info("file refused", "person", p, "file", f.Name, "size", f.Size, "problem", problem)
	m.text(ctx, p, conv, m.t(lang, problem, map[string]any{"Name": f.Name, "Limit": messages.Size(m.caps.MaxFile, lang)}))
}

// onFile starts a document from a file sent on its own.
func (m *Messenger) onFile(ctx context.Context, ev *Event, p *flows.Person, lang string) {
	if problem := m.checkFile(ev.File); problem != "" {
		m.refuseFile(ctx, p.ID, ev.Conv, lang, ev.File, problem)
		return
	}
	d := &dialog{Step: stepType, Started: m.Clock.Now(), Caption: strings.TrimSpace(ev.Text), File: *ev.File}
	m.saveDialog(ctx, ev.Conv, d)
	m.askType(ctx, p, lang, ev.Conv)
}

func (m *Messenger) askType(ctx context.Context, p *flows.Person, lang, conv string) {
	var rows [][]Button
	for _, t := range m.Engine.Directory().Types {
		rows = append(rows, []Button{{Label: messages.Localized(t.Name, lang), Action: "ty:" + t.ID}})
	}
	m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.ask_type", nil), Buttons: rows})
}

func (m *Messenger) skipButton(lang string) [][]Button {
	return [][]Button{{{Label: m.s(lang, "button.skip", nil), Action: "sk:0"}}}
}

// advance asks the next question of the dialogue, or shows the summary.
func (m *Messenger) advance(ctx context.Context, p *flows.Person, lang, conv string, d *dialog) {
	t, ok := m.Engine.Directory().Type(d.TypeID)
	switch {
	case d.Step == stepFile:
		m.text(ctx, p.ID, conv, m.t(lang, "chat.ask_file", map[string]any{"Limit": messages.Size(m.caps.MaxFile, lang)}))
		return
	case !ok:
		d.Step = stepType
		m.saveDialog(ctx, conv, d)
		m.askType(ctx, p, lang, conv)
		return
	case d.Title == "" && d.Caption != "":
		d.Title = d.Caption
	}
	switch {
	case d.Title == "":
		d.Step = stepTitle
		m.text(ctx, p.ID, conv, m.t(lang, "chat.ask_title", nil))
	case !d.CounterpartyDone:
		d.Step = stepCounterparty
		m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.ask_counterparty", nil), Buttons: m.skipButton(lang)})
	case t.UsesAmount() && !d.AmountDone:
		d.Step = stepAmount
		m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.ask_amount", nil), Buttons: m.skipButton(lang)})
	case t.AdHoc && !d.ApproversDone:
		d.Step = stepApprovers
		m.text(ctx, p.ID, conv, m.t(lang, "chat.ask_approvers", nil))
	default:
		d.Step = stepConfirm
		m.showSummary(ctx, p, lang, conv, d, t)
	}
	m.saveDialog(ctx, conv, d)
}

func (m *Messenger) showSummary(ctx context.Context, p *flows.Person, lang, conv string, d *dialog, t *flows.DocType) {
	stages, err := m.Engine.PreviewRoute(d.startCmd(p.ID))
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	counterparty, amount := d.Counterparty, m.s(lang, "chat.amount_not_given", nil)
	if counterparty == "" {
		counterparty = m.s(lang, "chat.not_given", nil)
	}
	if d.HasAmount {
		amount = messages.Amount(d.AmountMinor, "RUB", lang)
	}
	text := m.t(lang, "chat.summary", map[string]any{"Type": messages.Localized(t.Name, lang), "Title": d.Title,
		"Counterparty": counterparty, "Amount": amount, "Route": m.renderer().Route(stages, lang)})
	m.reply(ctx, p.ID, conv, Message{Text: text, Buttons: [][]Button{{
		{Label: m.s(lang, "button.start", nil), Action: "go:0", Style: StylePrimary},
		{Label: m.s(lang, "button.cancel", nil), Action: "cx:0"}}}})
}

// onDialogText feeds typed text to the dialogue; false when there is none.
func (m *Messenger) onDialogText(ctx context.Context, ev *Event, p *flows.Person, lang string) bool {
	conv := ev.Conv
	d := m.loadDialog(ctx, conv)
	if d == nil {
		return false
	}
	if m.Clock.Now().Sub(d.Started) > dialogTTL {
		m.clearDialog(ctx, conv)
		m.text(ctx, p.ID, conv, m.t(lang, "chat.dialog_expired", nil))
		return true
	}
	text := strings.TrimSpace(ev.Text)
	switch d.Step {
	case stepTitle:
		d.Title = text
	case stepCounterparty:
		if m.offerCounterparties(ctx, p, lang, conv, d, text) {
			return true
		}
		d.Counterparty, d.CounterpartyDone = text, true
	case stepAmount:
		v, err := input.ParseAmount(text)
		if err != nil {
			m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.bad_amount", map[string]any{"Text": text}), Buttons: m.skipButton(lang)})
			return true
		}
		d.AmountMinor, d.HasAmount, d.AmountDone = v, true, true
	case stepApprovers:
		m.offerApprovers(ctx, p, lang, conv, d, text)
		return true
	default:
		return false
	}
	m.advance(ctx, p, lang, conv, d)
	return true
}

// offerCounterparties looks what was typed up among the platform's
// counterparties: one of the same name is taken as it is written there;
// others that match are offered as buttons, next to keeping the text as
// typed. False when there is nothing to offer.
func (m *Messenger) offerCounterparties(ctx context.Context, p *flows.Person, lang, conv string, d *dialog, text string) bool {
	finder, ok := m.wire.(CounterpartyFinder)
	if !ok || text == "" {
		return false
	}
	found, err := finder.Counterparties(ctx, text, 5)
	if err != nil {
		m.log.Warn("look the counterparty up", "person", p.ID, "err", err)
		return false
	}
	for _, f := range found {
		if strings.EqualFold(strings.TrimSpace(f), text) {
			d.Counterparty, d.CounterpartyDone = f, true
			m.advance(ctx, p, lang, conv, d)
			return true
		}
	}
	if len(found) == 0 {
		return false
	}
	d.Counterparty, d.Candidates = text, found
	m.saveDialog(ctx, conv, d)
	var rows [][]Button
	for i, f := range found {
		rows = append(rows, []Button{{Label: f, Action: "cp:" + strconv.Itoa(i)}})
	}
	rows = append(rows, []Button{{Label: m.s(lang, "button.as_typed", nil), Action: "cp:t"}})
	m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.pick_counterparty", map[string]any{"Text": text}), Buttons: rows})
	return true
}

func (m *Messenger) offerApprovers(ctx context.Context, p *flows.Person, lang, conv string, d *dialog, text string) {
	q := strings.ToLower(text)
	var rows [][]Button
	for _, person := range m.Engine.Directory().People {
		if person.ID == p.ID || slices.Contains(d.Approvers, person.ID) {
			continue
		}
		if strings.Contains(strings.ToLower(person.Name), q) || strings.Contains(string(person.ID), q) {
			label := person.Name
			if person.Title != "" {
				label += " — " + person.Title
			}
			rows = append(rows, []Button{{Label: label, Action: "pa:" + string(person.ID)}})
			if len(rows) == 10 {
				break
			}
		}
	}
	if len(rows) == 0 {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.nobody_found", map[string]any{"Text": text}))
		return
	}
	m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.pick_approver", map[string]any{"Text": text}), Buttons: rows})
}

func (m *Messenger) approversSoFar(ctx context.Context, p *flows.Person, lang, conv string, d *dialog) {
	var names []string
	for _, id := range d.Approvers {
		if person, ok := m.Engine.Directory().Person(id); ok {
			names = append(names, person.Name)
		}
	}
	m.reply(ctx, p.ID, conv, Message{Text: m.t(lang, "chat.approvers_so_far", map[string]any{"List": strings.Join(names, ", ")}), Buttons: [][]Button{{
		{Label: m.s(lang, "button.done_in_order", nil), Action: "do:0"}, {Label: m.s(lang, "button.done_parallel", nil), Action: "do:1"}}}})
}

// upload fetches a file a person sent, for the engine.
func (m *Messenger) upload(ctx context.Context, f FileRef) (flows.Upload, error) {
	data, err := m.wire.Fetch(ctx, f, m.caps.MaxFile)
	if err != nil {
		return flows.Upload{}, err
	}
	return flows.Upload{Name: f.Name, MIME: f.MIME, Content: bytes.NewReader(data)}, nil
}

// onAnswer handles the answer to a question, or a file sent in answer to a
// document's card (a new version, or a signed scan). False when the event
// answers neither.
func (m *Messenger) onAnswer(ctx context.Context, ev *Event, p *flows.Person, lang string) bool {
	conv := ev.Conv
	pr, key, ok := m.pendingPrompt(ctx, ev)
	if !ok {
		if ev.File == nil || ev.ReplyTo == "" {
			return false
		}
		var card cardRef
		if ok, err := m.recallCard(ctx, conv, ev, &card); err != nil || !ok {
			// The card's reference may not be stored yet (a very quick
			// reply) or may be gone: the card names its document.
			if card.Doc = m.docNamedIn(ctx, p.ID, ev.ReplyText); card.Doc == 0 {
				return false
			}
		}
		pr = prompt{Action: "version", DocID: card.Doc}
	}
	if pr.Mode == AskNext || pr.Mode == AskForm {
		m.forget(ctx, key) // answered once
	}
	text := strings.TrimSpace(ev.Text)
	if ev.Form != nil {
		text = strings.TrimSpace(ev.Form.Text)
	}
	var err error
	switch pr.Action {
	case "reject", "comment", "approve":
		if text == "" || ev.File != nil {
			m.askAgainForText(ctx, p.ID, conv, lang, key, pr)
			return true
		}
		action := map[string]string{"reject": flows.ActionReject, "comment": flows.ActionComment, "approve": flows.ActionApprove}[pr.Action]
		closes := action != flows.ActionComment
		var ref taskRef
		if closes {
			defer m.lockTask(pr.TaskID)()
			m.recall(ctx, taskKey(pr.TaskID), &ref)
		}
		_, err = m.Engine.Decide(ctx, flows.DecideCmd{Key: ev.Key, Actor: p.ID, TaskID: pr.TaskID, Action: action, Comment: text})
		if err == nil && action == flows.ActionApprove {
			m.text(ctx, p.ID, conv, m.t(lang, "chat.approved_with_comment", nil))
		}
		if err == nil && closes && ref.Msg != "" {
			// At once; the task's closing notification makes sure.
			if err := m.showOutcome(ctx, p.ID, ref, m.outcomeLine(p.ID, lang, action, m.Clock.Now()), nil, ""); err != nil {
				m.log.Warn("edit task message", "person", p.ID, "err", err)
			} else {
				m.markShown(ctx, pr.TaskID)
			}
		}
		if err == nil && action == flows.ActionComment {
			m.text(ctx, p.ID, conv, m.t(lang, "chat.comment_saved", nil))
		}
	case "route", "route_person":
		if text == "" || ev.File != nil {
			m.askAgainForText(ctx, p.ID, conv, lang, key, pr)
			return true
		}
		err = m.answerRoute(ctx, ev, p, lang, conv, pr, text)
	case "remark":
		if text == "" || ev.File != nil {
			m.askAgainForText(ctx, p.ID, conv, lang, key, pr)
			return true
		}
		if _, err = m.Engine.Remark(ctx, flows.RemarkCmd{Key: ev.Key, Actor: p.ID, DocID: pr.DocID, Text: text}); err == nil {
			m.text(ctx, p.ID, conv, m.t(lang, "chat.comment_saved", nil))
		}
	case "version":
		if ev.File == nil {
			if pr.Mode == AskNext {
				m.remember(ctx, key, pr) // still waiting for the file
				m.text(ctx, p.ID, conv, m.t(lang, "chat.ask_version.next", map[string]any{"Number": pr.Number}))
			} else {
				m.text(ctx, p.ID, conv, m.t(lang, "chat.ask_version", map[string]any{"Number": pr.Number}))
			}
			return true
		}
		if task, upload := m.signTaskOf(ctx, p.ID, pr.DocID); upload {
			// A file sent to a document signed by upload is the signature:
			// the engine checks what it is.
			err = m.signWithSignature(ctx, ev, p, lang, task, *ev.File, text)
			break
		}
		if problem := m.checkFile(ev.File); problem != "" {
			m.refuseFile(ctx, p.ID, conv, lang, ev.File, problem)
			return true
		}
		if task, _ := m.signTaskOf(ctx, p.ID, pr.DocID); task != 0 {
			// A file sent to a document being signed is the signed scan.
			err = m.signWithScan(ctx, ev, p, lang, task, *ev.File, text)
			break
		}
		err = m.uploadVersion(ctx, ev, p, lang, pr.DocID, *ev.File, text, "")
	}
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
	}
	return true
}

// cardWait bounds how long a file in reply to a message waits for the
// message's card reference: the platform shows a card as soon as it is
// sent, and its reference is stored just after.
const cardWait = 1500 * time.Millisecond

// recallCard reads the card ev replies to. Where the platform does not say
// what the replied message said (Slack's threads), the card's number
// cannot be read from it, so a reply quicker than the card's reference is
// waited for, a little.
func (m *Messenger) recallCard(ctx context.Context, conv string, ev *Event, card *cardRef) (bool, error) {
	// Real time, not the service's clock: this waits for another
	// goroutine's write, not for a business deadline.
	giveUp := time.NewTimer(cardWait)
	defer giveUp.Stop()
	for {
		ok, err := m.recall(ctx, cardKey(conv, ev.ReplyTo), card)
		if ok || err != nil || ev.ReplyText != "" {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-giveUp.C:
			return false, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// askAgainForText answers a non-text answer to a text question; a
// question for the next message keeps waiting.
func (m *Messenger) askAgainForText(ctx context.Context, p flows.PersonID, conv, lang, key string, pr prompt) {
	if pr.Mode == AskNext {
		m.remember(ctx, key, pr)
		m.text(ctx, p, conv, m.t(lang, "chat.reply_with_text.next", nil))
		return
	}
	m.text(ctx, p, conv, m.t(lang, "chat.reply_with_text", nil))
}

// uploadVersion uploads a corrected version. Under rework "ask" the
// initiator is asked first who approves again.
func (m *Messenger) uploadVersion(ctx context.Context, ev *Event, p *flows.Person, lang string, docID int64, f FileRef, comment, rework string) error {
	doc, err := m.Store.Document(ctx, docID)
	if err != nil {
		return err
	}
	if doc.Rework == flows.ReworkAsk && doc.Initiator == p.ID && rework == "" {
		m.saveDialog(ctx, ev.Conv, &dialog{Step: stepRework, Started: m.Clock.Now(), File: f, DocID: docID, Comment: comment})
		m.reply(ctx, p.ID, ev.Conv, Message{Text: m.t(lang, "chat.ask_rework", map[string]any{"Number": doc.Number}), Buttons: [][]Button{{
			{Label: m.s(lang, "button.everyone", nil), Action: "rw:" + flows.ReworkEveryone},
			{Label: m.s(lang, "button.not_yet_approved", nil), Action: "rw:" + flows.ReworkNotYetApproved}}}})
		return nil
	}
	up, err := m.upload(ctx, f)
	if err != nil {
		return err
	}
	out, err := m.Engine.UploadVersion(ctx, flows.VersionCmd{Key: ev.Key, Actor: p.ID, DocID: docID, File: up, Comment: comment, Rework: rework})
	if err != nil {
		return err
	}
	m.text(ctx, p.ID, ev.Conv, m.t(lang, "chat.version_uploaded", map[string]any{"Version": out.Version, "Number": out.Number, "Round": out.Round}))
	return nil
}

// signTaskOf returns the person's open sign task on a document in
// signing, and whether it is signed by an uploaded signature.
func (m *Messenger) signTaskOf(ctx context.Context, p flows.PersonID, docID int64) (int64, bool) {
	d, err := m.Store.Document(ctx, docID)
	if err != nil || d.State != flows.StateSigning {
		return 0, false
	}
	for _, t := range d.OpenTasks() {
		if t.Kind == flows.KindSign && (t.Assignee == p || t.OnBehalfOf == p) {
			return t.ID, d.SignedByUpload(t)
		}
	}
	return 0, false
}

// signWithSignature closes a sign task with the detached signature the
// signer sent; the engine has it verified.
func (m *Messenger) signWithSignature(ctx context.Context, ev *Event, p *flows.Person, lang string, task int64, f FileRef, comment string) error {
	if f.Size > flows.MaxSignatureSize {
		return flows.Errorf(flows.KindInvalid, "signature_too_large", "%d bytes", f.Size)
	}
	up, err := m.upload(ctx, f)
	if err != nil {
		return err
	}
	if _, err := m.Engine.Decide(ctx, flows.DecideCmd{Key: ev.Key, Actor: p.ID, TaskID: task, Action: flows.ActionDone, Comment: comment,
		Signature: &up}); err != nil {
		return err
	}
	m.markDecided(ctx, p, lang, task, flows.ActionDone)
	m.text(ctx, p.ID, ev.Conv, m.t(lang, "chat.signature_accepted", nil))
	return nil
}

func (m *Messenger) signWithScan(ctx context.Context, ev *Event, p *flows.Person, lang string, task int64, f FileRef, comment string) error {
	up, err := m.upload(ctx, f)
	if err != nil {
		return err
	}
	if _, err := m.Engine.Decide(ctx, flows.DecideCmd{Key: ev.Key, Actor: p.ID, TaskID: task, Action: flows.ActionDone, Comment: comment, Scan: &up}); err != nil {
		return err
	}
	m.markDecided(ctx, p, lang, task, flows.ActionDone)
	return nil
}

// docNamedIn finds the document a bot message is about by the number in
// its text, if the person may see it.
func (m *Messenger) docNamedIn(ctx context.Context, p flows.PersonID, text string) int64 {
	for _, word := range strings.Fields(text) {
		if d, err := m.Engine.Document(ctx, p, strings.Trim(word, "«»“”\"',.:;")); err == nil {
			return d.ID
		}
	}
	return 0
}
