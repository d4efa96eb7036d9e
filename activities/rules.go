package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/rules"
)

// AssessName is the registered name of Rules.Assess; it never changes.
const AssessName = "AssessObligations"

// ErrTypeInvalidFacts is the application error type of facts the rules reject.
const ErrTypeInvalidFacts = "InvalidFacts"

// AssessInput asks which obligations a set of facts triggers.
type AssessInput struct {
	Facts incident.Facts `json:"facts"`
}

// AssessResult is the obligations with the ruleset that produced them.
type AssessResult struct {
	Obligations    []incident.Obligation `json:"obligations"`
	RulesetVersion string                `json:"ruleset_version"`
}

// Rules runs the rules engine. It reads no outside state, so it is safe to
// retry and cheap enough to run as a local activity.
type Rules struct {
	Config rules.Config
}

// Assess works out the obligations for the facts.
func (r *Rules) Assess(_ context.Context, in AssessInput) (AssessResult, error) {
	facts := in.Facts.Normalize()
	if err := facts.Validate(); err != nil {
		return AssessResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidFacts, nil)
	}
	return AssessResult{Obligations: rules.Assess(facts, r.Config), RulesetVersion: rules.Version}, nil
}
