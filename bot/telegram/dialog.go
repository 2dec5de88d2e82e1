package telegram

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

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

// dialog is the state of one chat's conversation, kept in SQLite so that a
// restart does not lose it.
type dialog struct {
	Step             string           `json:"step"`
	Started          time.Time        `json:"started"`
	File             fileRef          `json:"file,omitzero"`
	Caption          string           `json:"caption,omitzero"`
	TypeID           string           `json:"type,omitzero"`
	Title            string           `json:"title,omitzero"`
	Counterparty     string           `json:"counterparty,omitzero"`
	CounterpartyDone bool             `json:"counterparty_done,omitzero"`
	AmountMinor      int64            `json:"amount,omitzero"`
	HasAmount        bool             `json:"has_amount,omitzero"`
	AmountDone       bool             `json:"amount_done,omitzero"`
	Approvers        []flows.PersonID `json:"approvers,omitzero"`
	ApproversDone    bool             `json:"approvers_done,omitzero"`
	Parallel         bool             `json:"parallel,omitzero"`
	DocID            int64            `json:"doc,omitzero"` // stepRework
	Comment          string           `json:"comment,omitzero"`
}

type fileRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	MIME string `json:"mime"`
	Size int64  `json:"size"`
}

// prompt is a ForceReply question waiting for its answer.
type prompt struct {
	Action string `json:"action"` // reject | comment | remark | version
	TaskID int64  `json:"task,omitzero"`
	DocID  int64  `json:"doc"`
	Number string `json:"number"`
}

func dialogKey(chat int64) string { return "dialog:" + strconv.FormatInt(chat, 10) }

