// Package messages renders what Viza says — notification texts, buttons,
// error answers — from the locales catalogues. It is pure: (notification,
// language) in, a channel-neutral Message out; channels only format it.
package messages

import (
	"fmt"
	"strings"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages/rich"
)

// Button actions. A channel encodes (action, ref) into its own payload; it
// never encodes who is acting.
const (
	ActApprove = "approve"
	// ActApproveComment approves with a comment in one step: the comment
	// is asked, and the approval made with it.
	ActApproveComment = "approve_comment"
	ActReject         = "reject"
	ActComment        = "comment"
	ActNewVersion     = "new_version"
	ActHistory        = "history"
	ActRead           = "read"
	ActDone           = "done"
	ActUploadVersion  = "upload_version"
	ActWithdraw       = "withdraw"
	// ActSignDSS asks КриптоПро DSS to sign a task's version; the signer
	// confirms in myDSS.
	ActSignDSS = "sign_dss"
)

// Button is one inline action. Ref is a task id or, for document actions
// (history, upload_version, withdraw), a document id.
type Button struct {
	Label  string
	Action string
	Ref    int64
}

// Message is a rendered notification.
type Message struct {
	Text    rich.Text
	Buttons [][]Button
}

// Renderer renders for one directory (names, time zone).
type Renderer struct {
	Dir *flows.Directory
	// Lang is the language of the text being made (see In); empty means
	// the company's.
	Lang string
}

// Language returns the language a person reads.
func (r Renderer) Language(p flows.PersonID) string { return r.Dir.LanguageOf(p) }

// Name is a person's display name, or the id of someone no longer listed.
func (r Renderer) Name(p flows.PersonID) string {
	if p == "" {
		return ""
	}
	if person, ok := r.Dir.Person(p); ok {
		return person.Name
	}
	return string(p)
}

// Localized picks lang from a per-language name.
func Localized(names map[string]string, lang string) string {
	if v, ok := names[lang]; ok {
		return v
	}
	if v, ok := names[""]; ok {
		return v
	}
	for _, k := range []string{"en", "ru"} {
		if v, ok := names[k]; ok {
			return v
		}
	}
	return ""
}

// FormatTime shows a time in the company's zone.
func (r Renderer) FormatTime(t time.Time) string { return r.formatIn(t, r.Dir.Location) }

// FormatTimeFor shows a time in the zone its reader lives in.
func (r Renderer) FormatTimeFor(p flows.PersonID, t time.Time) string {
	if r.Lang == "" {
		r.Lang = r.Dir.LanguageOf(p)
	}
	return r.formatIn(t, r.Dir.LocationOf(p))
}

func (r Renderer) formatIn(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(loc)
	return t.Format("02.01.2006 15:04 ") + zoneName(t, r.lang())
}

// In is the renderer for text in lang: times carry that language's name
// of their zone («МСК», not «MSK»).
func (r Renderer) In(lang string) Renderer {
	r.Lang = lang
	return r
}

func (r Renderer) lang() string {
	if r.Lang != "" {
		return r.Lang
	}
	return r.Dir.Language
}

// zoneName is the zone's abbreviation ("MSK"), or its offset from UTC
// ("UTC+5") for zones that have none and would show as a bare "+05".
func zoneName(t time.Time, lang string) string {
	abbr, offset := t.Zone()
	if abbr != "" && abbr[0] != '+' && abbr[0] != '-' {
		if l, err := locales.For(lang); err == nil {
			if local := l.T("zone."+abbr, nil); local != "zone."+abbr {
				return local
			}
		}
		return abbr
	}
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	s := fmt.Sprintf("UTC%s%d", sign, offset/3600)
	if m := offset % 3600 / 60; m != 0 {
		s += fmt.Sprintf(":%02d", m)
	}
	return s
}

