package escalation

import (
	"slices"
	"strconv"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// Reasons a page starts: the clock events of package incident.
const (
	ReasonReminder = string(incident.EventReminder) // a reminder before a deadline: the chain from its first step
	ReasonOverdue  = string(incident.EventOverdue)  // a deadline passed with no notice: the top of the chain at once
	// ReasonNoticeNotGiven: a notice failed or left people unreached, so
	// its clock runs on: the chain from its first step, like a reminder.
	ReasonNoticeNotGiven = "notice_not_given"
)

// Page is one run of a policy's chain, started by a reminder or by a
// deadline passing, and its state. It is small plain data meant to live in
// a workflow's status (and so in its history): add fields, never rename or
// retype them.
type Page struct {
	Reason string `json:"reason"` // ReasonReminder or ReasonOverdue
	// Rule is the obligation's rule ID (eu-gdpr-art33): whose clock pages.
	Rule string `json:"rule"`
	// Before is, for a reminder, how long before the deadline it is
	// (incident.Reminder.Before); 0 otherwise. It only names the page.
	Before    incident.Duration `json:"before,omitempty"`
	StartedAt time.Time         `json:"started_at"`
	// Top pages every step's targets at once, then repeats: a deadline
	// passed with no notice escalates to the top of the chain.
	Top bool `json:"top,omitempty"`
	// Policy is the chain this page follows, kept whole so that a page in
	// flight is not changed by a new file, a new severity or a replay.
	Policy Policy `json:"policy"`
	// Fired counts the firings of Schedule already sent: they are in time
	// order, so the ones sent are always its first Fired.
	Fired   int        `json:"fired,omitempty"`
	AckedAt *time.Time `json:"acked_at,omitempty"`
	AckedBy string     `json:"acked_by,omitempty"`
}

// NewPage starts a page at `at` (workflow.Now): a reminder page from the
// first step, an overdue page at the top of the chain.
func NewPage(reason, rule string, before time.Duration, pol Policy, at time.Time) Page {
	return Page{Reason: reason, Rule: rule, Before: incident.Duration(before), StartedAt: at,
		Top: reason == ReasonOverdue, Policy: pol.Clone()}
}

// Firing is one moment of a page: whom to page, when.
type Firing struct {
	// Index is the firing's place in the page's Schedule; Page.Fired
	// counts up to it.
	Index int `json:"index"`
	// Round is 0 for the first pass through the chain, then 1, 2, ... for
	// each repeat.
	Round int `json:"round"`
	// Step is the step's index in Policy.Steps; on a top-of-chain firing,
	// the last step (every step's targets are paged).
	Step    int       `json:"step"`
	Top     bool      `json:"top,omitempty"`
	At      time.Time `json:"at"`
	Targets []Target  `json:"targets"`
}

// Acked reports whether someone acknowledged the page.
func (p *Page) Acked() bool { return p.AckedAt != nil }

// Ack records that by acknowledged the page at `at`: nothing more of it
// fires. The first acknowledgement stands; Ack reports whether this one was
// it. It stops this page only: the next reminder, or the deadline passing,
// starts a new page.
func (p *Page) Ack(by string, at time.Time) bool {
	if p.AckedAt != nil {
		return false
	}
	p.AckedAt, p.AckedBy = &at, by
	return true
}

// Record marks firings as sent (those Due returned); recording one marks
// every earlier one too. Recording a firing twice changes nothing.
func (p *Page) Record(fs ...Firing) {
	for _, f := range fs {
		p.Fired = max(p.Fired, f.Index+1)
	}
}

// Key names a firing for an idempotent activity, unique within an incident:
// the rule, the reason, the page's start and the firing's index. Prefix it
// with the workflow ID.
func (p Page) Key(f Firing) string {
	return "page/" + p.Rule + "/" + p.Reason + "/" + p.StartedAt.UTC().Format("20060102T150405Z") + "/" + strconv.Itoa(f.Index)
}

// Schedule is every firing of the page if nobody acknowledges it, in time
// order: each step at its delay after the start of its round, and a repeat
// round RepeatDelay after the last step of the one before; on a top page,
// every target at once in each round, RepeatDelay apart. It does not look
// at Fired or AckedAt.
func Schedule(p Page) []Firing {
	pol := p.Policy
	if len(pol.Steps) == 0 {
		return nil
	}
	repeatDelay := time.Duration(pol.RepeatDelay)
	if repeatDelay <= 0 {
		repeatDelay = DefaultRepeatDelay
	}
	rounds := max(pol.Repeat, 0) + 1
	var out []Firing
	if p.Top {
		var all []Target
		for _, s := range pol.Steps {
			for _, t := range s.Targets {
				if !slices.ContainsFunc(all, func(o Target) bool { return sameTarget(o, t) }) {
					all = append(all, t)
				}
			}
		}
		for r := range rounds {
			out = append(out, Firing{Round: r, Step: len(pol.Steps) - 1, Top: true,
				At: p.StartedAt.Add(time.Duration(r) * repeatDelay), Targets: slices.Clone(all)})
		}
	} else {
		var last time.Duration
		for _, s := range pol.Steps {
			last = max(last, time.Duration(s.Delay))
		}
		length := last + repeatDelay
		for r := range rounds {
			start := p.StartedAt.Add(time.Duration(r) * length)
			for i, s := range pol.Steps {
				out = append(out, Firing{Round: r, Step: i, At: start.Add(time.Duration(s.Delay)), Targets: slices.Clone(s.Targets)})
			}
		}
	}
	// A parsed policy's delays never decrease; one built by hand might.
	slices.SortStableFunc(out, func(a, b Firing) int { return a.At.Compare(b.At) })
	for i := range out {
		out[i].Index = i
	}
	return out
}

// Due returns the firings to send now: those not yet recorded whose time has
// come, in order, or nil once the page is acknowledged. After a gap (a
// worker down for a while) several may be due at once; Targets gives whom
// they page, each once.
func Due(p Page, now time.Time) []Firing {
	if p.Acked() {
		return nil
	}
	s := Schedule(p)
	var out []Firing
	for _, f := range s[min(max(p.Fired, 0), len(s)):] {
		if f.At.After(now) {
			break
		}
		out = append(out, f)
	}
	return out
}

// NextAt returns when the page next needs attention: the time of its next
// firing not yet recorded, or now if that is already due (Due has something
// not recorded yet). ok is false when the page is acknowledged or has
// nothing left: the chain and its repeats are spent. It is never before now.
func NextAt(p Page, now time.Time) (time.Time, bool) {
	if p.Acked() {
		return time.Time{}, false
	}
	s := Schedule(p)
	if p.Fired >= len(s) {
		return time.Time{}, false
	}
	at := s[max(p.Fired, 0)].At
	if at.Before(now) {
		at = now
	}
	return at, true
}

// Targets is whom the firings page, each once, in order.
func Targets(fs []Firing) []Target {
	var out []Target
	for _, f := range fs {
		for _, t := range f.Targets {
			if !slices.ContainsFunc(out, func(o Target) bool { return sameTarget(o, t) }) {
				out = append(out, t)
			}
		}
	}
	return out
}