func (c *Channel) loadDialog(ctx context.Context, chat int64) *dialog {
	var d dialog
	ok, err := c.recall(ctx, dialogKey(chat), &d)
	if err != nil {
		c.log.Error("load dialogue", "chat", chat, "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	return &d
}

func (c *Channel) saveDialog(ctx context.Context, chat int64, d *dialog) {
	c.remember(ctx, dialogKey(chat), d)
}

func (c *Channel) clearDialog(ctx context.Context, chat int64) {
	if err := c.store.StatePut(ctx, Name, dialogKey(chat), ""); err != nil {
		c.log.Error("clear dialogue", "chat", chat, "err", err)
	}
}

// allowedExt are the formats people approve: office documents, PDFs,
// scans and archives of them.
var allowedExt = []string{".pdf", ".doc", ".docx", ".xls", ".xlsx", ".odt", ".rtf", ".txt", ".jpg", ".jpeg", ".png", ".zip"}

// checkFile returns the locale key of the problem with a file, or "".
func checkFile(doc *models.Document) string {
	if !slices.Contains(allowedExt, strings.ToLower(path.Ext(doc.FileName))) {
		return "tg.bad_file_type"
	}
	if doc.FileSize > MaxDownload {
		return "tg.file_too_big"
	}
	return ""
}

func (c *Channel) onDocument(ctx context.Context, upd *models.Update, p *flows.Person, lang string) {
	msg := upd.Message
	if problem := checkFile(msg.Document); problem != "" {
		c.log.Info("file refused", "person", p.ID, "file", msg.Document.FileName, "size", msg.Document.FileSize, "problem", problem)
		c.reply(ctx, p.ID, msg.Chat.ID, c.t(lang, problem, map[string]any{"Name": msg.Document.FileName}), nil)
		return
	}
	d := &dialog{Step: stepType, Started: c.clock.Now(), Caption: strings.TrimSpace(msg.Caption),
		File: fileRef{ID: msg.Document.FileID, Name: msg.Document.FileName, MIME: msg.Document.MimeType, Size: msg.Document.FileSize}}
	c.saveDialog(ctx, msg.Chat.ID, d)
	c.askType(ctx, p, lang, msg.Chat.ID)
}

func (c *Channel) askType(ctx context.Context, p *flows.Person, lang string, chat int64) {
	kb := &models.InlineKeyboardMarkup{}
	for _, t := range c.eng.Directory().Types {
		kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{{Text: messages.Localized(t.Name, lang), CallbackData: callbackData("ty", t.ID)}})
	}
	c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_type", nil), kb)
}

func (c *Channel) skipButton(lang string) models.ReplyMarkup {
	return buttons([3]string{c.t(lang, "button.skip", nil), "sk", "0"})
}

// advance asks the next question of the dialogue, or shows the summary.
func (c *Channel) advance(ctx context.Context, p *flows.Person, lang string, chat int64, d *dialog) {
	t, ok := c.eng.Directory().Type(d.TypeID)
	switch {
	case d.Step == stepFile:
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_file", nil), nil)
		return
	case !ok:
		d.Step = stepType
		c.saveDialog(ctx, chat, d)
		c.askType(ctx, p, lang, chat)
		return
	case d.Title == "" && d.Caption != "":
		d.Title = d.Caption
	}
	switch {
	case d.Title == "":
		d.Step = stepTitle
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_title", nil), nil)
	case !d.CounterpartyDone:
		d.Step = stepCounterparty
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_counterparty", nil), c.skipButton(lang))
	case t.UsesAmount() && !d.AmountDone:
		d.Step = stepAmount
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_amount", nil), c.skipButton(lang))
	case t.AdHoc && !d.ApproversDone:
		d.Step = stepApprovers
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_approvers", nil), nil)
	default:
		d.Step = stepConfirm
		c.showSummary(ctx, p, lang, chat, d, t)
	}
	c.saveDialog(ctx, chat, d)
}

func (c *Channel) startCmd(p *flows.Person, d *dialog) flows.StartCmd {
	return flows.StartCmd{Actor: p.ID, TypeID: d.TypeID, Title: d.Title, Counterparty: d.Counterparty, AmountMinor: d.AmountMinor,
		HasAmount: d.HasAmount, Approvers: d.Approvers, Parallel: d.Parallel}
}

func (c *Channel) showSummary(ctx context.Context, p *flows.Person, lang string, chat int64, d *dialog, t *flows.DocType) {
	stages, err := c.eng.PreviewRoute(c.startCmd(p, d))
	if err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
		return
	}
	counterparty, amount := d.Counterparty, c.t(lang, "tg.amount_not_given", nil)
	if counterparty == "" {
		counterparty = c.t(lang, "tg.not_given", nil)
	}
	if d.HasAmount {
		amount = messages.Amount(d.AmountMinor, "RUB", lang)
	}
	text := c.t(lang, "tg.summary", map[string]any{"Type": messages.Localized(t.Name, lang), "Title": d.Title,
		"Counterparty": counterparty, "Amount": amount, "Route": c.renderer().Route(stages, lang)})
	c.reply(ctx, p.ID, chat, text, buttons([3]string{c.t(lang, "button.start", nil), "go", "0"}, [3]string{c.t(lang, "button.cancel", nil), "cx", "0"}))
}

// onDialogText feeds typed text to the dialogue; false when there is none.
func (c *Channel) onDialogText(ctx context.Context, upd *models.Update, p *flows.Person, lang string) bool {
	chat := upd.Message.Chat.ID
	d := c.loadDialog(ctx, chat)
	if d == nil {
		return false
	}
	if c.clock.Now().Sub(d.Started) > dialogTTL {
		c.clearDialog(ctx, chat)
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.dialog_expired", nil), nil)
		return true
	}
	text := strings.TrimSpace(upd.Message.Text)
	switch d.Step {
	case stepTitle:
		d.Title = text
	case stepCounterparty:
		d.Counterparty, d.CounterpartyDone = text, true
	case stepAmount:
		v, err := input.ParseAmount(text)
		if err != nil {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.bad_amount", map[string]any{"Text": text}), c.skipButton(lang))
			return true
		}
		d.AmountMinor, d.HasAmount, d.AmountDone = v, true, true
	case stepApprovers:
		c.offerApprovers(ctx, p, lang, chat, d, text)
		return true
	default:
		return false
	}
	c.advance(ctx, p, lang, chat, d)
	return true
}

