package slackin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// Approving from Slack: the approve_notice button and `/breach approve INC
// RULE...` open a form for the notice's texts (callbackApprove); its
// submission calls Incidents.Approve, or Incidents.Draft where the notice
// needs two approvers (drafts.go).
//
// Which texts a notice needs depends on the law behind each rule, and only
// the workflow's validator knows it. Slack is not asked to duplicate it:
// every text is optional in the form, the submission checks at once only
// what it can tell alone (the role, the form's metadata, the length of each
// text), answers Slack with "Approving…" and calls Approve in the
// background. A refusal from the workflow (invalid: "likely_consequences:
// is required ...") then puts the form back with the texts as typed and the
// refusal under the text it names (or at the top when it names none), and
// is posted ephemerally to the response_url too, because the person may
// have closed the form meanwhile. Slack's response_action "errors" cannot
// be used for it: Slack must be answered within 3 s, Approve is an update
// on the incident's workflow and may take longer.

const callbackApprove = "breach_approve"

// Block IDs of the approval form: the JSON names of the texts in
// activities.NoticeTexts, which are also the names the workflow's refusals
// use, so a refusal finds its block by name.
const (
	blockWhatHappened = "what_happened"
	blockConsequences = "likely_consequences"
	blockMeasures     = "measures_taken"
	blockWhatToDo     = "what_you_can_do"
	blockIDTheft      = "identity_theft_offer"
)

// textBlocks are the approval form's text blocks, in the form's order.
var textBlocks = []string{blockWhatHappened, blockConsequences, blockMeasures, blockWhatToDo, blockIDTheft}

// lookupTimeout bounds the look-up of the incident's description before
// the approval form opens; the rest of viewTimeout is for views.open.
const lookupTimeout = 1200 * time.Millisecond

// maxFormText is the most Slack lets a plain_text_input take.
const maxFormText = 3000

// approveForm opens the approval form for meta's incident and rules, with
// "what happened" prefilled from the incident's description. It returns
// what to tell the user when the form did not open ("" when it did); again
// says how to try again.
func (h *Handler) approveForm(trigger string, meta formMeta, user, again string) string {
	ctx, cancel := context.WithTimeout(h.ctx, viewTimeout)
	defer cancel()
	lookup, stop := context.WithTimeout(ctx, lookupTimeout)
	st, err := h.cfg.Incidents.Show(lookup, meta.Incident)
	stop()
	switch {
	case err == nil:
	case apperr.KindOf(err) == apperr.NotFound:
		return userMessage(err, meta.Incident)
	default:
		// The form opens without the description: the workflow uses it
		// when "what happened" is left empty.
		h.log.Warn("slack approval form not prefilled", append([]any{"incident", meta.Incident, "user", user}, logAttrs(err)...)...)
	}
	meta.Approvers = approversNeeded(st, meta.Rules)
	err = h.cfg.Views.OpenView(ctx, trigger, approveModal(meta, activities.NoticeTexts{WhatHappened: st.Facts.Description}, nil))
	switch {
	case err == nil:
		return ""
	case isExpiredTrigger(err):
		h.log.Warn("slack form not opened", "action", string(ActionApprove), "incident", meta.Incident, "user", user, "reason", "expired_trigger_id")
		return ":hourglass: Slack's request expired before the approval form could open. " + again
	default:
		h.log.Warn("slack form not opened", "action", string(ActionApprove), "incident", meta.Incident, "user", user, "error", err.Error())
		return fmt.Sprintf(":x: The approval form could not be opened. %s Or approve with `breachctl approve %s %s --file texts.yaml`.",
			again, meta.Incident, strings.Join(meta.Rules, " "))
	}
}

// formRefusal is a workflow's refusal shown on the approval form: on the block
// of the text it names, or at the top when Block is empty.
type formRefusal struct{ Block, Text string }

