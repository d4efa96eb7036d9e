package workflows

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/templates"
)

const (
	entryDrafted       incident.EntryKind = "notice_drafted"
	entryDraftVoided   incident.EntryKind = "draft_voided"
	entryDraftOK       incident.EntryKind = "draft_approval"
	entryDraftRejected incident.EntryKind = "draft_rejected"
)

// draftHash names a notice's exact content: what the rules, the facts and
// the texts make of it, and the templates that render it. Times of the
// approval itself are left out, so the same draft approved later is the
// same draft.
func draftHash(spec activities.NoticeSpec) string {
	spec.ID, spec.ApprovedBy, spec.ApprovedAt, spec.Rendered = "", "", time.Time{}, ""
	spec.Data.NoticeDate = time.Time{}
	b, _ := json.Marshal(struct {
		Spec      activities.NoticeSpec `json:"spec"`
		Templates string                `json:"templates"`
	}{spec, templates.Version()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// required is how many different people must approve a notice of this
// kind.
func (r *run) required(notify string) int {
	if slices.Contains(r.twoPerson, notify) {
		return 2
	}
	return 1
}

// draft finds a draft by hash; the same content drafted again after a
// rejection has the same hash, and the newest is the one that counts.
func (r *run) draft(hash string) *incident.Draft {
	for i := len(r.status.Drafts) - 1; i >= 0; i-- {
		if r.status.Drafts[i].Hash == hash {
			return &r.status.Drafts[i]
		}
	}
	return nil
}

// draftPreviewVersion marks incidents whose drafts are rendered for the
// approver (PreviewNotice); earlier drafts had only their hash.
const draftPreviewVersion = "draft-preview"

var previewOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		MaximumAttempts:        5,
		NonRetryableErrorTypes: []string{activities.ErrTypeNoticeInvalid},
	},
}

// previewError turns a failed rendering into an answer for the person
// drafting: what was wrong with the notice, not the activity's wrapping.
func previewError(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == activities.ErrTypeNoticeInvalid {
		return invalid("draft: %s", app.Message())
	}
	return unavailable("draft: the notice could not be rendered for approval: %v", err)
}

func (r *run) validateDraft(req ApproveRequest) error {
	if req.Draft != "" {
		return invalid("draft: a new draft has no hash yet")
	}
	return r.validateApprove(req)
}

// makeDraft records a notice as it would be sent, for approval.
func (r *run) makeDraft(ctx workflow.Context, req ApproveRequest) (incident.Status, error) {
	now := workflow.Now(ctx).UTC()
	spec := r.noticeSpec(req, now)
	raw, _ := json.Marshal(req)
	d := incident.Draft{Hash: draftHash(spec), Rules: slices.Clone(req.Rules), Notify: spec.Notify, By: req.Actor, At: now,
		State: incident.DraftPending, Required: r.required(spec.Notify), Request: raw}
	if old := r.draft(d.Hash); old != nil && old.State == incident.DraftPending {
		return r.snapshot(), nil // the same draft again
	}
	if workflow.GetVersion(ctx, draftPreviewVersion, workflow.DefaultVersion, 1) == 1 {
		// The approver signs off what will be sent, rendered by a worker
		// with the organisation's configuration; a notice that cannot be
		// rendered is refused here, not at sending.
		var res activities.PreviewResult
		actx := workflow.WithActivityOptions(ctx, previewOptions)
		if err := workflow.ExecuteActivity(actx, activities.PreviewNoticeName, spec).Get(ctx, &res); err != nil {
			return r.snapshot(), previewError(err)
		}
		d.Preview, d.Rendered = res.Previews, res.Rendered
	}
	reach := ""
	if len(spec.Laws) > 0 {
		// Whom it reaches under which law, whom no rule of it covers, and
		// which languages get the English texts: said before approval.
		d.Coverage = r.coverage(spec)
		d.Fallback, d.FallbackChoice = spec.FallbackLanguages(), spec.FallbackChoice()
		if text := r.reachText(spec); text != "" {
			reach = ". " + text
		}
	}
	r.status.Drafts = append(r.status.Drafts, d)
	who := "one approver"
	if d.Required > 1 {
		who = fmt.Sprintf("%d different approvers", d.Required)
	}
	r.status.Timeline.Append(now, entryDrafted, req.Actor, req.Rules[0], fmt.Sprintf(
		"Notice under %s drafted as %s; it needs %s: breachctl approve %s %s --draft %s%s",
		strings.Join(req.Rules, ", "), d.Hash, who, r.status.ID, strings.Join(req.Rules, " "), d.Hash, reach))
	return r.snapshot(), nil
}

// validateDraftApproval checks an approval of a draft: it exists, is
// pending, is still what the facts and templates make of it, and this
// person has not approved it already.
func (r *run) validateDraftApproval(req ApproveRequest) error {
	d := r.draft(req.Draft)
	if d == nil {
		return invalid("draft: incident %s has no draft %q", r.status.ID, req.Draft)
	}
	if d.State != incident.DraftPending {
		return conflict("draft %s is %s%s", d.Hash, d.State, orReason(d.Reason))
	}
	var orig ApproveRequest
	if err := json.Unmarshal(d.Request, &orig); err != nil {
		return invalid("draft: %v", err)
	}
	orig.Actor = req.Actor
	if req.Fallback != "" && req.Fallback != cmp.Or(orig.Fallback, activities.FallbackTemplate) {
		// What people in a language without texts get is part of what was
		// drafted and read.
		return invalid("fallback: draft %s gives people in %s %s; to send %s, draft it again with that fallback",
			d.Hash, strings.Join(d.Fallback, ", "), cmp.Or(orig.Fallback, activities.FallbackTemplate), req.Fallback)
	}
	if err := r.validateApprove(orig); err != nil {
		return err
	}
	if h := draftHash(r.noticeSpec(orig, r.status.OpenedAt)); h != d.Hash {
		return conflict("draft %s no longer matches the notice: the facts or the templates changed since it was drafted (now %s); draft it again", d.Hash, h)
	}
	if slices.ContainsFunc(d.Approvals, func(a incident.Approval) bool { return a.By == req.Actor }) {
		return conflict("%s has already approved draft %s: it needs another approver", req.Actor, d.Hash)
	}
	return nil
}

func orReason(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// approveDraft records an approval; the last one needed sends the notice.
func (r *run) approveDraft(ctx workflow.Context, req ApproveRequest) (incident.Status, error) {
	d := r.draft(req.Draft)
	now := workflow.Now(ctx).UTC()
	d.Approvals = append(d.Approvals, incident.Approval{By: req.Actor, At: now})
	if len(d.Approvals) < d.Required {
		r.status.Timeline.Append(now, entryDraftOK, req.Actor, d.Rules[0], fmt.Sprintf(
			"Draft %s approved by %s (%d of %d approvals)", d.Hash, req.Actor, len(d.Approvals), d.Required))
		return r.snapshot(), nil
	}
	d.State = incident.DraftApproved
	var orig ApproveRequest
	_ = json.Unmarshal(d.Request, &orig)
	orig.Actor, orig.Draft, orig.rendered = req.Actor, "", d.Rendered
	r.status.Timeline.Append(now, entryDraftOK, req.Actor, d.Rules[0], fmt.Sprintf(
		"Draft %s approved by %s (%d of %d approvals): sending", d.Hash, req.Actor, len(d.Approvals), d.Required))
	return r.approve(ctx, orig)
}

func (r *run) validateReject(req RejectRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	d := r.draft(req.Draft)
	switch {
	case d == nil:
		return invalid("draft: incident %s has no draft %q", r.status.ID, req.Draft)
	case d.State != incident.DraftPending:
		return conflict("draft %s is %s", d.Hash, d.State)
	case strings.TrimSpace(req.Reason) == "":
		return invalid("reason: say why the draft is rejected")
	case len(req.Reason) > MaxReasonLength:
		return invalid("reason: at most %d characters", MaxReasonLength)
	}
	return nil
}

func (r *run) reject(ctx workflow.Context, req RejectRequest) (incident.Status, error) {
	d := r.draft(req.Draft)
	d.State, d.Reason = incident.DraftRejected, strings.TrimSpace(req.Reason)
	r.status.Timeline.Append(workflow.Now(ctx).UTC(), entryDraftRejected, req.Actor, d.Rules[0],
		fmt.Sprintf("Draft %s rejected: %s", d.Hash, d.Reason))
	return r.snapshot(), nil
}

// voidDrafts voids the pending drafts the facts or the templates no longer
// produce, on the record, after a change.
func (r *run) voidDrafts(now time.Time, cause string) {
	for i := range r.status.Drafts {
		d := &r.status.Drafts[i]
		if d.State != incident.DraftPending {
			continue
		}
		var orig ApproveRequest
		_ = json.Unmarshal(d.Request, &orig)
		still := slices.IndexFunc(orig.Rules, func(rule string) bool {
			i := r.clockIndex(rule)
			return i < 0 || !r.status.Clocks[i].State.Open()
		}) < 0
		if still && draftHash(r.noticeSpec(orig, r.status.OpenedAt)) == d.Hash {
			continue
		}
		d.State, d.Reason = incident.DraftVoided, cause
		r.status.Timeline.Append(now, entryDraftVoided, incident.SystemActor, d.Rules[0],
			fmt.Sprintf("Draft %s voided: %s; draft the notice again", d.Hash, cause))
	}
}

// validateApproval checks an approval: of a draft, or of texts given at
// once, which is refused where the notice needs two approvers.
func (r *run) validateApproval(req ApproveRequest) error {
	if req.Draft != "" {
		if err := r.validateOpen(); err != nil {
			return err
		}
		if err := validateActor(req.Actor); err != nil {
			return err
		}
		return r.validateDraftApproval(req)
	}
	if err := r.validateApprove(req); err != nil {
		return err
	}
	if ci := r.clockIndex(req.Rules[0]); ci >= 0 {
		if n := r.required(r.status.Clocks[ci].Notify); n > 1 {
			return conflict("a notice to %s needs %d different approvers: draft it first (breachctl draft %s %s), then each approves the draft",
				r.status.Clocks[ci].Notify, n, r.status.ID, strings.Join(req.Rules, " "))
		}
	}
	return nil
}

func (r *run) approveOrDraft(ctx workflow.Context, req ApproveRequest) (incident.Status, error) {
	if req.Draft != "" {
		return r.approveDraft(ctx, req)
	}
	return r.approve(ctx, req)
}
