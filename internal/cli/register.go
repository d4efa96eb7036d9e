package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/register"
	"github.com/breachctl/breachctl/internal/store"
)

// registerShows is how many incidents the register reads at once: each is
// a status query the worker answers by replaying, so a few in flight cut
// the wall time without crowding out the worker's real work.
const registerShows = 4

type registerOptions struct {
	since string
	state string
	store string
}

// parsed is the filter and the time the register covers from.
func (o *registerOptions) parsed() (orchestrator.ListFilter, time.Time, error) {
	f := orchestrator.ListFilter{State: strings.ToLower(strings.TrimSpace(o.state))}
	valid := false
	for _, s := range orchestrator.ListStates {
		valid = valid || s == f.State
	}
	if !valid {
		return f, time.Time{}, apperr.Invalidf("--state", "%q is not one of %s", o.state, strings.Join(orchestrator.ListStates, ", "))
	}
	var since time.Time
	if s := strings.TrimSpace(o.since); s != "" {
		var err error
		if since, err = time.Parse(time.DateOnly, s); err != nil {
			if since, err = time.Parse(time.RFC3339, s); err != nil {
				return f, time.Time{}, apperr.Invalidf("--since", "%q is not a date like 2026-01-31 or a time like 2026-01-31T09:00:00Z", s)
			}
		}
	}
	return f, since, nil
}

// registerFormat is the writer for -o: Markdown unless csv or json is asked
// for (the global default, table, reads as Markdown in a terminal).
func registerFormat(output string) (func(io.Writer, register.Register) error, error) {
	switch output {
	case "table", "md", "markdown":
		return register.WriteMarkdown, nil
	case "csv":
		return register.WriteCSV, nil
	case "json":
		return register.WriteJSON, nil
	}
	return nil, apperr.Invalidf("--output", "%q is not md, csv or json", output)
}

func newRegisterCmd(g *globals) *cobra.Command {
	o := &registerOptions{}
	cmd := &cobra.Command{
		Use:   "register",
		Short: "The breach register: every incident, notified or not, with its reasons",
		Long: `Lists every incident, notified or not, as GDPR Art. 33(5) asks a controller to
document any personal data breach: the facts (data, systems, regions, people
counted), the risk assessment and its reasons, the conclusion and why (why a
breach was not notified included: the obligations withdrawn or stopped, the
rules that could have applied and why they did not, the close reason), each
decision with who and when, each obligation with its citation, due time and
done time, and each notice with who approved it, when it was sent and its
counts and message IDs.

-o md (the default) is for people; -o csv has one row per obligation, the
incident's columns repeated on each (and one row for an incident with none), to
load into a spreadsheet; -o json has everything. Open incidents are read
from Temporal; every incident leaves its final record in the store
(BREACHCTL_STORE) when it closes, so closed incidents stay in the register
after Temporal's retention (BREACHCTL_RETENTION in dev) has removed them.
Each notice's counts are the notification ledger's (in the same store): accepted,
the Mail Send requests SendGrid took, the batches sent more than once with
why, the people mailed twice and maybe twice.`,
		Example: `  breachctl register > register.md
  breachctl register -o csv --since 2026-01-01 > register-2026.csv
  breachctl register -o json --state closed`,
		Args: cobra.NoArgs,
		// Its own formats: this replaces the root's check of -o.
		PersistentPreRunE: func(*cobra.Command, []string) error {
			_, err := registerFormat(g.output)
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, since, err := o.parsed()
			if err != nil {
				return err
			}
			write, err := registerFormat(g.output)
			if err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			// Open incidents alone need no store where there is none: their
			// counts are then the incidents' own.
			needStore := filter.State == "closed" || filter.State == "all" || o.store != "" || cfg.Store != "" ||
				fileExists(strings.TrimPrefix(cfg.StoreDSN(), "sqlite:"))
			if o.store == "" {
				o.store = cfg.StoreDSN()
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, _ string) error {
				statuses, err := registerStatuses(ctx, svc, filter, since)
				if err != nil {
					return err
				}
				if !needStore {
					return write(g.env.Stdout, register.Build(statuses, nil, g.env.Now()))
				}
				st, err := store.Open(ctx, o.store, store.WithKeys(cfg.Keys))
				if err != nil {
					return apperr.Wrap(apperr.Unavailable, err, "open the store holding the register and the ledger (BREACHCTL_STORE, --store)")
				}
				defer st.Close()
				if filter.State == "closed" || filter.State == "all" {
					if statuses, err = withArchived(ctx, st, statuses, since); err != nil {
						return err
					}
				}
				ledger, err := registerLedger(ctx, st, statuses)
				if err != nil {
					return err
				}
				return write(g.env.Stdout, register.Build(statuses, ledger, g.env.Now()))
			})
		},
	}
	cmd.Flags().StringVar(&o.since, "since", "", "only incidents opened on or after this date (2026-01-31) or time (RFC 3339)")
	cmd.Flags().StringVar(&o.state, "state", "all", "open, overdue, closed or all")
	cmd.Flags().StringVar(&o.store, "store", "", "the store keeping closed incidents and the ledger (default $BREACHCTL_STORE or the data directory's)")
	return cmd
}