// approveModal is the approval form. texts are its initial values; refused,
// when set, is why the last submission was refused.
func approveModal(meta formMeta, texts activities.NoticeTexts, refused *formRefusal) slack.ModalViewRequest {
	input := func(block, label, hint, placeholder, value string, multiline bool) []slack.Block {
		el := slack.NewPlainTextInputBlockElement(plain(placeholder), inputAction)
		el.Multiline = multiline
		el.MaxLength = maxFormText
		el.InitialValue = value
		var h *slack.TextBlockObject
		if hint != "" {
			h = plain(hint)
		}
		b := slack.NewInputBlock(block, plain(label), h, el)
		b.Optional = true // the workflow decides what the law needs
		out := []slack.Block{b}
		if refused != nil && refused.Block == block {
			out = append(out, slack.NewContextBlock("", mrkdwn(":warning: "+escape(capitalize(refused.Text)))))
		}
		return out
	}
	rules := make([]string, len(meta.Rules))
	for i, r := range meta.Rules {
		rules[i] = "`" + escape(r) + "`"
	}
	title, submit := "Approve notice", "Approve and send"
	intro := fmt.Sprintf("The notice for *%s* under %s. When you press *Approve and send* it is approved in your name and sending starts.",
		escape(meta.Incident), strings.Join(rules, ", "))
	if meta.Approvers > 1 {
		title, submit = "Draft notice", "Record draft"
		intro = fmt.Sprintf("The notice for *%s* under %s needs %d different approvers. When you press *Record draft* it is recorded as a draft; "+
			"it is sent once %d people have pressed *Approve draft* on it (on the incident's pinned summary).",
			escape(meta.Incident), strings.Join(rules, ", "), meta.Approvers, meta.Approvers)
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(intro), nil, nil),
		slack.NewContextBlock("", mrkdwn("Leave out what the law does not ask for: if a text it needs is missing, breachctl refuses and names it.")),
	}
	if refused != nil && refused.Block == "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(":warning: "+escape(capitalize(refused.Text)))))
	}
	blocks = append(blocks, input(blockWhatHappened, "What happened",
		"From the incident's description: rewrite it for the notice's readers. Left empty, the description is used.",
		"What was exposed, how, and when", texts.WhatHappened, true)...)
	blocks = append(blocks, input(blockConsequences, "Likely consequences", "",
		"What may happen to the people concerned", texts.LikelyConsequences, true)...)
	blocks = append(blocks, input(blockMeasures, "Measures taken", "",
		"What we did or will do to address the breach and limit its effects", texts.MeasuresTaken, true)...)
	blocks = append(blocks, input(blockWhatToDo, "What people can do", "",
		"Steps people can take to protect themselves", texts.WhatYouCanDo, true)...)
	blocks = append(blocks, input(blockIDTheft, "Identity-theft protection offered", "Only where it is offered (California asks for it when SSNs or ID numbers are involved).",
		"12 months of credit monitoring with …, free of charge", texts.IdentityTheftOffer, false)...)
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackApprove,
		Title:           plain(title),
		Submit:          plain(submit),
		Close:           plain("Cancel"),
		PrivateMetadata: meta.encode(),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// approveTexts reads the texts of the approval form.
func approveTexts(state *slack.ViewState) activities.NoticeTexts {
	get := func(block string) string {
		if state == nil {
			return ""
		}
		return strings.TrimSpace(state.Values[block][inputAction].Value)
	}
	return activities.NoticeTexts{
		WhatHappened:       get(blockWhatHappened),
		LikelyConsequences: get(blockConsequences),
		MeasuresTaken:      get(blockMeasures),
		WhatYouCanDo:       get(blockWhatToDo),
		IdentityTheftOffer: get(blockIDTheft),
	}
}