func (c *Channel) offerApprovers(ctx context.Context, p *flows.Person, lang string, chat int64, d *dialog, text string) {
	q := strings.ToLower(text)
	kb := &models.InlineKeyboardMarkup{}
	for _, person := range c.eng.Directory().People {
		if person.ID == p.ID || slices.Contains(d.Approvers, person.ID) {
			continue
		}
		if strings.Contains(strings.ToLower(person.Name), q) || strings.Contains(string(person.ID), q) {
			label := person.Name
			if person.Title != "" {
				label += " — " + person.Title
			}
			kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{{Text: label, CallbackData: callbackData("pa", string(person.ID))}})
			if len(kb.InlineKeyboard) == 10 {
				break
			}
		}
	}
	if len(kb.InlineKeyboard) == 0 {
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.nobody_found", map[string]any{"Text": text}), nil)
		return
	}
	c.reply(ctx, p.ID, chat, c.t(lang, "tg.pick_approver", map[string]any{"Text": text}), kb)
}

func (c *Channel) approversSoFar(ctx context.Context, p *flows.Person, lang string, chat int64, d *dialog) {
	var names []string
	for _, id := range d.Approvers {
		if person, ok := c.eng.Directory().Person(id); ok {
			names = append(names, person.Name)
		}
	}
	c.reply(ctx, p.ID, chat, c.t(lang, "tg.approvers_so_far", map[string]any{"List": strings.Join(names, ", ")}), buttons(
		[3]string{c.t(lang, "button.done_in_order", nil), "do", "0"}, [3]string{c.t(lang, "button.done_parallel", nil), "do", "1"}))
}

