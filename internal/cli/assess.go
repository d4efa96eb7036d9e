package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/rules"
)

func newAssessCmd(g *globals) *cobra.Command {
	var rulesDir string
	cmd := &cobra.Command{
		Use:   "assess SCENARIO.yaml",
		Short: "Work out every notification obligation a breach triggers (offline, no server)",
		Long: `Reads a breach scenario (role, sectors, when it was discovered, which data,
where the affected people live) and lists every obligation it triggers: who must
be told, by when, from which clock, with what content, citing the law and saying
why; then the rules considered and not triggered, with why not. The binding
(earliest) deadline is marked with *.`,
		Example: `  breachctl assess scenario.yaml
  breachctl assess scenario.yaml -o json
  breachctl assess scenario.yaml --rules ./our-contracts/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rulesDir == "" {
				rulesDir = g.env.Getenv("BREACHCTL_RULES_DIR")
			}
			a, err := assessFile(args[0], rulesDir)
			if err != nil {
				return err
			}
			if g.json() {
				return writeJSON(g.env.Stdout, a)
			}
			printAssessment(g.env.Stdout, a)
			return nil
		},
	}
	cmd.Flags().StringVar(&rulesDir, "rules", "", "a folder of rule files to load on top of the built-in ruleset (default $BREACHCTL_RULES_DIR)")
	return cmd
}

func assessFile(path, rulesDir string) (rules.Assessment, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return rules.Assessment{}, apperr.Wrap(apperr.Invalid, err, "scenario")
	}
	s, err := rules.ParseScenario(path, raw)
	if err != nil {
		return rules.Assessment{}, err
	}
	rs, err := rules.Load(rulesDir)
	if err != nil {
		return rules.Assessment{}, err
	}
	// No reminders: assess answers what the law requires, not how to chase it.
	return rs.Evaluate(s, rules.Config{Reminders: []incident.Duration{}})
}

func printAssessment(w io.Writer, a rules.Assessment) {
	fmt.Fprintf(w, "Risk: %s (%s)\n", a.Risk.Level, a.Risk.Method)
	if a.Risk.Override != nil {
		fmt.Fprintf(w, "  overridden: %s\n", a.Risk.Override.Justification)
	}
	fmt.Fprintf(w, "Ruleset %s\n\n", a.RulesetVersion)
	if len(a.Obligations) == 0 {
		fmt.Fprintln(w, "No obligation is triggered.")
	} else {
		fmt.Fprintf(w, "OBLIGATIONS (%d)\n", len(a.Obligations))
		t := newTable(w)
		fmt.Fprintln(t, "  \tRULE\tJURISDICTION\tNOTIFY\tDUE\tCLOCK\tSTAGE")
		for _, o := range a.Obligations {
			mark := ""
			if o.Rule == a.Binding {
				mark = "*"
			}
			fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, o.Rule, o.Jurisdiction, o.Notify, dueText(o), o.ClockStart, orDash(o.Stage))
		}
		t.Flush()
		for _, o := range a.Obligations {
			fmt.Fprintf(w, "\n  %s: %s, %s\n", o.Rule, o.Title, o.Citation)
			if o.Recipient != "" {
				fmt.Fprintf(w, "    to: %s\n", o.Recipient)
			}
			fmt.Fprintf(w, "    why: %s\n", strings.Join(o.Why, "; "))
			if len(o.Content) > 0 {
				fmt.Fprintf(w, "    content: %s\n", strings.Join(o.Content, "; "))
			}
			if o.Late != "" {
				fmt.Fprintf(w, "    if late: %s\n", o.Late)
			}
		}
		if a.Binding != "" {
			fmt.Fprintln(w, "\n  * the binding (earliest) deadline")
		}
	}
	if len(a.NotTriggered) > 0 {
		fmt.Fprintf(w, "\nNOT TRIGGERED (%d)\n", len(a.NotTriggered))
		t := newTable(w)
		for _, n := range a.NotTriggered {
			fmt.Fprintf(t, "  %s\t%s\t%s\n", n.Rule, n.Jurisdiction, n.Why)
		}
		t.Flush()
	}
}
