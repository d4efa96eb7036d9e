package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
)

// Application error types a validator returns, so clients map them to kinds.
const (
	ErrTypeInvalid  = "Invalid"
	ErrTypeConflict = "Conflict"
	// ErrTypeUnavailable: a part the update needed (a worker's activity)
	// did not answer; trying again later can help.
	ErrTypeUnavailable = "Unavailable"
)

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalid, nil)
}

func unavailable(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeUnavailable, nil)
}

func conflict(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeConflict, nil)
}

// assessOptions: the rules are pure and fast, so a local activity; a failure
// is a bug fixed by a deploy, so it retries (capped at a minute apart) rather
// than losing the incident.
var assessOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeInvalidFacts},
	},
}

// IncidentWorkflow runs one incident from opening to close.
func IncidentWorkflow(ctx workflow.Context, in IncidentInput) (incident.Status, error) {
	r := newRun(in)
	if err := r.setup(ctx); err != nil {
		return incident.Status{}, err
	}
	return r.run(ctx)
}

// run is the workflow's private state. Everything that must survive
// continue-as-new lives in status.
type run struct {
	status incident.Status
	ready  bool // the first assessment is done
	wake   int  // bumped by handlers to re-arm the timer
	facts  workflow.Mutex
	// applying counts notice reports being applied, so continue-as-new
	// waits for them.
	applying int
	slackOn  bool // this run keeps a Slack channel (see startSlack)
	// escalateOn: this run pages people along escalation chains; pages
	// are by rule, policies the last assessment's.
	escalateOn   bool
	emailPagesOn bool // and emails the pages' email targets
	pages        map[string]escalation.Page
	policies     map[string]escalation.Policy
	onCall       map[string]string // role -> person, from the last assessment
	twoPerson    []string          // kinds of notice that need two approvers
	slackBusy    bool              // a Slack activity is running
	// oneDirectOn: a person is sent one direct message about one thing
	// (see queueDirect); topics are the things the queued ones are about,
	// by post key.
	oneDirectOn bool
	topics      map[string]string
	lawsOn      bool // notices to people carry their laws (lawsPerPersonVersion)

	search searchState // what was last upserted, to avoid needless events
}

type searchState struct {
	state    incident.State
	severity incident.Severity
	next     time.Time
	title    string
}

func newRun(in IncidentInput) *run {
	if in.Carry != nil {
		return &run{status: *in.Carry, ready: true, pages: in.Pages, policies: in.Policies, twoPerson: in.TwoPerson}
	}
	return &run{status: incident.Status{
		ID:       in.ID,
		State:    incident.StateOpen,
		Facts:    in.Facts.Normalize(),
		OpenedBy: in.OpenedBy,
	}}
}

// setup registers every handler before the first blocking call, so no
// message is ever dropped.
func (r *run) setup(ctx workflow.Context) error {
	r.facts = workflow.NewMutex(ctx)
	r.loadSearch(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (incident.Status, error) {
		return r.snapshot(), nil
	}); err != nil {
		return err
	}
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateDescribe, r.describe, func() error { return nil }},
		{UpdateNote, r.note, r.validateNote},
		{UpdateFacts, r.changeFacts, r.validateFacts},
		{UpdateClose, r.close, r.validateClose},
		{UpdateDelay, r.delayReasons, r.validateDelay},
		{UpdateScope, r.scope, r.validateScope},
		{UpdateApprove, r.approveOrDraft, r.validateApproval},
		{UpdateFiled, r.filed, r.validateFiled},
		{UpdateAcknowledge, r.acknowledge, r.validateAck},
		{UpdateAssign, r.assign, r.validateAssign},
		{UpdateDraft, r.makeDraft, r.validateDraft},
		{UpdateReject, r.reject, r.validateReject},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	r.receiveNotices(ctx)
	return nil
}

