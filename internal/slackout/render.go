package slackout

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/incident"
)

// Action IDs of the summary's buttons: internal/slackin handles them
// (slackin.ActionIDAck and friends; a test keeps them equal).
const (
	ActionAck     = "ack"            // value: the incident ID
	ActionAddNote = "add_note"       // value: the incident ID
	ActionApprove = "approve_notice" // value: "INC-...|rule"
	// The buttons of a pending draft; value: "INC-...|hash".
	ActionPreviewDraft = "preview_draft"
	ActionApproveDraft = "approve_draft"
	ActionRejectDraft  = "reject_draft"
)

// Metadata event types that mark what breachctl posted, so a retry finds it.
const (
	EventSummary = "breachctl_summary" // payload {"incident": ID}
	EventPost    = "breachctl_post"    // payload {"key": key}
)

// Slack's limits that the rendering keeps to.
const (
	maxHeader         = 150  // characters of a header block
	maxSectionText    = 3000 // characters of a section's text
	maxButtonText     = 75
	maxActionElements = 25
	maxTopic          = 250
	maxBlocks         = 50 // blocks of a message
	// maxObligationBlocks leaves room under Slack's 50 blocks a message for
	// the other blocks of the summary.
	maxObligationBlocks = 30
)

// Options are the rendering's settings.
type Options struct {
	// WebURL links the summary to a web page of the incident: "{id}" in it
	// is replaced by the incident ID, else the ID is appended as a path
	// segment. Empty: no link.
	WebURL string
}

// SummaryMetadata is the metadata of an incident's summary message.
func SummaryMetadata(incidentID string) slack.SlackMetadata {
	return slack.SlackMetadata{EventType: EventSummary, EventPayload: map[string]any{"incident": incidentID}}
}

// PostMetadata is the metadata of a message posted at most once per key.
func PostMetadata(key string) slack.SlackMetadata {
	return slack.SlackMetadata{EventType: EventPost, EventPayload: map[string]any{"key": key}}
}

// IsSummary reports whether m is the metadata of incidentID's summary.
func IsSummary(m slack.SlackMetadata, incidentID string) bool {
	id, _ := m.EventPayload["incident"].(string)
	return m.EventType == EventSummary && id == incidentID
}

// IsPost reports whether m is the metadata of the message posted with key.
func IsPost(m slack.SlackMetadata, key string) bool {
	k, _ := m.EventPayload["key"].(string)
	return m.EventType == EventPost && k == key
}

// ChannelName is the name of an incident's channel: the prefix and the
// incident ID without its "INC-", lower-cased ("inc-20261123-abcde").
func ChannelName(prefix, incidentID string) string {
	return strings.ToLower(prefix + strings.TrimPrefix(strings.ToUpper(incidentID), "INC-"))
}

// Topic is the topic of an incident's channel.
func Topic(incidentID, title string) string {
	if strings.TrimSpace(title) == "" {
		return incidentID
	}
	return truncate(incidentID+" · "+title, maxTopic)
}

// Purpose is the purpose of an incident's channel.
func Purpose(incidentID string) string {
	return "Breach incident " + incidentID + ", run by breachctl. The pinned message is its summary; /breach status " + incidentID + " shows the rest."
}

// Fallback is the summary's text for notifications and clients that show
// no blocks. It names no one and quotes nothing people wrote.
func Fallback(v SummaryView) string {
	return fmt.Sprintf("%s: %s, severity %s", v.Incident, v.State, v.Severity)
}

// Blocks renders the summary as of now (the time left to each deadline).
func Blocks(v SummaryView, now time.Time, opts Options) []slack.Block {
	now = now.UTC()
	header := v.Incident
	if strings.TrimSpace(v.Title) != "" {
		header += " · " + v.Title
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(truncate(header, maxHeader))),
		slack.NewSectionBlock(nil, stateFields(v, now), nil),
		slack.NewSectionBlock(mrkdwn(truncate(factsText(v), maxSectionText)), nil, nil),
		slack.NewDividerBlock(),
	}
	blocks = append(blocks, obligationBlocks(v, now)...)
	blocks = append(blocks, slack.NewDividerBlock(),
		slack.NewSectionBlock(mrkdwn(truncate(noticesText(v), maxSectionText)), nil, nil))
	var tail []slack.Block
	if v.State != string(incident.StateClosed) {
		tail = actionBlocks(v)
	}
	context := "Updated " + utcTime(now) + "; times left are as of then."
	if link := incidentURL(opts.WebURL, v.Incident); link != "" {
		context += " <" + link + "|Open in the web UI>"
	}
	tail = append(tail, slack.NewContextBlock("updated", mrkdwn(context)))
	if v.State != string(incident.StateClosed) {
		blocks = append(blocks, DraftBlocks(v.Incident, v.Drafts, maxBlocks-len(blocks)-len(tail))...)
	}
	return append(blocks, tail...)
}

