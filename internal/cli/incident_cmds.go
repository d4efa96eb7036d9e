package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/workflows"
)

// withService runs fn with a connected incident service.
func withService(cmd *cobra.Command, g *globals, fn func(ctx context.Context, svc Incidents, actor string) error) error {
	ctx := cmd.Context()
	svc, actor, closeFn, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(ctx, svc, actor)
}

func incidentArg(args []string) (string, error) {
	if len(args) == 0 {
		return "", apperr.Invalidf("incident", "missing: give an incident ID like INC-20261120-7K3QX")
	}
	return incident.ParseID(args[0])
}

type openOptions struct {
	facts factsFlags
	file  string
}

func newOpenCmd(g *globals) *cobra.Command {
	o := &openOptions{}
	cmd := &cobra.Command{
		Use:   "open",
		Short: "Open an incident and start its legal clocks",
		Example: `  breachctl open --title "Bucket with customer uploads exposed" --aware-at 2026-11-20T09:00:00Z \
      --category email --category media_content --region EU
  breachctl open --file incident.yaml --severity high`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			facts, err := o.facts.build(cmd, o.file, g.env)
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				st, err := svc.Open(ctx, facts, actor)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				fmt.Fprintf(g.env.Stdout, "Opened %s\n\n", st.ID)
				printStatus(g.env.Stdout, st, g.env.Now())
				return nil
			})
		},
	}
	o.facts.register(cmd.Flags())
	cmd.Flags().StringVarP(&o.file, "file", "f", "", "read the facts from a YAML file (flags given too override it)")
	return cmd
}

// build assembles the facts for open: the file, then the flags on top, and
// awareness now when nobody said otherwise.
func (f *factsFlags) build(cmd *cobra.Command, file string, env *Env) (incident.Facts, error) {
	var facts incident.Facts
	if file != "" {
		var err error
		if facts, err = readIncidentFile(file); err != nil {
			return facts, err
		}
	}
	change, err := f.change(cmd.Flags())
	if err != nil {
		return facts, err
	}
	if facts.AwareAt.IsZero() && change.AwareAt == nil {
		now := env.Now().UTC()
		change.AwareAt = &now
	}
	facts = change.Apply(facts)
	if err := facts.Validate(); err != nil {
		return facts, flagError(err)
	}
	return facts, nil
}

// flagError renames a facts field to the flag that sets it.
func flagError(err error) error {
	e, ok := err.(*apperr.Error)
	if !ok || e.Field == "" {
		return err
	}
	flags := map[string]string{
		"title": "--title", "description": "--description", "aware_at": "--aware-at", "detected_at": "--detected-at",
		"occurred_at": "--occurred-at", "systems": "--system", "data_categories": "--category", "regions": "--region", "severity": "--severity",
		"role": "--role", "sectors": "--sector", "determined_at": "--determined-at", "affected": "--affected", "risk": "--risk",
		"risk_justification": "--risk-justification", "exemptions": "--exemption",
	}
	if flag, ok := flags[e.Field]; ok {
		return &apperr.Error{Kind: e.Kind, Field: flag, Msg: e.Msg, Err: e.Err}
	}
	return err
}

type listOptions struct {
	state      string
	severities []string
	limit      int
}

func newListCmd(g *globals) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, the most pressing deadline first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := o.filter()
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, _ string) error {
				rows, err := svc.List(ctx, filter)
				if err != nil {
					return err
				}
				if g.json() {
					if rows == nil {
						rows = []incident.Summary{}
					}
					return writeJSON(g.env.Stdout, rows)
				}
				printSummaries(g.env.Stdout, rows, g.env.Now())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&o.state, "state", "open", "open, overdue, closed or all")
	cmd.Flags().StringArrayVar(&o.severities, "severity", nil, "only these severities (repeat or comma-separate)")
	cmd.Flags().IntVar(&o.limit, "limit", 0, "at most this many rows (0: all)")
	return cmd
}

func (o *listOptions) filter() (orchestrator.ListFilter, error) {
	f := orchestrator.ListFilter{State: strings.ToLower(o.state), Limit: o.limit}
	valid := false
	for _, s := range orchestrator.ListStates {
		valid = valid || s == f.State
	}
	if !valid {
		return f, apperr.Invalidf("--state", "%q is not one of %s", o.state, strings.Join(orchestrator.ListStates, ", "))
	}
	if o.limit < 0 {
		return f, apperr.Invalidf("--limit", "must not be negative")
	}
	for _, v := range o.severities {
		for _, part := range strings.Split(v, ",") {
			sev, err := incident.ParseSeverity(part)
			if err != nil || strings.TrimSpace(part) == "" {
				return f, apperr.Invalidf("--severity", "%q is not unassessed, low, medium, high or critical", part)
			}
			f.Severities = append(f.Severities, sev)
		}
	}
	return f, nil
}