func (r *run) run(ctx workflow.Context) (incident.Status, error) {
	// Before any handler can draft a notice (validators read it too).
	r.lawsOn = workflow.GetVersion(ctx, lawsPerPersonVersion, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	// Since openEffectsVersion a run knows, before its first assessment,
	// whether it keeps a Slack channel and pages people: the clock events
	// of the opening (a deadline already passed) are then told and paged
	// by the one path that tells and pages them after a change of facts.
	// Before it, an incident opened overdue paged nobody.
	early := false
	if !r.ready {
		if err := r.status.Facts.ValidateRecorded(); err != nil {
			return incident.Status{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, nil)
		}
		early = workflow.GetVersion(ctx, openEffectsVersion, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	}
	if early {
		r.startEffects(ctx)
	}
	if !r.ready {
		if err := r.open(ctx); err != nil {
			return incident.Status{}, err
		}
	}
	r.upsertSearch(ctx)
	if !early {
		r.startEffects(ctx)
	}
	for r.status.State != incident.StateClosed {
		gen := r.wake
		woken := func() bool { return r.wake != gen }
		next, ok := incident.NextEvent(r.status.Clocks)
		if page, pok := r.nextPage(workflow.Now(ctx)); pok && (!ok || page.Before(next)) {
			next, ok = page, true
		}
		if ok {
			if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, wait, woken); err != nil {
					return incident.Status{}, err
				}
			}
		} else if err := workflow.Await(ctx, woken); err != nil {
			return incident.Status{}, err
		}
		r.advance(ctx)
		r.firePages(ctx)
		if r.status.State != incident.StateClosed && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return r.continueAsNew(ctx)
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return incident.Status{}, err
	}
	r.settleSlack(ctx)
	r.archive(ctx)
	return r.snapshot(), nil
}

// openEffectsVersion marks the runs that start their Slack channel and
// their paging before the first assessment (see run).
const openEffectsVersion = "open-clock-effects"

// startEffects starts what tells people of clock events: the Slack
// channel, paging along escalation chains, and page emails.
func (r *run) startEffects(ctx workflow.Context) {
	r.startSlack(ctx)
	r.escalateOn = workflow.GetVersion(ctx, escalationVersion, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	r.startEmailPages(ctx)
	r.oneDirectOn = workflow.GetVersion(ctx, oneDirectVersion, workflow.DefaultVersion, 1) != workflow.DefaultVersion
}

// registerArchiveVersion marks incidents that leave their final record in
// the store's breach register when they close.
const registerArchiveVersion = "register-archive"

// archiveOptions: the register must get the record, so the workflow keeps
// trying through a store outage (up to a day) rather than ending without it.
var archiveOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Minute,
	},
}

// archive records the closed incident in the breach register, which
// outlives the namespace's retention of this workflow.
func (r *run) archive(ctx workflow.Context) {
	if workflow.GetVersion(ctx, registerArchiveVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	actx := workflow.WithActivityOptions(ctx, archiveOptions)
	if err := workflow.ExecuteActivity(actx, activities.ArchiveIncidentName, activities.ArchiveInput{Status: r.snapshot()}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("the breach register did not get the closed incident", "incident", r.status.ID, "error", err)
	}
}

// open records the opening and starts the first clocks.
func (r *run) open(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	r.status.OpenedAt = now
	if err := r.status.Facts.ValidateRecorded(); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, nil)
	}
	r.status.Timeline.Append(now, incident.EntryOpened, r.status.OpenedBy, "", "Incident opened")
	// A change of facts that arrives while the first assessment runs waits
	// for it, so an older answer never overwrites a newer one.
	if err := r.facts.Lock(ctx); err != nil {
		return err
	}
	defer r.facts.Unlock()
	if err := r.assess(ctx, ""); err != nil {
		return err
	}
	r.takeOnCall(now)
	r.ready = true
	return nil
}

