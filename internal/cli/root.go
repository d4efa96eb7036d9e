// Package cli is breachctl's command line: cobra commands in the cli/cli
// shape (an options struct per command, flag parsing apart from the run
// function), human tables by default and `-o json` for scripts, errors on
// stderr, and one place that maps error kinds to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/workflows"
)

// Incidents is what the incident commands need: the CLI never touches the
// Temporal client itself.
type Incidents interface {
	Open(ctx context.Context, facts incident.Facts, actor string) (incident.Status, error)
	List(ctx context.Context, f orchestrator.ListFilter) ([]incident.Summary, error)
	Show(ctx context.Context, id string) (incident.Status, error)
	Note(ctx context.Context, id, text, actor string) (incident.Entry, error)
	ChangeFacts(ctx context.Context, id string, change incident.FactsChange, reason, actor string) (incident.Status, error)
	CloseIncident(ctx context.Context, id string, req workflows.CloseRequest) (incident.Status, error)
	DelayReasons(ctx context.Context, id, rule, reasons, actor string) (incident.Status, error)
	ScopeWith(ctx context.Context, id string, req workflows.ScopeRequest) (incident.Status, error)
	Approve(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error)
	Draft(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error)
	Reject(ctx context.Context, id string, req workflows.RejectRequest) (incident.Status, error)
	Filed(ctx context.Context, id string, req workflows.FiledRequest) (incident.Status, error)
	Acknowledge(ctx context.Context, id string, req workflows.AckRequest) (incident.Status, error)
	Assign(ctx context.Context, id string, req workflows.AssignRequest) (incident.Status, error)
	NoticeProgress(ctx context.Context, noticeID string) (workflows.NoticeProgress, error)
	// EncryptionKey is the key an incident (id "": the namespace's latest)
	// is encrypted under, "" when plain, read without decoding anything.
	EncryptionKey(ctx context.Context, id string) (string, error)
	// AnchorEvidence has a worker rebuild an export's pack and sign its
	// head; EvidenceRecord reads that record back from Temporal.
	AnchorEvidence(ctx context.Context, in activities.EvidenceInput) (evidence.ServerAnchor, error)
	EvidenceRecord(ctx context.Context, incidentID, head string) (evidence.ServerAnchor, bool, error)
}

var _ Incidents = (*orchestrator.Incidents)(nil)

// Env is everything the CLI takes from its process, so tests can run it in
// one process with their own streams, environment and connections.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	// Stdin answers the questions the CLI asks (close with obligations
	// open); nil, or a file that is not a terminal, answers none.
	Stdin  io.Reader
	Getenv func(string) string
	Now    func() time.Time
	// Connect opens the incident service.
	Connect func(ctx context.Context, cfg config.Config, logger *slog.Logger) (Incidents, func(), error)
	// OpenLedger opens the notification ledger in the store at dsn; nil
	// opens the store itself (store.Open).
	OpenLedger func(ctx context.Context, dsn string, cfg config.Config) (Ledger, func(), error)
	// Sleep waits d or until ctx ends; nil waits on the clock. Tests give
	// one that moves their Now instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Runners start the long-running modes.
	Runners Runners
}

// Runners run breachctl's processes; the composition root supplies them, so
// this package (and its tests) never link the Temporal server.
type Runners struct {
	Dev    func(ctx context.Context, cfg config.Config, opts config.Dev, logger *slog.Logger, out io.Writer) error
	Worker func(ctx context.Context, cfg config.Config, logger *slog.Logger) error
	Serve  func(ctx context.Context, cfg config.Config, logger *slog.Logger) error
}

// globals are the flags every command takes.
type globals struct {
	env       *Env
	output    string
	address   string
	namespace string
}

// config loads the environment with the global flags on top.
func (g *globals) config() (config.Config, error) {
	cfg, err := config.Load(g.env.Getenv)
	if err != nil {
		return cfg, err
	}
	if g.address != "" {
		cfg.Temporal.Address = g.address
	}
	if g.namespace != "" {
		cfg.Temporal.Namespace = g.namespace
	}
	return cfg, nil
}

