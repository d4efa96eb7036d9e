package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/internal/incident"
)

const entryAcknowledged incident.EntryKind = "acknowledged"

func (r *run) validateAck(req AckRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if req.Rule != "" && r.clockIndex(req.Rule) < 0 {
		return invalid("rule: incident %s has no obligation %q", r.status.ID, req.Rule)
	}
	if len(req.Text) > MaxNoteLength {
		return invalid("text: at most %d characters", MaxNoteLength)
	}
	return nil
}

// acknowledge records that someone is on it, and stops the paging of the
// escalations it covers. It never stops a clock: the next reminder pages
// again.
func (r *run) acknowledge(ctx workflow.Context, req AckRequest) (incident.Status, error) {
	now := workflow.Now(ctx).UTC()
	text := "Acknowledged by " + req.Actor
	if req.Rule != "" {
		text += " for " + req.Rule
	}
	if t := strings.TrimSpace(req.Text); t != "" {
		text += ": " + t
	}
	stopped := r.ackPages(req.Rule, req.Actor, now)
	if stopped > 0 {
		text += "; paging stopped"
	}
	r.status.Timeline.Append(now, entryAcknowledged, req.Actor, req.Rule, text)
	r.wake++
	return r.snapshot(), nil
}
