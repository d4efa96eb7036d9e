package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/worker"
	"github.com/breachctl/breachctl/workflows"
)

// DrillActor closes an incident the scenario left open when the drill ends.
const DrillActor = "drill"

// Options are what a drill takes from outside its scenario.
type Options struct {
	Ruleset *rules.Ruleset // nil: the built-in rules
	// Reminders are the configured reminder offsets (nil: the defaults); a
	// scenario's own reminders take precedence.
	Reminders []incident.Duration
	// Escalation are the escalation policies to rehearse (nil: the
	// built-in one, the incident channel).
	Escalation *escalation.Config
}

// Run plays the scenario in virtual time and reports what happened. A
// refused action is part of the rehearsal, not an error: it is in the report.
func Run(s Scenario, opts Options) (Report, error) {
	rs := opts.Ruleset
	if rs == nil {
		var err error
		if rs, err = rules.Builtin(); err != nil {
			return Report{}, err
		}
	}
	reminders := opts.Reminders
	if s.Reminders != nil {
		reminders = s.Reminders
	}

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(s.Start)
	env.SetTestTimeout(5 * time.Minute) // wall time; a drill takes milliseconds
	worker.Register(env, worker.Deps{Rules: &activities.Rules{Ruleset: rs, Config: rules.Config{Reminders: reminders}, Escalation: opts.Escalation}})
	send := &standIn{now: env.Now, portals: s.Portals, specs: map[string]activities.NoticeSpec{}}
	send.register(env)

	id := incident.NewID(s.Start, []byte{0xd1, 0x11, 0x00, 0x00})
	d := &drill{env: env, start: s.Start, outcomes: make([]Outcome, len(s.Actions))}
	for i, a := range s.Actions {
		d.outcomes[i] = Outcome{Offset: Offset(a.At), At: s.Start.Add(a.At), Line: a.Line, Do: a.Do, Actor: a.Actor, Rule: a.Rule,
			Result: ResultNotRun}
		env.RegisterDelayedCallback(func() { d.send(i, a.Update, d.resolveDraft(a)) }, a.At)
	}
	closedByDrill := false
	env.RegisterDelayedCallback(func() {
		st, err := d.status()
		if err != nil || st.State == incident.StateClosed {
			return
		}
		closedByDrill = true
		d.send(-1, workflows.UpdateClose, workflows.CloseRequest{
			Reason: fmt.Sprintf("the drill ended at %s with the incident still open", Offset(s.Until)), Actor: DrillActor,
			// The obligations left open are on the record of the close.
			AcknowledgeOpen: true,
		})
	}, s.Until)

	env.ExecuteWorkflow(workflows.IncidentWorkflow, workflows.IncidentInput{ID: id, Facts: s.Facts, OpenedBy: s.OpenedBy})
	if !env.IsWorkflowCompleted() {
		return Report{}, apperr.New(apperr.Internal, "the incident workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		return Report{}, fmt.Errorf("the incident workflow failed: %w", err)
	}
	var final incident.Status
	if err := env.GetWorkflowResult(&final); err != nil {
		return Report{}, fmt.Errorf("read the incident's final status: %w", err)
	}
	if d.closeErr != "" {
		return Report{}, apperr.New(apperr.Internal, "the drill could not close the incident at its end: %s", d.closeErr)
	}
	end := s.Start
	if final.ClosedAt != nil {
		end = *final.ClosedAt
	}
	for i := range d.outcomes {
		if d.outcomes[i].Result == ResultNotRun {
			d.outcomes[i].Error = fmt.Sprintf("the incident was closed at %s, before this action", Offset(end.Sub(s.Start)))
		}
	}
	return newReport(s, id, final, d.outcomes, closedByDrill), nil
}

// drill sends the scripted updates and records how each was answered.
type drill struct {
	env      *testsuite.TestWorkflowEnvironment
	start    time.Time
	mu       sync.Mutex
	outcomes []Outcome
	closeErr string // the drill's own close at the end was refused
}

// send sends an update; i is the action's index, -1 for the drill's own
// close at the end.
func (d *drill) send(i int, name string, req any) {
	answered := func(err error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if i < 0 {
			if err != nil {
				d.closeErr = message(err)
			}
			return
		}
		o := &d.outcomes[i]
		o.Result, o.Error = ResultAccepted, ""
		if err != nil {
			o.Result, o.Error = ResultRefused, message(err)
		}
	}
	d.mu.Lock()
	if i >= 0 {
		d.outcomes[i].Result = ResultPending
	}
	d.mu.Unlock()
	d.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   answered,
		OnComplete: func(_ any, err error) { answered(err) },
	}, req)
}

