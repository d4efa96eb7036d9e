// Command breachctl runs personal-data breach incidents to every legal
// deadline. See the README for the two commands that matter.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/breachctl/breachctl/internal/app"
	"github.com/breachctl/breachctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, app.CLIEnv(os.Stdout, os.Stderr, os.Getenv), os.Args[1:])
	stop()
	os.Exit(code)
}
