package slackin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/slackout"
	"github.com/breachctl/breachctl/workflows"
)

// Signing off a draft from Slack. Where a notice needs two approvers (the
// escalation file's sign_off.two_person), the approval form records a
// draft instead of sending (draftNotice), and the pinned summary and
// `/breach status` show each pending draft with three buttons:
//
//   - Preview (any responder) opens the notice as it will read, from the
//     draft's renderings in the status;
//   - Approve draft (approvers) is confirmed in Slack first, then adds the
//     person's approval; the last one needed sends the notice;
//   - Reject (approvers) opens a form for the reason.
//
// The workflow decides everything (one approval per person, voided
// drafts); its refusals reach the person ephemerally.

// needsDraftRefusal is how the workflow's refusal of a one-step approval
// reads where two approvers are needed (workflows/draft.go,
// validateApproval). The form keys on it only when it could not tell from
// the status that a draft is needed; the e2e test keeps the two in step.
const needsDraftRefusal = "draft it first"

// needsDraft says how many approvers err says the notice needs when it
// refuses a one-step approval for that reason; 0 otherwise.
func needsDraft(err error) int {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Kind != apperr.Conflict || !strings.Contains(e.Msg, needsDraftRefusal) {
		return 0
	}
	if m := approversRe.FindStringSubmatch(e.Msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 1 {
			return n
		}
	}
	return 2 // the two-person rule
}

var approversRe = regexp.MustCompile(`needs (\d+) different approvers`)

// approversNeeded is how many approvers a notice under rules needs, as far
// as the status tells: a draft of the same kind of notice says so; 0 when
// nothing does yet.
func approversNeeded(st incident.Status, rules []string) int {
	if len(rules) == 0 {
		return 0
	}
	notify := ""
	for _, c := range st.Clocks {
		if c.Rule == rules[0] {
			notify = c.Notify
		}
	}
	for _, d := range st.Drafts {
		if notify != "" && d.Notify == notify && d.Required > 1 {
			return d.Required
		}
	}
	return 0
}

// draftNotice records the texts as a draft and says what it needs.
func (h *Handler) draftNotice(ctx context.Context, id string, rules []string, texts activities.NoticeTexts, user string) (*slack.WebhookMessage, error) {
	req := workflows.ApproveRequest{Rules: rules, Texts: texts, Actor: actor(user)}
	st, err := h.cfg.Incidents.Draft(ctx, id, req)
	if err != nil {
		return nil, err
	}
	d := draftMadeOf(st, req)
	if d == nil {
		return inChannel(fmt.Sprintf(":memo: <@%s> drafted the notice under %s for %s; `/breach status %s` shows the draft.",
			user, codeList(rules), id, id)), nil
	}
	return inChannel(fmt.Sprintf(":memo: <@%s> drafted the notice under %s for %s as draft `%s`. It needs %s (%d so far): "+
		"approvers press *Approve draft* on the incident's pinned summary or in `/breach status %s`.",
		user, codeList(rules), id, d.Hash, approvals(d.Required), len(d.Approvals), id)), nil
}

func approvals(n int) string {
	if n == 1 {
		return "1 approval"
	}
	return fmt.Sprintf("%d approvals from different people", n)
}

// draftMadeOf finds the pending draft made of req: the newest with its
// rules and texts (drafting the same texts again returns the same draft).
func draftMadeOf(st incident.Status, req workflows.ApproveRequest) *incident.Draft {
	var fallback *incident.Draft
	for i := len(st.Drafts) - 1; i >= 0; i-- {
		d := &st.Drafts[i]
		if d.State != incident.DraftPending || !slices.Equal(d.Rules, req.Rules) {
			continue
		}
		var orig workflows.ApproveRequest
		if json.Unmarshal(d.Request, &orig) == nil && orig.Texts == req.Texts {
			return d
		}
		if fallback == nil {
			fallback = d
		}
	}
	return fallback
}

