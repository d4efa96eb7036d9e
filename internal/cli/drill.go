package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/drill"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/rules"
)

// drillOptions are the arguments of `breachctl drill`.
type drillOptions struct {
	file       string
	rulesDir   string
	escalation string
}

func newDrillCmd(g *globals) *cobra.Command {
	opts := &drillOptions{}
	cmd := &cobra.Command{
		Use:   "drill SCENARIO.yaml",
		Short: "Rehearse a whole incident in virtual time (offline, no server)",
		Long: `Runs an incident from its opening facts to its close in virtual time, in
Temporal's test environment: people act at the offsets the scenario scripts
(acknowledge, assign a role, note, update the facts, record reasons for a delay,
approve a notice, record a filing, close), or nobody does. Prints the timeline
with every reminder, overdue, approval, refusal and notice at its virtual time,
then each clock's final state and each notice. Notices are not sent: a stand-in reports
them delivered at once.

A refused action is part of the rehearsal: it is printed, and the exit code
stays 0. The drill closes the incident at 'until' if the scenario did not.`,
		Example: `  breachctl drill examples/drills/nobody-answers.yaml
  breachctl drill scenario.yaml -o json
  breachctl drill scenario.yaml --rules ./our-contracts/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			return runDrill(g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.rulesDir, "rules", "", "a folder of rule files to load on top of the built-in ruleset (default $BREACHCTL_RULES_DIR)")
	cmd.Flags().StringVar(&opts.escalation, "escalation", "", "escalation policies to rehearse (default $BREACHCTL_ESCALATION; none: the incident channel only)")
	return cmd
}

func runDrill(g *globals, opts *drillOptions) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if opts.rulesDir == "" {
		opts.rulesDir = cfg.RulesDir
	}
	if opts.escalation == "" {
		opts.escalation = cfg.Escalation
	}
	var esc *escalation.Config
	if opts.escalation != "" {
		if esc, err = escalation.Load(opts.escalation); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(opts.file)
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "scenario")
	}
	s, err := drill.Parse(opts.file, raw)
	if err != nil {
		return err
	}
	rs, err := rules.Load(opts.rulesDir)
	if err != nil {
		return err
	}
	r, err := drill.Run(s, drill.Options{Ruleset: rs, Reminders: cfg.Reminders, Escalation: esc})
	if err != nil {
		return err
	}
	if g.json() {
		return writeJSON(g.env.Stdout, r)
	}
	printDrill(g.env.Stdout, r)
	return nil
}

func printDrill(w io.Writer, r drill.Report) {
	name := r.File
	if r.Name != "" {
		name = r.Name + " (" + r.File + ")"
	}
	fmt.Fprintf(w, "Drill: %s\nIncident %s opened %s, ruleset %s\n\n", name, r.Incident, ts(r.Start), r.RulesetVersion)

	fmt.Fprintln(w, "TIMELINE")
	t := newTable(w)
	fmt.Fprintln(t, "  OFFSET\tTIME\tKIND\tRULE\tACTOR\tTEXT")
	for _, e := range r.Timeline {
		kind := string(e.Kind)
		if e.Kind == drill.EntryRefused {
			kind = "REFUSED"
		}
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\t%s\n", e.Offset, ts(e.At), kind, orDash(e.Rule), orDash(e.Actor), e.Text)
	}
	t.Flush()

	if len(r.Refusals) > 0 {
		fmt.Fprintf(w, "\nREFUSED (%d): the workflow said no, as it would to a person\n", len(r.Refusals))
		for _, o := range r.Refusals {
			fmt.Fprintf(w, "  %s line %d: %s by %s: %s\n", o.Offset, o.Line, o.Do, o.Actor, o.Error)
		}
	}
	var notRun []drill.Outcome
	for _, o := range r.Actions {
		if o.Result != drill.ResultAccepted && o.Result != drill.ResultRefused {
			notRun = append(notRun, o)
		}
	}
	if len(notRun) > 0 {
		fmt.Fprintf(w, "\nNOT RUN (%d)\n", len(notRun))
		for _, o := range notRun {
			fmt.Fprintf(w, "  %s line %d: %s by %s: %s\n", o.Offset, o.Line, o.Do, o.Actor, orDash(o.Error))
		}
	}

	fmt.Fprintf(w, "\nCLOCKS (%d)\n", len(r.Clocks))
	t = newTable(w)
	fmt.Fprintln(t, "  RULE\tNOTIFY\tSTATE\tDUE\tOVERDUE\tCLOSED\tREMINDERS\tNOTICE")
	for _, c := range r.Clocks {
		due, overdue, closed := "-", "-", "-"
		if c.DueOffset != nil {
			due = c.DueOffset.String()
		}
		if c.OverdueAt != nil {
			overdue = drill.Offset(c.OverdueAt.Sub(r.Start)).String()
		}
		if c.ClosedOffset != nil {
			closed = c.ClosedOffset.String()
		}
		fired := 0
		for _, rem := range c.Reminders {
			if rem.Fired {
				fired++
			}
		}
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\t%s\t%d/%d fired\t%s\n", c.Rule, c.Notify, c.State, due, overdue, closed, fired, len(c.Reminders), orDash(c.NoticeID))
	}
	t.Flush()

	if len(r.Notices) > 0 {
		fmt.Fprintf(w, "\nNOTICES (%d)\n", len(r.Notices))
		t = newTable(w)
		fmt.Fprintln(t, "  NOTICE\tSTATE\tAPPROVED\tBY\tSENT\tACCEPTED")
		for _, n := range r.Notices {
			sent := "-"
			if n.Sent != nil {
				sent = n.Sent.String()
			}
			fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\t%d\n", n.ID, n.State, n.Approved, n.ApprovedBy, sent, n.Accepted)
		}
		t.Flush()
	}

	how := string(r.State)
	if r.ClosedByDrill {
		how = "closed by the drill, since nobody closed the incident"
	}
	fmt.Fprintf(w, "\nEnded at %s (%s): %s\n", r.EndOffset, ts(r.End), how)
	if n := len(r.Refusals); n > 0 {
		fmt.Fprintf(w, "%d action%s refused.\n", n, strings.Repeat("s", min(n-1, 1)))
	}
}
