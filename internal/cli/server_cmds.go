package cli

import (
	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
)

type devOptions struct {
	dataDir   string
	ip        string
	port      int
	uiPort    int
	httpAddr  string
	retention string
	noWorker  bool
}

func newDevCmd(g *globals) *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: an embedded Temporal server on a SQLite file, the worker and the HTTP server",
		Long: `Run breachctl on this machine with no account anywhere: an embedded, durable
Temporal server whose state lives in a SQLite file in --data-dir, the worker,
the Temporal Web UI and the HTTP server. Stop it with Ctrl-C (or kill it);
start it again on the same --data-dir and every incident and clock is there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			opts, err := o.options(cmd, cfg)
			if err != nil {
				return err
			}
			return g.env.Runners.Dev(cmd.Context(), cfg, opts, g.logger(cfg), g.env.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "directory for the SQLite file and markers (default $BREACHCTL_DATA_DIR or "+config.DefaultDataDir+")")
	f.StringVar(&o.ip, "ip", "127.0.0.1", "address the embedded server listens on")
	f.IntVar(&o.port, "port", 7233, "Temporal frontend gRPC port")
	f.IntVar(&o.uiPort, "ui-port", 8233, "Temporal Web UI port (-1: no UI)")
	f.StringVar(&o.httpAddr, "http-addr", "", "HTTP server address (default $BREACHCTL_HTTP_ADDR or "+config.DefaultHTTPAddr+")")
	f.BoolVar(&o.noWorker, "no-worker", false, "run no worker: workers run apart (breachctl worker), e.g. to kill them in fault tests")
	f.StringVar(&o.retention, "retention", "", "how long Temporal keeps closed incidents, e.g. 30d or 2160h (default $BREACHCTL_RETENTION or 30d)")
	return cmd
}

func (o *devOptions) options(cmd *cobra.Command, cfg config.Config) (config.Dev, error) {
	opts := config.Dev{DataDir: cfg.DataDir, IP: o.ip, Port: o.port, UIPort: o.uiPort, HTTPAddr: cfg.HTTPAddr, Retention: cfg.Retention, NoWorker: o.noWorker}
	if o.dataDir != "" {
		opts.DataDir = o.dataDir
	}
	if o.httpAddr != "" {
		opts.HTTPAddr = o.httpAddr
	}
	if cmd.Flags().Changed("retention") {
		d, err := config.ParseRetention(o.retention)
		if err != nil {
			return opts, apperr.Invalidf("--retention", "%v", err)
		}
		opts.Retention = d
	}
	if o.port < 0 || o.port > 65535 {
		return opts, apperr.Invalidf("--port", "%d is not a port", o.port)
	}
	if o.uiPort < -1 || o.uiPort > 65535 {
		return opts, apperr.Invalidf("--ui-port", "%d is not a port (-1 turns the UI off)", o.uiPort)
	}
	return opts, nil
}

func newWorkerCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the worker against an existing Temporal cluster (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS or API key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			return g.env.Runners.Worker(cmd.Context(), cfg, g.logger(cfg))
		},
	}
}

func newServeCmd(g *globals) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (health; Slack and intake later) against an existing Temporal cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			if httpAddr != "" {
				cfg.HTTPAddr = httpAddr
			}
			return g.env.Runners.Serve(cmd.Context(), cfg, g.logger(cfg))
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "HTTP server address (default $BREACHCTL_HTTP_ADDR or "+config.DefaultHTTPAddr+")")
	return cmd
}