// assess asks the rules for the obligations of the current facts and
// reconciles the clocks with them, recording every change with its cause.
func (r *run) assess(ctx workflow.Context, cause string) error {
	var res activities.AssessResult
	lctx := workflow.WithLocalActivityOptions(ctx, assessOptions)
	err := workflow.ExecuteLocalActivity(lctx, activities.AssessName, activities.AssessInput{Facts: r.status.Facts, NoticesSent: r.noticesSent()}).Get(ctx, &res)
	if err != nil {
		return fmt.Errorf("assess obligations: %w", err)
	}
	now := workflow.Now(ctx).UTC()
	clocks, events := incident.Reconcile(r.status.Clocks, res.Obligations, now)
	r.status.Clocks = clocks
	r.status.RulesetVersion = res.RulesetVersion
	assessed := res.Risk
	r.status.Risk = &assessed
	r.status.NotTriggered = res.NotTriggered
	r.onCall = res.OnCall
	r.twoPerson = res.TwoPerson
	if res.Policies != nil {
		r.policies = res.Policies
	}
	for _, e := range events {
		r.status.Timeline.AppendClockEvent(e, cause)
	}
	r.advance(ctx)
	return nil
}

// advance fires whatever is due now on every clock.
func (r *run) advance(ctx workflow.Context) {
	now := workflow.Now(ctx).UTC()
	logger := workflow.GetLogger(ctx)
	changed := false
	defer func() {
		if changed {
			r.voidDrafts(now, "a deadline passed, and a late notice says so")
		}
	}()
	for i := range r.status.Clocks {
		for _, e := range r.status.Clocks[i].Advance(now) {
			changed = changed || e.Kind == incident.EventOverdue
			r.status.Timeline.AppendClockEvent(e, "")
			r.slackClockEvent(e)
			r.startPage(e)
			// Rule and times only: the log never carries incident text.
			logger.Info("clock event", "incident", r.status.ID, "rule", e.Rule, "event", string(e.Kind), "due", e.Due)
		}
	}
	r.upsertSearch(ctx)
}

func (r *run) snapshot() incident.Status {
	s := r.status
	s.Refresh()
	return s
}

// loadSearch reads the search attributes the run started with (set by the
// client at start, or carried over by continue-as-new), so the first upsert
// writes only what differs. The memo title is set with them at start.
func (r *run) loadSearch(ctx workflow.Context) {
	sa := workflow.GetTypedSearchAttributes(ctx)
	state, _ := sa.GetKeyword(SearchState)
	severity, _ := sa.GetKeyword(SearchSeverity)
	next, _ := sa.GetTime(SearchNextDeadline)
	r.search = searchState{state: incident.State(state), severity: incident.Severity(severity), next: next}
	if len(workflow.GetInfo(ctx).Memo.GetFields()) > 0 {
		r.search.title = r.status.Facts.Title
	}
}

// upsertSearch keeps the search attributes and memo current, writing only
// what changed.
func (r *run) upsertSearch(ctx workflow.Context) {
	s := r.snapshot()
	var next time.Time
	if s.NextDeadline != nil {
		next = *s.NextDeadline
	}
	var updates []temporal.SearchAttributeUpdate
	if s.State != r.search.state {
		updates = append(updates, SearchState.ValueSet(string(s.State)))
	}
	if s.Facts.Severity != r.search.severity {
		updates = append(updates, SearchSeverity.ValueSet(string(s.Facts.Severity)))
	}
	if !next.Equal(r.search.next) {
		if next.IsZero() {
			updates = append(updates, SearchNextDeadline.ValueUnset())
		} else {
			updates = append(updates, SearchNextDeadline.ValueSet(next))
		}
	}
	if len(updates) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
			workflow.GetLogger(ctx).Error("upsert search attributes", "incident", s.ID, "error", err)
		}
	}
	if s.Facts.Title != r.search.title {
		if err := workflow.UpsertMemo(ctx, map[string]any{MemoTitle: s.Facts.Title}); err != nil {
			workflow.GetLogger(ctx).Error("upsert memo", "incident", s.ID, "error", err)
		}
	}
	r.search = searchState{state: s.State, severity: s.Facts.Severity, next: next, title: s.Facts.Title}
}

