package messages_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
)

var update = flag.Bool("update", false, "rewrite golden files")

func renderer(t *testing.T) messages.Renderer {
	t.Helper()
	cfg, err := config.Load("../config/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := cfg.Directory()
	if err != nil {
		t.Fatal(err)
	}
	return messages.Renderer{Dir: dir}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./messages -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s changed:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestNotificationGolden(t *testing.T) {
	r := renderer(t)
	at := time.Date(2026, 11, 28, 11, 2, 0, 0, time.UTC)
	base := flows.Notification{DocID: 7, Number: "Д-2026-0042", Title: "Поставка оборудования", TypeName: map[string]string{"ru": "Договор", "en": "Contract"},
		TaskID: 31, TaskKind: flows.KindApprove, Round: 2, Stage: 1, StageCount: 4, Version: 3,
		StageName: map[string]string{"ru": "Юридическая проверка", "en": "Legal review"}, At: at}
	with := func(f func(*flows.Notification)) flows.Notification { n := base; f(&n); return n }
	cases := map[string]flows.Notification{
		"task_assigned": with(func(n *flows.Notification) { n.Kind = flows.NoteTaskAssigned; n.Due = at.Add(8 * time.Hour) }),
		// Everything an approver needs from a phone: the parties, the money,
		// the file and its comment, what is still objected to, and the
		// deadline in the reader's own time zone (Yekaterinburg).
		"task_assigned_full": with(func(n *flows.Notification) {
			n.Kind, n.To, n.Due = flows.NoteTaskAssigned, "kuznetsova", at.Add(8*time.Hour)
			n.Counterparty, n.AmountMinor, n.HasAmount, n.Currency, n.Initiator = "ООО «Север»", 150000050, true, "RUB", "ivanova"
			n.FileName, n.VersionComment, n.Blocking = "Договор_v3.docx", "Исправлен п. 5", 1
		}),
		"reminder_full": with(func(n *flows.Notification) {
			n.Kind, n.To, n.Due = flows.NoteReminder, "kuznetsova", at.Add(8*time.Hour)
			n.Counterparty, n.AmountMinor, n.HasAmount, n.Currency, n.Initiator = "ООО «Север»", 150000050, true, "RUB", "ivanova"
			n.FileName, n.Blocking = "Договор_v3.docx", 2
		}),
		"task_assigned_deputy": with(func(n *flows.Notification) {
			n.Kind, n.For = flows.NoteTaskAssigned, "petrov"
		}),
		"task_assigned_reassigned": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.Reason = flows.NoteTaskAssigned, "sidorov", "в отпуске до понедельника"
		}),
		"task_assigned_sign": with(func(n *flows.Notification) { n.Kind, n.TaskKind, n.Stage = flows.NoteTaskAssigned, flows.KindSign, 4 }),
		// Signed in КриптоПро DSS: the button sends it there, myDSS confirms.
		"task_assigned_sign_dss": with(func(n *flows.Notification) {
			n.Kind, n.TaskKind, n.Stage, n.SignMethod = flows.NoteTaskAssigned, flows.KindSign, 4, flows.SignDSS
		}),
		"sign_failed_declined": with(func(n *flows.Notification) {
			n.Kind, n.TaskKind, n.Reason, n.Comment = flows.NoteSignFailed, flows.KindSign, flows.DSSDeclined, "Отклонено пользователем"
		}),
		// Ended by Viza, not by DSS: said in the catalogue's words.
		"sign_failed_no_answer": with(func(n *flows.Notification) {
			n.Kind, n.TaskKind, n.Reason = flows.NoteSignFailed, flows.KindSign, "no_answer"
		}),
		"sign_failed_expired": with(func(n *flows.Notification) {
			n.Kind, n.TaskKind, n.Reason = flows.NoteSignFailed, flows.KindSign, flows.DSSExpired
		}),
		"task_assigned_ack": with(func(n *flows.Notification) {
			n.Kind, n.TaskKind, n.StageName = flows.NoteTaskAssigned, flows.KindAcknowledge, nil
		}),
		"task_closed": with(func(n *flows.Notification) { n.Kind, n.Reason = flows.NoteTaskClosed, flows.CloseNotNeeded }),
		// Decided by the stage's rule when the deadline passed: said as
		// such, never as if a person had.
		"task_closed_approved_on_timeout": with(func(n *flows.Notification) {
			n.Kind, n.Reason, n.Decision = flows.NoteTaskClosed, flows.CloseTimedOut, flows.ActionApprove
		}),
		"task_closed_skipped_on_timeout": with(func(n *flows.Notification) { n.Kind, n.Reason = flows.NoteTaskClosed, flows.CloseTimedOut }),
		"decision_on_timeout": with(func(n *flows.Notification) {
			n.Kind, n.For, n.Decision, n.Reason = flows.NoteDecision, "petrov", flows.ActionApprove, flows.CloseTimedOut
		}),
		"decision": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.Decision, n.Comment = flows.NoteDecision, "petrov", "approve", "ок, но проверьте п. 5"
		}),
		"decision_signed": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.Decision, n.TaskKind, n.Comment = flows.NoteDecision, "director", "done", flows.KindSign, "Оригинал в бухгалтерии"
		}),
		"decision_deputy": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.For, n.Decision = flows.NoteDecision, "sidorov", "petrov", "approve"
		}),
		"changes_requested": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.Decision, n.Comment = flows.NoteChangesRequested, "petrov", "reject", "Неустойка 1% в день — слишком много"
		}),
		"round_restarted": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.Comment = flows.NoteRoundRestarted, "ivanova", "Исправлен п. 5"
		}),
		"approved":  with(func(n *flows.Notification) { n.Kind = flows.NoteApproved }),
		"done":      with(func(n *flows.Notification) { n.Kind = flows.NoteDone }),
		"withdrawn": with(func(n *flows.Notification) { n.Kind, n.Actor = flows.NoteWithdrawn, "ivanova" }),
		"remark": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.Comment = flows.NoteRemark, "kuznetsova", "Сумма без НДС?"
		}),
		// An approver taken off the route: their card says who and why.
		"task_closed_removed": with(func(n *flows.Notification) {
			n.Kind, n.Reason, n.Actor, n.Comment = flows.NoteTaskClosed, flows.CloseRemoved, "ivanova", "в отпуске до конца месяца"
		}),
		"route_added": with(func(n *flows.Notification) {
			n.Kind, n.To, n.Actor, n.Person, n.Decision, n.Comment = flows.NoteRouteChanged, "ivanova", "director", "kuznetsova",
				flows.DecisionApproverAdded, "сумма выросла"
		}),
		"route_added_you": with(func(n *flows.Notification) {
			n.Kind, n.To, n.Actor, n.Person, n.Decision, n.Comment = flows.NoteRouteChanged, "kuznetsova", "ivanova", "kuznetsova",
				flows.DecisionApproverAdded, "сумма выросла"
		}),
		"route_removed": with(func(n *flows.Notification) {
			n.Kind, n.To, n.Actor, n.Person, n.Decision, n.Comment = flows.NoteRouteChanged, "ivanova", "director", "sidorov",
				flows.DecisionApproverRemoved, "в отпуске"
		}),
		"route_removed_you": with(func(n *flows.Notification) {
			n.Kind, n.To, n.Actor, n.Person, n.Decision, n.Comment = flows.NoteRouteChanged, "sidorov", "ivanova", "sidorov",
				flows.DecisionApproverRemoved, "в отпуске"
		}),
		"version_uploaded": with(func(n *flows.Notification) { n.Kind = flows.NoteVersionUploaded }),
		"reminder":         with(func(n *flows.Notification) { n.Kind, n.Due = flows.NoteReminder, at.Add(8*time.Hour) }),
		"reminder_sms":     with(func(n *flows.Notification) { n.Kind = flows.NoteReminderSMS }),
		"escalation": with(func(n *flows.Notification) {
			n.Kind, n.Actor, n.Due = flows.NoteEscalation, "petrov", at.Add(8*time.Hour)
		}),
	}
	for name, n := range cases {
		for _, lang := range locales.Languages {
			t.Run(name+"."+lang, func(t *testing.T) {
				m, err := r.Notification(n, lang)
				if err != nil {
					t.Fatal(err)
				}
				got := messages.Plain(m)
				if strings.Contains(got, "notify.") || strings.Contains(got, "button.") || strings.Contains(got, "<no value>") {
					t.Fatalf("untranslated text:\n%s", got)
				}
				golden(t, name+"."+lang+".txt", got+"\n")
			})
		}
	}
}

