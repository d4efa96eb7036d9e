package drill

import (
	"fmt"
	"slices"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// Offset is a virtual time as an offset from the drill's start; it reads
// "+26h00m".
type Offset time.Duration

func (o Offset) String() string {
	d := time.Duration(o)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	h, m, s := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	if s != 0 {
		return fmt.Sprintf("%s%dh%02dm%02ds", sign, h, m, s)
	}
	return fmt.Sprintf("%s%dh%02dm", sign, h, m)
}

func (o Offset) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// How an action was answered.
const (
	ResultAccepted = "accepted"
	ResultRefused  = "refused"
	ResultNotRun   = "not_run" // the incident closed before it
	ResultPending  = "pending" // sent, never answered
)

// EntryRefused is the timeline kind of a refused action: the workflow keeps
// no record of it (a rejected update never reaches history), the drill does.
const EntryRefused incident.EntryKind = "refused"

// Report is what a drill shows: the timeline, how each action went, each
// clock's final state and each notice.
type Report struct {
	Name           string         `json:"name,omitempty"`
	File           string         `json:"file"`
	Incident       string         `json:"incident"`
	Start          time.Time      `json:"start"`
	End            time.Time      `json:"end"`
	EndOffset      Offset         `json:"end_offset"`
	State          incident.State `json:"state"`
	ClosedByDrill  bool           `json:"closed_by_drill"`
	RulesetVersion string         `json:"ruleset_version"`
	// Roles are who held each role at the end (role → person).
	Roles    map[string]string `json:"roles,omitempty"`
	Timeline []Entry           `json:"timeline"`
	Actions  []Outcome         `json:"actions"`
	Refusals []Outcome         `json:"refusals"`
	Clocks   []Clock           `json:"clocks"`
	Notices  []Notice          `json:"notices"`
}

// Entry is one line of the timeline at its virtual time.
type Entry struct {
	Offset  Offset             `json:"offset"`
	Seconds int64              `json:"offset_seconds"`
	At      time.Time          `json:"at"`
	Kind    incident.EntryKind `json:"kind"`
	Rule    string             `json:"rule,omitempty"`
	Actor   string             `json:"actor,omitempty"`
	Text    string             `json:"text"`
}

// Outcome is how one scripted action was answered.
type Outcome struct {
	Offset Offset    `json:"offset"`
	At     time.Time `json:"at"`
	Line   int       `json:"line"`
	Do     string    `json:"do"`
	Actor  string    `json:"actor"`
	Rule   string    `json:"rule,omitempty"`
	Result string    `json:"result"`
	Error  string    `json:"error,omitempty"`
}

// Clock is a clock's final state.
type Clock struct {
	Rule         string              `json:"rule"`
	Title        string              `json:"title"`
	Notify       string              `json:"notify"`
	State        incident.ClockState `json:"state"`
	Due          *time.Time          `json:"due,omitempty"`
	DueOffset    *Offset             `json:"due_offset,omitempty"`
	OverdueAt    *time.Time          `json:"overdue_at,omitempty"`
	ClosedAt     *time.Time          `json:"closed_at,omitempty"`
	ClosedOffset *Offset             `json:"closed_offset,omitempty"`
	NoticeID     string              `json:"notice_id,omitempty"`
	DelayReasons string              `json:"delay_reasons,omitempty"`
	Reminders    []Reminder          `json:"reminders"`
}

// Reminder is one reminder of a clock and whether it fired.
type Reminder struct {
	Before  incident.Duration `json:"before"`
	At      time.Time         `json:"at"`
	Offset  Offset            `json:"offset"`
	Fired   bool              `json:"fired"`
	Skipped bool              `json:"skipped,omitempty"`
}

// Notice is an approved notice and how the stand-in sending went.
type Notice struct {
	ID         string               `json:"id"`
	Rules      []string             `json:"rules"`
	Notify     string               `json:"notify"`
	State      incident.NoticeState `json:"state"`
	ApprovedBy string               `json:"approved_by"`
	ApprovedAt time.Time            `json:"approved_at"`
	Approved   Offset               `json:"approved_offset"`
	SentAt     *time.Time           `json:"sent_at,omitempty"`
	Sent       *Offset              `json:"sent_offset,omitempty"`
	Accepted   int                  `json:"accepted"`
	Summary    string               `json:"summary"`
}

func newReport(s Scenario, id string, st incident.Status, outcomes []Outcome, closedByDrill bool) Report {
	off := func(t time.Time) Offset { return Offset(t.Sub(s.Start)) }
	offPtr := func(t *time.Time) *Offset {
		if t == nil {
			return nil
		}
		o := off(*t)
		return &o
	}
	r := Report{
		Name: s.Title, File: s.Name, Incident: id, Start: s.Start, End: s.Start, State: st.State, ClosedByDrill: closedByDrill,
		RulesetVersion: st.RulesetVersion, Roles: st.Roles, Actions: outcomes, Refusals: []Outcome{}, Clocks: []Clock{}, Notices: []Notice{},
	}
	if st.ClosedAt != nil {
		r.End = *st.ClosedAt
	}
	r.EndOffset = off(r.End)
	for _, e := range st.Timeline {
		r.Timeline = append(r.Timeline, Entry{Offset: off(e.At), Seconds: int64(e.At.Sub(s.Start) / time.Second), At: e.At,
			Kind: e.Kind, Rule: e.Rule, Actor: e.Actor, Text: e.Text})
	}
	for _, o := range outcomes {
		if o.Result != ResultRefused {
			continue
		}
		r.Refusals = append(r.Refusals, o)
		r.Timeline = append(r.Timeline, Entry{Offset: o.Offset, Seconds: int64(time.Duration(o.Offset) / time.Second), At: o.At,
			Kind: EntryRefused, Rule: o.Rule, Actor: o.Actor, Text: fmt.Sprintf("%s refused (line %d): %s", o.Do, o.Line, o.Error)})
	}
	// A refusal goes after whatever the workflow recorded at the same instant.
	slices.SortStableFunc(r.Timeline, func(a, b Entry) int { return a.At.Compare(b.At) })
	for _, c := range st.Clocks {
		fc := Clock{Rule: c.Rule, Title: c.Title, Notify: c.Notify, State: c.State, Due: c.Due, DueOffset: offPtr(c.Due),
			OverdueAt: c.OverdueAt, ClosedAt: c.ClosedAt, ClosedOffset: offPtr(c.ClosedAt), NoticeID: c.NoticeID,
			DelayReasons: c.DelayReasons, Reminders: []Reminder{}}
		for _, rem := range c.Schedule {
			fc.Reminders = append(fc.Reminders, Reminder{Before: rem.Before, At: rem.At, Offset: off(rem.At), Fired: rem.FiredAt != nil, Skipped: rem.Skipped})
		}
		r.Clocks = append(r.Clocks, fc)
	}
	for _, n := range st.Notices {
		r.Notices = append(r.Notices, Notice{ID: n.ID, Rules: n.Rules, Notify: n.Notify, State: n.State, ApprovedBy: n.ApprovedBy,
			ApprovedAt: n.ApprovedAt, Approved: off(n.ApprovedAt), SentAt: n.SentAt, Sent: offPtr(n.SentAt), Accepted: n.Counts.Accepted,
			Summary: n.Summary()})
	}
	return r
}
