package app

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/evidence/fromstore"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/store"
)

// evidenceAnchors loads the server's evidence key from the data directory,
// making it on first start, for the worker to anchor evidence packs with.
func evidenceAnchors(cfg config.Config, st *store.Store, logger *slog.Logger) (*activities.Evidence, error) {
	key, err := evidence.LoadOrCreateServerKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	logger.Info("evidence packs are anchored under this server's key (breachctl evidence server-key)",
		"public_key", base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), "data_dir", cfg.DataDir)
	return &activities.Evidence{
		Key: key,
		Ledger: func(ctx context.Context, id string) ([]evidence.LedgerNotice, error) {
			return fromstore.ReadLedger(ctx, st, id)
		},
	}, nil
}

// connectEvidence gives the anchors the client they read incidents with.
func connectEvidence(e *activities.Evidence, c client.Client, cfg config.Config, t config.Temporal) {
	if e == nil {
		return
	}
	e.Status = orchestrator.NewIncidents(c, orchestrator.DataConverter(t), cfg.TaskQueue, t.Address, t.Namespace).Show
}
