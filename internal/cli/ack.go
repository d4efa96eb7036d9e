package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// entryAcknowledged is the timeline kind the workflow records for an
// acknowledgement.
const entryAcknowledged incident.EntryKind = "acknowledged"

type ackOptions struct {
	rule string
}

// request builds the acknowledgement from the arguments: the incident ID,
// then an optional text for the timeline.
func (o *ackOptions) request(args []string) (string, workflows.AckRequest, error) {
	id, err := incidentArg(args)
	if err != nil {
		return "", workflows.AckRequest{}, err
	}
	rule := strings.TrimSpace(o.rule)
	if o.rule != "" && rule == "" {
		return "", workflows.AckRequest{}, apperr.Invalidf("--rule", "is empty: name an obligation, like eu-gdpr-art33, or leave it out")
	}
	// The workflow's validator checks the rule and the length.
	return id, workflows.AckRequest{Rule: rule, Text: strings.TrimSpace(strings.Join(args[1:], " "))}, nil
}

func newAckCmd(g *globals) *cobra.Command {
	o := &ackOptions{}
	cmd := &cobra.Command{
		Use:   "ack INC-ID [TEXT...]",
		Short: "Acknowledge an incident: someone is on it, and its paging stops",
		Long: `Acknowledging records on the timeline that someone is on the incident and
stops the paging of its escalations (of one obligation with --rule). It never
stops a clock: the next reminder pages again.`,
		Example: `  breachctl ack INC-20261120-7K3QX "on it, pulling the access logs"
  breachctl ack INC-20261120-7K3QX --rule eu-gdpr-art33`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, req, err := o.request(args)
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				req.Actor = actor
				st, err := svc.Acknowledge(ctx, id, req)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				printAcknowledged(g.env.Stdout, id, req, st)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&o.rule, "rule", "", "acknowledge only this obligation's page (default: all of them)")
	return cmd
}

// printAcknowledged says what the acknowledgement did, from the entry it
// left on the timeline.
func printAcknowledged(w io.Writer, id string, req workflows.AckRequest, st incident.Status) {
	what := id
	if req.Rule != "" {
		what += " for " + req.Rule
	}
	stopped := false
	for i := len(st.Timeline) - 1; i >= 0; i-- {
		if e := st.Timeline[i]; e.Kind == entryAcknowledged && e.Actor == req.Actor {
			stopped = strings.HasSuffix(e.Text, "paging stopped")
			break
		}
	}
	if stopped {
		fmt.Fprintf(w, "Acknowledged %s (paging stopped)\n", what)
		return
	}
	fmt.Fprintf(w, "Acknowledged %s (nothing was paging)\n", what)
}
