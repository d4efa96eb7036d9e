package slackin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/slackout"
	"github.com/breachctl/breachctl/workflows"
)

// Action IDs of the buttons on incident messages.
const (
	ActionIDAck     = "ack"            // value: the incident ID
	ActionIDApprove = "approve_notice" // value: "INC-...|rule"
	ActionIDAddNote = "add_note"       // value: the incident ID
	// A pending draft's buttons (slackout.DraftActions); value:
	// "INC-...|hash".
	ActionIDPreviewDraft = "preview_draft"
	ActionIDApproveDraft = "approve_draft"
	ActionIDRejectDraft  = "reject_draft"
)

// Callback IDs of the modals.
const (
	callbackOpen   = "breach_open"
	callbackNote   = "breach_note"
	callbackReject = "breach_reject"
)

// Block IDs of the open form; a validation error is shown on its block.
const (
	blockTitle       = "title"
	blockDescription = "description"
	blockAwareAt     = "aware_at"
	blockSystems     = "systems"
	blockCategories  = "data_categories"
	blockRegions     = "regions"
	blockSeverity    = "severity"
	blockNote        = "note"
	blockReason      = "reason" // why a draft is rejected
	inputAction      = "value"  // the action ID of every input
)

// formMeta rides in a modal's private_metadata: where to answer once the
// form is submitted, which incident a note or an approval is for, the
// rules an approval answers, and the draft a rejection is of.
type formMeta struct {
	ResponseURL string   `json:"r,omitempty"`
	Channel     string   `json:"c,omitempty"`
	Incident    string   `json:"i,omitempty"`
	Rules       []string `json:"u,omitempty"`
	// Approvers is how many different people must approve the notice,
	// when the approval form knows it is more than one: its submission
	// then records a draft.
	Approvers int    `json:"n,omitempty"`
	Draft     string `json:"h,omitempty"` // a draft's hash
}

func (m formMeta) encode() string {
	b, _ := json.Marshal(m) // strings only: cannot fail
	return string(b)
}

func decodeMeta(s string) formMeta {
	var m formMeta
	_ = json.Unmarshal([]byte(s), &m) // bad metadata reads as none
	return m
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// openModal is the report form of `/breach open`.
func openModal(now time.Time, meta formMeta) slack.ModalViewRequest {
	title := slack.NewPlainTextInputBlockElement(plain("Customer export bucket was public"), inputAction)
	title.MaxLength = 200
	what := slack.NewPlainTextInputBlockElement(plain("What was exposed, how, to whom, what has been done"), inputAction)
	what.Multiline = true
	what.MaxLength = 3000
	aware := slack.NewDateTimePickerBlockElement(inputAction)
	aware.InitialDateTime = now.Unix()
	systems := slack.NewPlainTextInputBlockElement(plain("uploads, accounts"), inputAction)
	regions := slack.NewPlainTextInputBlockElement(plain("EU, US-CA, BR"), inputAction)

	cats := make([]*slack.OptionBlockObject, len(incident.DataCategories))
	for i, c := range incident.DataCategories {
		cats[i] = slack.NewOptionBlockObject(c, plain(strings.ReplaceAll(c, "_", " ")), nil)
	}
	catSelect := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Choose categories"), inputAction, cats...)

	sevs := make([]*slack.OptionBlockObject, len(incident.Severities))
	for i, s := range incident.Severities {
		sevs[i] = slack.NewOptionBlockObject(string(s), plain(string(s)), nil)
	}
	sevSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose"), inputAction, sevs...)
	sevSelect.InitialOption = sevs[0]

	optional := func(b *slack.InputBlock) *slack.InputBlock {
		b.Optional = true
		return b
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackOpen,
		Title:           plain("Report a breach"),
		Submit:          plain("Open incident"),
		Close:           plain("Cancel"),
		PrivateMetadata: meta.encode(),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock(blockTitle, plain("Title"), nil, title),
			slack.NewInputBlock(blockDescription, plain("What happened"), nil, what),
			slack.NewInputBlock(blockAwareAt, plain("When we became aware"),
				plain("When we knew with reasonable certainty that personal data was affected: most legal clocks start here."), aware),
			optional(slack.NewInputBlock(blockSystems, plain("Systems"), plain("Comma-separated system names"), systems)),
			optional(slack.NewInputBlock(blockCategories, plain("Data categories"), nil, catSelect)),
			optional(slack.NewInputBlock(blockRegions, plain("Where the affected people live"),
				plain("EU, EEA, country codes (DE) or subdivisions (US-CA), comma-separated"), regions)),
			slack.NewInputBlock(blockSeverity, plain("Severity"), nil, sevSelect),
		}},
	}
}

// noteModal asks for the text of a note on one incident.
func noteModal(meta formMeta) slack.ModalViewRequest {
	text := slack.NewPlainTextInputBlockElement(plain("What you found or did"), inputAction)
	text.Multiline = true
	text.MaxLength = 3000
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackNote,
		Title:           plain("Add a note"),
		Submit:          plain("Add note"),
		Close:           plain("Cancel"),
		PrivateMetadata: meta.encode(),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewContextBlock("", mrkdwn("On the timeline of *"+meta.Incident+"*, with your name.")),
			slack.NewInputBlock(blockNote, plain("Note"), nil, text),
		}},
	}
}