// draftOf is the incident's draft with hash; the newest, should the same
// content have been drafted again after a rejection.
func draftOf(st incident.Status, hash string) *incident.Draft {
	for i := len(st.Drafts) - 1; i >= 0; i-- {
		if st.Drafts[i].Hash == hash {
			return &st.Drafts[i]
		}
	}
	return nil
}

// validHash accepts what draft hashes look like (hex), so a forged button
// value is refused before it is quoted anywhere.
func validHash(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// draftButton handles Preview, Approve draft and Reject.
func (h *Handler) draftButton(cb slack.InteractionCallback, a *slack.BlockAction) {
	user := cb.User.ID
	act := map[string]Action{ActionIDPreviewDraft: ActionPreview, ActionIDApproveDraft: ActionApprove, ActionIDRejectDraft: ActionReject}[a.ActionID]
	value, hash, _ := strings.Cut(a.Value, "|")
	hash = strings.TrimSpace(hash)
	id, err := incident.ParseID(value)
	if err != nil || !validHash(hash) {
		h.log.Warn("slack button malformed", "action", string(act), "user", user)
		h.tell(cb.ResponseURL, ephemeral(":warning: That button is malformed; use `/breach status INC-ID` for fresh buttons."))
		return
	}
	if !h.cfg.Roles.Allows(user, act) {
		h.log.Info("slack action refused", "action", string(act), "incident", id, "user", user)
		h.tell(cb.ResponseURL, ephemeral(h.refusal(user, act)))
		return
	}
	h.log.Info("slack button", "action", string(act), "incident", id, "user", user, "draft", hash)
	switch act {
	case ActionPreview:
		if msg := h.previewDraft(cb.TriggerID, id, hash, user); msg != "" {
			h.tell(cb.ResponseURL, ephemeral(msg))
		}
	case ActionApprove:
		h.later(cb.ResponseURL, act, id, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			return h.approveDraft(ctx, id, hash, user)
		})
	case ActionReject:
		ctx, cancel := context.WithTimeout(h.ctx, viewTimeout)
		defer cancel()
		meta := formMeta{ResponseURL: cb.ResponseURL, Incident: id, Draft: hash}
		if err := h.cfg.Views.OpenView(ctx, cb.TriggerID, rejectModal(meta)); err != nil {
			h.tell(cb.ResponseURL, ephemeral(h.formNotOpened(err, act, id, user, "*Reject*")))
		}
	}
}

// formNotOpened logs why a form did not open and says what to do.
func (h *Handler) formNotOpened(err error, act Action, id, user, button string) string {
	if isExpiredTrigger(err) {
		h.log.Warn("slack form not opened", "action", string(act), "incident", id, "user", user, "reason", "expired_trigger_id")
		return ":hourglass: Slack's request expired before the form could open. Press " + button + " again."
	}
	h.log.Warn("slack form not opened", "action", string(act), "incident", id, "user", user, "error", err.Error())
	return ":x: The form could not be opened. Press " + button + " again in a moment."
}

// previewDraft opens the draft's preview while Slack waits. It returns
// what to tell the user when the preview did not open.
func (h *Handler) previewDraft(trigger, id, hash, user string) string {
	ctx, cancel := context.WithTimeout(h.ctx, viewTimeout)
	defer cancel()
	lookup, stop := context.WithTimeout(ctx, lookupTimeout)
	st, err := h.cfg.Incidents.Show(lookup, id)
	stop()
	if err != nil {
		h.log.Warn("slack preview not opened", append([]any{"incident", id, "user", user}, logAttrs(err)...)...)
		return userMessage(err, id)
	}
	d := draftOf(st, hash)
	if d == nil {
		return userMessage(noDraft(id, hash), id)
	}
	if err := h.cfg.Views.OpenView(ctx, trigger, previewModal(id, *d)); err != nil {
		return h.formNotOpened(err, ActionPreview, id, user, "*Preview*")
	}
	return ""
}