// TestEveryErrorCodeHasText scans the core and storage for error codes and
// checks that each one has a message in every language.
func TestEveryErrorCodeHasText(t *testing.T) {
	re := regexp.MustCompile(`(?:Errorf\(flows\.|Errorf\()Kind\w+, "([a-z_]+)"|Code: "([a-z_]+)"`)
	codes := map[string]bool{}
	for _, dir := range []string{"../flows", "../storage"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				codes[m[1]+m[2]] = true
			}
		}
	}
	if len(codes) < 20 {
		t.Fatalf("found only %d codes; the scan is broken", len(codes))
	}
	for code := range codes {
		for _, lang := range locales.Languages {
			l, _ := locales.For(lang)
			if got := l.T("error."+code, nil); got == "error."+code {
				t.Errorf("no %s text for error code %q", lang, code)
			}
		}
	}
}

func TestErrorNeverLeaksDetail(t *testing.T) {
	err := flows.Errorf(flows.KindForbidden, "not_your_task", "secret detail about petrov")
	if got := messages.Error(err, "ru"); strings.Contains(got, "petrov") || got != "Это задача другого человека." {
		t.Fatalf("got %q", got)
	}
	if got := messages.Error(os.ErrClosed, "en"); !strings.Contains(got, "Something went wrong") {
		t.Fatalf("internal error text = %q", got)
	}
}
