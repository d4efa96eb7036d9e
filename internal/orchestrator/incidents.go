package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// Incidents runs incident requests against a Temporal namespace.
type Incidents struct {
	client    client.Client
	converter converter.DataConverter
	taskQueue string
	address   string
	namespace string
	// AnswerTimeout bounds how long a request waits for a worker to answer.
	AnswerTimeout time.Duration
	now           func() time.Time
	// Random draws the random part of new incident IDs; tests replace it to
	// force a collision.
	Random func() []byte
}

// NewIncidents wraps a connected client. dc must be the client's data
// converter (it decodes memos).
func NewIncidents(c client.Client, dc converter.DataConverter, taskQueue, address, namespace string) *Incidents {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return &Incidents{client: c, converter: dc, taskQueue: taskQueue, address: address, namespace: namespace,
		AnswerTimeout: 15 * time.Second, now: time.Now, Random: newRandom}
}

// Open starts an incident and returns its status once the first assessment
// has run, so the caller sees the clocks that started.
func (o *Incidents) Open(ctx context.Context, facts incident.Facts, actor string) (incident.Status, error) {
	facts = facts.Normalize()
	if err := facts.Validate(); err != nil {
		return incident.Status{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.AnswerTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		id := incident.NewID(o.now(), o.Random())
		st, err := o.start(ctx, id, facts, actor)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) && attempt < 3 {
			continue // two incidents drew the same ID on the same day
		}
		if err != nil {
			return st, o.mapError(err, id, "open")
		}
		return st, nil
	}
}

func newRandom() []byte {
	u := uuid.New()
	return u[:]
}

// start starts the workflow, then waits for its first assessment. It is two
// calls, not one update-with-start: update-with-start on an ID already in use
// answers from the running incident, which would hide an ID collision.
func (o *Incidents) start(ctx context.Context, id string, facts incident.Facts, actor string) (incident.Status, error) {
	run, err := o.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       incident.WorkflowID(id),
		TaskQueue:                                o.taskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchState.ValueSet(string(incident.StateOpen)),
			workflows.SearchSeverity.ValueSet(string(facts.Severity)),
		),
		Memo: map[string]any{workflows.MemoTitle: facts.Title},
	}, workflows.IncidentWorkflowName, workflows.IncidentInput{ID: id, Facts: facts, OpenedBy: actor})
	if err != nil {
		return incident.Status{}, err
	}
	handle, err := o.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   run.GetID(),
		RunID:        run.GetRunID(),
		UpdateID:     "describe-at-open",
		UpdateName:   workflows.UpdateDescribe,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var st incident.Status
	if err == nil {
		err = handle.Get(ctx, &st)
	}
	if err != nil {
		return st, apperr.Wrap(apperr.Unavailable, err,
			"incident %s is open, but its first assessment did not come back: %s; `breachctl show %s` will show it",
			id, o.workerQuestion(), id)
	}
	return st, nil
}

// ListFilter narrows a list of incidents.
type ListFilter struct {
	// State is open (the default), closed, overdue or all.
	State      string
	Severities []incident.Severity
	// Limit caps the rows (0 = no cap).
	Limit int
}

// ListStates are the values ListFilter.State takes.
var ListStates = []string{"open", "overdue", "closed", "all"}

// listPageSize asks for large pages; a server caps it at its
// frontend.visibilityMaxPageSize (1,000 by default, 10,000 in breachctl dev).
const listPageSize = 10000

