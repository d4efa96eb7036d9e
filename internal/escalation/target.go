package escalation

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/breachctl/breachctl/internal/yamlfile"
)

// TargetKind is where a page goes.
type TargetKind string

const (
	SlackUser       TargetKind = "slack"            // a Slack member, by ID (U0123ABCD, or W... on Enterprise Grid): a DM
	SlackChannel    TargetKind = "slack-channel"    // a Slack channel, by ID (C0456..., or G... for an old private one)
	SlackGroup      TargetKind = "slack-group"      // a Slack user group, by ID (S0789...): mentioned in the incident channel
	Email           TargetKind = "email"            // an email address
	IncidentChannel TargetKind = "incident-channel" // the incident's own Slack channel; written without an ID
)

// Target is one recipient of a page. In configuration, JSON and logs it is
// written kind:id (slack:U0123ABCD, email:dpo@example.com) or, for the
// incident's channel, incident-channel.
type Target struct {
	Kind TargetKind
	ID   string // empty for IncidentChannel
}

func (t Target) String() string {
	if t.ID == "" {
		return string(t.Kind)
	}
	return string(t.Kind) + ":" + t.ID
}

func (t Target) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

func (t *Target) UnmarshalText(b []byte) error {
	v, err := ParseTarget(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

var (
	slackUserRE    = regexp.MustCompile(`^[UW][A-Z0-9]{2,31}$`)
	slackChannelRE = regexp.MustCompile(`^[CG][A-Z0-9]{2,31}$`)
	slackGroupRE   = regexp.MustCompile(`^S[A-Z0-9]{2,31}$`)
)

// targetForms is the list shown when a target has no known kind.
const targetForms = "slack:U..., slack-channel:C..., slack-group:S..., email:address or incident-channel"

// ParseTarget reads one target. Slack IDs must be IDs, not names: a name can
// be changed by anyone, an ID cannot, and the Slack API wants IDs.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == string(IncidentChannel) {
		return Target{Kind: IncidentChannel}, nil
	}
	kind, id, ok := strings.Cut(s, ":")
	id = strings.TrimSpace(id)
	if !ok {
		return Target{}, fmt.Errorf("%q is not a target: write %s", s, targetForms)
	}
	t := Target{Kind: TargetKind(strings.TrimSpace(kind)), ID: id}
	switch t.Kind {
	case SlackUser:
		return t, slackID(id, slackUserRE, "a Slack member ID (U0123ABCD)", "@")
	case SlackChannel:
		return t, slackID(id, slackChannelRE, "a Slack channel ID (C0456EFGH)", "#")
	case SlackGroup:
		return t, slackID(id, slackGroupRE, "a Slack user group ID (S0789IJKL)", "@")
	case Email:
		if !yamlfile.PlausibleEmail(id) {
			return t, fmt.Errorf("%q is not an email address (write a bare address: dpo@example.com)", id)
		}
		return t, nil
	case IncidentChannel:
		return t, fmt.Errorf("incident-channel takes no ID: write incident-channel alone")
	}
	return Target{}, fmt.Errorf("%q is not a kind of target: write %s", kind, targetForms)
}

func slackID(id string, re *regexp.Regexp, what, namePrefix string) error {
	switch {
	case re.MatchString(id):
		return nil
	case id == "":
		return fmt.Errorf("needs %s after the colon", what)
	case strings.HasPrefix(id, namePrefix):
		return fmt.Errorf("%q is a name: write %s, which does not change when the name does", id, what)
	case re.MatchString(strings.ToUpper(id)):
		return fmt.Errorf("%q: Slack IDs are upper case (%s)", id, strings.ToUpper(id))
	}
	return fmt.Errorf("%q is not %s", id, what)
}
