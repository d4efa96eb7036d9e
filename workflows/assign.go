package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/internal/incident"
)

const entryRoleAssigned incident.EntryKind = "role_assigned"

func (r *run) validateAssign(req AssignRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if !slices.Contains(incident.TeamRoles, req.Role) {
		return invalid("role: %q is not a role on an incident (%s)", req.Role, strings.Join(incident.TeamRoles, ", "))
	}
	person := strings.TrimSpace(req.Person)
	switch {
	case person == "":
		return invalid("person: say who takes the role")
	case len(person) > 200:
		return invalid("person: at most 200 characters")
	case r.status.Roles[req.Role] == person:
		return conflict("%s is already the %s", person, incident.RoleTitle(req.Role))
	}
	return nil
}

// assign gives a person a role, replacing whoever held it, on the record.
func (r *run) assign(ctx workflow.Context, req AssignRequest) (incident.Status, error) {
	person := strings.TrimSpace(req.Person)
	text := fmt.Sprintf("%s is now the %s", person, incident.RoleTitle(req.Role))
	if before := r.status.Roles[req.Role]; before != "" {
		text += " (was " + before + ")"
	}
	if r.status.Roles == nil {
		r.status.Roles = map[string]string{}
	}
	r.status.Roles[req.Role] = person
	r.status.Timeline.Append(workflow.Now(ctx).UTC(), entryRoleAssigned, req.Actor, "", text)
	r.upsertSearch(ctx)
	return r.snapshot(), nil
}

// takeOnCall gives the roles nobody holds to whoever configuration says is
// on call, when the incident opens.
func (r *run) takeOnCall(now time.Time) {
	for _, role := range incident.TeamRoles {
		person, ok := r.onCall[role]
		if !ok || r.status.Roles[role] != "" {
			continue
		}
		if r.status.Roles == nil {
			r.status.Roles = map[string]string{}
		}
		r.status.Roles[role] = person
		r.status.Timeline.Append(now, entryRoleAssigned, incident.SystemActor, "",
			fmt.Sprintf("%s is on call as the %s (from configuration)", person, incident.RoleTitle(role)))
	}
}
