package slackin

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// Acknowledging from Slack: the Acknowledge button acknowledges every page
// of the incident; `/breach ack INC-ID [RULE] [text]` one obligation's when
// its first word after the ID is the rule of one of the incident's clocks,
// and the rest is kept on the timeline. An acknowledgement stops paging,
// never a clock.

// entryAcknowledged is the timeline kind the workflow records for an
// acknowledgement.
const entryAcknowledged incident.EntryKind = "acknowledged"

// acknowledge sends the acknowledgement and announces it in the channel.
func (h *Handler) acknowledge(ctx context.Context, id, rule, text, user string) (*slack.WebhookMessage, error) {
	st, err := h.cfg.Incidents.Acknowledge(ctx, id, workflows.AckRequest{Rule: rule, Text: text, Actor: actor(user)})
	if err != nil {
		return nil, err
	}
	what := id
	if rule != "" {
		what += " for " + escape(rule)
	}
	msg := fmt.Sprintf(":eyes: <@%s> acknowledged %s.", user, what)
	if pagingStopped(st, actor(user)) {
		msg += " Paging stopped."
	}
	return inChannel(msg), nil
}

// ackRule splits `[RULE] [text]`: the first word is the rule when the
// incident has a clock under it (a word of the text otherwise), so a text
// is never mistaken for a rule the workflow would refuse.
func (h *Handler) ackRule(ctx context.Context, id, rest string) (rule, text string, err error) {
	first, after := nextWord(rest)
	if first == "" {
		return "", "", nil
	}
	st, err := h.cfg.Incidents.Show(ctx, id)
	if err != nil {
		return "", "", err
	}
	for _, c := range st.Clocks {
		if strings.EqualFold(c.Rule, first) {
			return c.Rule, after, nil
		}
	}
	return "", rest, nil
}

// pagingStopped says whether the acknowledgement by actor stopped a page,
// from the entry it left on the timeline.
func pagingStopped(st incident.Status, actor string) bool {
	for i := len(st.Timeline) - 1; i >= 0; i-- {
		if e := st.Timeline[i]; e.Kind == entryAcknowledged && e.Actor == actor {
			return strings.HasSuffix(e.Text, "paging stopped")
		}
	}
	return false
}
