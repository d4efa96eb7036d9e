// Package worker builds the Temporal worker that runs breachctl's workflows
// and activities. `breachctl worker` and `breachctl dev` both use it, so the
// two modes run exactly the same code.
package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/workflows"
)

// Deps are the activity implementations, with their clients.
type Deps struct {
	Rules    *activities.Rules
	Notifier *activities.Notifier // nil: this worker sends no notices
}

// Registry is the part of a worker (or a test environment) that takes
// registrations.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers every workflow and activity under its fixed name.
func Register(r Registry, deps Deps) {
	r.RegisterWorkflowWithOptions(workflows.IncidentWorkflow, workflow.RegisterOptions{Name: workflows.IncidentWorkflowName})
	r.RegisterActivityWithOptions(deps.Rules.Assess, activity.RegisterOptions{Name: activities.AssessName})
	r.RegisterWorkflowWithOptions(workflows.NoticeWorkflow, workflow.RegisterOptions{Name: workflows.NoticeWorkflowName})
	if n := deps.Notifier; n != nil {
		r.RegisterActivityWithOptions(n.PrepareNotice, activity.RegisterOptions{Name: activities.PrepareNoticeName})
		r.RegisterActivityWithOptions(n.SendNoticePage, activity.RegisterOptions{Name: activities.SendNoticePageName})
		r.RegisterActivityWithOptions(n.SendOrgNotice, activity.RegisterOptions{Name: activities.SendOrgNoticeName})
	}
}

// New builds a worker on the task queue with everything registered.
func New(c client.Client, taskQueue string, deps Deps, opts sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, opts)
	Register(w, deps)
	return w
}
