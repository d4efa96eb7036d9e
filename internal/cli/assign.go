package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// entryRoleAssigned is the timeline kind the workflow records when a role
// changes hands.
const entryRoleAssigned incident.EntryKind = "role_assigned"

// assignRequest builds the assignment from the arguments: the incident ID,
// the role, then who takes it (an email address, a name, or slack:U0123ABCD).
func assignRequest(args []string) (string, workflows.AssignRequest, error) {
	id, err := incidentArg(args)
	if err != nil {
		return "", workflows.AssignRequest{}, err
	}
	if len(args) < 2 {
		return "", workflows.AssignRequest{}, apperr.Invalidf("role", "missing: give one of %s", strings.Join(incident.TeamRoles, ", "))
	}
	role := strings.ToLower(strings.TrimSpace(args[1]))
	if !slices.Contains(incident.TeamRoles, role) {
		return "", workflows.AssignRequest{}, apperr.Invalidf("role", "%q is not a role on an incident: give one of %s", args[1], strings.Join(incident.TeamRoles, ", "))
	}
	person := strings.TrimSpace(strings.Join(args[2:], " "))
	if person == "" {
		return "", workflows.AssignRequest{}, apperr.Invalidf("person", "missing: say who takes the role (an email address, a name or slack:U0123ABCD)")
	}
	// The workflow's validator checks the length and that it is a change.
	return id, workflows.AssignRequest{Role: role, Person: person}, nil
}

func newAssignCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "assign INC-ID ROLE PERSON...",
		Short: "Give a person a role on an incident: " + strings.Join(incident.TeamRoles, ", "),
		Long: `Assigning records on the timeline who holds a role on the incident, replacing
whoever held it. The roles: commander (incident commander), dpo (privacy lead),
legal (legal approver) and scribe. The person is an email address, a name or a
Slack user (slack:U0123ABCD).`,
		Example: `  breachctl assign INC-20261120-7K3QX commander alice@example.com
  breachctl assign INC-20261120-7K3QX dpo "Dana Okafor"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, req, err := assignRequest(args)
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				req.Actor = actor
				st, err := svc.Assign(ctx, id, req)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				printAssigned(g.env.Stdout, id, req, st)
				return nil
			})
		},
	}
}

// printAssigned says what the assignment did, from the entry it left on the
// timeline (which names whoever held the role before).
func printAssigned(w io.Writer, id string, req workflows.AssignRequest, st incident.Status) {
	for i := len(st.Timeline) - 1; i >= 0; i-- {
		if e := st.Timeline[i]; e.Kind == entryRoleAssigned && e.Actor == req.Actor {
			fmt.Fprintf(w, "%s: %s\n", id, e.Text)
			return
		}
	}
	fmt.Fprintf(w, "%s: %s is now the %s\n", id, req.Person, incident.RoleTitle(req.Role))
}
