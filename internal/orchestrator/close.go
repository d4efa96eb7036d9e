package orchestrator

import (
	"context"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// CloseIncident closes the incident with the whole request: the reason,
// and whether the person closing confirmed closing with obligations open
// (AcknowledgeOpen), which the workflow otherwise refuses for an overdue one.
func (o *Incidents) CloseIncident(ctx context.Context, id string, req workflows.CloseRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateClose, req, &st)
	return st, err
}