// DraftBlocks show pending drafts with their buttons in at most room
// blocks; drafts that do not fit are counted, and `/breach status` shows
// them.
func DraftBlocks(incidentID string, drafts []DraftView, room int) []slack.Block {
	if len(drafts) == 0 || room < 2 {
		return nil
	}
	shown := len(drafts)
	if 1+2*shown > room {
		shown = max(0, (room-2)/2) // the heading, and a line for the rest
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Drafts waiting for approval* (%d)", len(drafts))), nil, nil)}
	for _, d := range drafts[:shown] {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(DraftText(d), maxSectionText)), nil, nil), DraftActions(incidentID, d))
	}
	if rest := len(drafts) - shown; rest > 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("%d more not shown: `/breach status %s` lists them with their buttons.", rest, escape(incidentID)))))
	}
	return blocks
}

// DraftText says what a draft is for, who drafted it and where its
// approvals stand ("1 of 2").
func DraftText(d DraftView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Draft `%s`* of the notice under %s", escape(d.Hash), codeList(d.Rules))
	if d.Notify != "" {
		fmt.Fprintf(&b, " to %s", escape(d.Notify))
	}
	b.WriteString("\n")
	if d.By != "" {
		fmt.Fprintf(&b, "Drafted by %s %s · ", actor(d.By), utcTime(d.At))
	}
	fmt.Fprintf(&b, "approvals *%d of %d*", len(d.ApprovedBy), d.Required)
	if len(d.ApprovedBy) > 0 {
		who := make([]string, len(d.ApprovedBy))
		for i, a := range d.ApprovedBy {
			who[i] = actor(a)
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(who, ", "))
	}
	return b.String()
}

// DraftActions are a draft's buttons. Approving asks for confirmation in
// Slack first, saying whether this approval sends the notice; rejecting
// opens a form for the reason.
func DraftActions(incidentID string, d DraftView) *slack.ActionBlock {
	value := incidentID + "|" + d.Hash
	approve := slack.NewButtonBlockElement(ActionApproveDraft, value, plain("Approve draft"))
	after := fmt.Sprintf("It then has %d of %d approvals and waits for another approver.", len(d.ApprovedBy)+1, d.Required)
	if len(d.ApprovedBy)+1 >= d.Required {
		after = "Yours is the last approval it needs: sending starts."
		approve = approve.WithStyle(slack.StyleDanger) // it sends, as Approve notice does
	} else {
		approve = approve.WithStyle(slack.StylePrimary)
	}
	approve = approve.WithConfirm(slack.NewConfirmationBlockObject(plain("Approve this draft?"),
		mrkdwn(fmt.Sprintf("You approve draft `%s` of the notice under %s for %s, in your name, as it is now. %s",
			escape(d.Hash), codeList(d.Rules), escape(incidentID), after)),
		plain("Approve"), plain("Cancel")))
	return slack.NewActionBlock(truncate("draft_"+d.Hash, 255),
		slack.NewButtonBlockElement(ActionPreviewDraft, value, plain("Preview")),
		approve,
		slack.NewButtonBlockElement(ActionRejectDraft, value, plain("Reject")),
	)
}

func codeList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + escape(s) + "`"
	}
	return strings.Join(out, ", ")
}

func stateFields(v SummaryView, now time.Time) []*slack.TextBlockObject {
	fields := []*slack.TextBlockObject{
		mrkdwn("*State*\n" + stateIcon(v.State) + " " + escape(v.State)),
		mrkdwn("*Severity*\n" + escape(v.Severity)),
	}
	if v.Risk != "" {
		fields = append(fields, mrkdwn("*Risk to people*\n"+escape(v.Risk)))
	}
	opened := "*Opened*\n" + utcTime(v.OpenedAt)
	if v.OpenedBy != "" {
		opened += " by " + actor(v.OpenedBy)
	}
	fields = append(fields, mrkdwn(opened))
	if v.ClosedAt != nil {
		fields = append(fields, mrkdwn("*Closed*\n"+utcTime(*v.ClosedAt)))
	}
	if next, ok := nextDeadline(v); ok {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Next deadline*\n%s (`%s`), %s", utcTime(*next.Due), escape(next.Rule), timeLeft(*next.Due, now))))
	}
	return fields
}

// nextDeadline is the open obligation with the earliest deadline.
func nextDeadline(v SummaryView) (ObligationView, bool) {
	for _, o := range v.Obligations { // open first, earliest first
		if o.Open() && o.Due != nil {
			return o, true
		}
	}
	return ObligationView{}, false
}

