// Package register builds the breach register (GDPR Art. 33(5)): every
// incident, notified or not, with its facts, effects, the decisions taken
// and why, and each obligation with its due and done times. It is pure: rows
// come from incident statuses, and the formats (JSON, CSV, Markdown) are
// functions of the rows, so the same incidents always give the same bytes.
package register

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
)

// Register is the whole register at one moment.
type Register struct {
	GeneratedAt time.Time `json:"generated_at"`
	Incidents   []Record  `json:"incidents"`
}

// Outcome says whether an incident led to a notice.
type Outcome string

const (
	OutcomeNotified    Outcome = "notified"     // at least one notice was sent or filed
	OutcomeNotNotified Outcome = "not_notified" // closed with no notice sent
	OutcomeOpen        Outcome = "open"         // still open: no conclusion yet
)

// Record is one incident in the register.
type Record struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	State       incident.State    `json:"state"`
	Severity    incident.Severity `json:"severity"`
	OpenedAt    time.Time         `json:"opened_at"`
	OpenedBy    string            `json:"opened_by,omitempty"`
	AwareAt     time.Time         `json:"aware_at"`
	DetectedAt  time.Time         `json:"detected_at"`
	OccurredAt  *time.Time        `json:"occurred_at,omitempty"`
	ClosedAt    *time.Time        `json:"closed_at,omitempty"`
	CloseReason string            `json:"close_reason,omitempty"`
	Facts       Facts             `json:"facts"`
	Risk        *Risk             `json:"risk,omitempty"`
	// Outcome and Reasons are the conclusion and why: for an incident not
	// notified, what the supervisory authority would ask to see.
	Outcome Outcome  `json:"outcome"`
	Reasons []string `json:"reasons"`

	Obligations  []Obligation            `json:"obligations"`
	NotTriggered []incident.NotTriggered `json:"not_triggered"`
	Decisions    []Decision              `json:"decisions"`
	Notices      []Notice                `json:"notices"`

	RulesetVersion string `json:"ruleset_version,omitempty"`
}

// Facts are what was known about the breach: its nature, the data and the
// people concerned.
type Facts struct {
	Description    string               `json:"description,omitempty"`
	Reporter       string               `json:"reporter,omitempty"`
	Systems        []string             `json:"systems"`
	DataCategories []string             `json:"data_categories"`
	Regions        []string             `json:"regions"`
	Affected       []incident.Residents `json:"affected"`
	AffectedTotal  int                  `json:"affected_total"`
	// Scoped is the latest scoping of the people concerned, if any.
	Scoped     *Scoped  `json:"scoped,omitempty"`
	Encrypted  bool     `json:"encrypted"`
	Role       string   `json:"role"`
	Sectors    []string `json:"sectors,omitempty"`
	Exemptions []string `json:"exemptions,omitempty"`
}

// Scoped is the latest snapshot of the people concerned: counts only.
type Scoped struct {
	Snapshot string    `json:"snapshot"`
	At       time.Time `json:"at"`
	People   int       `json:"people"`
	Rejected int       `json:"rejected"`
}

// Risk is the risk assessment with the reasons it rests on.
type Risk struct {
	Level    risk.Level     `json:"level"`
	Method   string         `json:"method"`
	Score    float64        `json:"score"`
	Band     string         `json:"band,omitempty"` // the ENISA severity band
	Reasons  []string       `json:"reasons"`
	Override *risk.Override `json:"override,omitempty"`
}

// Obligation is one duty to notify, with its clock's end.
type Obligation struct {
	Rule         string              `json:"rule"`
	Title        string              `json:"title"`
	Jurisdiction string              `json:"jurisdiction"`
	Notify       string              `json:"notify"`
	Recipient    string              `json:"recipient,omitempty"`
	Citation     string              `json:"citation"`
	ClockStart   string              `json:"clock_start"`
	StartsAt     *time.Time          `json:"starts_at,omitempty"`
	Due          *time.Time          `json:"due,omitempty"`
	ASAP         bool                `json:"asap,omitempty"`
	State        incident.ClockState `json:"state"`
	OverdueAt    *time.Time          `json:"overdue_at,omitempty"`
	// DoneAt is when the clock ended: met, withdrawn or stopped at close.
	DoneAt *time.Time `json:"done_at,omitempty"`
	// Late is how long after the deadline the notice was given (met) or
	// how late it is now (overdue, as of the register's time).
	Late         string   `json:"late,omitempty"`
	DelayReasons string   `json:"delay_reasons,omitempty"`
	NoticeID     string   `json:"notice_id,omitempty"`
	Why          []string `json:"why"`
}