func (r *run) continueAsNew(ctx workflow.Context) (incident.Status, error) {
	if err := workflow.Await(ctx, func() bool { return r.applying == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
		return incident.Status{}, err
	}
	// A notice report that arrived and was not read yet would be lost.
	ch := workflow.GetSignalChannel(ctx, SignalNoticeDone)
	for {
		var res NoticeResult
		if !ch.ReceiveAsync(&res) {
			break
		}
		r.noticeDone(ctx, res)
	}
	carry := r.status
	return incident.Status{}, workflow.NewContinueAsNewError(ctx, IncidentWorkflowName, IncidentInput{ID: carry.ID, Carry: &carry, Pages: r.pages, Policies: r.policies, TwoPerson: r.twoPerson})
}

// describe answers once the first assessment is done, so `open` can print
// the clocks it started.
func (r *run) describe(ctx workflow.Context) (incident.Status, error) {
	if err := workflow.Await(ctx, func() bool { return r.ready }); err != nil {
		return incident.Status{}, err
	}
	return r.snapshot(), nil
}

func (r *run) validateOpen() error {
	if r.status.State == incident.StateClosed {
		return conflict("incident %s is closed", r.status.ID)
	}
	return nil
}

func validateActor(actor string) error {
	if strings.TrimSpace(actor) == "" {
		return invalid("actor: who is acting is required")
	}
	return nil
}

func (r *run) validateNote(req NoteRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	text := strings.TrimSpace(req.Text)
	switch {
	case text == "":
		return invalid("text: a note cannot be empty")
	case len(text) > MaxNoteLength:
		return invalid("text: a note is at most %d characters; this one is %d", MaxNoteLength, len(text))
	}
	return validateActor(req.Actor)
}

func (r *run) note(ctx workflow.Context, req NoteRequest) (incident.Entry, error) {
	now := workflow.Now(ctx).UTC()
	return r.status.Timeline.Append(now, incident.EntryNote, req.Actor, "", strings.TrimSpace(req.Text)), nil
}

func (r *run) validateFacts(req FactsRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if len(req.Reason) > MaxReasonLength {
		return invalid("reason: at most %d characters", MaxReasonLength)
	}
	after := req.Change.Apply(r.status.Facts)
	if err := after.Validate(); err != nil {
		return invalid("%s", err.Error())
	}
	if len(incident.ChangedFields(r.status.Facts, after)) == 0 {
		return invalid("change: nothing differs from the current facts")
	}
	return nil
}

func (r *run) changeFacts(ctx workflow.Context, req FactsRequest) (incident.Status, error) {
	// One change at a time: each is assessed against the facts it changed.
	if err := r.facts.Lock(ctx); err != nil {
		return incident.Status{}, err
	}
	defer r.facts.Unlock()
	return r.changeFactsLocked(ctx, req)
}

// changeFactsLocked applies a change of facts; the caller holds r.facts.
func (r *run) changeFactsLocked(ctx workflow.Context, req FactsRequest) (incident.Status, error) {
	if r.status.State == incident.StateClosed {
		return incident.Status{}, conflict("incident %s was closed", r.status.ID)
	}
	before := r.status.Facts
	after := req.Change.Apply(before)
	fields := incident.ChangedFields(before, after)
	if len(fields) == 0 {
		return r.snapshot(), nil // an identical change queued behind another
	}
	r.status.Facts = after
	text := "Facts changed: " + strings.Join(fields, ", ")
	if reason := strings.TrimSpace(req.Reason); reason != "" {
		text += ". Reason: " + reason
	}
	r.status.Timeline.Append(workflow.Now(ctx).UTC(), incident.EntryFactsChanged, req.Actor, "", text)
	defer r.voidDrafts(workflow.Now(ctx).UTC(), "the facts changed ("+strings.Join(fields, ", ")+")")
	if err := r.assess(ctx, incident.ChangeCause(fields)); err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeInvalidFacts {
			return incident.Status{}, invalid("%s", appErr.Message())
		}
		return incident.Status{}, err
	}
	r.wake++
	return r.snapshot(), nil
}