// resolveDraft turns "latest" into the hash of the newest pending draft
// under the action's rules, at the moment the person acts.
func (d *drill) resolveDraft(a Action) any {
	latest := func(rules []string) string {
		st, err := d.status()
		if err != nil {
			return "latest"
		}
		for i := len(st.Drafts) - 1; i >= 0; i-- {
			dr := st.Drafts[i]
			if dr.State == incident.DraftPending && (len(rules) == 0 || slices.Contains(dr.Rules, rules[0])) {
				return dr.Hash
			}
		}
		return "latest" // refused by the workflow: no such draft
	}
	switch req := a.Request.(type) {
	case workflows.ApproveRequest:
		if req.Draft == "latest" {
			req.Draft = latest(req.Rules)
		}
		return req
	case workflows.RejectRequest:
		if req.Draft == "latest" {
			var rules []string
			if a.Rule != "" {
				rules = []string{a.Rule}
			}
			req.Draft = latest(rules)
		}
		return req
	}
	return a.Request
}

func (d *drill) status() (incident.Status, error) {
	v, err := d.env.QueryWorkflow(workflows.QueryStatus)
	if err != nil {
		return incident.Status{}, err
	}
	var s incident.Status
	return s, v.Get(&s)
}

// message is an error's message without Temporal's wrapping: what a person
// acting would read.
func message(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// standIn pretends every notice goes out at once: people in scope are all
// accepted for delivery, organisations emailed, and the obligations named
// in Portals get a report to file instead.
type standIn struct {
	now     func() time.Time
	portals []string
	mu      sync.Mutex
	specs   map[string]activities.NoticeSpec
}

func (f *standIn) register(r worker.Registry) {
	r.RegisterActivityWithOptions(f.prepare, activity.RegisterOptions{Name: activities.PrepareNoticeName})
	r.RegisterActivityWithOptions(f.sendPage, activity.RegisterOptions{Name: activities.SendNoticePageName})
	r.RegisterActivityWithOptions(f.sendOrg, activity.RegisterOptions{Name: activities.SendOrgNoticeName})
	r.RegisterActivityWithOptions(f.tally, activity.RegisterOptions{Name: activities.TallyNoticeName})
}

// tally counts as sendPage sent: everyone in scope accepted.
func (f *standIn) tally(_ context.Context, id string) (activities.TallyResult, error) {
	f.mu.Lock()
	spec := f.specs[id]
	f.mu.Unlock()
	n := spec.Data.AffectedCount
	return activities.TallyResult{Accepted: n, Batches: (n + 999) / 1000, Requests: (n + 999) / 1000}, nil
}

func (f *standIn) prepare(_ context.Context, spec activities.NoticeSpec) (activities.PrepareResult, error) {
	f.mu.Lock()
	f.specs[spec.ID] = spec
	f.mu.Unlock()
	if spec.Notify == "individuals" {
		n := spec.Data.AffectedCount
		return activities.PrepareResult{Expected: n, PageSize: max(n, 1), Partitions: 1}, nil
	}
	return activities.PrepareResult{Partitions: 1, Recipients: []activities.OrgRecipient{{Name: recipient(spec)}}}, nil
}

func (f *standIn) sendPage(_ context.Context, in activities.PageInput) (activities.PageResult, error) {
	f.mu.Lock()
	spec := f.specs[in.Notice]
	f.mu.Unlock()
	n := spec.Data.AffectedCount
	res := activities.PageResult{Last: in.Through, Done: true}
	res.Read, res.Accepted, res.Batches = n, n, (n+999)/1000
	return res, nil
}

func (f *standIn) sendOrg(_ context.Context, id string) (activities.OrgResult, error) {
	f.mu.Lock()
	spec := f.specs[id]
	f.mu.Unlock()
	to := recipient(spec)
	if slices.ContainsFunc(spec.Rules, func(r string) bool { return slices.Contains(f.portals, r) }) {
		return activities.OrgResult{Filings: []incident.Filing{{Recipient: to, Portal: "the authority's portal (drill)", Document: "(drill: no document)"}}}, nil
	}
	return activities.OrgResult{Deliveries: []incident.OrgDelivery{{
		Recipient: to, Emails: []string{"drill@example.invalid"}, MessageID: "drill-" + id, SentAt: f.now().UTC(),
	}}}, nil
}

func recipient(spec activities.NoticeSpec) string {
	if spec.Data.Recipient != "" {
		return spec.Data.Recipient
	}
	return spec.Notify + " (" + spec.Jurisdiction + ")"
}