// Decision is something a person decided or did on the record, with who and
// when: opening, changing the facts, scoping, drafting, approving,
// rejecting, recording delay reasons, filing, acknowledging, closing.
type Decision struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Kind string    `json:"kind"`
	Rule string    `json:"rule,omitempty"`
	Text string    `json:"text"`
}

// Notice is an approved notice and how its sending went; organisations'
// addresses are left out, message IDs kept.
type Notice struct {
	ID         string                `json:"id"`
	Rules      []string              `json:"rules"`
	Notify     string                `json:"notify"`
	State      incident.NoticeState  `json:"state"`
	ApprovedBy string                `json:"approved_by"`
	ApprovedAt time.Time             `json:"approved_at"`
	SentAt     *time.Time            `json:"sent_at,omitempty"`
	Counts     incident.NoticeCounts `json:"counts"`
	Deliveries []Delivery            `json:"deliveries,omitempty"`
	Filings    []Filing              `json:"filings,omitempty"`
	Error      string                `json:"error,omitempty"`
	// Resends are the notice's batches sent more than once, from the
	// ledger: whose people may have been mailed twice, and why.
	Resends []Resend `json:"resends,omitempty"`
}

// Resend is a batch of a notice that was sent more than once (a Mail Send
// request attempted again): its people were mailed twice if SendGrid took
// more than one attempt, maybe twice if it took one and another's fate is
// unknown.
type Resend struct {
	Batch      string `json:"batch"`
	Recipients int    `json:"recipients"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	Taken      int    `json:"taken"`   // attempts SendGrid took
	Unknown    int    `json:"unknown"` // attempts whose fate is not known
	// Why is each attempt: when, why it was made, what became of it.
	Why        []string `json:"why"`
	MessageIDs []string `json:"message_ids,omitempty"`
}

// Ledger is what the notification ledger records of notices, by notice
// ID: the one source of their counts (accepted, requests taken, resent,
// mailed twice) and of their resent batches. A notice it lacks keeps the
// counts its incident recorded.
type Ledger map[string]NoticeLedger

// NoticeLedger is one notice as the ledger has it.
type NoticeLedger struct {
	Counts  incident.NoticeCounts
	Resends []Resend
}

// Delivery is an email to an organisation.
type Delivery struct {
	Recipient string    `json:"recipient"`
	MessageID string    `json:"message_id,omitempty"`
	SentAt    time.Time `json:"sent_at"`
	Error     string    `json:"error,omitempty"`
}

// Filing is a report filed (or to file) through an authority's portal.
type Filing struct {
	Recipient string     `json:"recipient"`
	Portal    string     `json:"portal"`
	Reference string     `json:"reference,omitempty"`
	FiledBy   string     `json:"filed_by,omitempty"`
	FiledAt   *time.Time `json:"filed_at,omitempty"`
}

// Build makes the register of the statuses, with the notices' counts and
// resends from the ledger (nil: as the incidents recorded them), as of now,
// oldest incident first.
func Build(statuses []incident.Status, ledger Ledger, now time.Time) Register {
	reg := Register{GeneratedAt: now.UTC(), Incidents: make([]Record, 0, len(statuses))}
	for _, st := range statuses {
		reg.Incidents = append(reg.Incidents, NewRecord(st, ledger, now))
	}
	slices.SortStableFunc(reg.Incidents, func(a, b Record) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return reg
}

// NewRecord is one incident's entry in the register as of now, its
// notices counted by the ledger where it has them.
func NewRecord(st incident.Status, ledger Ledger, now time.Time) Record {
	if len(ledger) > 0 {
		st.Notices = slices.Clone(st.Notices) // the caller's status stays as it was
		for i, n := range st.Notices {
			if l, ok := ledger[n.ID]; ok {
				st.Notices[i].Counts = l.Counts
			}
		}
	}
	f := st.Facts
	r := Record{
		ID: st.ID, Title: f.Title, State: st.State, Severity: f.Severity,
		OpenedAt: st.OpenedAt, OpenedBy: st.OpenedBy, AwareAt: f.AwareAt, DetectedAt: f.Detected(), OccurredAt: f.OccurredAt,
		ClosedAt: st.ClosedAt, CloseReason: st.CloseReason,
		Facts: Facts{
			Description: f.Description, Reporter: f.Reporter,
			Systems: nonNil(f.Systems), DataCategories: nonNil(f.DataCategories), Regions: nonNil(f.Regions),
			Affected: nonNil(f.Affected), AffectedTotal: f.AffectedTotal(),
			Encrypted: f.Encrypted, Role: roleOf(f.Role), Sectors: f.Sectors, Exemptions: f.Exemptions,
		},
		Obligations:    []Obligation{},
		NotTriggered:   nonNil(st.NotTriggered),
		Decisions:      Decisions(st),
		Notices:        []Notice{},
		RulesetVersion: st.RulesetVersion,
	}
	if n := len(st.Snapshots); n > 0 {
		s := st.Snapshots[n-1]
		r.Facts.Scoped = &Scoped{Snapshot: s.ID, At: s.At, People: s.People, Rejected: s.Rejected}
	}
	if st.Risk != nil {
		r.Risk = riskOf(*st.Risk)
	}
	for _, c := range st.Clocks {
		r.Obligations = append(r.Obligations, obligationOf(c, now))
	}
	for _, n := range st.Notices {
		rn := noticeOf(n)
		rn.Resends = ledger[n.ID].Resends
		r.Notices = append(r.Notices, rn)
	}
	r.Outcome, r.Reasons = conclusion(st)
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func roleOf(role string) string {
	if role == "" {
		return "controller"
	}
	return role
}

// riskOf keeps the assessment's reasons in the order they were scored.
func riskOf(a risk.Assessment) *Risk {
	r := &Risk{Level: a.Level, Method: a.Method, Score: a.Parts.Score, Band: a.Parts.Severity, Override: a.Override, Reasons: []string{}}
	for _, s := range append([]string{a.Parts.DPCBasis, a.Parts.EIBasis}, append(a.Parts.CBBasis, a.Parts.Notes...)...) {
		if s = strings.TrimSpace(s); s != "" {
			r.Reasons = append(r.Reasons, s)
		}
	}
	if a.Override != nil && a.Override.Justification != "" {
		r.Reasons = append(r.Reasons, "level set to "+string(a.Override.Level)+" by a person: "+a.Override.Justification)
	}
	return r
}

func obligationOf(c incident.Clock, now time.Time) Obligation {
	o := Obligation{
		Rule: c.Rule, Title: c.Title, Jurisdiction: c.Jurisdiction, Notify: c.Notify, Recipient: c.Recipient,
		Citation: c.Citation, ClockStart: c.ClockStart, StartsAt: c.StartsAt, Due: c.Due, ASAP: c.ASAP,
		State: c.State, OverdueAt: c.OverdueAt, DoneAt: c.ClosedAt, DelayReasons: c.DelayReasons, NoticeID: c.NoticeID,
		Why: nonNil(c.Why),
	}
	if c.Due != nil {
		var at time.Time
		switch {
		case c.State == incident.ClockMet && c.ClosedAt != nil:
			at = *c.ClosedAt
		case c.State == incident.ClockOverdue:
			at = now
		case c.State == incident.ClockStopped && c.ClosedAt != nil:
			at = *c.ClosedAt
		}
		if !at.IsZero() && at.After(*c.Due) {
			o.Late = incident.FormatDuration(at.Sub(*c.Due))
		}
	}
	return o
}

func noticeOf(n incident.Notice) Notice {
	out := Notice{
		ID: n.ID, Rules: n.Rules, Notify: n.Notify, State: n.State, ApprovedBy: n.ApprovedBy, ApprovedAt: n.ApprovedAt,
		SentAt: n.SentAt, Counts: n.Counts, Error: n.Error,
	}
	for _, d := range n.Deliveries {
		out.Deliveries = append(out.Deliveries, Delivery{Recipient: d.Recipient, MessageID: d.MessageID, SentAt: d.SentAt, Error: d.Error})
	}
	for _, f := range n.Filings {
		out.Filings = append(out.Filings, Filing{Recipient: f.Recipient, Portal: f.Portal, Reference: f.Reference, FiledBy: f.FiledBy, FiledAt: f.FiledAt})
	}
	return out
}

// notDecisions are the entries people make that record no decision: notes
// are the team's working record. Entries breachctl makes itself (clocks,
// reminders, escalations) are the obligations' story, told by them.
var notDecisions = []incident.EntryKind{incident.EntryNote}

// Decisions are the timeline's entries made by people, other than notes, in
// order: each with who and when.
func Decisions(st incident.Status) []Decision {
	out := []Decision{}
	for _, e := range st.Timeline {
		if e.Actor == "" || e.Actor == incident.SystemActor || slices.Contains(notDecisions, e.Kind) {
			continue
		}
		out = append(out, Decision{At: e.At, By: e.Actor, Kind: string(e.Kind), Rule: e.Rule, Text: e.Text})
	}
	return out
}

// Relevant are the rules not triggered for a reason other than nobody
// affected living in their jurisdiction: the ones that say why a law that
// could apply did not. The others are counted, not listed, in the short
// formats.
func Relevant(nt []incident.NotTriggered) (relevant []incident.NotTriggered, elsewhere int) {
	for _, n := range nt {
		if strings.HasPrefix(n.Why, "no affected residents") {
			elsewhere++
			continue
		}
		relevant = append(relevant, n)
	}
	return relevant, elsewhere
}

// conclusion says whether the incident was notified, and why or why not, in
// the words a register needs: the close reason, the obligations that ended
// without a notice and how, and the rules that could have applied and did not.
func conclusion(st incident.Status) (Outcome, []string) {
	reasons := []string{}
	notified := false
	for _, n := range st.Notices {
		if n.State == incident.NoticeSent || n.State == incident.NoticeFiled {
			notified = true
		}
	}
	for _, n := range st.Notices {
		reasons = append(reasons, notGiven(n)...)
	}
	for _, c := range st.Clocks {
		switch c.State {
		case incident.ClockWithdrawn:
			reasons = append(reasons, c.Rule+": obligation withdrawn when the facts no longer triggered it"+at(c.ClosedAt))
		case incident.ClockStopped:
			reasons = append(reasons, c.Rule+": no notice given; clock stopped when the incident was closed"+at(c.ClosedAt))
		}
		if c.DelayReasons != "" {
			reasons = append(reasons, c.Rule+": reasons for the delay: "+c.DelayReasons)
		}
	}
	if len(st.Clocks) == 0 {
		reasons = append(reasons, "no notification obligation was triggered by the facts")
	}
	relevant, _ := Relevant(st.NotTriggered)
	if !notified {
		for _, n := range relevant {
			reasons = append(reasons, n.Rule+" not triggered: "+n.Why)
		}
	}
	if st.Risk != nil && st.Risk.Override != nil && st.Risk.Override.Justification != "" {
		reasons = append(reasons, "risk set to "+string(st.Risk.Override.Level)+": "+st.Risk.Override.Justification)
	}
	if st.CloseReason != "" {
		reasons = append(reasons, "closed: "+st.CloseReason)
	}
	switch {
	case notified:
		return OutcomeNotified, reasons
	case st.State == incident.StateClosed:
		return OutcomeNotNotified, reasons
	}
	return OutcomeOpen, reasons
}

// notGiven says why a notice was not given to everyone it owes, in the
// register's words: failed, people in scope not accepted, an email to an
// organisation refused. (Since issue 14 such a notice meets no clock; the
// obligations say how each clock ended.)
func notGiven(n incident.Notice) []string {
	var out []string
	c := n.Counts
	switch {
	case n.State == incident.NoticeFailed:
		out = append(out, n.ID+": notice failed: "+orText(n.Error, "no reason recorded"))
	case n.Notify == "individuals" && (n.State == incident.NoticeIncomplete || c.Shortfall() > 0) && n.State != incident.NoticeSending:
		s := fmt.Sprintf("%s: notice not given to %d people in scope (%d refused, %d without a usable address)",
			n.ID, c.Shortfall(), c.Failed, c.Unreachable)
		if n.Error != "" {
			s += ": " + n.Error
		}
		out = append(out, s)
	}
	for _, d := range n.Deliveries {
		if d.Error != "" {
			out = append(out, n.ID+": email to "+d.Recipient+" not accepted: "+d.Error)
		}
	}
	return out
}

func at(t *time.Time) string {
	if t == nil {
		return ""
	}
	return " at " + t.UTC().Format(time.RFC3339)
}