func (g *globals) logger(cfg config.Config) *slog.Logger {
	return slog.New(slog.NewTextHandler(g.env.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

// connect returns the incident service and who the CLI acts as.
func (g *globals) connect(ctx context.Context) (Incidents, string, func(), error) {
	cfg, err := g.config()
	if err != nil {
		return nil, "", nil, err
	}
	svc, closeFn, err := g.env.Connect(ctx, cfg, g.logger(cfg))
	if err != nil {
		return nil, "", nil, err
	}
	if cfg.Keys == nil {
		svc = &keyGuard{Incidents: svc}
	}
	return svc, cfg.Actor, closeFn, nil
}

func (g *globals) json() bool { return g.output == "json" }

func (g *globals) validateOutput() error {
	switch g.output {
	case "table", "json":
		return nil
	}
	return apperr.Invalidf("--output", "%q is not table or json", g.output)
}

// NewRootCmd builds the command tree.
func NewRootCmd(env *Env) *cobra.Command {
	g := &globals{env: env}
	root := &cobra.Command{
		Use:   "breachctl",
		Short: "Run personal-data breach incidents to every legal deadline",
		Long: `breachctl runs each personal-data breach as a durable incident: the facts, one
legal clock per notification obligation with reminders and an overdue path,
and a timeline for the breach register.

Start everything on this machine with 'breachctl dev', then open incidents
from another terminal.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return g.validateOutput()
		},
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	pf.StringVar(&g.address, "address", "", "Temporal frontend host:port (default $TEMPORAL_ADDRESS or "+config.DefaultAddress+")")
	pf.StringVar(&g.namespace, "namespace", "", "Temporal namespace (default $TEMPORAL_NAMESPACE or "+config.DefaultNamespace+")")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &apperr.Error{Kind: apperr.Invalid, Msg: err.Error()}
	})
	root.AddCommand(
		newDevCmd(g), newWorkerCmd(g), newServeCmd(g),
		newAssessCmd(g), newScopeCmd(g), newOpenCmd(g), newListCmd(g), newShowCmd(g), newNoteCmd(g), newAckCmd(g), newAssignCmd(g), newUpdateCmd(g), newDelayCmd(g), newCloseCmd(g),
		newApproveCmd(g), newDraftCmd(g), newRejectCmd(g), newWatchCmd(g), newFiledCmd(g), newDeliveriesCmd(g),
		newDrillCmd(g), newRegisterCmd(g), newEvidenceCmd(g),
		newOutboxCmd(g), newKeygenCmd(g),
	)
	return root
}

// Exit codes, one per error kind, documented in the README.
const (
	ExitOK          = 0
	ExitInternal    = 1
	ExitInvalid     = 2
	ExitNotFound    = 3
	ExitConflict    = 4
	ExitUnavailable = 5
	ExitForbidden   = 6
	// ExitNotGiven: a watched notice ended without being given to everyone
	// it owes (failed, incomplete, an email to an organisation refused, a
	// report still to file): its clocks stay open.
	ExitNotGiven = 7
)

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ng *NotGivenError
	if errors.As(err, &ng) {
		return ExitNotGiven
	}
	switch apperr.KindOf(err) {
	case apperr.Invalid:
		return ExitInvalid
	case apperr.NotFound:
		return ExitNotFound
	case apperr.Conflict:
		return ExitConflict
	case apperr.Unavailable:
		return ExitUnavailable
	case apperr.Forbidden:
		return ExitForbidden
	}
	return ExitInternal
}

// Run executes the CLI with args and returns the exit code.
func Run(ctx context.Context, env *Env, args []string) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Sleep == nil {
		env.Sleep = sleep
	}
	// Everything the CLI writes, wherever it came from, reaches the
	// terminal with its control characters escaped (see TerminalSafe).
	stdout, stderr := newSafeWriter(env.Stdout), newSafeWriter(env.Stderr)
	defer stdout.Flush()
	defer stderr.Flush()
	safe := *env
	safe.Stdout, safe.Stderr = stdout, stderr
	env = &safe
	root := NewRootCmd(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(env.Stderr, "error:", err)
		var e *apperr.Error
		if !errors.As(err, &e) && isUsageError(err) {
			return ExitInvalid
		}
	}
	return ExitCode(err)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isUsageError recognises cobra's own argument errors, which carry no kind.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