// List answers from Temporal's visibility store: one query, no per-incident
// calls, so it stays fast with thousands of incidents.
func (o *Incidents) List(ctx context.Context, f ListFilter) ([]incident.Summary, error) {
	query, err := listQuery(f)
	if err != nil {
		return nil, err
	}
	var out []incident.Summary
	var token []byte
	for {
		resp, err := o.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: listPageSize, NextPageToken: token,
		})
		if err != nil {
			return nil, o.mapError(err, "", "list")
		}
		for _, ex := range resp.GetExecutions() {
			out = append(out, o.summary(ex))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || (f.Limit > 0 && len(out) >= f.Limit) {
			break
		}
	}
	sortSummaries(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func listQuery(f ListFilter) (string, error) {
	clauses := []string{fmt.Sprintf("WorkflowType = '%s'", workflows.IncidentWorkflowName)}
	switch strings.ToLower(f.State) {
	case "", "open":
		clauses = append(clauses, "ExecutionStatus = 'Running'")
	case "overdue":
		clauses = append(clauses, "ExecutionStatus = 'Running'", fmt.Sprintf("%s = '%s'", workflows.SearchState.GetName(), incident.StateOverdue))
	case "closed":
		clauses = append(clauses, "ExecutionStatus != 'Running'")
	case "all":
	default:
		return "", apperr.Invalidf("--state", "%q is not one of %s", f.State, strings.Join(ListStates, ", "))
	}
	if len(f.Severities) > 0 {
		quoted := make([]string, len(f.Severities))
		for i, s := range f.Severities {
			quoted[i] = "'" + string(s) + "'" // parsed severities: no quoting issues
		}
		clauses = append(clauses, fmt.Sprintf("%s IN (%s)", workflows.SearchSeverity.GetName(), strings.Join(quoted, ", ")))
	}
	return strings.Join(clauses, " AND "), nil
}

func (o *Incidents) summary(ex *workflowpb.WorkflowExecutionInfo) incident.Summary {
	id, _ := incident.IDFromWorkflowID(ex.GetExecution().GetWorkflowId())
	s := incident.Summary{ID: id, OpenedAt: ex.GetStartTime().AsTime().UTC()}
	if ex.GetCloseTime() != nil {
		t := ex.GetCloseTime().AsTime().UTC()
		s.ClosedAt = &t
	}
	if p := ex.GetMemo().GetFields()[workflows.MemoTitle]; p != nil {
		o.decode(p, &s.Title)
	}
	fields := ex.GetSearchAttributes().GetIndexedFields()
	var state, severity string
	o.decode(fields[workflows.SearchState.GetName()], &state)
	o.decode(fields[workflows.SearchSeverity.GetName()], &severity)
	var next time.Time
	if o.decode(fields[workflows.SearchNextDeadline.GetName()], &next) && !next.IsZero() {
		next = next.UTC()
		s.NextDeadline = &next
	}
	s.State, s.Severity = incident.State(state), incident.Severity(severity)
	switch ex.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		// The run that continued; the current one is listed on its own.
	default:
		// Terminated or failed from outside breachctl (e.g. the Temporal UI).
		s.State = incident.State(strings.ToLower(strings.TrimPrefix(ex.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
	}
	if s.State == "" {
		s.State = incident.StateOpen
	}
	return s
}

// decode reads a list row's payload. Plain JSON, which search attributes
// always are and memos are unless a codec is configured, is decoded
// directly: a list of thousands of rows spends its time here otherwise.
func (o *Incidents) decode(p *commonpb.Payload, v any) bool {
	if p == nil {
		return false
	}
	if string(p.GetMetadata()[converter.MetadataEncoding]) == converter.MetadataEncodingJSON {
		return json.Unmarshal(p.GetData(), v) == nil
	}
	return o.converter.FromPayload(p, v) == nil
}

// sortSummaries puts the most pressing first: open incidents by their next
// deadline (none last), then the newest.
func sortSummaries(s []incident.Summary) {
	slices.SortStableFunc(s, func(a, b incident.Summary) int {
		if ao, bo := a.ClosedAt == nil, b.ClosedAt == nil; ao != bo {
			if ao {
				return -1
			}
			return 1
		}
		if c := incident.CompareDeadlines(a.NextDeadline, b.NextDeadline); c != 0 {
			return c
		}
		if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Show returns the whole status of one incident.
func (o *Incidents) Show(ctx context.Context, id string) (incident.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, o.AnswerTimeout)
	defer cancel()
	v, err := o.client.QueryWorkflow(ctx, incident.WorkflowID(id), "", workflows.QueryStatus)
	if err != nil {
		return incident.Status{}, o.mapError(err, id, "show")
	}
	var st incident.Status
	if err := v.Get(&st); err != nil {
		return incident.Status{}, apperr.Wrap(apperr.Internal, err, "decode the status of %s", id)
	}
	return st, nil
}

// Note adds a note to the timeline.
func (o *Incidents) Note(ctx context.Context, id, text, actor string) (incident.Entry, error) {
	var e incident.Entry
	err := o.update(ctx, id, workflows.UpdateNote, workflows.NoteRequest{Text: text, Actor: actor}, &e)
	return e, err
}

// ChangeFacts changes the facts; the clocks follow.
func (o *Incidents) ChangeFacts(ctx context.Context, id string, change incident.FactsChange, reason, actor string) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateFacts, workflows.FactsRequest{Change: change, Reason: reason, Actor: actor}, &st)
	return st, err
}

// DelayReasons records the reasons for a late notice under one obligation.
func (o *Incidents) DelayReasons(ctx context.Context, id, rule, reasons, actor string) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateDelay, workflows.DelayRequest{Rule: rule, Reasons: reasons, Actor: actor}, &st)
	return st, err
}

// Scope records a scoping snapshot: its ID and counts, never the people.
func (o *Incidents) Scope(ctx context.Context, id string, sn incident.SnapshotRef, actor string) (incident.Status, error) {
	return o.ScopeWith(ctx, id, workflows.ScopeRequest{Snapshot: sn, Actor: actor})
}

// ScopeWith records a scoping snapshot with the whole request: where the
// client wrote it, and a person's confirmation of a scoping that finds
// nobody or withdraws obligations.
func (o *Incidents) ScopeWith(ctx context.Context, id string, req workflows.ScopeRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateScope, req, &st)
	return st, err
}

