// Package worker builds the Temporal worker that runs breachctl's workflows
// and activities. `breachctl worker` and `breachctl dev` both use it, so the
// two modes run exactly the same code.
package worker

import (
	"context"

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
	Slack    *activities.Slack    // nil: no Slack; incidents get no channel
	// Register keeps closed incidents for the breach register; nil (drills,
	// tests) keeps nothing.
	Register *activities.Register
	// Evidence anchors evidence packs under the server's key; nil (drills,
	// tests) anchors none.
	Evidence *activities.Evidence
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
	registerSlack(r, deps.Slack)
	archive := func(context.Context, activities.ArchiveInput) error { return nil }
	if deps.Register != nil {
		archive = deps.Register.ArchiveIncident
	}
	r.RegisterActivityWithOptions(archive, activity.RegisterOptions{Name: activities.ArchiveIncidentName})
	r.RegisterWorkflowWithOptions(workflows.EvidenceExportWorkflow, workflow.RegisterOptions{Name: workflows.EvidenceExportWorkflowName})
	r.RegisterActivityWithOptions(deps.Evidence.AnchorEvidence, activity.RegisterOptions{Name: activities.AnchorEvidenceName})
	if deps.Notifier == nil {
		// Without a mailer, a page's email targets stay on the timeline.
		r.RegisterActivityWithOptions(func(context.Context, activities.PageEmailInput) error { return nil },
			activity.RegisterOptions{Name: activities.SendPageEmailName})
		// Drafts still render (drills, tests), for a stand-in organisation.
		r.RegisterActivityWithOptions(activities.NewPreviewer(activities.DrillOrganisation).PreviewNotice,
			activity.RegisterOptions{Name: activities.PreviewNoticeName})
		// No store to look in: a snapshot is taken unchecked.
		r.RegisterActivityWithOptions(activities.NewPreviewer(activities.DrillOrganisation).CheckSnapshot,
			activity.RegisterOptions{Name: activities.CheckSnapshotName})
	}
	if n := deps.Notifier; n != nil {
		r.RegisterActivityWithOptions(n.SendPageEmail, activity.RegisterOptions{Name: activities.SendPageEmailName})
		r.RegisterActivityWithOptions(n.PrepareNotice, activity.RegisterOptions{Name: activities.PrepareNoticeName})
		r.RegisterActivityWithOptions(n.PreviewNotice, activity.RegisterOptions{Name: activities.PreviewNoticeName})
		r.RegisterActivityWithOptions(n.SendNoticePage, activity.RegisterOptions{Name: activities.SendNoticePageName})
		r.RegisterActivityWithOptions(n.SendOrgNotice, activity.RegisterOptions{Name: activities.SendOrgNoticeName})
		r.RegisterActivityWithOptions(n.TallyNotice, activity.RegisterOptions{Name: activities.TallyNoticeName})
		r.RegisterActivityWithOptions(n.CheckSnapshot, activity.RegisterOptions{Name: activities.CheckSnapshotName})
	}
}

// New builds a worker on the task queue with everything registered.
func New(c client.Client, taskQueue string, deps Deps, opts sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, opts)
	Register(w, deps)
	return w
}

// registerSlack registers the Slack activities; without Slack, stand-ins
// that answer "no channel", so an incident knows to do without one instead
// of retrying an activity nobody serves.
func registerSlack(r Registry, s *activities.Slack) {
	if s != nil {
		r.RegisterActivityWithOptions(s.SlackOpenChannel, activity.RegisterOptions{Name: activities.SlackOpenChannelName})
		r.RegisterActivityWithOptions(s.SlackSummary, activity.RegisterOptions{Name: activities.SlackSummaryName})
		r.RegisterActivityWithOptions(s.SlackPost, activity.RegisterOptions{Name: activities.SlackPostName})
		r.RegisterActivityWithOptions(s.SlackDirect, activity.RegisterOptions{Name: activities.SlackDirectName})
		return
	}
	r.RegisterActivityWithOptions(func(context.Context, activities.OpenChannelInput) (activities.ChannelRef, error) {
		return activities.ChannelRef{}, nil
	}, activity.RegisterOptions{Name: activities.SlackOpenChannelName})
	r.RegisterActivityWithOptions(func(context.Context, activities.SummaryInput) (activities.SummaryRef, error) {
		return activities.SummaryRef{}, nil
	}, activity.RegisterOptions{Name: activities.SlackSummaryName})
	r.RegisterActivityWithOptions(func(context.Context, activities.PostInput) (activities.PostRef, error) {
		return activities.PostRef{}, nil
	}, activity.RegisterOptions{Name: activities.SlackPostName})
	r.RegisterActivityWithOptions(func(context.Context, activities.DirectInput) (activities.PostRef, error) {
		return activities.PostRef{}, nil
	}, activity.RegisterOptions{Name: activities.SlackDirectName})
}