// registerStatuses lists the incidents and reads each one's status, a few
// at a time. An incident that disappears between the list and its read
// (its retention ran out) is left out; any other error fails the register,
// which must not silently miss a breach.
func registerStatuses(ctx context.Context, svc Incidents, filter orchestrator.ListFilter, since time.Time) ([]incident.Status, error) {
	rows, err := svc.List(ctx, filter)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range rows {
		if since.IsZero() || !r.OpenedAt.Before(since) {
			ids = append(ids, r.ID)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	statuses := make([]*incident.Status, len(ids))
	var (
		once     sync.Once
		firstErr error // the cause, not the cancellations it sets off
	)
	sem := make(chan struct{}, registerShows)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			st, err := svc.Show(ctx, id)
			switch {
			case apperr.Is(err, apperr.NotFound):
			case err != nil:
				once.Do(func() { firstErr = err; cancel() })
			default:
				statuses[i] = &st
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	var out []incident.Status
	for _, st := range statuses {
		if st != nil {
			out = append(out, *st)
		}
	}
	return out, nil
}

// registerLedger reads every notice of the statuses from the ledger: the
// register's counts and resends are the ledger's, as every view's are. A
// notice the ledger lacks keeps its incident's counts; any other error
// fails the register, which must not say less than the ledger knows.
func registerLedger(ctx context.Context, l Ledger, statuses []incident.Status) (register.Ledger, error) {
	out := register.Ledger{}
	for _, st := range statuses {
		for _, n := range st.Notices {
			nl, found, resendsErr, err := readNoticeLedger(ctx, l, n.ID)
			switch {
			case err != nil:
				return nil, err
			case resendsErr != nil:
				return nil, resendsErr
			case found:
				out[n.ID] = register.NoticeLedger{Counts: ledgerCounts(n.Counts, nl.Progress), Resends: nl.Resends}
			}
		}
	}
	return out, nil
}

// withArchived adds the closed incidents the store's register keeps and
// Temporal no longer has (its retention ran out); Temporal's record wins
// where both have one. The result is in the order the register sorts.
func withArchived(ctx context.Context, st *store.Store, statuses []incident.Status, since time.Time) ([]incident.Status, error) {
	entries, err := st.RegisterEntries(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(statuses))
	for _, s := range statuses {
		seen[s.ID] = true
	}
	for _, e := range entries {
		if seen[e.IncidentID] {
			continue
		}
		var s incident.Status
		if err := json.Unmarshal(e.Status, &s); err != nil {
			return nil, fmt.Errorf("register entry %s: %w", e.IncidentID, err)
		}
		if since.IsZero() || !s.OpenedAt.Before(since) {
			statuses = append(statuses, s)
		}
	}
	return statuses, nil
}