// Close closes the incident with a reason.
func (o *Incidents) Close(ctx context.Context, id, reason, actor string) (incident.Status, error) {
	return o.CloseWith(ctx, id, workflows.CloseRequest{Reason: reason, Actor: actor})
}

// CloseWith closes the incident with the whole request (AcknowledgeOpen,
// once the person confirmed closing with obligations overdue).
func (o *Incidents) CloseWith(ctx context.Context, id string, req workflows.CloseRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateClose, req, &st)
	return st, err
}

func (o *Incidents) update(ctx context.Context, id, name string, arg, result any) error {
	ctx, cancel := context.WithTimeout(ctx, o.AnswerTimeout)
	defer cancel()
	handle, err := o.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   incident.WorkflowID(id),
		UpdateID:     uuid.NewString(),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = handle.Get(ctx, result)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) && o.ended(id) {
		// An update that reaches a run as it completes is "not found",
		// whatever the wording: the incident is there, and closed.
		return apperr.New(apperr.Conflict, "incident %s is closed", id)
	}
	if err != nil {
		return o.mapError(err, id, name)
	}
	return nil
}

// ended reports whether the incident's workflow exists and has ended.
func (o *Incidents) ended(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := o.client.DescribeWorkflowExecution(ctx, incident.WorkflowID(id), "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// mapError turns Temporal errors into kinds, in one place, with messages a
// person can act on.
func (o *Incidents) mapError(err error, id, op string) error {
	var kinded *apperr.Error
	if errors.As(err, &kinded) {
		return err // already says what happened
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case workflows.ErrTypeInvalid:
			return &apperr.Error{Kind: apperr.Invalid, Msg: appErr.Message()}
		case workflows.ErrTypeConflict:
			return &apperr.Error{Kind: apperr.Conflict, Msg: appErr.Message()}
		case workflows.ErrTypeUnavailable:
			return &apperr.Error{Kind: apperr.Unavailable, Msg: appErr.Message()}
		}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		if strings.Contains(notFound.Error(), "already completed") {
			return apperr.New(apperr.Conflict, "incident %s is closed", id)
		}
		return apperr.New(apperr.NotFound, "no incident %s in namespace %s", id, o.namespace)
	}
	if e := o.target().Classify(err); e != nil {
		return e
	}
	var deadline *serviceerror.DeadlineExceeded
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline) {
		return o.noWorker(op)
	}
	var exhausted *serviceerror.ResourceExhausted
	if errors.As(err, &exhausted) {
		return apperr.Wrap(apperr.Unavailable, err, "%s: %s is overloaded; try again shortly", op, o.target())
	}
	return apperr.Wrap(apperr.Internal, err, "%s", op)
}

