// Package orchestrator is the one place that turns requests about incidents
// into Temporal calls: start a workflow, send an update, run a query, list by
// visibility. Transports (CLI, Slack, HTTP intake) call it through their own
// small interfaces and never touch the Temporal client.
package orchestrator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

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

// Dial connects to Temporal and checks that it answers, so a wrong address
// fails here with a message that names it.
func Dial(ctx context.Context, cfg config.Temporal, logger *slog.Logger) (client.Client, error) {
	opts, err := ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err,
			"cannot reach Temporal at %s (namespace %s); is `breachctl dev` running, or TEMPORAL_ADDRESS set?", cfg.Address, cfg.Namespace)
	}
	return c, nil
}

// describeTarget names the cluster in errors.
func describeTarget(address, namespace string) string {
	return fmt.Sprintf("Temporal at %s (namespace %s)", address, namespace)
}
