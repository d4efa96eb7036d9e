// Package app is the composition root: it turns configuration into running
// parts (the embedded server, clients, the worker, the HTTP server) and wires
// them together. Nothing else reads the environment or builds clients.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/codec"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/httpapi"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/worker"
)

// NewLogger writes structured text logs to w at the given level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// sdkLogger quiets the Temporal SDK's routine lines (worker started, ...)
// unless debugging: warnings and errors still come through.
func sdkLogger(logger *slog.Logger, level slog.Level) *slog.Logger {
	if level <= slog.LevelDebug {
		return logger
	}
	return slog.New(minLevel{Handler: logger.Handler(), min: slog.LevelWarn}).With("component", "temporal-sdk")
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}

// Deps builds the activity implementations from the configuration, with
// the store they share; closeStore releases it.
func Deps(ctx context.Context, cfg config.Config, logger *slog.Logger) (deps worker.Deps, st *store.Store, err error) {
	rs, err := rules.Load(cfg.RulesDir)
	if err != nil {
		return worker.Deps{}, nil, err
	}
	esc := escalation.Default()
	if cfg.Escalation != "" {
		if esc, err = escalation.Load(cfg.Escalation); err != nil {
			return worker.Deps{}, nil, err
		}
	}
	st, err = openStore(ctx, cfg, logger)
	if err != nil {
		return worker.Deps{}, nil, err
	}
	notifier, err := newNotifier(cfg, rs, st, logger)
	if err != nil {
		_ = st.Close()
		return worker.Deps{}, nil, err
	}
	ev, err := evidenceAnchors(cfg, st, logger)
	if err != nil {
		_ = st.Close()
		return worker.Deps{}, nil, err
	}
	return worker.Deps{
		Evidence: ev,
		Rules:    &activities.Rules{Ruleset: rs, Config: rules.Config{Reminders: cfg.Reminders}, Escalation: esc},
		Notifier: notifier,
		Slack:    slackActivities(cfg),
		Register: &activities.Register{Store: st},
	}, st, nil
}

// Connect dials Temporal and returns the incident service over it.
func Connect(ctx context.Context, cfg config.Config, logger *slog.Logger) (*orchestrator.Incidents, func(), error) {
	c, err := orchestrator.Dial(ctx, cfg.Temporal, sdkLogger(logger, cfg.LogLevel))
	if err != nil {
		return nil, nil, err
	}
	svc := orchestrator.NewIncidents(c, orchestrator.DataConverter(cfg.Temporal), cfg.TaskQueue, cfg.Temporal.Address, cfg.Temporal.Namespace)
	return svc, c.Close, nil
}