// download fetches a file the user sent, through getFile and the file link.
func (c *Channel) download(ctx context.Context, f fileRef) ([]byte, error) {
	file, err := c.bot.GetFile(ctx, &bot.GetFileParams{FileID: f.ID})
	if err != nil {
		if strings.Contains(err.Error(), "file is too big") {
			return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
		}
		return nil, c.sendErr("", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.bot.FileDownloadLink(file), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		return nil, &flows.Error{Kind: flows.KindTransient, Code: "telegram_unavailable", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, flows.Errorf(flows.KindTransient, "telegram_unavailable", "download %s: HTTP %d", f.Name, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", f.Name, err)
	}
	if len(data) > MaxDownload {
		return nil, flows.Errorf(flows.KindInvalid, "file_too_big", "%s", f.Name)
	}
	return data, nil
}

func (c *Channel) upload(ctx context.Context, f fileRef) (flows.Upload, error) {
	data, err := c.download(ctx, f)
	if err != nil {
		return flows.Upload{}, err
	}
	return flows.Upload{Name: f.Name, MIME: f.MIME, Content: bytes.NewReader(data)}, nil
}

// ask sends a ForceReply question and remembers what its answer is for.
func (c *Channel) ask(ctx context.Context, p *flows.Person, chat int64, text string, pr prompt) {
	msg := c.reply(ctx, p.ID, chat, text, &models.ForceReply{ForceReply: true, Selective: true})
	if msg != nil {
		c.remember(ctx, fmt.Sprintf("prompt:%d:%d", chat, msg.ID), pr)
	}
}

// onReply handles an answer to a prompt, or a file sent in reply to a
// document's card (a new version). False when the reply is to neither.
func (c *Channel) onReply(ctx context.Context, upd *models.Update, p *flows.Person, lang string) bool {
	msg := upd.Message
	chat := msg.Chat.ID
	to := msg.ReplyToMessage.ID
	var pr prompt
	if ok, err := c.recall(ctx, fmt.Sprintf("prompt:%d:%d", chat, to), &pr); err != nil || !ok {
		if msg.Document == nil {
			return false
		}
		var docID int64
		if ok, err := c.recall(ctx, fmt.Sprintf("card:%d:%d", chat, to), &docID); err != nil || !ok {
			// The card's reference may not be stored yet (a very quick
			// reply) or may be gone: the card names its document.
			if docID = c.docNamedIn(ctx, p.ID, msg.ReplyToMessage); docID == 0 {
				return false
			}
		}
		pr = prompt{Action: "version", DocID: docID}
	}
	text := strings.TrimSpace(msg.Text)
	var err error
	switch pr.Action {
	case "reject", "comment":
		if text == "" {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.reply_with_text", nil), nil)
			return true
		}
		action := flows.ActionReject
		if pr.Action == "comment" {
			action = flows.ActionComment
		}
		var ref taskRef
		undo := func() {}
		if ok, _ := c.recall(ctx, fmt.Sprintf("task:%d", pr.TaskID), &ref); ok && action == flows.ActionReject {
			claimed := ref
			claimed.Decided = true
			undo = c.claimOutcome(ctx, pr.TaskID, claimed)
		}
		_, err = c.eng.Decide(ctx, flows.DecideCmd{Key: key(upd), Actor: p.ID, TaskID: pr.TaskID, Action: action, Comment: text})
		if err != nil {
			undo()
		}
		if err == nil && action == flows.ActionReject && ref.Msg != 0 {
			c.editOutcomeAt(ctx, p, lang, ref, flows.ActionReject, c.clock.Now())
		}
		if err == nil && action == flows.ActionComment {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.comment_saved", nil), nil)
		}
	case "remark":
		if text == "" {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.reply_with_text", nil), nil)
			return true
		}
		if _, err = c.eng.Remark(ctx, flows.RemarkCmd{Key: key(upd), Actor: p.ID, DocID: pr.DocID, Text: text}); err == nil {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.comment_saved", nil), nil)
		}
	case "version":
		if msg.Document == nil {
			c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_version", map[string]any{"Number": pr.Number}), nil)
			return true
		}
		if problem := checkFile(msg.Document); problem != "" {
			c.reply(ctx, p.ID, chat, c.t(lang, problem, map[string]any{"Name": msg.Document.FileName}), nil)
			return true
		}
		f := fileRef{ID: msg.Document.FileID, Name: msg.Document.FileName, MIME: msg.Document.MimeType, Size: msg.Document.FileSize}
		if task := c.signTaskOf(ctx, p.ID, pr.DocID); task != 0 {
			// A file sent to a document being signed is the signed scan.
			err = c.signWithScan(ctx, upd, p, lang, task, f, strings.TrimSpace(msg.Caption))
			break
		}
		err = c.uploadVersion(ctx, upd, p, lang, chat, pr.DocID, f, strings.TrimSpace(msg.Caption), "")
	}
	if err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
	}
	return true
}

// uploadVersion uploads a corrected version. Under rework "ask" the
// initiator is asked first who approves again.
func (c *Channel) uploadVersion(ctx context.Context, upd *models.Update, p *flows.Person, lang string, chat int64, docID int64, f fileRef, comment, rework string) error {
	doc, err := c.store.Document(ctx, docID)
	if err != nil {
		return err
	}
	if doc.Rework == flows.ReworkAsk && doc.Initiator == p.ID && rework == "" {
		c.saveDialog(ctx, chat, &dialog{Step: stepRework, Started: c.clock.Now(), File: f, DocID: docID, Comment: comment})
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.ask_rework", map[string]any{"Number": doc.Number}), buttons(
			[3]string{c.t(lang, "button.everyone", nil), "rw", flows.ReworkEveryone},
			[3]string{c.t(lang, "button.not_yet_approved", nil), "rw", flows.ReworkNotYetApproved}))
		return nil
	}
	up, err := c.upload(ctx, f)
	if err != nil {
		return err
	}
	out, err := c.eng.UploadVersion(ctx, flows.VersionCmd{Key: key(upd), Actor: p.ID, DocID: docID, File: up, Comment: comment, Rework: rework})
	if err != nil {
		return err
	}
	c.reply(ctx, p.ID, chat, c.t(lang, "tg.version_uploaded", map[string]any{"Version": out.Version, "Number": out.Number, "Round": out.Round}), nil)
	return nil
}