func noDraft(id, hash string) *apperr.Error {
	return &apperr.Error{Kind: apperr.Conflict, Msg: fmt.Sprintf("%s has no draft %s; `/breach status %s` shows its drafts", id, hash, id)}
}

// approveDraft adds the person's approval to the draft: the workflow
// refuses a second approval by the same person, or a draft the facts have
// voided, and says so.
func (h *Handler) approveDraft(ctx context.Context, id, hash, user string) (*slack.WebhookMessage, error) {
	st, err := h.cfg.Incidents.Show(ctx, id)
	if err != nil {
		return nil, err
	}
	d := draftOf(st, hash)
	if d == nil {
		return nil, noDraft(id, hash)
	}
	rules := slices.Clone(d.Rules)
	st, err = h.cfg.Incidents.Approve(ctx, id, workflows.ApproveRequest{Rules: rules, Draft: hash, Actor: actor(user)})
	if err != nil {
		return nil, err
	}
	d = draftOf(st, hash)
	if d == nil || d.State == incident.DraftApproved {
		notice := ""
		for _, c := range st.Clocks {
			if len(rules) > 0 && c.Rule == rules[0] && c.NoticeID != "" {
				notice = " " + c.NoticeID
			}
		}
		return inChannel(fmt.Sprintf(":envelope: <@%s> approved draft `%s`, the last approval it needed: notice%s for %s under %s is being sent.",
			user, hash, notice, id, codeList(rules))), nil
	}
	return inChannel(fmt.Sprintf(":white_check_mark: <@%s> approved draft `%s` of the notice under %s for %s: %d of %d approvals; it waits for another approver.",
		user, hash, codeList(rules), id, len(d.Approvals), d.Required)), nil
}

// rejectModal asks why the draft is rejected.
func rejectModal(meta formMeta) slack.ModalViewRequest {
	reason := slack.NewPlainTextInputBlockElement(plain("What must change before it can go out"), inputAction)
	reason.Multiline = true
	reason.MaxLength = workflows.MaxReasonLength
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackReject,
		Title:           plain("Reject draft"),
		Submit:          plain("Reject"),
		Close:           plain("Cancel"),
		PrivateMetadata: meta.encode(),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn(fmt.Sprintf("Draft `%s` of *%s* is rejected in your name, with your reason on the timeline. "+
				"It can then no longer be approved: the notice is drafted again to go out.", escape(meta.Draft), escape(meta.Incident))), nil, nil),
			slack.NewInputBlock(blockReason, plain("Reason"), nil, reason),
		}},
	}
}

// submitReject rejects the draft of the reject form.
func (h *Handler) submitReject(w http.ResponseWriter, cb slack.InteractionCallback) {
	user := cb.User.ID
	meta := decodeMeta(cb.View.PrivateMetadata)
	id, err := incident.ParseID(meta.Incident)
	if err != nil || !validHash(meta.Draft) {
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: "This form lost its draft: use `/breach status INC-ID` for fresh buttons"}))
		return
	}
	if !h.cfg.Roles.Allows(user, ActionReject) {
		h.log.Info("slack form refused", "action", string(ActionReject), "incident", id, "user", user, "reason", "role")
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: h.refusal(user, ActionReject)}))
		return
	}
	var reason string
	if cb.View.State != nil {
		reason = strings.TrimSpace(cb.View.State.Values[blockReason][inputAction].Value)
	}
	switch {
	case reason == "":
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: "Say why: it is kept on the timeline"}))
		return
	case len(reason) > workflows.MaxReasonLength:
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: fmt.Sprintf("At most %d characters", workflows.MaxReasonLength)}))
		return
	}
	w.WriteHeader(http.StatusOK) // closes the form
	h.later(meta.ResponseURL, ActionReject, id, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
		if _, err := h.cfg.Incidents.Reject(ctx, id, workflows.RejectRequest{Draft: meta.Draft, Reason: reason, Actor: actor(user)}); err != nil {
			return nil, err
		}
		return inChannel(fmt.Sprintf(":no_entry_sign: <@%s> rejected draft `%s` of %s: %s", user, escape(meta.Draft), id, escape(truncate(reason, 500)))), nil
	})
}

