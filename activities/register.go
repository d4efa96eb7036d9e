package activities

import (
	"context"
	"encoding/json"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// ArchiveIncidentName is the registered name of Register.ArchiveIncident.
const ArchiveIncidentName = "ArchiveIncident"

// RegisterStore is the part of the store the breach register writes to.
type RegisterStore interface {
	PutRegisterEntry(ctx context.Context, incidentID string, closedAt time.Time, status []byte) error
}

// Register keeps each closed incident's final record in the store, where
// the breach register (GDPR Art. 33(5)) reads it long after Temporal's
// retention has removed the workflow.
type Register struct {
	Store RegisterStore
}

// ArchiveInput is an incident's final status.
type ArchiveInput struct {
	Status incident.Status `json:"status"`
}

// ArchiveIncident records the closed incident; writing it again replaces
// it with the same record.
func (r *Register) ArchiveIncident(ctx context.Context, in ArchiveInput) error {
	b, err := json.Marshal(in.Status)
	if err != nil {
		return err
	}
	closed := in.Status.OpenedAt
	if in.Status.ClosedAt != nil {
		closed = *in.Status.ClosedAt
	}
	return r.Store.PutRegisterEntry(ctx, in.Status.ID, closed, b)
}
