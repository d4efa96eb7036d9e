package activities

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/internal/rules"
)

// AssessName is the registered name of Rules.Assess; it never changes.
const AssessName = "AssessObligations"

// ErrTypeInvalidFacts is the application error type of facts the rules reject.
const ErrTypeInvalidFacts = "InvalidFacts"

// AssessInput asks which obligations a set of facts triggers.
type AssessInput struct {
	Facts incident.Facts `json:"facts"`
	// NoticesSent starts the clocks that run from another notice.
	NoticesSent map[string]string `json:"notices_sent,omitempty"` // rule -> RFC 3339
}

// AssessResult is the obligations with the ruleset that produced them.
type AssessResult struct {
	Obligations    []incident.Obligation `json:"obligations"`
	NotTriggered   []rules.NotTriggered  `json:"not_triggered"`
	Risk           risk.Assessment       `json:"risk"`
	RulesetVersion string                `json:"ruleset_version"`
	// Policies are the escalation chains of the obligations, by rule: in
	// the result, so the workflow follows what was configured when the
	// obligation was assessed.
	Policies map[string]escalation.Policy `json:"policies,omitempty"`
	// OnCall is who takes each role on a new incident, from configuration
	// (role -> slack:U... or email:...).
	OnCall map[string]string `json:"on_call,omitempty"`
	// TwoPerson lists the kinds of notice (authority, ...) that need two
	// approvers, from configuration.
	TwoPerson []string `json:"two_person,omitempty"`
}

// Rules runs the rules engine. It reads no outside state, so it is safe to
// retry and cheap enough to run as a local activity.
type Rules struct {
	Ruleset *rules.Ruleset
	Config  rules.Config
	// Escalation chooses each obligation's chain; nil pages the incident
	// channel only (escalation.DefaultPolicy).
	Escalation *escalation.Config
}

// Assess works out the obligations for the facts.
func (r *Rules) Assess(_ context.Context, in AssessInput) (AssessResult, error) {
	facts := in.Facts.Normalize()
	// Facts an incident holds: the text checks are for new facts, at the
	// ways in, so an incident opened before them is still assessed.
	if err := facts.ValidateRecorded(); err != nil {
		return AssessResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidFacts, nil)
	}
	s := rules.FromFacts(facts)
	for rule, at := range in.NoticesSent {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return AssessResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("notices_sent[%s]: %q is not an RFC 3339 time", rule, at), ErrTypeInvalidFacts, nil)
		}
		if s.NoticesSent == nil {
			s.NoticesSent = map[string]time.Time{}
		}
		s.NoticesSent[rule] = t.UTC()
	}
	a, err := r.Ruleset.Evaluate(s, r.Config)
	if err != nil {
		return AssessResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidFacts, nil)
	}
	res := AssessResult{Obligations: a.Obligations, NotTriggered: a.NotTriggered, Risk: a.Risk, RulesetVersion: a.RulesetVersion}
	if len(a.Obligations) > 0 {
		res.Policies = map[string]escalation.Policy{}
		for _, ob := range a.Obligations {
			res.Policies[ob.Rule] = r.Escalation.PolicyFor(string(facts.Severity), ob.Notify)
		}
	}
	if r.Escalation != nil {
		res.TwoPerson = slices.Clone(r.Escalation.TwoPerson)
	}
	if r.Escalation != nil && len(r.Escalation.OnCall) > 0 {
		res.OnCall = map[string]string{}
		for role, t := range r.Escalation.OnCall {
			res.OnCall[role] = t.String()
		}
	}
	return res, nil
}
