package slackin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// Assigning from Slack: `/breach assign INC-ID ROLE @person` gives a person
// one of the incident's roles (incident.TeamRoles). Slack sends a mention
// in the command text as <@U0123ABCD|name> (with "Escape channels, users,
// and links" on for the command); it becomes the person slack:U0123ABCD, the
// same form as an actor. An email address or a name is taken as typed.

// assign sends the assignment and announces it in the channel.
func (h *Handler) assign(ctx context.Context, id, role, person, user string) (*slack.WebhookMessage, error) {
	_, err := h.cfg.Incidents.Assign(ctx, id, workflows.AssignRequest{Role: role, Person: person, Actor: actor(user)})
	if err != nil {
		return nil, err
	}
	return inChannel(fmt.Sprintf(":bust_in_silhouette: <@%s> made %s the %s on %s.", user, personText(person), incident.RoleTitle(role), id)), nil
}

// parseAssign reads `ROLE PERSON` after the incident ID.
func parseAssign(rest string) (role, person string, err error) {
	word, who := nextWord(rest)
	role = strings.ToLower(word)
	if !slices.Contains(incident.TeamRoles, role) {
		return "", "", usagef("`assign` needs a role, one of %s, then the person", strings.Join(incident.TeamRoles, ", "))
	}
	person, err = parsePerson(who)
	return role, person, err
}

// parsePerson turns a Slack mention into slack:USERID; an email address
// (which Slack sends as <mailto:a@b|a@b>) or a name is kept as typed.
func parsePerson(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", usagef("`assign` needs the person who takes the role: mention them")
	case strings.HasPrefix(s, "<@") && strings.HasSuffix(s, ">"):
		id, _, _ := strings.Cut(s[2:len(s)-1], "|")
		if !validUserID(id) || strings.ContainsAny(s[1:len(s)-1], "<>") {
			return "", usagef("`assign` takes one person: mention them")
		}
		return actor(id), nil
	case strings.HasPrefix(s, "<mailto:") && strings.HasSuffix(s, ">"):
		addr, _, _ := strings.Cut(s[len("<mailto:"):len(s)-1], "|")
		if addr == "" || strings.ContainsAny(addr, "<> ") {
			return "", usagef("%q is not an email address", truncate(s, 40))
		}
		return addr, nil
	case strings.HasPrefix(s, "@"):
		// A mention Slack did not turn into an ID cannot name one person.
		return "", usagef("%q is not a mention Slack resolved: pick the person from the list as you type @", truncate(s, 40))
	case strings.ContainsAny(s, "<>"):
		return "", usagef("`assign` takes one person: mention them, or give an email address or a name")
	}
	return s, nil
}

// personText shows a person in mrkdwn: a Slack user as a mention.
func personText(p string) string {
	if id, ok := strings.CutPrefix(p, "slack:"); ok && validUserID(id) {
		return "<@" + id + ">"
	}
	return escape(p)
}
