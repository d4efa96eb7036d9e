package incident

import (
	"slices"
	"time"

	"github.com/breachctl/breachctl/internal/risk"
)

// State is where an incident stands.
type State string

const (
	StateOpen    State = "open"
	StateOverdue State = "overdue" // open, with at least one clock past its deadline
	StateClosed  State = "closed"
)

// Status is the whole picture of an incident at one moment: what `show`
// prints and what the workflow's status query returns.
type Status struct {
	ID             string     `json:"id"`
	State          State      `json:"state"`
	Facts          Facts      `json:"facts"`
	OpenedAt       time.Time  `json:"opened_at"`
	OpenedBy       string     `json:"opened_by,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	CloseReason    string     `json:"close_reason,omitempty"`
	RulesetVersion string     `json:"ruleset_version,omitempty"`
	// Risk is the latest risk assessment of the facts.
	Risk   *risk.Assessment `json:"risk,omitempty"`
	Clocks []Clock          `json:"clocks"`
	// NotTriggered lists the rules considered and not applied, with why.
	NotTriggered []NotTriggered `json:"not_triggered,omitempty"`
	// Snapshots are the scoped lists of affected people, newest last; the
	// people themselves stay in the store.
	Snapshots []SnapshotRef `json:"snapshots,omitempty"`
	// Roles are who holds each role on the incident (commander, dpo,
	// legal, scribe), by role.
	Roles map[string]string `json:"roles,omitempty"`
	// PageEmails are escalation pages waiting to be emailed.
	PageEmails []PageEmail `json:"page_emails,omitempty"`
	// Slack is the incident's Slack channel, once it has one.
	Slack *SlackChannel `json:"slack,omitempty"`
	// Drafts are the notices drafted for approval, oldest first.
	Drafts []Draft `json:"drafts,omitempty"`
	// Notices are the approved notices, oldest first.
	Notices  []Notice `json:"notices,omitempty"`
	Timeline Timeline `json:"timeline"`
	// NextDeadline and BindingRule name the earliest open deadline.
	NextDeadline *time.Time `json:"next_deadline,omitempty"`
	BindingRule  string     `json:"binding_rule,omitempty"`
}

// Refresh recomputes the derived fields (state, binding deadline) from the
// clocks.
func (s *Status) Refresh() {
	s.NextDeadline, s.BindingRule = nil, ""
	if b, ok := Binding(s.Clocks); ok {
		due := *b.Due
		s.NextDeadline, s.BindingRule = &due, b.Rule
	}
	if s.State == StateClosed {
		return
	}
	s.State = StateOpen
	for _, c := range s.Clocks {
		if c.State == ClockOverdue {
			s.State = StateOverdue
		}
	}
}

// SnapshotRef points at a snapshot of the affected people in the store, with
// its counts: all the incident keeps of them.
type SnapshotRef struct {
	ID         string      `json:"id"`
	At         time.Time   `json:"at"`
	Systems    []string    `json:"systems"`
	Window     string      `json:"window"`
	People     int         `json:"people"`
	Affected   []Residents `json:"affected"`
	Categories []string    `json:"categories"`
	Rejected   int         `json:"rejected"`
}

// NotTriggered is a rule considered and not applied to the facts.
type NotTriggered struct {
	Rule         string `json:"rule"`
	Jurisdiction string `json:"jurisdiction"`
	Why          string `json:"why"`
}

// Summary is one incident in a list.
type Summary struct {
	ID           string     `json:"id"`
	State        State      `json:"state"`
	Severity     Severity   `json:"severity"`
	Title        string     `json:"title"`
	OpenedAt     time.Time  `json:"opened_at"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	NextDeadline *time.Time `json:"next_deadline,omitempty"`
}

// SlackChannel is an incident's channel in Slack and what the workflow
// still has to post there.
type SlackChannel struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// Off: no Slack is configured (or the channel could not be made).
	Off bool `json:"off,omitempty"`
	// Opening: the channel is being made (Slack may be down); posts queue
	// in Pending meanwhile and go out once it exists.
	Opening bool `json:"opening,omitempty"`
	// SummaryTS is the pinned summary message.
	SummaryTS string `json:"summary_ts,omitempty"`
	// Shown is a hash of what the pinned summary shows.
	Shown   string      `json:"shown,omitempty"`
	Pending []SlackPost `json:"pending,omitempty"`
	// Responders are told directly when a deadline passes.
	Responders []string `json:"responders,omitempty"`
}

// SlackPost is a message waiting to be posted in the channel, with the key
// that keeps it from being posted twice.
type SlackPost struct {
	Key     string `json:"key"`
	Text    string `json:"text"`
	User    string `json:"user,omitempty"`    // a direct message to this person instead
	Channel string `json:"channel,omitempty"` // another channel than the incident's
	// ToResponders: queued before the channel existed, for each of its
	// responders directly; expanded into one post each once it is opened.
	ToResponders bool `json:"to_responders,omitempty"`
}

// TeamRoles are the roles a person can hold on an incident.
var TeamRoles = []string{"commander", "dpo", "legal", "scribe"}

// RoleTitle names a role for people.
func RoleTitle(role string) string {
	switch role {
	case "commander":
		return "incident commander"
	case "dpo":
		return "privacy lead (DPO)"
	case "legal":
		return "legal approver"
	case "scribe":
		return "scribe"
	}
	return role
}

// RoleOrder lists the roles someone holds, in the order of TeamRoles, then
// any other role, sorted.
func RoleOrder(roles map[string]string) []string {
	var order, others []string
	for _, r := range TeamRoles {
		if roles[r] != "" {
			order = append(order, r)
		}
	}
	for r, p := range roles {
		if p != "" && !slices.Contains(TeamRoles, r) {
			others = append(others, r)
		}
	}
	slices.Sort(others)
	return append(order, others...)
}

// PageEmail is an escalation page to email addresses of the chain.
type PageEmail struct {
	Key     string   `json:"key"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
}
