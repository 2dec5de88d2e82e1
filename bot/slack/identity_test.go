package slack

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/bot/slack/slackfake"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/storage"
)

func connected(t *testing.T, fake *slackfake.Server) *Transport {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "viza.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tr, err := New(context.Background(), Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL}, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestEmailIdentityOnlyWithinTheTeam: a person without `slack:` is found
// by e-mail only as a member of the app's own team with a confirmed
// address; a Slack Connect stranger, a member of another team, or an
// unconfirmed address with the person's e-mail is nobody — neither
// readdressing the person's messages nor acting as them.
func TestEmailIdentityOnlyWithinTheTeam(t *testing.T) {
	for _, tc := range []struct {
		name string
		user slackfake.User
		ok   bool
	}{
		{"member", slackfake.User{ID: "U0MEMBER", Name: "anna", Email: "anna@romashka.example"}, true},
		{"stranger", slackfake.User{ID: "U0STRANGE", Name: "anna", Email: "anna@romashka.example", Stranger: true, Team: "T0OTHER"}, false},
		{"another team", slackfake.User{ID: "U0OTHER", Name: "anna", Email: "anna@romashka.example", Team: "T0OTHER"}, false},
		{"unconfirmed", slackfake.User{ID: "U0UNCONF", Name: "anna", Email: "anna@romashka.example", Unconfirmed: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := slackfake.New(tc.user)
			defer fake.Close()
			tr := connected(t, fake)
			anna := &flows.Person{ID: "ivanova", Name: "Анна", Email: "anna@romashka.example"}
			dir := flows.NewDirectory("Ромашка", "ru", time.UTC, nil, []*flows.Person{anna}, nil)
			user, ok := tr.UserOf(context.Background(), anna)
			if ok != tc.ok || (ok && user != tc.user.ID) {
				t.Fatalf("UserOf = %q %v, want %v", user, ok, tc.ok)
			}
			p, ok := tr.PersonOf(context.Background(), dir, tc.user.ID)
			if ok != tc.ok || (ok && p.ID != "ivanova") {
				t.Fatalf("PersonOf = %v %v, want %v", p, ok, tc.ok)
			}
		})
	}
}

// TestRequestsFromAnotherTeamAreDropped: a request signed with our secret
// but from another workspace is acknowledged and not kept; ours is kept.
func TestRequestsFromAnotherTeamAreDropped(t *testing.T) {
	fake := slackfake.New(slackfake.User{ID: "U0MEMBER", Name: "anna"})
	defer fake.Close()
	tr := connected(t, fake)
	ev := func(team string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"team_id": team, "event_id": "Ev" + team, "event": map[string]any{"type": "message", "channel_type": "im", "user": "U0MEMBER", "text": "hi"}})
		return b
	}
	for team, kept := range map[string]bool{slackfake.TeamID: true, "T0OTHER": false} {
		if _, ok := tr.intake(context.Background(), "events_api", ev(team)); !ok {
			t.Fatalf("team %s: not acknowledged", team)
		}
		items, err := tr.store.InboxPending(context.Background(), Name, 10)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range items {
			found = found || it.ID == "ev:Ev"+team
		}
		if found != kept {
			t.Fatalf("team %s: kept %v, want %v", team, found, kept)
		}
	}
}

// TestFilesOnlyFromSlacksHosts: a url_private on another host is never
// fetched — the library would send it the bot token.
func TestFilesOnlyFromSlacksHosts(t *testing.T) {
	fake := slackfake.New()
	defer fake.Close()
	tr := connected(t, fake)
	for link, ok := range map[string]bool{
		"https://files.slack.com/files-pri/T0-F0/a.pdf": true,
		"https://files-edge.slack.com/x":                true,
		"https://files.slack-gov.com/x":                 true,
		fake.URL + "../files/F0/a.pdf":                  true, // the configured API's own host
		"https://evil.example/files-pri/a.pdf":          false,
		"http://files.slack.com/x":                      false,
		"https://slack.com.evil.example/x":              false,
		"https://127.0.0.1/x":                           false,
	} {
		if got := tr.fileHost(link); got != ok {
			t.Errorf("%s: %v, want %v", link, got, ok)
		}
	}
	if _, err := tr.Fetch(context.Background(), chat.FileRef{Ref: "https://evil.example/a.pdf", Name: "a.pdf"}, 1<<20); flows.ErrorCode(err) != "slack_rejected" {
		t.Fatalf("a foreign link was fetched: %v", err)
	}
}
