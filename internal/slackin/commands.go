package slackin

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/workflows"
)

// command answers a slash command within Slack's 3 s: at once for help,
// refusals, malformed text and the open form; everything that asks the
// incident service is acknowledged at once and answered on response_url.
func (h *Handler) command(w http.ResponseWriter, s slack.SlashCommand) {
	if s.Command != h.cfg.Command {
		writeEphemeral(w, fmt.Sprintf("This app answers `%s` only.", h.cfg.Command))
		return
	}
	c, err := parseCommand(s.Text)
	if err != nil {
		writeEphemeral(w, ":warning: "+err.Error()+".\n\n"+Usage)
		return
	}
	user := s.UserID
	if !h.cfg.Roles.Allows(user, c.Action) {
		h.log.Info("slack command refused", "action", string(c.Action), "incident", c.Incident, "user", user)
		writeEphemeral(w, h.refusal(user, c.Action))
		return
	}
	h.log.Info("slack command", "action", string(c.Action), "incident", c.Incident, "user", user)
	switch c.Action {
	case ActionHelp:
		writeEphemeral(w, Usage)
	case ActionOpen:
		h.openForm(w, s)
	case ActionScope:
		writeEphemeral(w, scopeAnswer(c.Incident))
	case ActionStatus:
		if c.Incident == "" {
			writeEphemeral(w, "Looking up the open incidents…")
		} else {
			writeEphemeral(w, "Looking up "+c.Incident+"…")
		}
		h.later(s.ResponseURL, c.Action, c.Incident, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			return h.status(ctx, c.Incident)
		})
	case ActionList:
		writeEphemeral(w, "Listing "+c.State+" incidents…")
		h.later(s.ResponseURL, c.Action, "", user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			list, err := h.cfg.Incidents.List(ctx, orchestrator.ListFilter{State: c.State, Limit: maxListed + 1})
			if err != nil {
				return nil, err
			}
			return ephemeral(listText(c.State, list)), nil
		})
	case ActionNote:
		writeEphemeral(w, "Adding your note to "+c.Incident+"…")
		h.later(s.ResponseURL, c.Action, c.Incident, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			e, err := h.cfg.Incidents.Note(ctx, c.Incident, c.Text, actor(user))
			if err != nil {
				return nil, err
			}
			return ephemeral(fmt.Sprintf(":memo: Note %d added to %s.", e.Seq, c.Incident)), nil
		})
	case ActionAck:
		writeEphemeral(w, "Acknowledging "+c.Incident+"…")
		h.later(s.ResponseURL, c.Action, c.Incident, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			rule, text, err := h.ackRule(ctx, c.Incident, c.Text)
			if err != nil {
				return nil, err
			}
			return h.acknowledge(ctx, c.Incident, rule, text, user)
		})
	case ActionClose:
		writeEphemeral(w, "Closing "+c.Incident+"…")
		h.later(s.ResponseURL, c.Action, c.Incident, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			req := workflows.CloseRequest{Reason: c.Text, Actor: actor(user), AcknowledgeOpen: c.Yes}
			if _, err := h.cfg.Incidents.CloseWith(ctx, c.Incident, req); err != nil {
				if !c.Yes && apperr.KindOf(err) == apperr.Conflict && strings.Contains(err.Error(), "past") {
					return nil, fmt.Errorf("%w. To close anyway: `%s close %s --yes %s`", err, h.cfg.Command, c.Incident, c.Text)
				}
				return nil, err
			}
			return inChannel(fmt.Sprintf(":white_check_mark: %s was closed by <@%s>.", c.Incident, user)), nil
		})
	case ActionAssign:
		writeEphemeral(w, fmt.Sprintf("Assigning the %s on %s…", incident.RoleTitle(c.Role), c.Incident))
		h.later(s.ResponseURL, c.Action, c.Incident, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			return h.assign(ctx, c.Incident, c.Role, c.Person, user)
		})
	case ActionApprove:
		meta := formMeta{ResponseURL: s.ResponseURL, Channel: s.ChannelID, Incident: c.Incident, Rules: c.Rules}
		again := fmt.Sprintf("Run `%s approve %s %s` again.", h.cfg.Command, c.Incident, strings.Join(c.Rules, " "))
		if msg := h.approveForm(s.TriggerID, meta, user, again); msg != "" {
			writeEphemeral(w, msg)
			return
		}
		w.WriteHeader(http.StatusOK) // nothing to say: the form is open
	}
}

// status shows one incident, or without an ID the open ones (the single
// open incident in full).
func (h *Handler) status(ctx context.Context, id string) (*slack.WebhookMessage, error) {
	if id == "" {
		list, err := h.cfg.Incidents.List(ctx, orchestrator.ListFilter{State: "open", Limit: maxListed + 1})
		if err != nil {
			return nil, err
		}
		if len(list) != 1 {
			return ephemeral(listText("open", list)), nil
		}
		id = list[0].ID
	}
	st, err := h.cfg.Incidents.Show(ctx, id)
	if err != nil {
		return nil, err
	}
	return statusMessage(st), nil
}

// scopeAnswer says how to scope. Scoping reads the affected people from
// exports or a database with the data map; those never go through Slack,
// so it runs with the CLI where the sources are.
func scopeAnswer(id string) string {
	return fmt.Sprintf("Scoping reads the affected people from your exports or database with the data map, "+
		"and people's data never goes through Slack. Run it where the sources are:\n"+
		"```breachctl scope %s --source affected.csv```\n"+
		"The incident then takes the counts and its obligations are recomputed; `/breach status %s` shows them.", id, id)
}

// openForm opens the report form at once: the trigger ID expires in 3 s.
func (h *Handler) openForm(w http.ResponseWriter, s slack.SlashCommand) {
	meta := formMeta{ResponseURL: s.ResponseURL, Channel: s.ChannelID}
	ctx, cancel := context.WithTimeout(h.ctx, viewTimeout)
	defer cancel()
	err := h.cfg.Views.OpenView(ctx, s.TriggerID, openModal(h.now(), meta))
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK) // nothing to say: the form is open
	case isExpiredTrigger(err):
		h.log.Warn("slack form not opened", "action", string(ActionOpen), "user", s.UserID, "reason", "expired_trigger_id")
		writeEphemeral(w, ":hourglass: Slack's request expired before the form could open. Run `"+h.cfg.Command+" open` again.")
	default:
		h.log.Warn("slack form not opened", "action", string(ActionOpen), "user", s.UserID, "error", err.Error())
		writeEphemeral(w, ":x: The form could not be opened. Try `"+h.cfg.Command+" open` again, or open the incident with `breachctl open`.")
	}
}

const maxListed = 20

func listText(state string, list []incident.Summary) string {
	if len(list) == 0 {
		return fmt.Sprintf("No %s incidents.", state)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s incidents*\n", capitalize(state))
	for i, s := range list {
		if i == maxListed {
			fmt.Fprintf(&b, "…and more: `breachctl list --state %s` shows them all.\n", state)
			break
		}
		fmt.Fprintf(&b, "• *%s* %s · %s · %s", escape(s.ID), escape(s.Title), escape(string(s.State)), escape(string(s.Severity)))
		if s.NextDeadline != nil {
			fmt.Fprintf(&b, " · next deadline %s", slackDate(*s.NextDeadline))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
