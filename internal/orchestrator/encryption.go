package orchestrator

import (
	"context"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/breachctl/breachctl/internal/codec"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// EncryptionKey says whether an incident's payloads are encrypted, and
// under which key, from the encoding of its memo: nothing is decoded and
// no worker is asked, so a client without the key can ask before it sends
// anything in the clear. With id "", the namespace's latest incident
// answers. "" is plain, or no such incident.
func (o *Incidents) EncryptionKey(ctx context.Context, id string) (string, error) {
	var memo *commonpb.Memo
	if id != "" {
		d, err := o.client.DescribeWorkflowExecution(ctx, incident.WorkflowID(id), "")
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return "", nil // the command itself says so
		}
		if err != nil {
			return "", o.mapError(err, id, "describe")
		}
		memo = d.GetWorkflowExecutionInfo().GetMemo()
	} else {
		resp, err := o.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s'", workflows.IncidentWorkflowName), PageSize: 1,
		})
		if err != nil {
			return "", o.mapError(err, "", "list")
		}
		if ex := resp.GetExecutions(); len(ex) > 0 {
			memo = ex[0].GetMemo()
		}
	}
	p := memo.GetFields()[workflows.MemoTitle]
	if string(p.GetMetadata()[converter.MetadataEncoding]) != codec.EncodingEncrypted {
		return "", nil
	}
	return string(p.GetMetadata()[codec.MetadataKeyID]), nil
}