// target is the frontend and namespace this service talks to.
func (o *Incidents) target() Target { return Target{Address: o.address, Namespace: o.namespace} }

// noWorker is the error of a request nobody answered in time: the worker
// (or, in dev, the whole process) is down, or Temporal is too busy.
func (o *Incidents) noWorker(op string) error {
	return apperr.New(apperr.Unavailable, "%s: no worker answered within %s; %s", op, o.AnswerTimeout, o.workerQuestion())
}

// workerQuestion asks whether a worker is running, of dev or of the cluster
// as the case is.
func (o *Incidents) workerQuestion() string {
	if t := o.target(); !t.Dev() {
		return fmt.Sprintf("is a `breachctl worker` running on task queue %q against %s?", o.taskQueue, t)
	}
	return fmt.Sprintf("is `breachctl dev` (or a `breachctl worker`) running on task queue %q?", o.taskQueue)
}

// Approve approves the notice under one or more obligations and starts
// sending it.
func (o *Incidents) Approve(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateApprove, req, &st)
	return st, err
}

// Filed records the reference of a report filed through a portal.
func (o *Incidents) Filed(ctx context.Context, id string, req workflows.FiledRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateFiled, req, &st)
	return st, err
}

// Acknowledge records that someone is on the incident and stops the paging
// of its escalations (of one obligation when req.Rule is set); it never
// stops a clock.
func (o *Incidents) Acknowledge(ctx context.Context, id string, req workflows.AckRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateAcknowledge, req, &st)
	return st, err
}

// Assign gives a person a role on the incident (commander, dpo, legal,
// scribe), replacing whoever held it.
func (o *Incidents) Assign(ctx context.Context, id string, req workflows.AssignRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateAssign, req, &st)
	return st, err
}

// NoticeProgress asks a notice's workflow how far sending has got; once it
// has finished, its result says.
func (o *Incidents) NoticeProgress(ctx context.Context, noticeID string) (workflows.NoticeProgress, error) {
	ctx, cancel := context.WithTimeout(ctx, o.AnswerTimeout)
	defer cancel()
	v, err := o.client.QueryWorkflow(ctx, workflows.NoticeWorkflowID(noticeID), "", workflows.QueryProgress)
	if err != nil {
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return workflows.NoticeProgress{}, apperr.New(apperr.NotFound, "no notice %s in namespace %s", noticeID, o.namespace)
		}
		return workflows.NoticeProgress{}, o.mapError(err, noticeID, "progress")
	}
	var p workflows.NoticeProgress
	if err := v.Get(&p); err != nil {
		return workflows.NoticeProgress{}, apperr.Wrap(apperr.Internal, err, "decode the progress of %s", noticeID)
	}
	return p, nil
}

// Draft records a notice for approval under a hash of its content.
func (o *Incidents) Draft(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateDraft, req, &st)
	return st, err
}

// Reject rejects a draft.
func (o *Incidents) Reject(ctx context.Context, id string, req workflows.RejectRequest) (incident.Status, error) {
	var st incident.Status
	err := o.update(ctx, id, workflows.UpdateReject, req, &st)
	return st, err
}
