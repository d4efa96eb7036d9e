package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/workflows"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/datamap"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/scope"
	"github.com/breachctl/breachctl/internal/sources"
	"github.com/breachctl/breachctl/internal/store"
)

type scopeOptions struct {
	datamap string
	sources []string
	systems string
	window  string
	rejects string
	store   string
	confirm bool
	// warn hears what the scoping will miss (stderr).
	warn io.Writer
}

func newScopeCmd(g *globals) *cobra.Command {
	o := &scopeOptions{}
	cmd := &cobra.Command{
		Use:   "scope [INC-ID] --source FILE ...",
		Short: "Count the people and data a breach touched, per jurisdiction and category",
		Long: `Reads the affected people from CSV or JSONL files (or a PostgreSQL query),
validates every row, counts the same person from two sources once, leaves out
the data categories that retention had deleted before the exposure window
began, and reports counts per jurisdiction and data category, with every
rejected row by number and reason. The people are kept as a snapshot in the
store, never in Temporal.

Without an incident it prints the report. With one, the incident's facts take
the counts and its obligations are recomputed.

A source is FILE.csv, FILE.jsonl, SYSTEM=FILE (rows of one system), or
postgres:QUERY.sql (run on $BREACHCTL_SOURCES_DSN with $1 the window start,
$2 its end and $3 the systems).`,
		Example: `  breachctl scope --datamap datamap.yaml --source affected.csv --systems uploads,accounts \
      --window 2026-11-19T22:00:00Z/2026-11-20T03:00:00Z -o json
  breachctl scope INC-20261120-7K3QX --source affected.csv`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			o.warn = g.env.Stderr
			if len(args) == 1 {
				return o.runIncident(cmd.Context(), g, cfg, args[0])
			}
			rep, err := o.scope(cmd.Context(), cfg, "", "", "")
			if err != nil {
				return err
			}
			return printScope(g, rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.datamap, "datamap", "", "the data map (default $BREACHCTL_DATAMAP)")
	f.StringArrayVar(&o.sources, "source", nil, "where the affected people are: FILE.csv, FILE.jsonl, SYSTEM=FILE or postgres:QUERY.sql (repeat)")
	f.StringVar(&o.systems, "systems", "", "the exposed systems, comma-separated (an incident's own systems by default)")
	f.StringVar(&o.window, "window", "", "the exposure window START/END in RFC 3339 (an incident's occurred_at to aware_at by default)")
	f.StringVar(&o.rejects, "rejects", "", "write every rejected row (source, row, reason) to this CSV file")
	f.StringVar(&o.store, "store", "", "the store for the snapshot (default $BREACHCTL_STORE; offline: a temporary one)")
	f.BoolVar(&o.confirm, "confirm", false, "take a scoping that finds nobody or withdraws an obligation (the incident refuses it otherwise, saying why)")
	return cmd
}

// runIncident scopes for an incident and records the snapshot on it.
func (o *scopeOptions) runIncident(ctx context.Context, g *globals, cfg config.Config, arg string) error {
	id, err := incident.ParseID(arg)
	if err != nil {
		return err
	}
	svc, actor, closeFn, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	st, err := svc.Show(ctx, id)
	if err != nil {
		return err
	}
	systems := o.systems
	if systems == "" {
		systems = strings.Join(st.Facts.Systems, ",")
	}
	window := o.window
	if window == "" {
		start := st.Facts.Detected()
		if st.Facts.OccurredAt != nil {
			start = *st.Facts.OccurredAt
		}
		window = scope.Window{Start: start, End: st.Facts.AwareAt}.String()
	}
	if o.store == "" {
		o.store = cfg.StoreDSN()
	}
	rep, err := o.scope(ctx, cfg, id, systems, window)
	if err != nil {
		return err
	}
	ref := incident.SnapshotRef{
		ID: rep.SnapshotID, At: g.env.Now().UTC(), Systems: rep.Systems, Window: rep.Window.String(),
		People: rep.People, Affected: rep.Residents(), Categories: rep.Categories(), Rejected: rep.Rejected,
	}
	rows := 0
	for _, src := range rep.Sources {
		rows += src.Rows
	}
	// The store is named so the incident can refuse a snapshot its
	// workers cannot read; the counts say why a scoping found nobody.
	after, err := svc.ScopeWith(ctx, id, workflows.ScopeRequest{Snapshot: ref, Actor: actor, Store: activities.StoreName(o.store),
		Confirm: o.confirm, Rows: rows, NotExposed: rep.NotExposed})
	if err != nil {
		return fmt.Errorf("snapshot %s is in the store, but the incident did not take it: %w", rep.SnapshotID, err)
	}
	if g.json() {
		return writeJSON(g.env.Stdout, struct {
			Scope    scope.Report    `json:"scope"`
			Incident incident.Status `json:"incident"`
		}{rep, after})
	}
	printScopeReport(g.env.Stdout, rep)
	fmt.Fprintln(g.env.Stdout)
	printStatus(g.env.Stdout, after, g.env.Now())
	return nil
}

// scope runs one scoping into the store (a temporary one offline).
func (o *scopeOptions) scope(ctx context.Context, cfg config.Config, incidentID, systems, window string) (scope.Report, error) {
	if systems == "" {
		systems = o.systems
	}
	if window == "" {
		window = o.window
	}
	path := o.datamap
	if path == "" {
		path = cfg.Datamap
	}
	if path == "" {
		return scope.Report{}, apperr.Invalidf("--datamap", "is required (or set BREACHCTL_DATAMAP): the systems, their data and retention")
	}
	dm, err := datamap.Load(path)
	if err != nil {
		return scope.Report{}, err
	}
	if strings.TrimSpace(systems) == "" {
		return scope.Report{}, apperr.Invalidf("--systems", "name the exposed systems; the data map has %s", strings.Join(dm.IDs(), ", "))
	}
	ids := splitList(systems)
	w, err := scope.ParseWindow(window)
	if err != nil {
		return scope.Report{}, err
	}
	systemsOf, err := dm.Systems(ids)
	if err != nil {
		return scope.Report{}, apperr.Wrap(apperr.Invalid, err, "--systems")
	}
	srcs, closeSrcs, err := o.openSources(ctx, cfg, dm, systemsOf, w, ids)
	if err != nil {
		return scope.Report{}, err
	}
	defer closeSrcs()

	dsn := o.store
	if dsn == "" {
		dir, err := os.MkdirTemp("", "breachctl-scope-")
		if err != nil {
			return scope.Report{}, err
		}
		defer os.RemoveAll(dir)
		dsn = "sqlite:" + filepath.Join(dir, "scope.db")
	}
	st, err := store.Open(ctx, dsn, store.WithKeys(cfg.Keys))
	if err != nil {
		return scope.Report{}, apperr.Wrap(apperr.Unavailable, err, "open the store")
	}
	defer st.Close()

	var onReject func(sources.Rejection)
	if o.rejects != "" {
		f, err := os.Create(o.rejects)
		if err != nil {
			return scope.Report{}, apperr.Wrap(apperr.Invalid, err, "--rejects")
		}
		defer f.Close()
		cw := csv.NewWriter(f)
		defer cw.Flush()
		_ = cw.Write([]string{"source", "row", "reason"})
		onReject = func(r sources.Rejection) { _ = cw.Write([]string{r.Source, strconv.Itoa(r.Row), r.Reason}) }
	}
	return scope.Run(ctx, st, scope.Request{Map: dm, Systems: ids, Window: w, Sources: srcs, IncidentID: incidentID}, onReject)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// openSources opens every --source.
func (o *scopeOptions) openSources(ctx context.Context, cfg config.Config, dm *datamap.Map, systems []datamap.System, w scope.Window, ids []string) ([]sources.Source, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	if len(o.sources) == 0 {
		return nil, closeAll, apperr.Invalidf("--source", "give at least one source of affected people")
	}
	var out []sources.Source
	for _, spec := range o.sources {
		if q, ok := strings.CutPrefix(spec, "postgres:"); ok {
			if cfg.SourcesDSN == "" {
				closeAll()
				return nil, nil, apperr.Invalidf("BREACHCTL_SOURCES_DSN", "is required for a postgres: source")
			}
			query, err := os.ReadFile(q)
			if err != nil {
				closeAll()
				return nil, nil, apperr.Wrap(apperr.Invalid, err, "--source %s", spec)
			}
			pool, err := pgxpool.New(ctx, cfg.SourcesDSN)
			if err != nil {
				closeAll()
				return nil, nil, apperr.Wrap(apperr.Unavailable, err, "connect to BREACHCTL_SOURCES_DSN")
			}
			closers = append(closers, pool.Close)
			out = append(out, sources.Postgres(pool, string(query), []any{w.Start, w.End, ids}, sources.FieldsFor(systems[0])))
			continue
		}
		fields := sources.FieldsFor(systems[0])
		path := spec
		if sys, p, ok := strings.Cut(spec, "="); ok && !strings.ContainsAny(sys, "/\\.") {
			s, found := dm.System(sys)
			if !found {
				closeAll()
				return nil, nil, apperr.Invalidf("--source", "%s: no system %q in the data map", spec, sys)
			}
			fields, path = sources.FieldsFor(s), p
			fields.FixedSystem = sys
		}
		f, err := os.Open(path)
		if err != nil {
			closeAll()
			return nil, nil, apperr.Wrap(apperr.Invalid, err, "--source")
		}
		closers = append(closers, func() { f.Close() })
		name := filepath.Base(path)
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			out = append(out, sources.CSV(name, f, fields))
		case ".jsonl", ".ndjson":
			out = append(out, sources.JSONL(name, f, fields))
		default:
			closeAll()
			return nil, nil, apperr.Invalidf("--source", "%s: a source is .csv, .jsonl or postgres:QUERY.sql", spec)
		}
	}
	o.warnUncovered(ids)
	return out, closeAll, nil
}

// warnUncovered says which exposed systems no source reads, when every
// source names its system (SYSTEM=FILE): their people are not counted. A
// plain file or a query may hold any system's rows, so then nothing is said.
func (o *scopeOptions) warnUncovered(ids []string) {
	covered := map[string]bool{}
	for _, spec := range o.sources {
		sys, _, ok := strings.Cut(spec, "=")
		if strings.HasPrefix(spec, "postgres:") || !ok || strings.ContainsAny(sys, "/\\.") {
			return
		}
		covered[sys] = true
	}
	for _, id := range ids {
		if !covered[id] && o.warn != nil {
			fmt.Fprintf(o.warn, "warning: no --source reads system %s: its people are not counted (give --source %s=FILE)\n", id, id)
		}
	}
}

func printScope(g *globals, rep scope.Report) error {
	if g.json() {
		return writeJSON(g.env.Stdout, rep)
	}
	printScopeReport(g.env.Stdout, rep)
	return nil
}

func printScopeReport(w io.Writer, rep scope.Report) {
	fmt.Fprintf(w, "%s affected (systems %s, window %s)\n", nPeople(rep.People), strings.Join(rep.Systems, ", "), rep.Window)
	if rep.SnapshotID != "" {
		fmt.Fprintf(w, "Snapshot %s\n", rep.SnapshotID)
	}
	t := newTable(w)
	for _, s := range rep.Sources {
		fmt.Fprintf(t, "  %s\t%d rows\t%d accepted\t%d rejected\n", s.Name, s.Rows, s.Accepted, s.Rejected)
	}
	t.Flush()
	if rep.Duplicates > 0 {
		fmt.Fprintf(w, "  %s the same person as another row, counted once\n", plural(rep.Duplicates, "row was", "rows were"))
	}
	if rep.NotExposed > 0 {
		fmt.Fprintf(w, "  %s none of their data in the exposed systems during the window (see out of scope)\n", plural(rep.NotExposed, "person had", "people had"))
	}
	fmt.Fprintln(w, "\nBY JURISDICTION")
	printCounts(w, rep.ByJurisdiction)
	fmt.Fprintln(w, "\nBY DATA CATEGORY")
	printCounts(w, rep.ByCategory)
	if len(rep.OutOfScope) > 0 {
		fmt.Fprintln(w, "\nOUT OF SCOPE BY RETENTION")
		for _, e := range rep.OutOfScope {
			mark := "for some"
			if e.All {
				mark = "for all"
			}
			fmt.Fprintf(w, "  %s in %s (%s: %s): %s\n", e.Category, e.System, mark, plural(e.People, "person", "people"), e.Why)
		}
	}
	if rep.Rejected > 0 {
		fmt.Fprintf(w, "\nREJECTED ROWS (%d)\n", rep.Rejected)
		printCounts(w, rep.RejectedBy)
		for _, r := range rep.Rejections {
			fmt.Fprintf(w, "  %s row %d: %s\n", r.Source, r.Row, r.Reason)
		}
		if len(rep.Rejections) < rep.Rejected {
			fmt.Fprintf(w, "  ... and %d more (--rejects FILE lists them all)\n", rep.Rejected-len(rep.Rejections))
		}
	}
}

// nPeople is "1 person", "2 people": every count of people the CLI prints.
func nPeople(n int) string { return plural(n, "person", "people") }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func printCounts(w io.Writer, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t := newTable(w)
	for _, k := range keys {
		fmt.Fprintf(t, "  %s\t%d\n", k, m[k])
	}
	t.Flush()
}
