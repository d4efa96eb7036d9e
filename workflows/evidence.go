package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
)

// EvidenceExportWorkflowName is the registered name of EvidenceExportWorkflow.
const EvidenceExportWorkflowName = "EvidenceExport"

// EvidenceExportWorkflowID is the workflow of one export: the incident and
// the head, so the same export asked twice is one record.
func EvidenceExportWorkflowID(incidentID, head string) string {
	return "evidence/" + incidentID + "/" + strings.TrimPrefix(head, "sha256:")
}

// evidenceOptions: the worker rebuilds the pack and signs; a store or
// Temporal hiccup is retried briefly, a head that does not match is not.
var evidenceOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    2 * time.Minute,
	ScheduleToCloseTimeout: 5 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		NonRetryableErrorTypes: []string{activities.ErrTypeEvidenceHead},
	},
}

// EvidenceExportWorkflow records one evidence export: a worker rebuilds
// the pack from the record and signs its head (activities.Evidence). Its
// result, written by the worker, is the server's record of the export in
// Temporal.
func EvidenceExportWorkflow(ctx workflow.Context, in activities.EvidenceInput) (activities.EvidenceResult, error) {
	var out activities.EvidenceResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, evidenceOptions), activities.AnchorEvidenceName, in).Get(ctx, &out)
	return out, err
}
