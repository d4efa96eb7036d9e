// Package orchestrator is the one place that turns requests about incidents
// into Temporal calls: start a workflow, send an update, run a query, list by
// visibility. Transports (CLI, Slack, HTTP intake) call it through their own
// small interfaces and never touch the Temporal client.
package orchestrator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/codec"
	"github.com/breachctl/breachctl/internal/config"
)

// ClientOptions builds the SDK options for a cluster: TLS, API key, logger,
// and the payload codec over cfg.Keys. Workers inherit the client's
// converters, so every payload and failure message is encrypted on the way
// out; without keys, the codec still says which key an encrypted history
// needs instead of failing on an unknown encoding.
func ClientOptions(cfg config.Temporal, logger *slog.Logger) (client.Options, error) {
	dc := DataConverter(cfg)
	opts := client.Options{
		HostPort:         cfg.Address,
		Namespace:        cfg.Namespace,
		Logger:           tlog.NewStructuredLogger(logger),
		DataConverter:    dc,
		FailureConverter: codec.FailureConverter(cfg.Keys, dc),
	}
	if cfg.UsesTLS() {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return opts, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	if cfg.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.APIKey)
	}
	return opts, nil
}

// DataConverter is the data converter of clients built from cfg; give it
// to NewIncidents, which decodes memos with it.
func DataConverter(cfg config.Temporal) converter.DataConverter { return codec.DataConverter(cfg.Keys) }

func tlsConfig(cfg config.Temporal) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if cfg.ClientCertPath != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertPath, cfg.ClientKeyPath)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "TEMPORAL_TLS_CLIENT_CERT_PATH: cannot load the client certificate and key")
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if cfg.ServerCACertPath != "" {
		pem, err := os.ReadFile(cfg.ServerCACertPath)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, apperr.Invalidf("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "%s holds no PEM certificate", cfg.ServerCACertPath)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Dial connects to Temporal and checks that it answers and has the
// namespace, so a wrong address or namespace fails here, the same way for
// every command and server, with a message that names them.
func Dial(ctx context.Context, cfg config.Temporal, logger *slog.Logger) (client.Client, error) {
	opts, err := ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t := Target{Address: cfg.Address, Namespace: cfg.Namespace}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, t.Unreachable(err)
	}
	describe := func(ctx context.Context) error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
		return err
	}
	if err := checkNamespace(ctx, describe, t); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkNamespace asks the frontend for the namespace. Only an answer that
// it does not exist, or no answer, is an error: a client allowed less than
// describing its namespace still works (a worker checks again on start).
func checkNamespace(ctx context.Context, describe func(context.Context) error, t Target) error {
	return t.Classify(describe(ctx))
}

// Target is a Temporal frontend and namespace as errors name them: the
// local `breachctl dev` default, or a cluster.
type Target struct {
	Address   string
	Namespace string
}

// Dev reports whether the address is the local default that `breachctl
// dev` serves: only then is "is `breachctl dev` running?" the question to
// ask.
func (t Target) Dev() bool {
	host, port, err := net.SplitHostPort(t.Address)
	if err != nil || port != defaultPort {
		return false
	}
	switch host {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// defaultPort is the port of config.DefaultAddress.
var defaultPort = func() string {
	_, p, _ := net.SplitHostPort(config.DefaultAddress)
	return p
}()

func (t Target) String() string {
	if t.Dev() {
		return fmt.Sprintf("Temporal at %s (namespace %s)", t.Address, t.Namespace)
	}
	return fmt.Sprintf("the Temporal cluster at %s (namespace %s)", t.Address, t.Namespace)
}

// Unreachable is the error of a frontend that does not answer.
func (t Target) Unreachable(err error) error {
	if t.Dev() {
		return apperr.Wrap(apperr.Unavailable, err,
			"cannot reach %s: is `breachctl dev` running? (for a cluster, set TEMPORAL_ADDRESS or --address)", t)
	}
	return apperr.Wrap(apperr.Unavailable, err, "cannot reach %s", t)
}

// NamespaceMissing is the error of a frontend that answers without the
// namespace. It is the same kind, and so the same exit code, whichever
// command or server meets it: Temporal cannot be used as configured.
func (t Target) NamespaceMissing(err error) error {
	if t.Dev() {
		return apperr.Wrap(apperr.Unavailable, err,
			"%s has no namespace %s: `breachctl dev` makes it; is TEMPORAL_NAMESPACE (--namespace) the one dev was started with?", t, t.Namespace)
	}
	return apperr.Wrap(apperr.Unavailable, err,
		"%s has no namespace %s: create it (temporal operator namespace create --namespace %s) or set TEMPORAL_NAMESPACE (--namespace)",
		t, t.Namespace, t.Namespace)
}

// Classify gives the errors that are about the connection itself (the
// frontend unreachable, the namespace missing) their kind and a message
// naming the target; nil for any other error. It is the one place that
// recognises them, for Dial, every request, and whoever starts a worker.
func (t Target) Classify(err error) error {
	var (
		nsMissing   *serviceerror.NamespaceNotFound
		unavailable *serviceerror.Unavailable
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nsMissing):
		return t.NamespaceMissing(err)
	case errors.As(err, &unavailable):
		return t.Unreachable(err)
	}
	return nil
}