// markDecided edits a task's message after its holder decided: the buttons
// go, the outcome is added.
func (c *Channel) markDecided(ctx context.Context, p *flows.Person, lang string, taskID int64, action string) {
	var ref taskRef
	if ok, err := c.recall(ctx, fmt.Sprintf("task:%d", taskID), &ref); err != nil || !ok {
		return
	}
	c.editOutcomeAt(ctx, p, lang, ref, action, c.clock.Now())
	ref.Decided = true
	c.remember(ctx, fmt.Sprintf("task:%d", taskID), ref)
}

// editOutcomeAt edits a task's card to show its outcome.
func (c *Channel) editOutcomeAt(ctx context.Context, p *flows.Person, lang string, ref taskRef, action string, at time.Time) {
	line := c.t(lang, "tg.outcome", map[string]any{"Mark": outcomeMarks[action], "What": c.t(lang, "tg.outcome."+action, nil),
		"At": at.In(c.eng.Directory().Location).Format("02.01 15:04")})
	if err := c.edit(ctx, p.ID, ref.Chat, ref.Msg, strings.TrimSpace(ref.Text)+"\n\n"+line, nil); err != nil {
		c.log.Warn("edit task message", "person", p.ID, "err", err)
	}
}

var outcomeMarks = map[string]string{flows.ActionApprove: "✅", flows.ActionReject: "❌", flows.ActionAcknowledge: "👁", flows.ActionDone: "✍️"}

func (c *Channel) editOutcome(ctx context.Context, p *flows.Person, lang string, chat int64, msg int, original, action string, markup models.ReplyMarkup) {
	at := c.clock.Now().In(c.eng.Directory().Location).Format("02.01 15:04")
	line := c.t(lang, "tg.outcome", map[string]any{"Mark": outcomeMarks[action], "What": c.t(lang, "tg.outcome."+action, nil), "At": at})
	if err := c.edit(ctx, p.ID, chat, msg, strings.TrimSpace(original)+"\n\n"+line, markup); err != nil {
		c.log.Warn("edit task message", "person", p.ID, "err", err)
	}
}

// signTaskOf returns the person's open sign task on a document in signing.
func (c *Channel) signTaskOf(ctx context.Context, p flows.PersonID, docID int64) int64 {
	d, err := c.store.Document(ctx, docID)
	if err != nil || d.State != flows.StateSigning {
		return 0
	}
	for _, t := range d.OpenTasks() {
		if t.Kind == flows.KindSign && (t.Assignee == p || t.OnBehalfOf == p) {
			return t.ID
		}
	}
	return 0
}

func (c *Channel) signWithScan(ctx context.Context, upd *models.Update, p *flows.Person, lang string, task int64, f fileRef, comment string) error {
	up, err := c.upload(ctx, f)
	if err != nil {
		return err
	}
	if _, err := c.eng.Decide(ctx, flows.DecideCmd{Key: key(upd), Actor: p.ID, TaskID: task, Action: flows.ActionDone, Comment: comment, Scan: &up}); err != nil {
		return err
	}
	c.markDecided(ctx, p, lang, task, flows.ActionDone)
	return nil
}

// docNamedIn finds the document a bot message is about by the number in
// its text, if the person may see it.
func (c *Channel) docNamedIn(ctx context.Context, p flows.PersonID, m *models.Message) int64 {
	if m == nil || m.From == nil || !m.From.IsBot {
		return 0
	}
	for _, word := range strings.Fields(m.Text + " " + m.Caption) {
		if d, err := c.eng.Document(ctx, p, strings.Trim(word, "«»“”\"',.:;")); err == nil {
			return d.ID
		}
	}
	return 0
}