// showJSON is `show -o json`: the incident's status, its notices counted
// from the one source of their numbers (the ledger where this machine has
// the store, else, while a notice is sending, its workflow), with where each
// notice's counts came from and its batches sent more than once.
type showJSON struct {
	incident.Status
	Ledger map[string]noticeView `json:"ledger,omitempty"`
}

func newShowCmd(g *globals) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "show INC-ID",
		Short: "Show an incident: state, facts, each clock and the timeline",
		Long: `Shows an incident: its state and facts, each clock, each notice and the timeline.

A notice's counts (accepted, the Mail Send requests SendGrid took, batches
resent with why, people mailed twice and maybe twice) come from the
notification ledger where this machine has the store (--store,
BREACHCTL_STORE, or dev's data directory); without it, a notice still sending
is counted live by its workflow, and a finished one as the incident recorded it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, _ string) error {
				st, err := svc.Show(ctx, id)
				if err != nil {
					return err
				}
				var views map[string]noticeView
				if len(st.Notices) > 0 {
					ledger, closeLedger := g.viewLedger(ctx, cfg, dsn)
					defer closeLedger()
					views = countNotices(ctx, svc, ledger, &st)
					warnViews(g.env.Stderr, views, st)
				}
				if g.json() {
					return writeJSON(g.env.Stdout, showJSON{Status: st, Ledger: views})
				}
				printStatusWith(g.env.Stdout, st, views, g.env.Now())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&dsn, "store", "", "the store holding the ledger (default $BREACHCTL_STORE, or the data directory's if it exists)")
	return cmd
}

func newNoteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "note INC-ID TEXT...",
		Short:   "Add a note to an incident's timeline",
		Example: `  breachctl note INC-20261120-7K3QX "Access logs pulled"`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			text := strings.TrimSpace(strings.Join(args[1:], " "))
			if text == "" {
				return apperr.Invalidf("text", "a note cannot be empty")
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				e, err := svc.Note(ctx, id, text, actor)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, e)
				}
				fmt.Fprintf(g.env.Stdout, "Noted on %s at %s (#%d)\n", id, ts(e.At), e.Seq)
				return nil
			})
		},
	}
}

type updateOptions struct {
	facts  factsFlags
	reason string
}

func newUpdateCmd(g *globals) *cobra.Command {
	o := &updateOptions{}
	cmd := &cobra.Command{
		Use:   "update INC-ID [flags]",
		Short: "Change the facts of an incident; its clocks follow, on the record",
		Example: `  breachctl update INC-20261120-7K3QX --aware-at 2026-11-19T22:00:00Z \
      --reason "access logs show the exposure was known earlier"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			change, err := o.facts.change(cmd.Flags())
			if err != nil {
				return err
			}
			if change.IsEmpty() {
				return apperr.Invalidf("flags", "nothing to change: give at least one of --title, --aware-at, --region, --category ...")
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				if err := keepDetection(ctx, g, svc, id, &change); err != nil {
					return err
				}
				st, err := svc.ChangeFacts(ctx, id, change, o.reason, actor)
				if err != nil {
					return flagError(err)
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				printStatus(g.env.Stdout, st, g.env.Now())
				return nil
			})
		},
	}
	o.facts.register(cmd.Flags())
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the facts changed, for the timeline")
	return cmd
}

// keepDetection keeps "Detected" where it was when only awareness moves.
// An incident opened without --detected-at was detected at awareness; moving
// awareness later (the legal clock starts later) must not move when the
// breach was detected with it, so the old awareness time is given as the
// detection time. Moving awareness earlier moves detection with it, as
// detection cannot come after awareness; either way the CLI says so.
func keepDetection(ctx context.Context, g *globals, svc Incidents, id string, change *incident.FactsChange) error {
	if change.AwareAt == nil || change.DetectedAt != nil {
		return nil
	}
	st, err := svc.Show(ctx, id)
	if err != nil {
		return err
	}
	f := st.Facts
	if f.DetectedAt != nil || f.AwareAt.IsZero() || change.AwareAt.Equal(f.AwareAt) {
		return nil
	}
	if change.AwareAt.After(f.AwareAt) {
		d := f.AwareAt
		change.DetectedAt = &d
		fmt.Fprintf(g.env.Stderr, "Detected stays at %s, the awareness time it was recorded at (--detected-at moves it)\n", ts(d))
		return nil
	}
	fmt.Fprintf(g.env.Stderr, "Detected moves to %s with awareness: detection cannot come after it (--detected-at sets it earlier)\n", ts(*change.AwareAt))
	return nil
}