// Limits of a modal that the preview keeps to.
const (
	maxModalBlocks = 100
	maxModalTitle  = 24
	maxPlainText   = 3000 // characters of a section's text
)

// previewModal shows the draft as it will read: each rendering's template,
// language and recipient, subject and text, cut into sections Slack takes.
// Without renderings (drafted before the worker rendered them), it shows
// the texts the draft was made of.
func previewModal(id string, d incident.Draft) slack.ModalViewRequest {
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(slackout.DraftText(slackout.DraftViewOf(d))+"\nIncident *"+escape(id)+"*"), nil, nil)}
	if d.State != incident.DraftPending {
		why := ""
		if d.Reason != "" {
			why = ": " + escape(truncate(d.Reason, 500))
		}
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf(":warning: This draft is *%s*%s. It can no longer be approved.", d.State, why))))
	}
	// room keeps one block for saying the rest did not fit.
	room := func() int { return maxModalBlocks - 1 - len(blocks) }
	cut := false
	add := func(text string) {
		for _, c := range chunks(text, maxPlainText) {
			if room() <= 0 {
				cut = true
				return
			}
			blocks = append(blocks, slack.NewSectionBlock(plain(c), nil, nil))
		}
	}
	if len(d.Preview) == 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(
			":information_source: The preview of this draft is not available. These are the texts it was drafted from; the notice's template puts them in context.")))
		var req workflows.ApproveRequest
		_ = json.Unmarshal(d.Request, &req) // unreadable texts show as none
		for _, b := range textBlocks {
			text := textsByBlock(req.Texts)[b]
			if strings.TrimSpace(text) == "" || room() < 2 {
				continue
			}
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*"+blockLabel(b)+"*"), nil, nil))
			add(text)
		}
		if len(req.Translations) > 0 {
			langs := make([]string, 0, len(req.Translations))
			for l := range req.Translations {
				langs = append(langs, l)
			}
			slices.Sort(langs)
			if room() > 0 {
				blocks = append(blocks, slack.NewContextBlock("", mrkdwn("Also translated into "+escape(strings.Join(langs, ", "))+".")))
			}
		}
	}
	for _, p := range d.Preview {
		if room() < 3 {
			cut = true
			break
		}
		about := fmt.Sprintf("Template *%s* · language *%s*", escape(p.Template), escape(p.Lang))
		if p.Recipient != "" {
			about += " · to *" + escape(p.Recipient) + "*"
		}
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewContextBlock("", mrkdwn(about)),
			slack.NewSectionBlock(plain(truncate("Subject: "+p.Subject, maxPlainText-1)), nil, nil))
		add(p.Text)
	}
	if cut {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn("The rest does not fit in a Slack form: the CLI shows the whole draft.")))
	}
	return slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  plain(truncate("Draft "+d.Hash, maxModalTitle-1)),
		Close:  plain("Close"),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// chunks cuts text into pieces of at most n characters, at a line break
// where one is near the end of a piece.
func chunks(text string, n int) []string {
	var out []string
	r := []rune(strings.TrimSpace(text))
	for len(r) > n {
		cut := n
		for i := n - 1; i > n/2; i-- {
			if r[i] == '\n' {
				cut = i + 1
				break
			}
		}
		out = append(out, strings.TrimSpace(string(r[:cut])))
		r = r[cut:]
	}
	if s := strings.TrimSpace(string(r)); s != "" {
		out = append(out, s)
	}
	return out
}

func codeList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + escape(s) + "`"
	}
	return strings.Join(out, ", ")
}