func (r *run) clockIndex(rule string) int {
	for i, c := range r.status.Clocks {
		if c.Rule == rule {
			return i
		}
	}
	return -1
}

func (r *run) validateDelay(req DelayRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	i := r.clockIndex(req.Rule)
	if i < 0 {
		return invalid("rule: incident %s has no obligation %q", r.status.ID, req.Rule)
	}
	if r.status.Clocks[i].State != incident.ClockOverdue {
		return conflict("%s is %s, not overdue: reasons for a delay are recorded once a deadline has passed", req.Rule, r.status.Clocks[i].State)
	}
	reasons := strings.TrimSpace(req.Reasons)
	switch {
	case reasons == "":
		return invalid("reasons: give the reasons for the delay")
	case len(reasons) > MaxReasonLength:
		return invalid("reasons: at most %d characters", MaxReasonLength)
	}
	return validateActor(req.Actor)
}

func (r *run) delayReasons(ctx workflow.Context, req DelayRequest) (incident.Status, error) {
	i := r.clockIndex(req.Rule)
	reasons := strings.TrimSpace(req.Reasons)
	r.status.Clocks[i].DelayReasons = reasons
	r.status.Timeline.Append(workflow.Now(ctx).UTC(), incident.EntryKind(incident.EventDelayReasons), req.Actor, req.Rule,
		"Reasons for the delay recorded: "+reasons)
	return r.snapshot(), nil
}

func (r *run) validateScope(req ScopeRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	sn := req.Snapshot
	if !strings.HasPrefix(sn.ID, "snap_") {
		return invalid("snapshot: %q is not a snapshot ID", sn.ID)
	}
	for _, s := range r.status.Snapshots {
		if s.ID == sn.ID {
			return conflict("snapshot %s is already recorded", sn.ID)
		}
	}
	after := r.status.Facts
	after.Affected, after.DataCategories = sn.Affected, sn.Categories
	if err := after.Normalize().Validate(); err != nil {
		return invalid("snapshot: %s", err.Error())
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if sn.People == 0 && !req.Confirm {
		lost := incident.ChangedFields(r.status.Facts, scopeChange(sn).Apply(r.status.Facts))
		if open := r.openObligations(); len(lost) > 0 || len(open) > 0 {
			return conflict("%s", scopedNobody(req, lost, open))
		}
	}
	return nil
}

// scopedNobody says why a scoping that found nobody is refused: what it
// would take away, and why it may have found nobody.
func scopedNobody(req ScopeRequest, lost, open []string) string {
	sn := req.Snapshot
	why := fmt.Sprintf("%d rows were outside it (their data deleted before it began, or written after it ended)", req.NotExposed)
	if req.Rows > 0 {
		why = fmt.Sprintf("of %d rows read, %d were outside it (their data deleted before it began, or written after it ended)", req.Rows, req.NotExposed)
	}
	why += fmt.Sprintf(" and %d were rejected", sn.Rejected)
	what := "the facts"
	if len(lost) > 0 {
		what = "the facts a person entered (" + strings.Join(lost, ", ") + ")"
	}
	text := fmt.Sprintf("scoping found 0 people in the window %s; %s. Taking snapshot %s would replace %s with none", sn.Window, why, sn.ID, what)
	if len(open) > 0 {
		text += " and assess the obligations open now again on nothing: " + strings.Join(open, "; ")
	}
	return text + ". The incident keeps its facts and clocks: check the window and the sources (breachctl scope --window START/END), " +
		"or, if nobody was affected, confirm the scoping (breachctl scope --confirm; confirm in the request)"
}

// scopeChange is what a snapshot does to the facts: the scoped counts
// replace the estimate, the categories found replace the suspected ones,
// and the regions become those where the scoped people live (a person can
// add others back).
func scopeChange(sn incident.SnapshotRef) incident.FactsChange {
	affected, categories := sn.Affected, sn.Categories
	if affected == nil {
		affected = []incident.Residents{}
	}
	if categories == nil {
		categories = []string{}
	}
	regions := []string{}
	return incident.FactsChange{Affected: &affected, DataCategories: &categories, Regions: &regions, ReplaceAffected: true}
}

// scopeCheckVersion marks the runs whose scoping checks the snapshot in
// the workers' store first, and asks a person to confirm a scoping that
// withdraws obligations.
const scopeCheckVersion = "scope-check"

// checkSnapshotOptions: a look-up in the store, answered in a moment; a
// store that does not answer fails the scoping for the person to retry,
// rather than holding it.
var checkSnapshotOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumAttempts:        3,
		NonRetryableErrorTypes: []string{activities.ErrTypeSnapshotUnusable},
	},
}

