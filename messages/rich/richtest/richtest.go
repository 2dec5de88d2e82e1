// Package richtest holds what every channel's markup test shares: strings
// that would be markup, a mention or a link in some messenger's dialect,
// which must reach a person as the very same text.
package richtest

import "github.com/viza-app/viza/messages/rich"

// Hostile are titles, comments and file names people could type that are
// markup somewhere: Telegram HTML, Slack mrkdwn, Bitrix24 BB-code, the
// neutral markup itself.
var Hostile = []string{
	"<b>банк</b>",
	"</b>",
	"<a href=\"https://evil.example\">click</a>",
	"a < b && c > d",
	"&amp; &lt; &#65; &quot;",
	"*bold* _italic_ ~strike~ `code` ```block```",
	"> quoted line",
	"<!here> <!channel> <@U0AAA111> <#C123> <https://evil.example|click>",
	"@channel @here @everyone",
	"[b]жирный[/b] [url=https://evil.example]click[/url]",
	"[USER=1]Админ[/USER] [CHAT=5]чат[/CHAT] [SEND=/approve]Жми[/SEND]",
	"[PUT=/x]y[/PUT] [ICON=https://evil.example/i.png]",
	"Договор\u202eгп.exe", // a right-to-left override
	"строка 1\nстрока 2",
	"\"quotes\" 'single' \\backslash\\",
	"emoji 📄✅ and :joy:",
}

// Message is a typical line: a bold label the catalogue wrote, then what
// a person typed.
func Message(typed string) rich.Text {
	return rich.Concat(rich.Styled("Title:", rich.Bold), rich.Plain(" "+typed))
}
