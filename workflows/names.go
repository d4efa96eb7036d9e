package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
)

// Registered names. They are part of every running history: never rename.
const (
	IncidentWorkflowName = "IncidentWorkflow"

	QueryStatus = "status"

	UpdateDescribe = "describe" // waits for the first assessment, returns the status
	UpdateNote     = "note"
	UpdateFacts    = "update-facts"
	UpdateClose    = "close"
	UpdateDelay    = "delay-reasons"
	UpdateScope    = "scope"
	UpdateApprove  = "approve"
	UpdateFiled    = "filed"
	// UpdateAcknowledge stops the paging of an escalation, never a clock.
	UpdateAcknowledge = "acknowledge"
	// UpdateAssign gives a person a role on the incident.
	UpdateAssign = "assign"
	// UpdateDraft drafts a notice for approval; UpdateReject rejects a
	// draft. Approving a draft is UpdateApprove with ApproveRequest.Draft.
	UpdateDraft  = "draft"
	UpdateReject = "reject"

	// SignalNoticeDone carries a NoticeResult from a notice's workflow to
	// its incident.
	SignalNoticeDone = "notice-done"

	NoticeWorkflowName = "NoticeWorkflow"
	QueryProgress      = "progress" // a notice's NoticeProgress
)

// Custom search attributes, kept current by the workflow so `list` is a
// visibility query and never has to ask each incident.
var (
	SearchState        = temporal.NewSearchAttributeKeyKeyword("BreachState")
	SearchSeverity     = temporal.NewSearchAttributeKeyKeyword("BreachSeverity")
	SearchNextDeadline = temporal.NewSearchAttributeKeyTime("BreachNextDeadline")
)

// SearchAttributes lists the custom search attributes a namespace needs.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchState.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchSeverity.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchNextDeadline.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	}
}

// MemoTitle is the memo key holding the incident title, so a list can show it
// without querying each workflow. A memo is a payload: the codec encrypts it.
const MemoTitle = "title"

// IncidentInput starts an incident.
type IncidentInput struct {
	ID       string         `json:"id"`
	Facts    incident.Facts `json:"facts"`
	OpenedBy string         `json:"opened_by,omitempty"`
	// Carry is the whole state handed over by continue-as-new; nil on the
	// first run.
	Carry *incident.Status `json:"carry,omitempty"`
	// Pages and Policies are the escalations in flight and the chains of
	// the obligations, handed over by continue-as-new.
	Pages    map[string]escalation.Page   `json:"pages,omitempty"`
	Policies map[string]escalation.Policy `json:"policies,omitempty"`
	// TwoPerson are the kinds of notice that need two approvers.
	TwoPerson []string `json:"two_person,omitempty"`
}

// NoteRequest adds a note to the timeline.
type NoteRequest struct {
	Text  string `json:"text"`
	Actor string `json:"actor"`
}

// FactsRequest changes the facts.
type FactsRequest struct {
	Change incident.FactsChange `json:"change"`
	Actor  string               `json:"actor"`
	// Reason says why the facts changed ("logs show access began earlier").
	Reason string `json:"reason,omitempty"`
}

// CloseRequest closes the incident; the reason is required.
type CloseRequest struct {
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
	// AcknowledgeOpen: the person closing knows that obligations are
	// overdue with no notice given, and closes anyway (a client sets it
	// after asking). Without it such a close is refused, naming them.
	// The obligations open at the close are recorded either way.
	AcknowledgeOpen bool `json:"acknowledge_open,omitempty"`
}

// DelayRequest records the reasons for a late notice under one obligation.
type DelayRequest struct {
	Rule    string `json:"rule"`
	Reasons string `json:"reasons"`
	Actor   string `json:"actor"`
}

// ScopeRequest records a scoping snapshot: its ID and counts, never the
// people. The facts take its counts and categories.
type ScopeRequest struct {
	Snapshot incident.SnapshotRef `json:"snapshot"`
	Actor    string               `json:"actor"`
	// Store names the store the client wrote the snapshot to
	// (activities.StoreName), so a snapshot the workers cannot read is
	// refused naming both stores.
	Store string `json:"store,omitempty"`
	// Confirm: a person confirmed a scoping that finds nobody, or that
	// withdraws obligations; without it such a scoping is refused, saying
	// why, and the incident keeps its facts and clocks.
	Confirm bool `json:"confirm,omitempty"`
	// Rows are the rows the sources had, and NotExposed those of them
	// whose data was outside the window (deleted before it began, or
	// written after it ended): what the scoping report says, so a scoping
	// that finds nobody says why.
	Rows       int `json:"rows,omitempty"`
	NotExposed int `json:"not_exposed,omitempty"`
}

// Limits that keep one incident's history bounded.
const (
	MaxNoteLength   = 10000
	MaxReasonLength = 2000
)

// ApproveRequest approves the notice under one or more obligations of the
// same kind: one notice then satisfies all of them, and a person covered by
// several gets it once.
type ApproveRequest struct {
	Rules []string `json:"rules"`
	// Texts are what the notice says, in its main language (the
	// description of the incident stands in for WhatHappened when empty).
	Texts activities.NoticeTexts `json:"texts"`
	// Translations are the texts in other languages, by language tag.
	Translations map[string]activities.NoticeTexts `json:"translations,omitempty"`
	// SubjectCategories are the kinds of people concerned (customers,
	// employees), for notices to authorities and customers.
	SubjectCategories []string `json:"subject_categories,omitempty"`
	Actor             string   `json:"actor"`
	// Draft is the hash of the draft approved; empty approves the texts
	// given here at once (refused where two approvers are required).
	Draft string `json:"draft,omitempty"`
	// Fallback is what people whose language the notice has no texts in
	// get: activities.FallbackTemplate (their language's template around
	// the English texts; the default) or activities.FallbackEnglish (the
	// notice in English). The draft lists those languages.
	Fallback string `json:"fallback,omitempty"`

	// rendered carries an approved draft's rendering hash to its notice,
	// inside the workflow only.
	rendered string
}

// RejectRequest rejects a draft, with why.
type RejectRequest struct {
	Draft  string `json:"draft"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
}

// FiledRequest records that a report was filed through an authority's
// portal, with the reference the portal gave.
type FiledRequest struct {
	Rule      string `json:"rule"`
	Recipient string `json:"recipient,omitempty"` // which filing, when the notice has several
	Reference string `json:"reference"`
	Actor     string `json:"actor"`
}

// AckRequest acknowledges the incident's pages: someone is on it. Rule
// narrows it to one obligation's page; empty acknowledges them all.
type AckRequest struct {
	Rule  string `json:"rule,omitempty"`
	Text  string `json:"text,omitempty"` // optional, for the timeline
	Actor string `json:"actor"`
}

// AssignRequest gives Person a role on the incident (see incident.Roles):
// a Slack user (slack:U0123ABCD), an email address or a name.
type AssignRequest struct {
	Role   string `json:"role"`
	Person string `json:"person"`
	Actor  string `json:"actor"`
}