func factsText(v SummaryView) string {
	var b strings.Builder
	b.WriteString("*Facts*\n")
	fmt.Fprintf(&b, "• Aware since %s\n", utcTime(v.AwareAt))
	fmt.Fprintf(&b, "• Systems: %s\n", list(v.Systems))
	fmt.Fprintf(&b, "• Data: %s\n", list(v.DataCategories))
	fmt.Fprintf(&b, "• People live in: %s\n", list(v.Regions))
	if v.Affected > 0 {
		fmt.Fprintf(&b, "• People affected: %s counted so far\n", thousands(v.Affected))
	} else {
		b.WriteString("• People affected: not counted yet\n")
	}
	if v.Encrypted {
		b.WriteString("• The data was encrypted and the key not compromised\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func obligationBlocks(v SummaryView, now time.Time) []slack.Block {
	if len(v.Obligations) == 0 {
		return []slack.Block{slack.NewSectionBlock(mrkdwn("*Obligations*\nNone triggered by the facts so far."), nil, nil)}
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Obligations* (%d)", len(v.Obligations))), nil, nil)}
	shown := v.Obligations
	if len(shown) > maxObligationBlocks {
		shown = shown[:maxObligationBlocks-1]
	}
	for _, o := range shown {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(obligationText(o, now), maxSectionText)), nil, nil))
	}
	if rest := len(v.Obligations) - len(shown); rest > 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("%d more not shown: `/breach status %s` lists them all.", rest, escape(v.Incident)))))
	}
	return blocks
}

func obligationText(o ObligationView, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* `%s`", escape(o.Title), escape(o.Rule))
	if o.Stage != "" {
		fmt.Fprintf(&b, " (%s)", escape(o.Stage))
	}
	b.WriteString("\n")
	var parts []string
	if o.Jurisdiction != "" {
		parts = append(parts, escape(o.Jurisdiction))
	}
	if o.Notify != "" {
		parts = append(parts, "notify "+escape(o.Notify))
	}
	parts = append(parts, clockIcon(o.State)+" "+escape(o.State))
	switch {
	case o.WaitsFor != "":
		parts = append(parts, "starts when the notice under `"+escape(o.WaitsFor)+"` is sent")
	case o.Due == nil && o.ASAP:
		parts = append(parts, "without undue delay, no fixed deadline")
	case o.Due == nil:
		parts = append(parts, "no fixed deadline")
	default:
		due := "due " + utcTime(*o.Due)
		if o.ASAP {
			due = "without undue delay, at the latest " + utcTime(*o.Due)
		}
		parts = append(parts, due)
		if o.Open() {
			parts = append(parts, "*"+timeLeft(*o.Due, now)+"*")
		}
	}
	if o.NoticeID != "" {
		parts = append(parts, "notice `"+escape(o.NoticeID)+"`")
	}
	b.WriteString(strings.Join(parts, " · "))
	if o.NeedsDelayReasons {
		b.WriteString("\n:warning: The late notice must give the reasons for the delay: record them with `breachctl delay`.")
	}
	return b.String()
}