// Notification renders n for its recipient in lang.
func (r Renderer) Notification(n flows.Notification, lang string) (Message, error) {
	r = r.In(lang)
	l, err := locales.For(lang)
	if err != nil {
		return Message{}, err
	}
	stageName := Localized(n.StageName, lang)
	if stageName == "" && n.Stage > 0 {
		stageName = l.T("stage.unnamed", map[string]any{"N": n.Stage})
	}
	data := map[string]any{
		"Type": Localized(n.TypeName, lang), "Number": n.Number, "Title": n.Title,
		"Stage": n.Stage, "StageCount": n.StageCount, "StageName": stageName, "Round": n.Round, "Version": n.Version,
		"Actor": r.Name(n.Actor), "For": r.Name(n.For), "Comment": n.Comment, "Due": r.FormatTimeFor(n.To, n.Due),
		"Task": "", "Decision": "", "Reason": "", "Since": r.FormatTimeFor(n.To, n.At), "Company": r.Dir.Company,
		"Counterparty": n.Counterparty, "Amount": "", "Initiator": r.Name(n.Initiator), "File": n.FileName,
		"VersionComment": n.VersionComment, "Blocking": n.Blocking,
	}
	if n.HasAmount {
		data["Amount"] = Amount(n.AmountMinor, n.Currency, lang)
	}
	if n.TaskKind != "" {
		data["Task"] = l.T("task."+n.TaskKind, nil)
	}
	data["Person"] = r.Name(n.Person)
	if n.Decision != "" && !flows.IsRouteChange(n.Decision) {
		data["Decision"] = Decision(l, n.Decision, n.TaskKind)
		if n.Reason == flows.CloseTimedOut {
			data["Decision"] = l.T("decision.timeout."+n.Decision, nil)
		}
	}
	if n.Reason != "" {
		data["Reason"] = n.Reason
		if n.Kind == flows.NoteTaskClosed {
			data["Reason"] = l.T("reason."+n.Reason, map[string]any{"Actor": data["Actor"], "Comment": n.Comment})
			if n.Reason == flows.CloseTimedOut && n.Decision != "" {
				data["Reason"] = l.T("reason.decided_on_timeout", map[string]any{"Decision": data["Decision"]})
			}
		}
	}
	if n.Kind == flows.NoteSignFailed {
		// How the operation ended, then DSS's own words, if any.
		data["Reason"] = l.T("dss."+n.Reason, nil)
	}
	key := "notify." + n.Kind
	if n.Kind == flows.NoteDecision && n.Reason == flows.CloseTimedOut {
		key = "notify.decision_on_timeout" // nobody decided: never as if a person had
	}
	if n.Kind == flows.NoteRouteChanged {
		// To the person concerned ("you were added"), or to the initiator
		// ("X added Y").
		key += "." + strings.TrimPrefix(n.Decision, "approver_")
		if n.To == n.Person {
			key += "_you"
		}
	}
	if n.Kind == flows.NoteReminderEmail {
		key = "notify.reminder" // the ladder's e-mail step says what a chat reminder says
	}
	m := Message{Text: Rich(l, key, data)}
	button := func(key, act string, ref int64) Button {
		return Button{Label: l.T("button."+key, nil), Action: act, Ref: ref}
	}
	switch n.Kind {
	case flows.NoteTaskAssigned, flows.NoteReminder, flows.NoteReminderEmail:
		switch n.TaskKind {
		case flows.KindAcknowledge:
			m.Buttons = [][]Button{{button("read", ActRead, n.TaskID), button("comment", ActComment, n.TaskID)}}
		case flows.KindSign:
			m.Buttons = [][]Button{{button("signed", ActDone, n.TaskID), button("comment", ActComment, n.TaskID)}}
			if n.SignMethod == flows.SignUpload {
				// Signed with the signer's own tools: the card asks for the
				// file, and offers no "signed" that would close it without.
				m.Text = rich.Concat(m.Text, rich.Plain("\n\n"), Rich(l, "notify.sign_upload", map[string]any{"Version": n.Version}))
				m.Buttons = [][]Button{{button("upload_signature", ActUploadVersion, n.DocID), button("comment", ActComment, n.TaskID)}}
			}
			if n.SignMethod == flows.SignDSS {
				// Signed in КриптоПро DSS: the button sends the version
				// there; the signer confirms in myDSS.
				m.Text = rich.Concat(m.Text, rich.Plain("\n\n"), Rich(l, "notify.sign_dss", map[string]any{"Version": n.Version}))
				m.Buttons = [][]Button{{button("sign_dss", ActSignDSS, n.TaskID), button("comment", ActComment, n.TaskID)}}
			}
		default:
			m.Buttons = [][]Button{
				{button("approve", ActApprove, n.TaskID), button("reject", ActReject, n.TaskID)},
				{button("approve_comment", ActApproveComment, n.TaskID), button("comment", ActComment, n.TaskID)},
				{button("new_version", ActNewVersion, n.TaskID)},
			}
		}
		m.Buttons = append(m.Buttons, []Button{button("history", ActHistory, n.DocID)})
	case flows.NoteChangesRequested:
		m.Buttons = [][]Button{{button("upload_version", ActUploadVersion, n.DocID), button("withdraw", ActWithdraw, n.DocID)}}
	case flows.NoteSignFailed:
		m.Buttons = [][]Button{{button("sign_dss", ActSignDSS, n.TaskID)}}
	}
	return m, nil
}

// Context is a request's secondary line — stage and deadline — for
// platforms that show it apart.
func (r Renderer) Context(n flows.Notification, lang string) rich.Text {
	r = r.In(lang)
	if !n.IsRequest() || n.Stage == 0 {
		return rich.Text{}
	}
	l := mustLocalizer(lang)
	name := Localized(n.StageName, lang)
	if name == "" {
		name = l.T("stage.unnamed", map[string]any{"N": n.Stage})
	}
	return Rich(l, "notify.context", map[string]any{"Stage": n.Stage, "StageCount": n.StageCount, "StageName": name,
		"Due": r.FormatTimeFor(n.To, n.Due)})
}

// Error renders an error for a person: the kind's safe text, never the
// detail meant for the log.
func Error(err error, lang string) string {
	l, lerr := locales.For(lang)
	if lerr != nil {
		return "error"
	}
	code := flows.ErrorCode(err)
	if flows.ErrorKind(err) == flows.KindInternal {
		code = "internal"
	}
	s := l.T("error."+code, nil)
	if s == "error."+code {
		return l.T("error.internal", nil)
	}
	return s
}

// State names a document state.
func State(state, lang string) string {
	l, err := locales.For(lang)
	if err != nil {
		return state
	}
	return l.T("state."+state, nil)
}

// Plain renders a message as plain text with buttons listed, for logs and
// golden files.
func Plain(m Message) string {
	s := m.Text.String()
	for _, row := range m.Buttons {
		s += "\n"
		for i, b := range row {
			if i > 0 {
				s += " "
			}
			s += fmt.Sprintf("[%s → %s:%d]", b.Label, b.Action, b.Ref)
		}
	}
	return s
}
