package workflows

import (
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/incident"
)

// NoticeInput starts the sending of an approved notice.
type NoticeInput struct {
	Spec activities.NoticeSpec `json:"spec"`
	// Parent is the incident workflow to report to when the notice is done.
	Parent string `json:"parent"`
	// Carry is the progress handed over by continue-as-new.
	Carry *NoticeCarry `json:"carry,omitempty"`
}

// NoticeCarry is a notice's progress: where each partition stands. Only
// keys (hashes) and counts: nothing about a person.
type NoticeCarry struct {
	Prepared   activities.PrepareResult `json:"prepared"`
	Partitions []PartitionCursor        `json:"partitions"`
	Counts     incident.NoticeCounts    `json:"counts"`
	StartedAt  time.Time                `json:"started_at"`
}

// PartitionCursor is where sending stands in one key range.
type PartitionCursor struct {
	After   string `json:"after"`
	Through string `json:"through"`
	Page    int    `json:"page"`
	Done    bool   `json:"done"`
}

// NoticeResult is how a notice went; the notice workflow signals it to the
// incident and returns it.
type NoticeResult struct {
	Notice     string                 `json:"notice"`
	State      incident.NoticeState   `json:"state"`
	Counts     incident.NoticeCounts  `json:"counts"`
	Deliveries []incident.OrgDelivery `json:"deliveries,omitempty"`
	Filings    []incident.Filing      `json:"filings,omitempty"`
	At         time.Time              `json:"at"`
	Error      string                 `json:"error,omitempty"`
}

// NoticeProgress is what the progress query returns.
type NoticeProgress struct {
	Notice    string                `json:"notice"`
	State     incident.NoticeState  `json:"state"`
	Counts    incident.NoticeCounts `json:"counts"`
	StartedAt time.Time             `json:"started_at"`
	At        time.Time             `json:"at"`
}

// NoticeWorkflowID names the workflow sending a notice.
func NoticeWorkflowID(noticeID string) string { return "notice/" + noticeID }

// noticeActivityOptions: sending keeps trying through a SendGrid outage
// (a notice is owed, not optional), backing off to a few minutes apart; a
// notice that cannot be rendered fails at once. The activities heartbeat
// every few seconds while they run (activities.KeepAliveEvery), so a page
// held by a worker that died is given to another within the heartbeat
// timeout. (Options are not part of what a replay compares.)
var noticeActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 15 * time.Minute,
	HeartbeatTimeout:    5 * activities.KeepAliveEvery,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        5 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeNoticeInvalid},
	},
}

// NoticeWorkflow sends one approved notice: to every person in its scope in
// the snapshot, page by page over key ranges in parallel, or to the
// organisations configured for it. Its history holds keys and counts only.
func NoticeWorkflow(ctx workflow.Context, in NoticeInput) (NoticeResult, error) {
	ctx = workflow.WithActivityOptions(ctx, noticeActivityOptions)
	carry := in.Carry
	if carry == nil {
		carry = &NoticeCarry{StartedAt: workflow.Now(ctx).UTC()}
	}
	state := incident.NoticeSending
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (NoticeProgress, error) {
		return NoticeProgress{Notice: in.Spec.ID, State: state, Counts: carry.Counts, StartedAt: carry.StartedAt, At: workflow.Now(ctx).UTC()}, nil
	}); err != nil {
		return NoticeResult{}, err
	}
	finish := func(res NoticeResult, err error) (NoticeResult, error) {
		res.Notice, res.At = in.Spec.ID, workflow.Now(ctx).UTC()
		if err != nil {
			res.State, res.Error = incident.NoticeFailed, errorMessage(err)
		}
		state = res.State
		report(ctx, in.Parent, res)
		return res, err
	}

	if in.Carry == nil {
		err := workflow.ExecuteActivity(ctx, activities.PrepareNoticeName, in.Spec).Get(ctx, &carry.Prepared)
		if err != nil {
			return finish(NoticeResult{}, err)
		}
		carry.Counts.Expected = carry.Prepared.Expected
		for _, p := range activities.Partitions(carry.Prepared.Partitions) {
			carry.Partitions = append(carry.Partitions, PartitionCursor{After: p[0], Through: p[1]})
		}
	}
	if in.Spec.Notify != "individuals" {
		var org activities.OrgResult
		if err := workflow.ExecuteActivity(ctx, activities.SendOrgNoticeName, in.Spec.ID).Get(ctx, &org); err != nil {
			return finish(NoticeResult{}, err)
		}
		st := incident.NoticeSent
		if len(org.Filings) > 0 {
			st = incident.NoticeAwaitingFiling
		}
		return finish(NoticeResult{State: st, Deliveries: org.Deliveries, Filings: org.Filings}, nil)
	}

	// One chain of page activities per partition. Each page's counts are
	// the page's whole outcome, so adding them up is exact.
	var (
		running  = len(carry.Partitions)
		stopping bool
		failure  error
	)
	for i := range carry.Partitions {
		cur := &carry.Partitions[i]
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { running-- }()
			for !cur.Done && !stopping && failure == nil {
				var res activities.PageResult
				err := workflow.ExecuteActivity(ctx, activities.SendNoticePageName, activities.PageInput{
					Notice: in.Spec.ID, Partition: i, Page: cur.Page, After: cur.After, Through: cur.Through,
					PageSize: carry.Prepared.PageSize,
				}).Get(ctx, &res)
				if err != nil {
					failure = err
					return
				}
				carry.Counts = addCounts(carry.Counts, res.NoticeCounts)
				if res.Last != "" {
					cur.After = res.Last
				}
				cur.Page++
				cur.Done = res.Done
				if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
					stopping = true
				}
			}
		})
	}
	if err := workflow.Await(ctx, func() bool { return running == 0 }); err != nil {
		return NoticeResult{}, err
	}
	if failure != nil {
		return finish(NoticeResult{Counts: carry.Counts}, failure)
	}
	for _, p := range carry.Partitions {
		if !p.Done {
			return NoticeResult{}, workflow.NewContinueAsNewError(ctx, NoticeWorkflowName, NoticeInput{Spec: in.Spec, Parent: in.Parent, Carry: carry})
		}
	}
	return finish(NoticeResult{State: incident.NoticeSent, Counts: carry.Counts}, nil)
}

func addCounts(a, b incident.NoticeCounts) incident.NoticeCounts {
	a.Read += b.Read
	a.Accepted += b.Accepted
	a.Failed += b.Failed
	a.Unreachable += b.Unreachable
	a.Covered += b.Covered
	a.Batches += b.Batches
	a.Retried += b.Retried
	return a
}

// report tells the incident how the notice went. A closed incident cannot
// hear it; the notice's own result still has it.
func report(ctx workflow.Context, parent string, res NoticeResult) {
	if parent == "" {
		return
	}
	ctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	if err := workflow.SignalExternalWorkflow(ctx, parent, "", SignalNoticeDone, res).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("report notice to incident", "notice", res.Notice, "error", err)
	}
}

// errorMessage is an error's message without Temporal's wrapping.
func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// noticeChildOptions start a notice's workflow: it outlives the incident's
// run (continue-as-new) and even its close, since a notice once approved is
// owed; approving again after a failure reuses the ID.
func noticeChildOptions(noticeID string) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            NoticeWorkflowID(noticeID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
	}
}