type closeOptions struct {
	reason string
	yes    bool
}

func newCloseCmd(g *globals) *cobra.Command {
	o := &closeOptions{}
	cmd := &cobra.Command{
		Use:   "close INC-ID --reason TEXT",
		Short: "Close an incident, with the reason for the breach register",
		Long: `Closes an incident with the reason, for the breach register.

An obligation still open at the close (no notice given, or its deadline
passed) is left unmet on the record. The CLI lists them and asks before it
closes; --yes closes without asking (a script must give it). The incident
records the obligations open at its close either way.`,
		Example: `  breachctl close INC-20261120-7K3QX --reason "Notified; contained"
  breachctl close INC-20261120-7K3QX --reason "Not a personal-data breach: the bucket held test data" --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			if strings.TrimSpace(o.reason) == "" {
				return apperr.Invalidf("--reason", "is required: say why the incident is closed, for the breach register")
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				req := workflows.CloseRequest{Reason: o.reason, Actor: actor, AcknowledgeOpen: o.yes}
				if !o.yes {
					st, err := svc.Show(ctx, id)
					if err != nil {
						return err
					}
					if open := openObligations(st, g.env.Now()); len(open) > 0 {
						if err := confirmClose(g, id, open); err != nil {
							return err
						}
						req.AcknowledgeOpen = true
					}
				}
				st, err := svc.CloseIncident(ctx, id, req)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				fmt.Fprintf(g.env.Stdout, "Closed %s at %s: %s\n", st.ID, tsPtr(st.ClosedAt), st.CloseReason)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the incident is closed (required)")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "close without asking, even with obligations open (they stay unmet on the record)")
	return cmd
}

// openObligations describes each clock still open: whom it owes, by when,
// and how late it is.
func openObligations(st incident.Status, now time.Time) []string {
	var out []string
	for _, c := range st.Clocks {
		if !c.State.Open() {
			continue
		}
		line := fmt.Sprintf("%s (notify %s, %s): %s", c.Rule, c.Notify, c.Citation, c.State)
		if c.Due != nil {
			line += fmt.Sprintf(", due %s, %s", ts(*c.Due), timeLeft(*c.Due, now))
		}
		out = append(out, line)
	}
	return out
}

// confirmClose lists the obligations a close leaves open and asks; where
// nobody can answer (no terminal), it refuses, saying how to close anyway.
func confirmClose(g *globals, id string, open []string) error {
	list := "  " + strings.Join(open, "\n  ")
	refused := func(why string) error {
		return apperr.New(apperr.Conflict, "%s: closing %s leaves %s unmet on the record:\n%s\nGive the notice first, or close anyway with --yes",
			why, id, plural(len(open), "obligation", "obligations"), list)
	}
	in := g.env.Stdin
	if in == nil || !isTerminalReader(in) {
		return refused("not closed")
	}
	fmt.Fprintf(g.env.Stderr, "%s has %s open, which the close leaves unmet on the record:\n%s\nClose anyway? [y/N] ",
		id, plural(len(open), "obligation", "obligations"), list)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return refused("not closed (not confirmed)")
}

// isTerminalReader reports whether a person can answer on r: a terminal,
// or a reader that is not a file at all (a test's).
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return true
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newDelayCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delay INC-ID RULE REASONS...",
		Short: "Record the reasons for a late notice under an overdue obligation",
		Long: `A notice sent after its deadline must, under several laws (GDPR Art. 33(1),
UK GDPR, LGPD), give the reasons for the delay. Once a clock is overdue the
incident asks for them; this records them on the clock and the timeline, and
the notice carries them.`,
		Example: `  breachctl delay INC-20261120-7K3QX eu-gdpr-art33 "Scope unclear until the forensic image was analysed"`,
		Args:    cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			rule := strings.TrimSpace(args[1])
			reasons := strings.TrimSpace(strings.Join(args[2:], " "))
			if reasons == "" {
				return apperr.Invalidf("reasons", "give the reasons for the delay")
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				st, err := svc.DelayReasons(ctx, id, rule, reasons, actor)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				fmt.Fprintf(g.env.Stdout, "Recorded the reasons for the delay under %s on %s\n", rule, id)
				return nil
			})
		},
	}
}
