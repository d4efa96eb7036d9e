package workflows

import (
	"errors"
	"fmt"
	"strings"
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
//
// Eager execution is off: a page goes through the task queue, so every
// worker polling it takes pages of one notice, not only the worker that
// runs the notice's workflow task.
var noticeActivityOptions = workflow.ActivityOptions{
	DisableEagerExecution: true,
	StartToCloseTimeout:   15 * time.Minute,
	HeartbeatTimeout:      5 * activities.KeepAliveEvery,
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
		res := NoticeResult{State: st, Deliveries: org.Deliveries, Filings: org.Filings}
		if workflow.GetVersion(ctx, metMeansGivenVersion, workflow.DefaultVersion, 1) == 1 {
			res.State, res.Error = orgNoticeState(org)
		}
		return finish(res, nil)
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
	if workflow.GetVersion(ctx, metMeansGivenVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return finish(NoticeResult{State: incident.NoticeSent, Counts: carry.Counts}, nil)
	}
	// The counts people see are the ledger's: one query, the same number
	// in every view. The pages' sums only follow progress.
	var tally activities.TallyResult
	if err := workflow.ExecuteActivity(ctx, activities.TallyNoticeName, in.Spec.ID).Get(ctx, &tally); err != nil {
		return finish(NoticeResult{Counts: carry.Counts}, err)
	}
	carry.Counts = tally.Over(carry.Counts)
	res := NoticeResult{State: incident.NoticeSent, Counts: carry.Counts}
	if short := carry.Counts.Shortfall(); short > 0 {
		// Met means given: people in scope who were refused or have no
		// usable address were not given the notice.
		res.State = incident.NoticeIncomplete
		res.Error = fmt.Sprintf("%d of %d people in scope were not given the notice (%d refused by SendGrid, %d without a usable address)",
			short, carry.Counts.Read, carry.Counts.Failed, carry.Counts.Unreachable)
	}
	return finish(res, nil)
}

// metMeansGivenVersion marks the runs in which only a notice given meets a
// clock: a notice to people with everyone in scope accepted for delivery,
// to organisations with every one reached (its email accepted, or its
// report filed). Before it, a notice attempted met its clock.
const metMeansGivenVersion = "met-means-given"

// orgNoticeState is how a notice to organisations stands once sent: sent
// when every email was accepted, awaiting filing while a portal report is
// due, failed when nobody was reached, incomplete when some were.
func orgNoticeState(org activities.OrgResult) (incident.NoticeState, string) {
	var failed []string
	for _, d := range org.Deliveries {
		if d.Error != "" {
			failed = append(failed, fmt.Sprintf("%s: %s", d.Recipient, d.Error))
		}
	}
	switch {
	case len(org.Filings) > 0:
		if len(failed) > 0 {
			return incident.NoticeAwaitingFiling, "email refused, to " + strings.Join(failed, "; ")
		}
		return incident.NoticeAwaitingFiling, ""
	case len(failed) == 0:
		return incident.NoticeSent, ""
	case len(failed) == len(org.Deliveries):
		return incident.NoticeFailed, "email refused, to " + strings.Join(failed, "; ")
	}
	return incident.NoticeIncomplete, "email refused, to " + strings.Join(failed, "; ")
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