// infoModal replaces a submitted form with a short message.
func infoModal(title, text string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  plain(title),
		Close:  plain("Done"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}},
	}
}

// openedMessage announces a new incident where it was reported.
func openedMessage(st incident.Status, user string) *slack.WebhookMessage {
	text := fmt.Sprintf(":rotating_light: <@%s> opened *%s*: %s (severity %s).", user, escape(st.ID), escape(st.Facts.Title), escape(string(st.Facts.Severity)))
	if st.NextDeadline != nil {
		text += fmt.Sprintf(" Next deadline %s under `%s`.", slackDate(*st.NextDeadline), escape(st.BindingRule))
	}
	msg := inChannel(text)
	msg.Blocks = &slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("incident_actions", ackButton(st.ID), noteButton(st.ID)),
	}}
	return msg
}

func ackButton(id string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(ActionIDAck, id, plain("Acknowledge")).WithStyle(slack.StylePrimary)
}

func noteButton(id string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(ActionIDAddNote, id, plain("Add note"))
}

// statusMessage shows where an incident stands, with its buttons.
func statusMessage(st incident.Status) *slack.WebhookMessage {
	header := st.ID
	if st.Facts.Title != "" {
		header = truncate(st.ID+" · "+st.Facts.Title, 150)
	}
	fields := []*slack.TextBlockObject{
		mrkdwn("*State*\n" + escape(string(st.State))),
		mrkdwn("*Severity*\n" + escape(string(st.Facts.Severity))),
		mrkdwn("*Opened*\n" + slackDate(st.OpenedAt) + " by " + orDash(slackout.Actor(st.OpenedBy))),
	}
	if st.NextDeadline != nil {
		fields = append(fields, mrkdwn("*Next deadline*\n"+slackDate(*st.NextDeadline)+" (`"+escape(st.BindingRule)+"`)"))
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(header)),
		slack.NewSectionBlock(nil, fields, nil),
	}
	var clocks strings.Builder
	buttons := []slack.BlockElement{}
	for _, c := range st.Clocks {
		fmt.Fprintf(&clocks, "• `%s` %s: %s", escape(c.Rule), escape(c.Title), escape(string(c.State)))
		if c.Due != nil {
			fmt.Fprintf(&clocks, ", due %s", slackDate(*c.Due))
		}
		if c.NoticeID != "" {
			fmt.Fprintf(&clocks, ", notice %s", escape(c.NoticeID))
		}
		clocks.WriteString("\n")
		if c.State.Open() && c.NoticeID == "" && len(buttons) < 5 {
			buttons = append(buttons, approveButton(st.ID, c.Rule))
		}
	}
	if len(st.Roles) > 0 {
		var team strings.Builder
		for _, r := range incident.RoleOrder(st.Roles) {
			fmt.Fprintf(&team, "• %s: %s\n", escape(capitalize(incident.RoleTitle(r))), personText(st.Roles[r]))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate("*Roles*\n"+strings.TrimSuffix(team.String(), "\n"), 3000)), nil, nil))
	}
	if clocks.Len() > 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate("*Obligations*\n"+clocks.String(), 3000)), nil, nil))
	} else {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Obligations*\nNone so far."), nil, nil))
	}
	if st.State != incident.StateClosed {
		// Drafts come with their buttons: people outside the incident's
		// channel sign off from here.
		blocks = append(blocks, slackout.DraftBlocks(st.ID, slackout.DraftsOf(st), maxStatusBlocks-len(blocks)-1)...)
		elems := append([]slack.BlockElement{ackButton(st.ID), noteButton(st.ID)}, buttons...)
		blocks = append(blocks, slack.NewActionBlock("incident_actions", elems...))
	}
	msg := ephemeral(fmt.Sprintf("%s: %s, severity %s", escape(st.ID), escape(string(st.State)), escape(string(st.Facts.Severity))))
	msg.Blocks = &slack.Blocks{BlockSet: blocks}
	return msg
}

// maxStatusBlocks is the most blocks Slack takes in a message.
const maxStatusBlocks = 50

// approveButton opens the approval form (approveModal), whose submit
// button is the confirmation: nothing is approved by the press itself.
func approveButton(id, rule string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(ActionIDApprove, id+"|"+rule, plain(truncate("Approve "+rule, 75))).
		WithStyle(slack.StyleDanger)
}

// slackDate shows a time in the reader's own time zone, with UTC as the
// fallback text.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// escape makes text safe inside mrkdwn: what people wrote cannot mention
// channels or fake links. It is slackout.Escape: one escaping for
// everything breachctl writes to Slack.
func escape(s string) string { return slackout.Escape(s) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// maxNote is the longest note the workflow takes.
const maxNote = workflows.MaxNoteLength
