package slack

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestManifestMatchesTheTransport: the app an administrator creates from
// deploy/slack-app-manifest.yaml delivers what the transport reads and
// grants what it calls.
func TestManifestMatchesTheTransport(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			AppHome struct {
				Home     bool `yaml:"home_tab_enabled"`
				Messages bool `yaml:"messages_tab_enabled"`
			} `yaml:"app_home"`
			Commands []struct {
				Command string `yaml:"command"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Events struct {
				Bot []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			Interactivity struct {
				Enabled bool `yaml:"is_enabled"`
			} `yaml:"interactivity"`
			Socket bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if !m.Features.AppHome.Home || !m.Features.AppHome.Messages || !m.Settings.Interactivity.Enabled || !m.Settings.Socket {
		t.Errorf("app home, DMs, interactivity and Socket Mode must be on: %+v", m)
	}
	if len(m.Features.Commands) != 1 || m.Features.Commands[0].Command != "/viza" {
		t.Errorf("slash commands = %+v", m.Features.Commands)
	}
	for _, ev := range []string{"message.im", "app_home_opened"} {
		if !slices.Contains(m.Settings.Events.Bot, ev) {
			t.Errorf("event %s is not subscribed", ev)
		}
	}
	for _, scope := range []string{"chat:write", "commands", "files:read", "files:write", "im:history", "im:read", "im:write", "users:read", "users:read.email"} {
		if !slices.Contains(m.OAuth.Scopes.Bot, scope) {
			t.Errorf("scope %s is missing", scope)
		}
	}
}
