package escalation

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// Config is an escalation file, parsed and checked, with defaults applied.
type Config struct {
	// File is the name the config was parsed under; empty for Default.
	File string
	// Policies in file order; PolicyFor picks one.
	Policies []Policy
	// OnCall is who takes each role on a new incident (commander, dpo,
	// legal, scribe), until someone assigns another: a Slack user
	// (slack:U...) or an email address (email:...).
	OnCall map[string]Target
	// TwoPerson lists the kinds of notice (a rule's notify: authority,
	// controller, ...) that need two different approvers (sign_off:
	// two_person).
	TwoPerson []string
}

// Policy is one escalation chain. It is plain data: a workflow keeps the
// policy a page follows in the Page itself, so a page in flight follows the
// policy it started with, whatever happens to the file. Once in a workflow's
// status it is wire format: add fields, never rename or retype them.
type Policy struct {
	Name  string `json:"name"`
	Match Match  `json:"match,omitzero"`
	Steps []Step `json:"steps"`
	// Repeat is how many times the whole chain runs again after its last
	// step (0: once through, no repeat).
	Repeat int `json:"repeat,omitempty"`
	// RepeatDelay is the wait after the last step before the chain starts
	// again; always set (defaults applied).
	RepeatDelay incident.Duration `json:"repeat_delay"`
	// Line is where the policy starts in its file; 0 for the built-in one.
	Line int `json:"-"`
}

// Match chooses the obligations a policy is for. An empty list matches any
// value; a policy whose Match is empty is the default.
type Match struct {
	Severity []string `json:"severity,omitempty"` // incident severities: low, medium, high, critical, unassessed
	Notify   []string `json:"notify,omitempty"`   // what the obligation notifies: authority, individuals, ...
}

// specificity is how many of Match's fields are given.
func (m Match) specificity() int {
	n := 0
	if len(m.Severity) > 0 {
		n++
	}
	if len(m.Notify) > 0 {
		n++
	}
	return n
}

func (m Match) matches(severity, notify string) bool {
	return (len(m.Severity) == 0 || slices.Contains(m.Severity, severity)) &&
		(len(m.Notify) == 0 || slices.Contains(m.Notify, notify))
}

// Step is one rung of the chain: whom to page, and when.
type Step struct {
	// Delay is how long after the chain (or its repeat) starts this step
	// is paged. Delays never decrease along a chain.
	Delay   incident.Duration `json:"delay"`
	Targets []Target          `json:"targets"`
}

// Limits checked when a file is parsed.
const (
	MaxSteps   = 20
	MaxTargets = 50 // per step
	MaxRepeat  = 20
	MaxDelay   = 7 * 24 * time.Hour
	// MinRepeatDelay keeps a chain that nobody answers from paging in a
	// tight loop.
	MinRepeatDelay = time.Minute
	// DefaultRepeatDelay is the repeat delay when the file gives none and
	// the last step's delay is 0.
	DefaultRepeatDelay = 30 * time.Minute
)

// DefaultPolicyName names the built-in policy.
const DefaultPolicyName = "builtin-default"

// DefaultPolicy is the policy used when no file is configured or no policy
// matches: one message in the incident's channel per page, which is what
// breachctl did before escalation policies.
func DefaultPolicy() Policy {
	return Policy{
		Name:        DefaultPolicyName,
		Steps:       []Step{{Delay: 0, Targets: []Target{{Kind: IncidentChannel}}}},
		RepeatDelay: incident.Duration(DefaultRepeatDelay),
	}
}

// Default is the config to run with when there is no escalation file: no
// policies, so PolicyFor always gives DefaultPolicy.
func Default() *Config { return &Config{} }

// Load reads and parses an escalation file. A file that is not there is an
// error of kind NotFound that wraps fs.ErrNotExist.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		kind := apperr.Invalid
		if errors.Is(err, fs.ErrNotExist) {
			kind = apperr.NotFound
		}
		return nil, apperr.Wrap(kind, err, "escalation config")
	}
	return Parse(data, path)
}

// PolicyFor returns the policy for an obligation that notifies notify in an
// incident of the given severity: the most specific policy that matches
// (severity and notify both matched, then one of them, then a policy
// without match), the first in the file among equals; DefaultPolicy when
// none matches. The result shares nothing with c.
func (c *Config) PolicyFor(severity, notify string) Policy {
	best := -1
	if c != nil {
		for i, p := range c.Policies {
			if p.Match.matches(severity, notify) && (best < 0 || p.Match.specificity() > c.Policies[best].Match.specificity()) {
				best = i
			}
		}
	}
	if best < 0 {
		return DefaultPolicy()
	}
	return c.Policies[best].Clone()
}

// Clone returns a deep copy of p.
func (p Policy) Clone() Policy {
	p.Match.Severity = slices.Clone(p.Match.Severity)
	p.Match.Notify = slices.Clone(p.Match.Notify)
	steps := make([]Step, len(p.Steps))
	for i, s := range p.Steps {
		steps[i] = Step{Delay: s.Delay, Targets: slices.Clone(s.Targets)}
	}
	p.Steps = steps
	return p
}
