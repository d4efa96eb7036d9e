package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/breachctl/breachctl/internal/cli"
	"github.com/breachctl/breachctl/internal/config"
)

// CLIEnv wires the real parts into the command line.
func CLIEnv(stdout, stderr io.Writer, getenv func(string) string) *cli.Env {
	return &cli.Env{
		Stdout: stdout,
		Stderr: stderr,
		Stdin:  os.Stdin, // close asks before it leaves obligations open
		Getenv: getenv,
		Now:    time.Now,
		Connect: func(ctx context.Context, cfg config.Config, logger *slog.Logger) (cli.Incidents, func(), error) {
			return Connect(ctx, cfg, logger)
		},
		Runners: cli.Runners{Dev: RunDev, Worker: RunWorker, Serve: RunServe},
	}
}