// scope takes a snapshot's counts into the facts (scopeChange). The
// obligations follow, on the record. Since scopeCheckVersion the snapshot
// must be in the store the workers read, with the counts reported, and a
// scoping that would withdraw an obligation needs a person's confirmation.
func (r *run) scope(ctx workflow.Context, req ScopeRequest) (incident.Status, error) {
	if workflow.GetVersion(ctx, scopeCheckVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		r.recordScope(ctx, req)
		return r.changeFacts(ctx, r.scopeFacts(req))
	}
	sn := req.Snapshot
	var checked activities.CheckSnapshotResult
	actx := workflow.WithActivityOptions(ctx, checkSnapshotOptions)
	err := workflow.ExecuteActivity(actx, activities.CheckSnapshotName, activities.CheckSnapshotInput{Snapshot: sn, Store: req.Store}).Get(ctx, &checked)
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrTypeSnapshotUnusable {
			return incident.Status{}, invalid("%s", app.Message())
		}
		return incident.Status{}, unavailable("snapshot %s could not be looked up in the workers' store: %v; try again", sn.ID, err)
	}
	if err := r.facts.Lock(ctx); err != nil {
		return incident.Status{}, err
	}
	defer r.facts.Unlock()
	if r.status.State == incident.StateClosed {
		return incident.Status{}, conflict("incident %s was closed", r.status.ID)
	}
	if slices.ContainsFunc(r.status.Snapshots, func(s incident.SnapshotRef) bool { return s.ID == sn.ID }) {
		return incident.Status{}, conflict("snapshot %s is already recorded", sn.ID)
	}
	fr := r.scopeFacts(req)
	if !req.Confirm {
		withdrawn, err := r.wouldWithdraw(ctx, fr.Change)
		if err != nil {
			return incident.Status{}, err
		}
		if len(withdrawn) > 0 {
			return incident.Status{}, conflict("snapshot %s (%d people: %s) would withdraw %s: the people it found no longer trigger %s. "+
				"The incident keeps its facts and clocks: check the window and the sources, or, if that is right, confirm the scoping "+
				"(breachctl scope --confirm; confirm in the request)",
				sn.ID, sn.People, residentsText(sn.Affected), strings.Join(withdrawn, ", "), plural(len(withdrawn), "it", "them"))
		}
	}
	r.recordScope(ctx, req)
	return r.changeFactsLocked(ctx, fr)
}

// recordScope puts the snapshot on the incident and the timeline.
func (r *run) recordScope(ctx workflow.Context, req ScopeRequest) {
	sn := req.Snapshot
	r.status.Snapshots = append(r.status.Snapshots, sn)
	text := fmt.Sprintf("Scoped %d people in snapshot %s (systems %s, window %s; %d rows rejected)",
		sn.People, sn.ID, strings.Join(sn.Systems, ","), sn.Window, sn.Rejected)
	if req.Confirm {
		text += "; confirmed by " + req.Actor + " though it may find nobody or withdraw obligations"
	}
	r.status.Timeline.Append(workflow.Now(ctx).UTC(), incident.EntryKind("scoped"), req.Actor, "", text)
}

func (r *run) scopeFacts(req ScopeRequest) FactsRequest {
	return FactsRequest{Change: scopeChange(req.Snapshot), Actor: req.Actor, Reason: "scoping snapshot " + req.Snapshot.ID}
}

