package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/devserver"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/worker"
	"github.com/breachctl/breachctl/workflows"
)

// Dev is a running `breachctl dev`: embedded server, worker and HTTP server.
type Dev struct {
	Server   *devserver.Server
	HTTPAddr string
	// Codec is the payload codec endpoint's URL, "" when it is off.
	Codec    string
	noWorker bool
	stop     []func()
}

// StartDev starts everything in one process and returns once it is ready.
func StartDev(ctx context.Context, cfg config.Config, opts config.Dev, logger *slog.Logger) (*Dev, error) {
	if opts.DataDir != "" {
		cfg.DataDir = opts.DataDir // the store and the outbox live beside the server's file
	}
	tuneGC()
	warnUnencrypted(cfg, logger)
	verifier, err := webhookVerifier(cfg)
	if err != nil {
		return nil, err
	}
	deps, st, err := Deps(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	d := &Dev{}
	d.stop = append(d.stop, func() { _ = st.Close() })
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	d.stop = append(d.stop, stopSweep)
	sweepSnapshots(sweepCtx, st, logger)
	// Listening first tells the Web UI where the codec endpoint is.
	ln, err := listen(opts.HTTPAddr)
	if err != nil {
		d.Stop()
		return nil, err
	}
	d.stop = append(d.stop, func() { _ = ln.Close() })
	d.HTTPAddr = ln.Addr().String()
	if codecEndpoint(cfg, nil) != nil {
		d.Codec = "http://" + browserAddr(ln.Addr()) + "/codec"
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir:          opts.DataDir,
		Namespace:        cfg.Temporal.Namespace,
		Retention:        opts.Retention,
		IP:               opts.IP,
		FrontendPort:     opts.Port,
		UIPort:           opts.UIPort,
		CodecEndpoint:    d.Codec,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           logger.With("component", "temporal-server"),
	})
	if err != nil {
		d.Stop()
		return nil, err
	}
	d.Server = srv
	d.stop = append(d.stop, func() { _ = srv.Stop() })

	tcfg := cfg.Temporal
	tcfg.Address = srv.FrontendAddress()
	c, err := orchestrator.Dial(ctx, tcfg, sdkLogger(logger, cfg.LogLevel))
	if err != nil {
		d.Stop()
		return nil, err
	}
	d.stop = append(d.stop, c.Close)
	connectEvidence(deps.Evidence, c, cfg, tcfg)

	d.noWorker = opts.NoWorker
	if !opts.NoWorker {
		w := worker.New(c, cfg.TaskQueue, deps, workerOptions(cfg))
		if err := w.Start(); err != nil {
			d.Stop()
			return nil, apperr.Wrap(apperr.Internal, err, "start the worker")
		}
		d.stop = append(d.stop, w.Stop)
	}

	guard := replayGuard(st)
	sl, err := newSlack(cfg, orchestrator.NewIncidents(c, orchestrator.DataConverter(tcfg), cfg.TaskQueue, tcfg.Address, tcfg.Namespace), guard, logger)
	if err != nil {
		d.Stop()
		return nil, err
	}
	var slackHandler http.Handler
	if sl != nil {
		d.stop = append(d.stop, sl.Close)
		slackHandler = sl
		d.stop = append(d.stop, startSocketMode(cfg, sl, logger))
	}
	ih, err := newIntake(cfg, orchestrator.NewIncidents(c, orchestrator.DataConverter(tcfg), cfg.TaskQueue, tcfg.Address, tcfg.Namespace), st, guard, logger)
	if err != nil {
		d.Stop()
		return nil, err
	}
	var uiOrigins []string
	if ui := srv.UIAddress(); ui != "" {
		uiOrigins = append(uiOrigins, ui)
	}
	cdc := codecEndpoint(cfg, ln.Addr(), uiOrigins...)
	httpCtx, cancelHTTP := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = serveHTTP(httpCtx, ln, httpHandler(c, st, verifier, slackHandler, cdc, ih, guard, logger), logger)
	}()
	d.stop = append(d.stop, func() { cancelHTTP(); <-done })
	return d, nil
}

// browserAddr is addr as a browser on this machine reaches it: a listener
// on every interface is reached on loopback.
func browserAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

// RunDev runs `breachctl dev` until ctx ends.
func RunDev(ctx context.Context, cfg config.Config, opts config.Dev, logger *slog.Logger, out io.Writer) error {
	dev, err := StartDev(ctx, cfg, opts, logger)
	if err != nil {
		return err
	}
	defer dev.Stop()
	dev.PrintBanner(out, cfg)
	<-ctx.Done()
	logger.Info("stopping")
	return nil
}

// Stop stops everything in the reverse order it started.
func (d *Dev) Stop() {
	for i := len(d.stop) - 1; i >= 0; i-- {
		d.stop[i]()
	}
	d.stop = nil
}

// PrintBanner says where everything listens.
func (d *Dev) PrintBanner(w io.Writer, cfg config.Config) {
	dir, _ := filepath.Abs(filepath.Dir(d.Server.DBPath()))
	fmt.Fprintf(w, "breachctl dev is running; data in %s\n", dir)
	fmt.Fprintf(w, "  Temporal frontend  %s  (namespace %s)\n", d.Server.FrontendAddress(), d.Server.Namespace())
	if ui := d.Server.UIAddress(); ui != "" {
		fmt.Fprintf(w, "  Temporal Web UI    %s/namespaces/%s/workflows\n", ui, d.Server.Namespace())
	}
	fmt.Fprintf(w, "  HTTP               http://%s/healthz\n", d.HTTPAddr)
	if cfg.SendGrid.APIKey == "" {
		fmt.Fprintf(w, "  Email              not sent: written as .eml files to %s (breachctl outbox list); set SENDGRID_API_KEY to send\n", cfg.OutboxDir())
	} else {
		fmt.Fprintln(w, "  Email              sent through SendGrid (SENDGRID_API_KEY)")
	}
	if cfg.Intake.Enabled() {
		fmt.Fprintf(w, "  Alert intake       http://%s/intake/v1/alerts and /intake/v1/alertmanager\n", d.HTTPAddr)
	}
	switch {
	case cfg.Keys == nil:
		fmt.Fprintln(w, "  Encryption         off: set BREACHCTL_ENCRYPTION_KEYS (breachctl keygen)")
	case d.Codec != "":
		fmt.Fprintf(w, "  Encryption         key %s; the UI decrypts after signing in at %s/login\n", cfg.Keys.PrimaryID(), d.Codec)
	default:
		fmt.Fprintf(w, "  Encryption         key %s; set BREACHCTL_CODEC_TOKEN for the UI to decrypt\n", cfg.Keys.PrimaryID())
	}
	if d.noWorker {
		fmt.Fprintf(w, "  Worker             off: run breachctl worker (task queue %s)\n", cfg.TaskQueue)
	} else {
		fmt.Fprintf(w, "  Worker             task queue %s\n", cfg.TaskQueue)
	}
	if d.Server.FrontendAddress() != config.DefaultAddress {
		fmt.Fprintf(w, "Other terminals: export TEMPORAL_ADDRESS=%s\n", d.Server.FrontendAddress())
	}
	fmt.Fprintf(w, "In another terminal: breachctl open --title \"...\" --aware-at %s --region EU\n",
		time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339))
	fmt.Fprintln(w, "Ctrl-C stops it; incidents and their clocks survive a restart, even a kill -9.")
}
