package slackin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// interaction answers a view submission or a button press.
func (h *Handler) interaction(w http.ResponseWriter, payload string) {
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		http.Error(w, "the payload is not an interaction", http.StatusBadRequest)
		return
	}
	switch cb.Type {
	case slack.InteractionTypeViewSubmission:
		switch cb.View.CallbackID {
		case callbackOpen:
			h.submitOpen(w, cb)
		case callbackNote:
			h.submitNote(w, cb)
		case callbackApprove:
			h.submitApprove(w, cb)
		case callbackReject:
			h.submitReject(w, cb)
		default:
			h.log.Warn("slack view not ours", "callback", truncate(cb.View.CallbackID, 40))
			w.WriteHeader(http.StatusOK)
		}
	case slack.InteractionTypeBlockActions:
		for _, a := range cb.ActionCallback.BlockActions {
			h.blockAction(cb, a)
		}
		w.WriteHeader(http.StatusOK) // Slack ignores the body; answers go to response_url
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// submitOpen checks the report form. Errors are shown on their fields;
// a valid form turns into "Opening…" while the incident opens, then into
// the result, which is also announced where /breach open was typed.
func (h *Handler) submitOpen(w http.ResponseWriter, cb slack.InteractionCallback) {
	user := cb.User.ID
	if !h.cfg.Roles.Allows(user, ActionOpen) {
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockTitle: h.refusal(user, ActionOpen)}))
		return
	}
	facts, errs := formFacts(cb.View.State, h.now(), actor(user))
	if len(errs) > 0 {
		fields := make([]string, 0, len(errs))
		for f := range errs {
			fields = append(fields, f)
		}
		h.log.Info("slack form refused", "action", string(ActionOpen), "user", user, "fields", strings.Join(fields, ","))
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(errs))
		return
	}
	meta := decodeMeta(cb.View.PrivateMetadata)
	opening := infoModal("Report a breach", ":hourglass_flowing_sand: Opening the incident…")
	writeJSON(w, slack.NewUpdateViewSubmissionResponse(&opening))
	viewID := cb.View.ID
	h.later(meta.ResponseURL, ActionOpen, "", user, func(ctx context.Context) (*slack.WebhookMessage, error) {
		st, err := h.cfg.Incidents.Open(ctx, facts, actor(user))
		if err != nil {
			h.updateView(ctx, viewID, infoModal("Not opened", userMessage(err, "")))
			return nil, err
		}
		h.log.Info("slack incident opened", "incident", st.ID, "user", user)
		text := fmt.Sprintf(":white_check_mark: *%s* is open.", st.ID)
		if st.NextDeadline != nil {
			text += fmt.Sprintf(" The next deadline is %s under `%s`.", slackDate(*st.NextDeadline), escape(st.BindingRule))
		}
		h.updateView(ctx, viewID, infoModal("Incident opened", text))
		return openedMessage(st, user), nil
	})
}

func (h *Handler) updateView(ctx context.Context, viewID string, view slack.ModalViewRequest) {
	if viewID == "" {
		return
	}
	if err := h.cfg.Views.UpdateView(ctx, viewID, view); err != nil {
		h.log.Warn("slack view not updated", "error", err.Error())
	}
}

// formFacts reads the report form into facts, with an error per block.
func formFacts(state *slack.ViewState, now time.Time, who string) (incident.Facts, map[string]string) {
	errs := map[string]string{}
	get := func(block string) slack.BlockAction {
		if state == nil {
			return slack.BlockAction{}
		}
		return state.Values[block][inputAction]
	}
	f := incident.Facts{
		Title:       get(blockTitle).Value,
		Description: get(blockDescription).Value,
		Reporter:    who,
		Systems:     splitList(get(blockSystems).Value),
		Regions:     splitList(get(blockRegions).Value),
	}
	for _, o := range get(blockCategories).SelectedOptions {
		f.DataCategories = append(f.DataCategories, o.Value)
	}
	sev, err := incident.ParseSeverity(get(blockSeverity).SelectedOption.Value)
	if err != nil {
		errs[blockSeverity] = "Choose one of the severities listed"
	}
	f.Severity = sev
	switch at := get(blockAwareAt).SelectedDateTime; {
	case at == 0:
		errs[blockAwareAt] = "Say when we became aware: most legal clocks start then"
	case time.Unix(at, 0).After(now.Add(time.Minute)):
		errs[blockAwareAt] = "That is in the future: give the moment we became aware"
	default:
		f.AwareAt = time.Unix(at, 0)
	}
	f = f.Normalize()
	if f.Title == "" {
		errs[blockTitle] = "Give the incident a short title"
	}
	if f.Description == "" {
		errs[blockDescription] = "Say what happened, as far as is known"
	}
	if len(errs) > 0 {
		return f, errs
	}
	if err := f.Validate(); err != nil {
		var e *apperr.Error
		msg := "The facts are not valid"
		field := ""
		if errors.As(err, &e) {
			msg, field = e.Msg, e.Field
		}
		errs[blockForField(field)] = capitalize(msg)
	}
	return f, errs
}

