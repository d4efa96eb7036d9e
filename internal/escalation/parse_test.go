package escalation

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

func tg(s string) Target {
	t, err := ParseTarget(s)
	if err != nil {
		panic(err)
	}
	return t
}

func dur(d time.Duration) incident.Duration { return incident.Duration(d) }

const brief = `policies:
  - name: gdpr-authority
    match: {severity: [high, critical], notify: [authority]}
    steps:
      - delay: 0m
        targets: [slack:U0123ABCD, slack-channel:C0456, email:dpo@example.com, slack-group:S0789]
      - delay: 30m
        targets: [slack:U0999]
    repeat: 2
    repeat_delay: 1h
`

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []Policy
	}{
		{"the brief's example", brief, []Policy{{
			Name:  "gdpr-authority",
			Match: Match{Severity: []string{"high", "critical"}, Notify: []string{"authority"}},
			Steps: []Step{
				{0, []Target{{SlackUser, "U0123ABCD"}, {SlackChannel, "C0456"}, {Email, "dpo@example.com"}, {SlackGroup, "S0789"}}},
				{dur(30 * time.Minute), []Target{{SlackUser, "U0999"}}},
			},
			Repeat: 2, RepeatDelay: dur(time.Hour), Line: 2,
		}}},
		{"defaults: repeat delay is the last step's delay", "policies:\n- name: a\n  steps:\n  - {delay: 0m, targets: incident-channel}\n  - {delay: 45m, targets: [slack:W0123]}\n",
			[]Policy{{Name: "a", Steps: []Step{{0, []Target{{Kind: IncidentChannel}}}, {dur(45 * time.Minute), []Target{{SlackUser, "W0123"}}}},
				RepeatDelay: dur(45 * time.Minute), Line: 2}}},
		{"defaults: 30m when the last delay is 0; one word for a list", "policies:\n- name: a\n  match: {severity: HIGH}\n  steps: [{delay: 0, targets: email:a@b.example}]\n",
			[]Policy{{Name: "a", Match: Match{Severity: []string{"high"}}, Steps: []Step{{0, []Target{{Email, "a@b.example"}}}},
				RepeatDelay: dur(30 * time.Minute), Line: 2}}},
		{"a short last delay repeats after at least 1m", "policies:\n- name: a\n  steps: [{delay: 10s, targets: incident-channel}]\n",
			[]Policy{{Name: "a", Steps: []Step{{dur(10 * time.Second), []Target{{Kind: IncidentChannel}}}}, RepeatDelay: dur(time.Minute), Line: 2}}},
		{"no policies", "policies: []\n", nil},
		{"null policies", "policies:\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "escalation.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Policies, tc.want) {
				t.Errorf("got  %+v\nwant %+v", c.Policies, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // every error, in order
	}{
		{"empty", "", []string{"f.yaml:1: the file is empty: it needs policies"}},
		{"syntax", "policies:\n  - name: [a\n", []string{"f.yaml:2: did not find expected ',' or ']'"}},
		{"not a mapping", "- a\n", []string{"f.yaml:1: the file must be a mapping (policies, on_call, sign_off)"}},
		{"unknown top field", "policies: []\npolicy: x\n", []string{"f.yaml:2: policy: unknown field (known: policies, on_call, sign_off)"}},
		{"no policies field", "{}\n", []string{"f.yaml:1: policies: required: the escalation policies (an empty list for the built-in one)"}},
		{"policies not a list", "policies: {a: 1}\n", []string{"f.yaml:1: policies: must be a list of policies"}},
		{"unknown and missing fields", "policies:\n  - nme: a\n    match: {severity: urgent, notify: [authority, Authority], kind: x}\n", []string{
			"f.yaml:2: policies[0].nme: unknown field (known: name, match, steps, repeat, repeat_delay)",
			"f.yaml:2: policies[0].name: required: a name for the policy, shown when it pages",
			"f.yaml:2: policies[0].steps: required: at least one step (delay, targets)",
			"f.yaml:3: policies[0].match.kind: unknown field (known: severity, notify)",
			`f.yaml:3: policies[0].match.severity: "urgent" is not one of unassessed, low, medium, high, critical`,
			`f.yaml:3: policies[0].match.notify[1]: "authority" is already in the list`,
		}},
		{"steps", `policies:
  - name: a
    steps:
      - delay: 30m
        targets: [slack:alice]
      - delay: 15m
        targets: []
      - targets: [slack-channel:#general, slack-group:s0789, email:Jo <jo@x.example>, pager:1, slack:U0123, slack:U0123]
      - delay: 1d
      - {delay: -1m, targets: [email:jo@x, incident-channel:C1]}
    repeat: 21
    repeat_delay: 30s
`, []string{
			`f.yaml:5: policies[0].steps[0].targets[0]: "alice" is not a Slack member ID (U0123ABCD)`,
			`f.yaml:6: policies[0].steps[1].delay: 15m is before the previous step's 30m: each delay counts from the start of the page`,
			`f.yaml:7: policies[0].steps[1].targets: is an empty list: whom to page (` + targetForms + `)`,
			`f.yaml:8: policies[0].steps[2].delay: required: how long after the page starts to page this step (0m: at once)`,
			`f.yaml:8: policies[0].steps[2].targets[0]: "#general" is a name: write a Slack channel ID (C0456EFGH), which does not change when the name does`,
			`f.yaml:8: policies[0].steps[2].targets[1]: "s0789": Slack IDs are upper case (S0789)`,
			`f.yaml:8: policies[0].steps[2].targets[2]: "Jo <jo@x.example>" is not an email address (write a bare address: dpo@example.com)`,
			`f.yaml:8: policies[0].steps[2].targets[3]: "pager" is not a kind of target: write ` + targetForms,
			`f.yaml:8: policies[0].steps[2].targets[5]: slack:U0123 is already in the list`,
			`f.yaml:9: policies[0].steps[3].delay: "1d" is not a duration like 0m, 30m or 1h (write days in hours: 24h)`,
			`f.yaml:9: policies[0].steps[3].targets: required: whom to page (` + targetForms + `)`,
			`f.yaml:10: policies[0].steps[4].delay: -1m is negative`,
			`f.yaml:10: policies[0].steps[4].targets[0]: "jo@x" is not an email address (write a bare address: dpo@example.com)`,
			`f.yaml:10: policies[0].steps[4].targets[1]: incident-channel takes no ID: write incident-channel alone`,
			`f.yaml:11: policies[0].repeat: 21 is out of range: 0 to 20`,
			`f.yaml:12: policies[0].repeat_delay: 30s is too short: at least 1m`,
		}},
		{"unreachable and duplicate policies", `policies:
  - {name: a, steps: [{delay: 0m, targets: incident-channel}]}
  - {name: a, match: {notify: authority}, steps: [{delay: 0m, targets: incident-channel}]}
  - {name: c, steps: [{delay: 0m, targets: incident-channel}]}
  - {name: d, match: {notify: [authority]}, steps: [{delay: 0m, targets: incident-channel}], repeat: x}
  - {name: "e f", steps: [{delay: 8d, targets: incident-channel}]}
`, []string{
			`f.yaml:3: policies[1].name: "a" is already the name of the policy at line 2`,
			`f.yaml:4: policies[2]: policy "c" is never used: it has no match, like policy "a" (line 2), which comes first`,
			`f.yaml:5: policies[3].repeat: "x" is not a whole number`,
			`f.yaml:5: policies[3]: policy "d" is never used: it has the same match as policy "a" (line 3), which comes first`,
			`f.yaml:6: policies[4].name: "e f" is not a name: letters, digits, '.', '_' and '-' (gdpr-authority)`,
			`f.yaml:6: policies[4].steps[0].delay: "8d" is not a duration like 0m, 30m or 1h (write days in hours: 24h)`,
			`f.yaml:6: policies[4]: policy "e f" is never used: it has no match, like policy "a" (line 2), which comes first`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "f.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("kind %s, want invalid", apperr.KindOf(err))
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	good := map[string]Target{
		"slack:U0123ABCD":       {SlackUser, "U0123ABCD"},
		" slack:W0123ABCD ":     {SlackUser, "W0123ABCD"},
		"slack-channel:C0456":   {SlackChannel, "C0456"},
		"slack-channel:G0456":   {SlackChannel, "G0456"},
		"slack-group:S0789":     {SlackGroup, "S0789"},
		"email:dpo@example.com": {Email, "dpo@example.com"},
		"incident-channel":      {Kind: IncidentChannel},
	}
	for in, want := range good {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseTarget(got.String()); back != got {
			t.Errorf("%v does not round-trip", got)
		}
	}
	for _, in := range []string{"", "slack", "slack:", "slack:C0456", "slack-channel:U0123", "slack-group:U0123", "email:", "email:a@b", "sms:+4930", "incident-channel:x", "slack:U0123 ABCD"} {
		if _, err := ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q): no error", in)
		}
	}
}

func TestExampleParses(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "examples", "escalation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Policies) != 3 {
		t.Fatalf("%d policies, want 3", len(c.Policies))
	}
	if p := c.PolicyFor("critical", "authority"); p.Name != "gdpr-authority" || p.Repeat != 2 || len(p.Steps) != 3 {
		t.Errorf("critical authority: %+v", p)
	}
	if p := c.PolicyFor("low", "authority"); p.Name != "default" {
		t.Errorf("low authority: %s, want default", p.Name)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "escalation.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !apperr.Is(err, apperr.NotFound) {
		t.Errorf("err = %v, want not found wrapping fs.ErrNotExist", err)
	}
}

func TestPolicyFor(t *testing.T) {
	c, err := Parse([]byte(`policies:
  - {name: notify-only,  match: {notify: authority},                      steps: [{delay: 0m, targets: incident-channel}]}
  - {name: severity-only, match: {severity: critical},                    steps: [{delay: 0m, targets: incident-channel}]}
  - {name: both,         match: {severity: [high, critical], notify: authority}, steps: [{delay: 0m, targets: incident-channel}]}
  - {name: severity-too, match: {severity: [critical, high]},            steps: [{delay: 0m, targets: incident-channel}], repeat: 1}
  - {name: fallback,     steps: [{delay: 0m, targets: incident-channel}]}
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ severity, notify, want string }{
		{"critical", "authority", "both"}, // both fields beat one
		{"high", "authority", "both"},
		{"low", "authority", "notify-only"},          // one beats none
		{"critical", "individuals", "severity-only"}, // ties: file order
		{"high", "individuals", "severity-too"},
		{"low", "individuals", "fallback"},
		{"", "", "fallback"},
	}
	for _, tc := range cases {
		if got := c.PolicyFor(tc.severity, tc.notify).Name; got != tc.want {
			t.Errorf("PolicyFor(%q, %q) = %s, want %s", tc.severity, tc.notify, got, tc.want)
		}
	}
	noDefault, err := Parse([]byte("policies:\n  - {name: a, match: {notify: authority}, steps: [{delay: 0m, targets: slack:U01}]}\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{noDefault, Default(), nil} {
		if got := c.PolicyFor("high", "individuals"); !reflect.DeepEqual(got, DefaultPolicy()) {
			t.Errorf("no match: %+v, want the built-in default", got)
		}
	}
	// The result shares nothing with the config.
	p := c.PolicyFor("critical", "authority")
	p.Steps[0].Targets[0] = tg("slack:U999")
	if c.PolicyFor("critical", "authority").Steps[0].Targets[0].Kind != IncidentChannel {
		t.Error("PolicyFor returned a policy sharing memory with the config")
	}
}

func TestPolicyJSON(t *testing.T) {
	c, err := Parse([]byte(brief), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol := c.Policies[0]
	b, err := json.Marshal(pol)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"gdpr-authority","match":{"severity":["high","critical"],"notify":["authority"]},` +
		`"steps":[{"delay":"0s","targets":["slack:U0123ABCD","slack-channel:C0456","email:dpo@example.com","slack-group:S0789"]},` +
		`{"delay":"30m","targets":["slack:U0999"]}],"repeat":2,"repeat_delay":"1h"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	pol.Line = 0
	if !reflect.DeepEqual(back, pol) {
		t.Errorf("round trip: %+v, want %+v", back, pol)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(brief))
	f.Add([]byte("policies:\n  - {name: a, steps: [{delay: 0m, targets: incident-channel}]}\n"))
	f.Add([]byte("policies: [{name: &x a, steps: *x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "f.yaml")
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("error without the file name: %q", line)
				}
			}
			return
		}
		for _, p := range c.Policies {
			if len(p.Steps) == 0 || p.RepeatDelay < dur(MinRepeatDelay) {
				t.Fatalf("bad policy accepted: %+v", p)
			}
			for i, s := range p.Steps {
				if len(s.Targets) == 0 || i > 0 && s.Delay < p.Steps[i-1].Delay {
					t.Fatalf("bad step accepted: %+v", p)
				}
			}
		}
	})
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"slack:U0123", "email:a@b.example", "incident-channel", "slack-channel:#x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tt, err := ParseTarget(s)
		if err != nil {
			return
		}
		if back, err := ParseTarget(tt.String()); err != nil || back != tt {
			t.Fatalf("%q parsed to %v, which does not round-trip: %v, %v", s, tt, back, err)
		}
	})
}

func TestOnCall(t *testing.T) {
	c, err := Parse([]byte("on_call:\n  commander: slack:U0ALICE1\n  dpo: email:dpo@example.com\npolicies: []\n"), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.OnCall["commander"] != (Target{Kind: SlackUser, ID: "U0ALICE1"}) || c.OnCall["dpo"] != (Target{Kind: Email, ID: "dpo@example.com"}) {
		t.Fatalf("on call: %v", c.OnCall)
	}
	for src, want := range map[string]string{
		"on_call:\n  janitor: slack:U0ALICE1\npolicies: []\n":        `f.yaml:2: on_call.janitor: "janitor" is not a role on an incident`,
		"on_call:\n  commander: slack-channel:C0123\npolicies: []\n": `f.yaml:2: on_call.commander: "slack-channel:C0123" is not a person`,
		"on_call: [slack:U0ALICE1]\npolicies: []\n":                  `f.yaml:1: on_call: must map roles`,
	} {
		if _, err := Parse([]byte(src), "f.yaml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}