// wouldWithdraw assesses the facts a change makes, without applying
// them, and names the open obligations it would withdraw.
func (r *run) wouldWithdraw(ctx workflow.Context, change incident.FactsChange) ([]string, error) {
	var res activities.AssessResult
	lctx := workflow.WithLocalActivityOptions(ctx, assessOptions)
	err := workflow.ExecuteLocalActivity(lctx, activities.AssessName, activities.AssessInput{Facts: change.Apply(r.status.Facts), NoticesSent: r.noticesSent()}).Get(ctx, &res)
	if err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeInvalidFacts {
			return nil, invalid("%s", appErr.Message())
		}
		return nil, fmt.Errorf("assess obligations: %w", err)
	}
	_, events := incident.Reconcile(r.status.Clocks, res.Obligations, workflow.Now(ctx).UTC())
	var out []string
	for _, e := range events {
		if e.Kind == incident.EventWithdrawn {
			out = append(out, e.Rule)
		}
	}
	return out, nil
}

func residentsText(rs []incident.Residents) string {
	if len(rs) == 0 {
		return "nowhere"
	}
	var parts []string
	for _, a := range rs {
		parts = append(parts, fmt.Sprintf("%s %d", a.Region, a.Count))
	}
	return strings.Join(parts, ", ")
}

func (r *run) validateClose(req CloseRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		return invalid("reason: closing an incident needs a reason, for the breach register")
	case len(reason) > MaxReasonLength:
		return invalid("reason: at most %d characters", MaxReasonLength)
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if overdue := r.openObligations(incident.ClockOverdue); len(overdue) > 0 && !req.AcknowledgeOpen {
		them := plural(len(overdue), "it", "them")
		return conflict("incident %s has %s past %s deadline with no notice given: %s. Closing leaves %s unmet on the record: "+
			"give the notice first, or confirm closing with %s open (breachctl close --yes; acknowledge_open in the request)",
			r.status.ID, plural(len(overdue), "an obligation", fmt.Sprintf("%d obligations", len(overdue))), plural(len(overdue), "its", "their"),
			strings.Join(overdue, "; "), them, them)
	}
	return nil
}

// openObligations describes the clocks still open (of one state, or all
// open ones when none is given): rule, state, and the deadline.
func (r *run) openObligations(only ...incident.ClockState) []string {
	var out []string
	for _, c := range r.status.Clocks {
		if !c.State.Open() || (len(only) > 0 && !slices.Contains(only, c.State)) {
			continue
		}
		text := c.Rule + " (" + string(c.State)
		if c.Due != nil {
			text += ", due " + c.Due.UTC().Format(time.RFC3339)
		} else {
			text += ", no fixed deadline"
		}
		if n := r.notice(c.NoticeID); n != nil {
			text += ", notice " + n.ID + " " + string(n.State)
		} else {
			text += ", no notice given"
		}
		out = append(out, text+")")
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (r *run) close(ctx workflow.Context, req CloseRequest) (incident.Status, error) {
	if r.status.State == incident.StateClosed {
		return r.snapshot(), nil
	}
	now := workflow.Now(ctx).UTC()
	// The obligations left open, as they stood: the close entry (and so
	// the breach register) says which went unmet, and in what state.
	open := r.openObligations()
	for i := range r.status.Clocks {
		if e, ok := r.status.Clocks[i].Stop(now); ok {
			r.status.Timeline.AppendClockEvent(e, "")
		}
	}
	reason := strings.TrimSpace(req.Reason)
	r.status.State = incident.StateClosed
	r.status.ClosedAt = &now
	r.status.CloseReason = reason
	text := "Incident closed: " + reason
	if len(open) > 0 {
		text += ". Obligations open at the close: " + strings.Join(open, "; ")
		if req.AcknowledgeOpen {
			text += ". " + req.Actor + " confirmed closing with them open"
		}
	}
	r.status.Timeline.Append(now, incident.EntryClosed, req.Actor, "", text)
	r.upsertSearch(ctx)
	r.wake++
	return r.snapshot(), nil
}