// RunWorker runs the worker against an existing cluster until ctx ends.
func RunWorker(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	tuneGC()
	// A production worker sends through SendGrid; an outbox is for dev
	// unless a directory for one is given.
	if err := cfg.CheckWorker(); err != nil {
		return err
	}
	warnUnencrypted(cfg, logger)
	deps, st, err := Deps(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	sweepSnapshots(sweepCtx, st, logger)
	c, err := orchestrator.Dial(ctx, cfg.Temporal, sdkLogger(logger, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer c.Close()
	connectEvidence(deps.Evidence, c, cfg, cfg.Temporal)
	w := worker.New(c, cfg.TaskQueue, deps, workerOptions(cfg))
	if err := w.Start(); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "start the worker on task queue %q", cfg.TaskQueue)
	}
	logger.Info("worker running", "temporal", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace, "task_queue", cfg.TaskQueue)
	<-ctx.Done()
	logger.Info("worker stopping: taking no new work, letting the requests in flight finish", "stop_timeout", workerOptions(cfg).WorkerStopTimeout)
	w.Stop()
	logger.Info("worker stopped")
	return nil
}

// workerOptions are the worker's options. A worker told to stop (SIGTERM:
// a deploy, `docker compose restart`) takes no new tasks and lets the ones
// in flight finish for up to the stop timeout before it cancels them, so a
// Mail Send request in flight is answered and recorded, never cut. The
// timeout must outlast activities.SendTimeout, which bounds a request and
// its ledger writes.
func workerOptions(cfg config.Config) sdkworker.Options {
	return sdkworker.Options{WorkerStopTimeout: max(cfg.WorkerStopTimeout, activities.SendTimeout+10*time.Second)}
}

// RunServe runs the HTTP server against an existing cluster until ctx ends.
func RunServe(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	warnUnencrypted(cfg, logger)
	c, err := orchestrator.Dial(ctx, cfg.Temporal, sdkLogger(logger, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer c.Close()
	verifier, err := webhookVerifier(cfg)
	if err != nil {
		return err
	}
	var (
		events httpapi.EventRecorder
		st     *store.Store
		guard  *replay.Guard
	)
	// The store holds the replay marks every signed endpoint shares (and
	// the intake's keys, and the ledger the webhook writes).
	if verifier != nil || cfg.Intake.Enabled() || cfg.Slack.SigningSecret != "" {
		if st, err = openStore(ctx, cfg, logger); err != nil {
			return err
		}
		defer st.Close()
		guard = replayGuard(st)
	}
	if verifier != nil {
		events = st
	}
	sl, err := newSlack(cfg, orchestrator.NewIncidents(c, orchestrator.DataConverter(cfg.Temporal), cfg.TaskQueue, cfg.Temporal.Address, cfg.Temporal.Namespace), guard, logger)
	if err != nil {
		return err
	}
	var slackHandler http.Handler
	if sl != nil {
		defer sl.Close()
		slackHandler = sl
		defer startSocketMode(cfg, sl, logger)()
	}
	ih, err := newIntake(cfg, orchestrator.NewIncidents(c, orchestrator.DataConverter(cfg.Temporal), cfg.TaskQueue, cfg.Temporal.Address, cfg.Temporal.Namespace), st, guard, logger)
	if err != nil {
		return err
	}
	ln, err := listen(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	cdc := codecEndpoint(cfg, ln.Addr())
	logger.Info("http server running", "addr", ln.Addr().String(), "temporal", cfg.Temporal.Address,
		"sendgrid_webhook", verifier != nil, "slack", sl != nil, "codec", cdc != nil, "intake", ih != nil)
	return serveHTTP(ctx, ln, httpHandler(c, events, verifier, slackHandler, cdc, ih, guard, logger), logger)
}

// replayGuard is the one replay store of a process's signed endpoints,
// kept in the store so that every server refuses the others' replays.
func replayGuard(st *store.Store) *replay.Guard {
	return &replay.Guard{Store: st, Keep: replay.DefaultKeep}
}

func httpHandler(c client.Client, events httpapi.EventRecorder, verifier *mailer.WebhookVerifier, slack http.Handler,
	cdc *httpapi.Codec, intake http.Handler, guard *replay.Guard, logger *slog.Logger,
) http.Handler {
	return httpapi.New(httpapi.Deps{
		Slack: slack,
		Ready: func(ctx context.Context) error {
			_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
		Logger:          logger,
		Events:          events,
		WebhookVerifier: verifier,
		Codec:           cdc,
		Intake:          intake,
		Replay:          guard,
	})
}

// codecEndpoint is the payload codec for the Temporal UI, with the
// browser origins that may call it: the UI's (configured, and dev's own),
// and the server's own at addr, where its login form is; nil (off) without
// keys or a token.
func codecEndpoint(cfg config.Config, addr net.Addr, uiOrigins ...string) *httpapi.Codec {
	if cfg.Keys == nil || cfg.Codec.Token == "" {
		return nil
	}
	var self []string
	if addr != nil {
		self = httpapi.SelfOrigins(addr.String())
	}
	return &httpapi.Codec{
		Handler: codec.HTTPHandler(cfg.Keys),
		Token:   cfg.Codec.Token,
		Origins: slices.Concat(cfg.Codec.CORSOrigins, uiOrigins, self),
	}
}

// warnUnencrypted says, once per process, that nothing is encrypted.
func warnUnencrypted(cfg config.Config, logger *slog.Logger) {
	if cfg.Keys != nil {
		if cfg.Codec.Token == "" {
			logger.Info("the codec endpoint is off: set BREACHCTL_CODEC_TOKEN for the Temporal UI to show decrypted payloads")
		}
		return
	}
	logger.Warn("BREACHCTL_ENCRYPTION_KEYS is not set: workflow histories, the store and the outbox are written " +
		"unencrypted, readable by anyone who can read the Temporal database or the data directory " +
		"(`breachctl keygen` makes a key)")
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "listen for HTTP on %s (set BREACHCTL_HTTP_ADDR or --http-addr to another address)", addr)
	}
	return ln, nil
}

// serveHTTP serves until ctx ends, then drains for up to five seconds.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := httpapi.NewServer(h, httpapi.DefaultTimeouts)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("http shutdown", "error", err)
	}
	return nil
}