// submitApprove checks what it can at once (the role, the form, the
// lengths), answers Slack with "Approving…" and approves in the background;
// see the comment at the top of this file for refusals.
func (h *Handler) submitApprove(w http.ResponseWriter, cb slack.InteractionCallback) {
	user := cb.User.ID
	meta := decodeMeta(cb.View.PrivateMetadata)
	id, err := incident.ParseID(meta.Incident)
	if err != nil || len(meta.Rules) == 0 {
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{
			blockWhatHappened: "This form lost its incident: use `/breach status INC-ID` for fresh buttons"}))
		return
	}
	if !h.cfg.Roles.Allows(user, ActionApprove) {
		h.log.Info("slack form refused", "action", string(ActionApprove), "incident", id, "user", user, "reason", "role")
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockWhatHappened: h.refusal(user, ActionApprove)}))
		return
	}
	texts := approveTexts(cb.View.State)
	errs := map[string]string{}
	for block, v := range textsByBlock(texts) {
		if len(v) > workflows.MaxNoticeTextLength {
			errs[block] = fmt.Sprintf("At most %d characters", workflows.MaxNoticeTextLength)
		}
	}
	if len(errs) > 0 {
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(errs))
		return
	}
	approving := infoModal("Approve notice", ":hourglass_flowing_sand: Approving the notice…")
	if meta.Approvers > 1 {
		approving = infoModal("Draft notice", ":hourglass_flowing_sand: Recording the draft…")
	}
	writeJSON(w, slack.NewUpdateViewSubmissionResponse(&approving))
	viewID := cb.View.ID
	h.later(meta.ResponseURL, ActionApprove, id, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
		var msg *slack.WebhookMessage
		var err error
		drafted := meta.Approvers > 1
		if !drafted {
			msg, err = h.approve(ctx, id, meta.Rules, texts, user)
			// The first notice of a kind that needs two approvers: the
			// status could not tell, the refusal does. A refused draft
			// then brings back the form for a draft.
			if n := needsDraft(err); n > 1 {
				drafted, meta.Approvers = true, n
			}
		}
		if drafted {
			msg, err = h.draftNotice(ctx, id, meta.Rules, texts, user)
		}
		if err == nil {
			title := "Notice approved"
			if drafted {
				title = "Draft recorded"
			}
			h.updateView(ctx, viewID, infoModal(title, msg.Text))
			return msg, nil
		}
		var e *apperr.Error
		if !errors.As(err, &e) || e.Kind != apperr.Invalid {
			h.updateView(ctx, viewID, infoModal("Not approved", userMessage(err, id)))
			return nil, err
		}
		r := approveRefusal(e)
		h.updateView(ctx, viewID, approveModal(meta, texts, &r))
		text := r.Text
		if r.Block != "" {
			text = sentence(text) + " Your texts are kept in the form: fill in *" + blockLabel(r.Block) + "* and approve again"
		}
		return nil, &apperr.Error{Kind: apperr.Invalid, Msg: text}
	})
}

func textsByBlock(t activities.NoticeTexts) map[string]string {
	return map[string]string{
		blockWhatHappened: t.WhatHappened, blockConsequences: t.LikelyConsequences, blockMeasures: t.MeasuresTaken,
		blockWhatToDo: t.WhatYouCanDo, blockIDTheft: t.IdentityTheftOffer,
	}
}

func blockLabel(block string) string {
	return map[string]string{
		blockWhatHappened: "What happened", blockConsequences: "Likely consequences", blockMeasures: "Measures taken",
		blockWhatToDo: "What people can do", blockIDTheft: "Identity-theft protection offered",
	}[block]
}

// cliHint ends the workflow's refusal of missing texts; it speaks to the
// CLI, not to Slack.
const cliHint = " (give the texts in --file or with the flags of approve)"

// approveRefusal reads the workflow's refusal: the first text it names
// gives the block; the message loses the hint meant for the CLI.
func approveRefusal(e *apperr.Error) formRefusal {
	text := strings.Replace(fieldMessage(e), cliHint, "", 1)
	r := formRefusal{Text: text}
	first := len(text)
	for _, b := range textBlocks {
		if i := strings.Index(text, b); i >= 0 && i < first {
			r.Block, first = b, i
		}
	}
	return r
}

func (h *Handler) approve(ctx context.Context, id string, rules []string, texts activities.NoticeTexts, user string) (*slack.WebhookMessage, error) {
	st, err := h.cfg.Incidents.Approve(ctx, id, workflows.ApproveRequest{Rules: rules, Texts: texts, Actor: actor(user)})
	if err != nil {
		return nil, err
	}
	notice := ""
	for _, c := range st.Clocks {
		if c.Rule == rules[0] && c.NoticeID != "" {
			notice = " " + c.NoticeID
		}
	}
	return inChannel(fmt.Sprintf(":envelope: <@%s> approved notice%s for %s under %s: sending has started.",
		user, notice, id, strings.Join(rules, ", "))), nil
}