// blockForField puts an invalid fact on the form block that holds it.
func blockForField(field string) string {
	switch field {
	case "description":
		return blockDescription
	case "aware_at", "detected_at", "occurred_at", "determined_at":
		return blockAwareAt
	case "systems":
		return blockSystems
	case "data_categories":
		return blockCategories
	case "regions", "affected":
		return blockRegions
	case "severity":
		return blockSeverity
	}
	return blockTitle
}

// splitList reads "uploads, accounts" or "EU US-CA" as a list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

// submitNote adds the note of the note form.
func (h *Handler) submitNote(w http.ResponseWriter, cb slack.InteractionCallback) {
	user := cb.User.ID
	meta := decodeMeta(cb.View.PrivateMetadata)
	id, err := incident.ParseID(meta.Incident)
	if err != nil {
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockNote: "This form lost its incident: press Add note on the incident again"}))
		return
	}
	if !h.cfg.Roles.Allows(user, ActionNote) {
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockNote: h.refusal(user, ActionNote)}))
		return
	}
	var text string
	if cb.View.State != nil {
		text = strings.TrimSpace(cb.View.State.Values[blockNote][inputAction].Value)
	}
	switch {
	case text == "":
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockNote: "Write the note"}))
		return
	case len(text) > maxNote:
		writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{blockNote: fmt.Sprintf("A note is at most %d characters", maxNote)}))
		return
	}
	w.WriteHeader(http.StatusOK) // closes the form
	h.later(meta.ResponseURL, ActionNote, id, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
		e, err := h.cfg.Incidents.Note(ctx, id, text, actor(user))
		if err != nil {
			return nil, err
		}
		return ephemeral(fmt.Sprintf(":memo: Note %d added to %s.", e.Seq, id)), nil
	})
}

// blockAction handles one button press. Slack is answered with an empty
// 200 by the caller; what follows goes to the message's response_url.
func (h *Handler) blockAction(cb slack.InteractionCallback, a *slack.BlockAction) {
	user := cb.User.ID
	var act Action
	var value, rule string
	switch a.ActionID {
	case ActionIDAck:
		act, value = ActionAck, a.Value
	case ActionIDAddNote:
		act, value = ActionNote, a.Value
	case ActionIDApprove:
		act = ActionApprove
		value, rule, _ = strings.Cut(a.Value, "|")
	case ActionIDPreviewDraft, ActionIDApproveDraft, ActionIDRejectDraft:
		h.draftButton(cb, a)
		return
	default:
		h.log.Info("slack action not ours", "action_id", truncate(a.ActionID, 40))
		return
	}
	id, err := incident.ParseID(value)
	if err != nil || (act == ActionApprove && strings.TrimSpace(rule) == "") {
		h.log.Warn("slack button malformed", "action", string(act), "user", user)
		h.tell(cb.ResponseURL, ephemeral(":warning: That button is malformed; use `/breach status INC-ID` for fresh buttons."))
		return
	}
	if !h.cfg.Roles.Allows(user, act) {
		h.log.Info("slack action refused", "action", string(act), "incident", id, "user", user)
		h.tell(cb.ResponseURL, ephemeral(h.refusal(user, act)))
		return
	}
	h.log.Info("slack button", "action", string(act), "incident", id, "user", user)
	switch act {
	case ActionAck:
		h.later(cb.ResponseURL, act, id, user, func(ctx context.Context) (*slack.WebhookMessage, error) {
			return h.acknowledge(ctx, id, "", "", user)
		})
	case ActionApprove:
		meta := formMeta{ResponseURL: cb.ResponseURL, Channel: cb.Channel.ID, Incident: id, Rules: []string{strings.TrimSpace(rule)}}
		if msg := h.approveForm(cb.TriggerID, meta, user, "Press *Approve "+meta.Rules[0]+"* again."); msg != "" {
			h.tell(cb.ResponseURL, ephemeral(msg))
		}
	case ActionNote:
		ctx, cancel := context.WithTimeout(h.ctx, viewTimeout)
		defer cancel()
		err := h.cfg.Views.OpenView(ctx, cb.TriggerID, noteModal(formMeta{ResponseURL: cb.ResponseURL, Incident: id}))
		switch {
		case err == nil:
		case isExpiredTrigger(err):
			h.log.Warn("slack form not opened", "action", string(act), "incident", id, "user", user, "reason", "expired_trigger_id")
			h.tell(cb.ResponseURL, ephemeral(":hourglass: Slack's request expired before the note form could open. Press *Add note* again."))
		default:
			h.log.Warn("slack form not opened", "action", string(act), "incident", id, "user", user, "error", err.Error())
			h.tell(cb.ResponseURL, ephemeral(fmt.Sprintf(":x: The note form could not be opened. Try again, or use `/breach note %s text`.", id)))
		}
	}
}

// tell posts a message to responseURL after Slack has been answered.
func (h *Handler) tell(responseURL string, msg *slack.WebhookMessage) {
	if responseURL == "" {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.WorkTimeout)
		defer cancel()
		if err := h.resp.Respond(ctx, responseURL, msg); err != nil {
			h.log.Warn("slack follow-up failed", "error", err.Error())
		}
	}()
}
