package slack

import (
	"strings"
	"testing"

	"github.com/viza-app/viza/bot/slack/slackfake"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/messages/rich/richtest"
)

// TestMrkdwnShowsTypedTextLiterally renders each hostile string as mrkdwn
// and reads it back the way a Slack client shows it: exactly what was
// typed, with no mention, link or style but the catalogue's bold label.
func TestMrkdwnShowsTypedTextLiterally(t *testing.T) {
	for _, s := range richtest.Hostile {
		msg := richtest.Message(s)
		text, runs := slackfake.Display(Mrkdwn(msg))
		if text != msg.String() {
			t.Errorf("%q shows as %q", s, text)
		}
		if len(runs) != 1 || runs[0].Style != "bold" || runs[0].Text != "Title:" {
			t.Errorf("%q: styled runs %+v, want only the bold label", s, runs)
		}
	}
}

func TestMrkdwnStyles(t *testing.T) {
	msg := rich.Concat(rich.Styled("жирный", rich.Bold), rich.Plain(" "), rich.Styled("курсив", rich.Italic), rich.Plain(" "),
		rich.Styled("код", rich.Code), rich.Plain(" "), rich.Link("ссылка", "https://x.example/?a=1|b"),
		rich.Plain("\n"), rich.Styled("две\nстроки", rich.Bold), rich.Plain(" "), rich.Styled("было", rich.Deleted), rich.Plain(" "),
		rich.Styled("стало", rich.Inserted))
	text, runs := slackfake.Display(Mrkdwn(msg))
	if text != "жирный курсив код ссылка\nдве\nстроки было стало" {
		t.Fatalf("%q", text)
	}
	got := map[string]string{}
	for _, r := range runs {
		got[r.Text] = r.Style
	}
	for want, style := range map[string]string{"жирный": "bold", "курсив": "italic", "код": "code", "ссылка": "link", "две": "bold", "строки": "bold",
		"было": "strike", "стало": "bold"} {
		if got[want] != style {
			t.Errorf("%q is %q, want %q (runs %+v)", want, got[want], style, runs)
		}
	}
	if strings.Contains(Mrkdwn(rich.Link("x", "https://a.example/|<!here>")), "<!here>") {
		t.Fatal("a link's URL can carry a mention")
	}
	// The address stays whole: a sign-in link with a port, "_" and "-" in
	// its token works when tapped.
	const login = "http://127.0.0.1:8080/login/6lPr_Dk-Wa10#x:y"
	if got := Mrkdwn(rich.Link("open", login)); got != "<"+login+"|open>" {
		t.Fatalf("link written as %q", got)
	}
}
