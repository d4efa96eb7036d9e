package app

import (
	"log/slog"
	"net/http"

	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/intake"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/internal/store"
)

// newIntake builds the alert intake of `serve` and `dev`, or nil when
// neither BREACHCTL_INTAKE_SECRETS nor BREACHCTL_INTAKE_TOKENS is set. Its
// dedup keys and seen signatures live in the store, so every server
// behind one address shares them; guard is the replay store Slack and
// SendGrid's webhook share with it.
func newIntake(cfg config.Config, svc *orchestrator.Incidents, st *store.Store, guard *replay.Guard, logger *slog.Logger) (http.Handler, error) {
	if !cfg.Intake.Enabled() {
		return nil, nil
	}
	h, err := intake.New(intake.Config{
		Secrets:   cfg.Intake.Secrets,
		Tokens:    cfg.Intake.Tokens,
		Incidents: svc,
		Keys:      st,
		Replay:    guard,
		Logger:    logger.With("component", "intake"),
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}