func noticesText(v SummaryView) string {
	if len(v.Notices) == 0 {
		return "*Notices*\nNone approved yet."
	}
	var b strings.Builder
	b.WriteString("*Notices*\n")
	for _, n := range v.Notices {
		fmt.Fprintf(&b, "• `%s` to %s: %s %s", escape(n.ID), escape(n.Notify), noticeIcon(n.State), escape(strings.ReplaceAll(n.State, "_", " ")))
		if n.ApprovedBy != "" {
			fmt.Fprintf(&b, ", approved by %s", actor(n.ApprovedBy))
		}
		if n.Notify == "individuals" && n.Expected > 0 {
			fmt.Fprintf(&b, ", %s of %s people done, %s accepted", thousands(n.Done), thousands(n.Expected), thousands(n.Accepted))
			if n.NotReached > 0 {
				fmt.Fprintf(&b, ", %s not reached", thousands(n.NotReached))
			}
		}
		if n.SentAt != nil {
			fmt.Fprintf(&b, ", sent %s", utcTime(*n.SentAt))
		}
		if len(n.ToFile) > 0 {
			names := make([]string, len(n.ToFile))
			for i, r := range n.ToFile {
				names[i] = escape(r)
			}
			fmt.Fprintf(&b, ", to file with %s", strings.Join(names, ", "))
		}
		if n.State == string(incident.NoticeFailed) {
			fmt.Fprintf(&b, " (`/breach status %s` says why)", escape(v.Incident))
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// actionBlocks are the buttons: acknowledge and add a note, then one
// approval per open obligation without a notice.
func actionBlocks(v SummaryView) []slack.Block {
	blocks := []slack.Block{slack.NewActionBlock("incident_actions",
		slack.NewButtonBlockElement(ActionAck, v.Incident, plain("Acknowledge")).WithStyle(slack.StylePrimary),
		slack.NewButtonBlockElement(ActionAddNote, v.Incident, plain("Add note")),
	)}
	var approve []slack.BlockElement
	for _, o := range v.Obligations {
		if o.Open() && o.NoticeID == "" {
			approve = append(approve, approveButton(v.Incident, o.Rule, approversOf(v, o.Notify)))
		}
	}
	for i := 0; i < len(approve); i += maxActionElements {
		end := min(i+maxActionElements, len(approve))
		blocks = append(blocks, slack.NewActionBlock(fmt.Sprintf("approve_%d", i/maxActionElements+1), approve[i:end]...))
	}
	return blocks
}

// approversOf is how many approvers a notice of kind notify needs, when a
// pending draft of that kind says it is more than one; 0 otherwise.
func approversOf(v SummaryView, notify string) int {
	for _, d := range v.Drafts {
		if notify != "" && d.Notify == notify && d.Required > 1 {
			return d.Required
		}
	}
	return 0
}

// approveButton asks for confirmation, then opens the approval form; where
// the notice is known to need more approvers, the form records a draft, and
// the confirmation says so rather than promising to send.
func approveButton(id, rule string, approvers int) *slack.ButtonBlockElement {
	confirm := slack.NewConfirmationBlockObject(plain("Approve and send?"),
		mrkdwn(fmt.Sprintf("The notice under `%s` for %s is approved in your name and sending starts.", escape(rule), escape(id))),
		plain("Approve and send"), plain("Cancel"))
	if approvers > 1 {
		confirm = slack.NewConfirmationBlockObject(plain("Draft the notice?"),
			mrkdwn(fmt.Sprintf("The notice under `%s` for %s needs %d approvers: what you write is recorded as a draft for them to approve.", escape(rule), escape(id), approvers)),
			plain("Write the draft"), plain("Cancel"))
	}
	return slack.NewButtonBlockElement(ActionApprove, id+"|"+rule, plain(truncate("Approve notice "+rule, maxButtonText))).
		WithStyle(slack.StyleDanger).WithConfirm(confirm)
}

// timeLeft says how long until due, or how long past it.
func timeLeft(due, now time.Time) string {
	if d := due.Sub(now); d > 0 {
		return incident.FormatDuration(d) + " left"
	}
	return "overdue by " + incident.FormatDuration(now.Sub(due))
}

func stateIcon(s string) string {
	switch incident.State(s) {
	case incident.StateOverdue:
		return ":red_circle:"
	case incident.StateClosed:
		return ":white_circle:"
	}
	return ":large_orange_circle:"
}

func clockIcon(s string) string {
	switch incident.ClockState(s) {
	case incident.ClockRunning:
		return ":hourglass_flowing_sand:"
	case incident.ClockOverdue:
		return ":red_circle:"
	case incident.ClockMet:
		return ":white_check_mark:"
	}
	return ":heavy_minus_sign:"
}

func noticeIcon(s string) string {
	switch incident.NoticeState(s) {
	case incident.NoticeSent, incident.NoticeFiled:
		return ":white_check_mark:"
	case incident.NoticeFailed:
		return ":x:"
	case incident.NoticeAwaitingFiling:
		return ":inbox_tray:"
	}
	return ":outbox_tray:"
}

// Actor shows who did something in mrkdwn: a Slack user (slack:U0123ABCD)
// as a mention, anyone else as written, escaped.
func Actor(who string) string { return actor(who) }

func actor(who string) string {
	if id, ok := strings.CutPrefix(who, "slack:"); ok && slackUserID(id) {
		return "<@" + id + ">"
	}
	return escape(who)
}

// slackUserID accepts Slack user IDs: U or W, then capitals and digits.
func slackUserID(s string) bool {
	if len(s) < 3 || len(s) > 32 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func incidentURL(base, id string) string {
	if base == "" {
		return ""
	}
	if strings.Contains(base, "{id}") {
		return strings.ReplaceAll(base, "{id}", id)
	}
	return strings.TrimSuffix(base, "/") + "/" + id
}

func utcTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func list(items []string) string {
	if len(items) == 0 {
		return "not known yet"
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = escape(strings.ReplaceAll(s, "_", " "))
	}
	return strings.Join(out, ", ")
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Escape makes text safe inside mrkdwn: what people wrote cannot mention
// anyone or fake a link. It is the one escaping of everything breachctl
// writes to Slack (internal/slackin uses it too): Slack's three control
// characters, &, < and >, become entities.
func Escape(s string) string { return escape(s) }

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return mrkdwnEscaper.Replace(s) }

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}
