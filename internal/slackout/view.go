// Package slackout renders what breachctl posts to Slack: the pinned
// incident summary (Block Kit), channel names, topics and the metadata
// that lets a retried activity find what an earlier attempt posted.
//
// SummaryView and ViewOf are pure and deterministic, so workflow code can
// build the view; Blocks renders it with the caller's clock, so the time
// left to each deadline is as of the moment the message is written.
package slackout

import (
	"cmp"
	"slices"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// SummaryView is what the pinned summary shows of an incident: a compact
// copy of incident.Status without the timeline, small enough to pass as an
// activity input on every change. It is wire format: add fields, never
// rename or retype them.
type SummaryView struct {
	Incident string     `json:"incident"`
	Title    string     `json:"title"`
	State    string     `json:"state"` // incident.State
	Severity string     `json:"severity"`
	Risk     string     `json:"risk,omitempty"` // risk.Level of the latest assessment
	OpenedAt time.Time  `json:"opened_at"`
	OpenedBy string     `json:"opened_by,omitempty"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`

	// Facts.
	AwareAt        time.Time `json:"aware_at"`
	Systems        []string  `json:"systems,omitempty"`
	DataCategories []string  `json:"data_categories,omitempty"`
	Regions        []string  `json:"regions,omitempty"`
	Affected       int       `json:"affected,omitempty"` // people counted so far
	Encrypted      bool      `json:"encrypted,omitempty"`

	// Obligations are open clocks first, earliest deadline first.
	Obligations []ObligationView `json:"obligations,omitempty"`
	Notices     []NoticeView     `json:"notices,omitempty"`
	// Drafts are the drafts waiting for approval, oldest first. Absent
	// when there are none, so the view of an incident without drafts is
	// the JSON it was before drafts existed: workflow code hashes it to
	// tell whether the pinned summary is stale, and replays must agree.
	Drafts []DraftView `json:"drafts,omitempty"`
	// AsOf is when the view was taken (the workflow's clock).
	AsOf time.Time `json:"as_of"`
}

// ObligationView is one clock as the summary shows it.
type ObligationView struct {
	Rule         string     `json:"rule"`
	Title        string     `json:"title"`
	Jurisdiction string     `json:"jurisdiction,omitempty"`
	Notify       string     `json:"notify,omitempty"`
	State        string     `json:"state"` // incident.ClockState
	Due          *time.Time `json:"due,omitempty"`
	ASAP         bool       `json:"asap,omitempty"`
	// WaitsFor is the rule whose notice starts this clock, while it waits.
	WaitsFor string `json:"waits_for,omitempty"`
	Stage    string `json:"stage,omitempty"`
	NoticeID string `json:"notice_id,omitempty"`
	// NeedsDelayReasons: overdue under a law that wants the reasons for a
	// late notice, and none are recorded.
	NeedsDelayReasons bool `json:"needs_delay_reasons,omitempty"`
}

// NoticeView is one approved notice as the summary shows it.
type NoticeView struct {
	ID         string     `json:"id"`
	Rules      []string   `json:"rules"`
	Notify     string     `json:"notify"`
	State      string     `json:"state"` // incident.NoticeState
	ApprovedBy string     `json:"approved_by,omitempty"`
	SentAt     *time.Time `json:"sent_at,omitempty"`
	Expected   int        `json:"expected,omitempty"`
	Done       int        `json:"done,omitempty"`
	Accepted   int        `json:"accepted,omitempty"`
	NotReached int        `json:"not_reached,omitempty"` // refused or without a usable address
	// ToFile names the organisations whose report still waits to be filed
	// through their portal.
	ToFile []string `json:"to_file,omitempty"`
}

// DraftView is one pending draft as the summary shows it: enough to say
// where its approvals stand and to name it on its buttons. Its texts and
// renderings stay out (the Preview button reads them from the status).
type DraftView struct {
	Hash     string    `json:"hash"`
	Rules    []string  `json:"rules"`
	Notify   string    `json:"notify,omitempty"`
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at"`
	Required int       `json:"required"`
	// ApprovedBy are who approved it so far, in order.
	ApprovedBy []string `json:"approved_by,omitempty"`
}

// Open reports whether the clock still counts toward a deadline.
func (o ObligationView) Open() bool { return incident.ClockState(o.State).Open() }

// ViewOf takes the summary view of a status at now. It is pure: workflow
// code calls it with workflow.Now.
func ViewOf(st incident.Status, now time.Time) SummaryView {
	f := st.Facts
	v := SummaryView{
		Incident:       st.ID,
		Title:          f.Title,
		State:          string(st.State),
		Severity:       string(cmp.Or(f.Severity, incident.SeverityUnassessed)),
		OpenedAt:       st.OpenedAt.UTC(),
		OpenedBy:       st.OpenedBy,
		ClosedAt:       utc(st.ClosedAt),
		AwareAt:        f.AwareAt.UTC(),
		Systems:        slices.Clone(f.Systems),
		DataCategories: slices.Clone(f.DataCategories),
		Regions:        slices.Clone(f.Regions),
		Affected:       f.AffectedTotal(),
		Encrypted:      f.Encrypted,
		AsOf:           now.UTC(),
	}
	if st.Risk != nil {
		v.Risk = string(st.Risk.Level)
	}
	for _, c := range st.Clocks {
		o := ObligationView{
			Rule: c.Rule, Title: c.Title, Jurisdiction: c.Jurisdiction, Notify: c.Notify,
			State: string(c.State), Due: utc(c.Due), ASAP: c.ASAP, Stage: c.Stage,
			NoticeID: c.NoticeID, NeedsDelayReasons: c.NeedsDelayReasons(),
		}
		if c.StartsAt == nil && c.State.Open() {
			o.WaitsFor = c.ClockStart
		}
		v.Obligations = append(v.Obligations, o)
	}
	slices.SortStableFunc(v.Obligations, func(a, b ObligationView) int {
		if a.Open() != b.Open() {
			if a.Open() {
				return -1
			}
			return 1
		}
		return incident.CompareDeadlines(a.Due, b.Due)
	})
	for _, n := range st.Notices {
		nv := NoticeView{
			ID: n.ID, Rules: slices.Clone(n.Rules), Notify: n.Notify, State: string(n.State),
			ApprovedBy: n.ApprovedBy, SentAt: utc(n.SentAt),
			Expected: n.Counts.Expected, Done: n.Counts.Done(), Accepted: n.Counts.Accepted,
			NotReached: n.Counts.SubstituteNeeded(),
		}
		for _, fl := range n.Filings {
			if fl.Reference == "" {
				nv.ToFile = append(nv.ToFile, fl.Recipient)
			}
		}
		v.Notices = append(v.Notices, nv)
	}
	v.Drafts = DraftsOf(st)
	return v
}

// DraftsOf are the status's drafts waiting for approval; nil when none.
func DraftsOf(st incident.Status) []DraftView {
	var out []DraftView
	for _, d := range st.Drafts {
		if d.State != incident.DraftPending {
			continue
		}
		out = append(out, DraftViewOf(d))
	}
	return out
}

// DraftViewOf is the view of one draft, whatever its state.
func DraftViewOf(d incident.Draft) DraftView {
	dv := DraftView{Hash: d.Hash, Rules: slices.Clone(d.Rules), Notify: d.Notify, By: d.By, At: d.At.UTC(), Required: d.Required}
	for _, a := range d.Approvals {
		dv.ApprovedBy = append(dv.ApprovedBy, a.By)
	}
	return dv
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
