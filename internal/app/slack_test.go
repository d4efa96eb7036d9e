package app

import (
	"slices"
	"testing"

	"github.com/breachctl/breachctl/internal/config"
)

// TestPagedSlackUsersAreResponders: the people breachctl invites and pages
// (BREACHCTL_SLACK_RESPONDERS, the escalation file's Slack targets and
// on-call people) are the ones newSlack makes responders, each once.
func TestPagedSlackUsersAreResponders(t *testing.T) {
	cfg := config.Config{Escalation: "../../examples/escalation.yaml"}
	cfg.Slack.Responders = []string{"U0RESPOND", "U0123ABCD"}
	got, err := pagedSlackUsers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"U0RESPOND", "U0123ABCD", "U0999ZZZZ"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s is not among %v", want, got)
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("not sorted or repeated: %v", got)
	}
	none, err := pagedSlackUsers(config.Config{})
	if err != nil || len(none) != 0 {
		t.Errorf("with nothing configured: %v %v", none, err)
	}
}
