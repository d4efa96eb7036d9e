package orchestrator

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/workflows"
)

// AnchorEvidence asks a worker to anchor an export: it rebuilds the pack
// from the incident's record and the ledger and signs the head if it is
// in's. The record stays in Temporal as the EvidenceExport workflow.
func (o *Incidents) AnchorEvidence(ctx context.Context, in activities.EvidenceInput) (evidence.ServerAnchor, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	run, err := o.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.EvidenceExportWorkflowID(in.Incident, in.Head),
		TaskQueue:                o.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
	}, workflows.EvidenceExportWorkflowName, in)
	var res activities.EvidenceResult
	if err == nil {
		err = run.Get(ctx, &res)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeEvidenceHead {
		return evidence.ServerAnchor{}, apperr.New(apperr.Conflict, "the server did not anchor the pack: %s", appErr.Message())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return evidence.ServerAnchor{}, apperr.Wrap(apperr.Unavailable, err, "the server did not anchor the pack in time: %s", o.workerQuestion())
	}
	if err != nil {
		return evidence.ServerAnchor{}, o.mapError(err, in.Incident, "anchor evidence")
	}
	return res.Anchor, nil
}

// EvidenceRecord is the server's record of the export of head, as Temporal
// keeps it (until its retention); found false when it has none.
func (o *Incidents) EvidenceRecord(ctx context.Context, incidentID, head string) (evidence.ServerAnchor, bool, error) {
	run := o.client.GetWorkflow(ctx, workflows.EvidenceExportWorkflowID(incidentID, head), "")
	var res activities.EvidenceResult
	err := run.Get(ctx, &res)
	var (
		notFound *serviceerror.NotFound
		failed   *temporal.WorkflowExecutionError
	)
	if errors.As(err, &notFound) || errors.As(err, &failed) {
		return evidence.ServerAnchor{}, false, nil // none, or it refused
	}
	if err != nil {
		return evidence.ServerAnchor{}, false, o.mapError(err, incidentID, "read the evidence record")
	}
	return res.Anchor, true, nil
}
