package deploy

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// slackMethods maps each slack-go call breachctl may make to the Web API
// method, and that method to the bot scopes it needs for the conversations
// breachctl uses it on (private incident channels, public channels the
// escalation file names, direct messages), from Slack's method reference.
var slackMethods = map[string]struct {
	method string
	scopes []string
}{
	"CreateConversationContext":        {"conversations.create", []string{"groups:write"}},
	"GetConversationsContext":          {"conversations.list", []string{"groups:read"}}, // types=private_channel only
	"InviteUsersToConversationContext": {"conversations.invite", []string{"groups:write"}},
	"SetTopicOfConversationContext":    {"conversations.setTopic", []string{"groups:write"}},
	"SetPurposeOfConversationContext":  {"conversations.setPurpose", []string{"groups:write"}},
	"OpenConversationContext":          {"conversations.open", []string{"im:write"}},
	// Read before every post: the incident channel, a public channel
	// target, a direct message.
	"GetConversationHistoryContext": {"conversations.history", []string{"groups:history", "channels:history", "im:history"}},
	// Posts go to the incident channel and to channel targets breachctl
	// need not have joined.
	"PostMessageContext":   {"chat.postMessage", []string{"chat:write", "chat:write.public"}},
	"UpdateMessageContext": {"chat.update", []string{"chat:write"}},
	"ListPinsContext":      {"pins.list", []string{"pins:read"}},
	"AddPinContext":        {"pins.add", []string{"pins:write"}},
	"OpenViewContext":      {"views.open", nil}, // a trigger ID is the permission
	"UpdateViewContext":    {"views.update", nil},
}

// slackCall finds calls on the Slack clients in the code: the activities'
// s.api and slackin's v.Client.
var slackCall = regexp.MustCompile(`\b(?:s\.api|v\.Client)\.([A-Z]\w*)\(`)

// TestSlackManifestScopes holds deploy/slack/manifest.yaml to the code: it
// asks for the scopes of the Web API methods breachctl calls (plus
// commands for /breach) and nothing more, and every call the code makes is
// one whose scopes are known here.
func TestSlackManifestScopes(t *testing.T) {
	called := map[string]bool{}
	for _, dir := range []string{"../activities", "../internal/slackin", "../internal/app"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range slackCall.FindAllStringSubmatch(string(src), -1) {
				if _, ok := slackMethods[m[1]]; !ok {
					t.Errorf("%s calls %s: add its Web API method and scopes to slackMethods, and the scopes to the manifest", f, m[1])
				}
				called[m[1]] = true
			}
		}
	}
	if len(called) < 5 {
		t.Fatalf("found only %v: the scan of the Slack calls is broken", slices.Sorted(maps.Keys(called)))
	}
	want := map[string]bool{"commands": true}
	for call := range called {
		for _, s := range slackMethods[call].scopes {
			want[s] = true
		}
	}

	raw, err := os.ReadFile("slack/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command   string `yaml:"command"`
				UsageHint string `yaml:"usage_hint"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range m.OAuth.Scopes.Bot {
		got[s] = true
	}
	for s := range want {
		if !got[s] {
			t.Errorf("the manifest lacks %s, which the code needs", s)
		}
	}
	for s := range got {
		if !want[s] {
			t.Errorf("the manifest asks for %s, which nothing calls", s)
		}
	}
	if len(m.Features.SlashCommands) != 1 {
		t.Fatalf("slash commands: %+v", m.Features.SlashCommands)
	}
	hint := m.Features.SlashCommands[0].UsageHint
	for _, sub := range []string{"open", "status", "list", "note", "ack", "assign", "scope", "approve", "close", "help"} {
		if !regexp.MustCompile(`(^|\| )` + sub + `\b`).MatchString(hint) {
			t.Errorf("usage_hint %q does not list %s", hint, sub)
		}
	}
}
