package incident

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// NoticeState is where an approved notice stands.
type NoticeState string

const (
	NoticeSending NoticeState = "sending" // approved; emails going out
	NoticeSent    NoticeState = "sent"    // every recipient was sent to (or could not be)
	// NoticeAwaitingFiling: the report is ready for an authority that takes
	// reports only through its web portal; someone files it and records the
	// reference (`breachctl filed`).
	NoticeAwaitingFiling NoticeState = "awaiting_filing"
	NoticeFiled          NoticeState = "filed"
	NoticeFailed         NoticeState = "failed" // could not be sent; approve again once fixed
	// NoticeIncomplete: sending ended with people in scope not accepted
	// for delivery (refused by SendGrid, no usable address). The notice
	// was not given to them, so its clocks stay open; the shortfall is
	// shown until they are reached or a fallback the law accepts is
	// recorded.
	NoticeIncomplete NoticeState = "incomplete"
)

// Notice is an approved notice and how its sending went. One notice can
// satisfy several obligations (a person covered by two laws gets one email),
// so every clock it satisfies points at it by ID.
type Notice struct {
	ID         string       `json:"id"` // INC-.../<first rule>
	Rules      []string     `json:"rules"`
	Notify     string       `json:"notify"`
	State      NoticeState  `json:"state"`
	ApprovedBy string       `json:"approved_by"`
	ApprovedAt time.Time    `json:"approved_at"`
	SnapshotID string       `json:"snapshot_id,omitempty"`
	SentAt     *time.Time   `json:"sent_at,omitempty"`
	Counts     NoticeCounts `json:"counts"`
	// Deliveries are the emails to organisations (authorities, business
	// customers): each with its time and SendGrid message ID.
	Deliveries []OrgDelivery `json:"deliveries,omitempty"`
	// Filings are the reports to file through an authority's portal.
	Filings []Filing `json:"filings,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// NoticeCounts counts a notice's recipients.
type NoticeCounts struct {
	Expected    int `json:"expected"`    // people in scope in the snapshot, known before sending
	Read        int `json:"read"`        // people read from the snapshot in scope
	Accepted    int `json:"accepted"`    // accepted by SendGrid
	Failed      int `json:"failed"`      // refused for good
	Unreachable int `json:"unreachable"` // no usable address
	// Covered were already notified in this incident under another notice
	// that satisfies this one too.
	Covered int `json:"covered"`
	Batches int `json:"batches"`
	// Retried counts batches sent again after an answer that left it
	// unknown whether SendGrid had them: the only way anyone is mailed twice.
	Retried int `json:"retried,omitempty"`
	// From the ledger's attempts (store.NoticeProgress), the one source of
	// these numbers: Requests SendGrid took; batches Resent after an
	// attempt of unknown fate and their people; people Twice (SendGrid
	// took their batch twice) and MaybeTwice (resent, the first attempt's
	// fate unknown).
	Requests         int `json:"requests,omitempty"`
	ResentRecipients int `json:"resent_recipients,omitempty"`
	Twice            int `json:"twice,omitempty"`
	MaybeTwice       int `json:"maybe_twice,omitempty"`
}

// Shortfall is how many people in scope the notice has not been given to:
// refused or without a usable address.
func (c NoticeCounts) Shortfall() int { return c.Failed + c.Unreachable }

// Done is how many of the expected people are settled.
func (c NoticeCounts) Done() int { return c.Accepted + c.Failed + c.Unreachable + c.Covered }

// SubstituteNeeded is how many people the notice did not reach at an
// address, so far: the count toward a substitute notice (GDPR Art. 34(3)(c)
// public communication, US substitute notice). Bounces reported later by
// SendGrid are counted in the ledger.
func (c NoticeCounts) SubstituteNeeded() int { return c.Failed + c.Unreachable }

// OrgDelivery is one email to an organisation.
type OrgDelivery struct {
	Recipient string    `json:"recipient"` // the organisation's name
	Emails    []string  `json:"emails"`    // its addresses: configuration, not personal data of a data subject
	MessageID string    `json:"message_id,omitempty"`
	SentAt    time.Time `json:"sent_at"`
	Error     string    `json:"error,omitempty"`
}

// Filing is a report to file through an authority's web portal.
type Filing struct {
	Recipient string     `json:"recipient"`
	Portal    string     `json:"portal"`
	Document  string     `json:"document"` // the generated report, text
	Reference string     `json:"reference,omitempty"`
	FiledBy   string     `json:"filed_by,omitempty"`
	FiledAt   *time.Time `json:"filed_at,omitempty"`
}

// NoticeID names the notice approved under a rule of an incident.
func NoticeID(incidentID, rule string) string { return incidentID + "/" + rule }

// Summary says in one line how the notice went, for the timeline.
func (n Notice) Summary() string {
	c := n.Counts
	switch {
	case n.State == NoticeFailed:
		return "Notice " + n.ID + " failed: " + n.Error
	case n.Notify == "individuals":
		verb := "sent"
		if n.State == NoticeIncomplete {
			verb = "not given to everyone"
		}
		text := fmt.Sprintf("Notice %s %s: %d accepted for delivery", n.ID, verb, c.Accepted)
		var more []string
		if c.Covered > 0 {
			more = append(more, fmt.Sprintf("%d already notified under another notice", c.Covered))
		}
		if c.Failed > 0 {
			more = append(more, fmt.Sprintf("%d refused", c.Failed))
		}
		if c.Unreachable > 0 {
			more = append(more, fmt.Sprintf("%d without a usable address", c.Unreachable))
		}
		if c.Twice > 0 {
			more = append(more, fmt.Sprintf("%d mailed twice", c.Twice))
		}
		if c.MaybeTwice > 0 {
			more = append(more, fmt.Sprintf("%d resent after an unconfirmed attempt (mailed once or twice)", c.MaybeTwice))
		}
		if len(more) > 0 {
			text += ", " + strings.Join(more, ", ")
		}
		if c.SubstituteNeeded() > 0 {
			text += fmt.Sprintf(". %d people not reached: the obligation stays open until they are (fix the sender or the addresses and approve again) or a substitute notice is given", c.SubstituteNeeded())
		}
		return text
	}
	var parts []string
	for _, d := range n.Deliveries {
		if d.Error != "" {
			parts = append(parts, fmt.Sprintf("to %s failed: %s", d.Recipient, d.Error))
		} else {
			parts = append(parts, fmt.Sprintf("emailed to %s (message %s)", d.Recipient, d.MessageID))
		}
	}
	for _, f := range n.Filings {
		if f.Reference != "" {
			parts = append(parts, fmt.Sprintf("filed with %s, reference %s", f.Recipient, f.Reference))
		} else {
			parts = append(parts, fmt.Sprintf("report ready to file with %s at %s (record the reference with `breachctl filed`)", f.Recipient, f.Portal))
		}
	}
	return "Notice " + n.ID + ": " + strings.Join(parts, "; ")
}

// Given reports whether the notice was given, so that it meets its clocks:
// to people, when sending ended with everyone in scope accepted for
// delivery (or notified under another notice); to organisations, when
// every one was reached, its email accepted or its report filed.
func (n Notice) Given() bool {
	if n.Notify == "individuals" {
		return n.State == NoticeSent && n.Counts.Shortfall() == 0
	}
	switch n.State {
	case NoticeSending, NoticeFailed:
		return false
	}
	reached := map[string]bool{}
	for _, d := range n.Deliveries {
		reached[d.Recipient] = reached[d.Recipient] || d.Error == ""
	}
	for _, f := range n.Filings {
		reached[f.Recipient] = reached[f.Recipient] || f.Reference != ""
	}
	if len(reached) == 0 {
		return false
	}
	for _, ok := range reached {
		if !ok {
			return false
		}
	}
	return true
}

// Meet marks an open clock met by a notice given at `at`.
func (c *Clock) Meet(at time.Time, noticeID string) (ClockEvent, bool) {
	if !c.State.Open() {
		return ClockEvent{}, false
	}
	t := at
	c.State, c.ClosedAt, c.NoticeID = ClockMet, &t, noticeID
	return ClockEvent{Kind: EventMet, Rule: c.Rule, At: at, Due: c.DueTime(), Late: lateBy(at, c.Due)}, true
}

func lateBy(at time.Time, due *time.Time) time.Duration {
	if due == nil || !at.After(*due) {
		return 0
	}
	return at.Sub(*due)
}

// DraftState is where a draft notice stands.
type DraftState string

const (
	DraftPending  DraftState = "pending"  // waiting for its approvals
	DraftApproved DraftState = "approved" // approved: the notice went out
	DraftVoided   DraftState = "voided"   // the facts or the templates changed after it was drafted
	DraftRejected DraftState = "rejected"
)

// Draft is a notice as it will be sent, named by a hash of its exact
// content: what approvers approve. A change to the facts or the templates
// changes the hash and voids it.
type Draft struct {
	Hash     string     `json:"hash"`
	Rules    []string   `json:"rules"`
	Notify   string     `json:"notify"`
	By       string     `json:"by"`
	At       time.Time  `json:"at"`
	State    DraftState `json:"state"`
	Required int        `json:"required"` // approvals needed: 2 under a two-person rule
	// Approvals are who approved it, in order; each person once.
	Approvals []Approval `json:"approvals,omitempty"`
	Reason    string     `json:"reason,omitempty"` // why it was voided or rejected
	// Request is the approval request the draft was made from (its texts),
	// opaque here.
	Request json.RawMessage `json:"request"`
	// Preview is the notice as it will read, rendered by the worker with
	// the configured organisation: one rendering per template and language
	// an approver needs to see. Rendered is a hash of all of them; the
	// notice refuses to send if it no longer renders the same.
	Preview  []NoticePreview `json:"preview,omitempty"`
	Rendered string          `json:"rendered,omitempty"`
	// Coverage counts, for a notice to people, the people of the snapshot
	// by the rules of the notice: whom it reaches under which law, and
	// whom no rule of it covers (they are not mailed by it).
	Coverage *NoticeCoverage `json:"coverage,omitempty"`
	// Fallback are the notice languages with no texts of their own: people
	// who read them get FallbackChoice ("template": their language's
	// template around the texts in English; "english": the notice in
	// English).
	Fallback       []string `json:"fallback,omitempty"`
	FallbackChoice string   `json:"fallback_choice,omitempty"`
}

// NoticeCoverage counts the people of a snapshot by the rules of a notice
// to people, from the snapshot's counts per jurisdiction.
type NoticeCoverage struct {
	Snapshot string `json:"snapshot"`
	People   int    `json:"people"`  // in the snapshot
	Covered  int    `json:"covered"` // covered by at least one rule of the notice
	// ByRule counts the people each rule covers (one person may count
	// under two).
	ByRule []RuleCount `json:"by_rule"`
	// Uncovered are the people no rule of the notice covers, by region,
	// with the incident's other obligations to people that cover them.
	Uncovered []UncoveredPeople `json:"uncovered,omitempty"`
}

// RuleCount is how many people one rule covers.
type RuleCount struct {
	Rule   string `json:"rule"`
	People int    `json:"people"`
}

// UncoveredPeople are the people of one region that no rule of a notice
// covers.
type UncoveredPeople struct {
	Region string `json:"region"`
	People int    `json:"people"`
	// Rules are the incident's other obligations to people that cover
	// them, to be answered by a notice of their own; none: no obligation
	// of the incident covers them.
	Rules []string `json:"rules,omitempty"`
}

// UncoveredCount is how many people no rule of the notice covers.
func (c NoticeCoverage) UncoveredCount() int { return c.People - c.Covered }

// Summary says in a sentence whom the notice reaches and whom not.
func (c NoticeCoverage) Summary() string {
	var by []string
	for _, r := range c.ByRule {
		by = append(by, fmt.Sprintf("%s %d", r.Rule, r.People))
	}
	text := fmt.Sprintf("%d of %d people in snapshot %s are covered by its rules (%s)", c.Covered, c.People, c.Snapshot, strings.Join(by, ", "))
	if len(c.Uncovered) == 0 {
		return text
	}
	var parts []string
	for _, u := range c.Uncovered {
		part := fmt.Sprintf("%s %d", u.Region, u.People)
		if len(u.Rules) > 0 {
			part += " (under " + strings.Join(u.Rules, ", ") + ", by a notice of their own)"
		} else {
			part += " (no obligation of the incident covers them)"
		}
		parts = append(parts, part)
	}
	n := c.UncoveredCount()
	who := "people are"
	if n == 1 {
		who = "person is"
	}
	return text + fmt.Sprintf("; %d %s covered by none and not mailed by it: %s", n, who, strings.Join(parts, ", "))
}

// NoticePreview is one rendering of a drafted notice.
type NoticePreview struct {
	Template  string `json:"template"`            // individuals, individuals-us-ca, authority, controller
	Lang      string `json:"lang"`                // the language rendered
	Recipient string `json:"recipient,omitempty"` // the organisation, for notices to organisations
	Subject   string `json:"subject"`
	Text      string `json:"text"`
}

// Approval is one person's approval of a draft.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}
