package slackin

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// twoPersonRefusal is the workflow's refusal of a one-step approval where
// two approvers are needed (workflows/draft.go).
var twoPersonRefusal = &apperr.Error{Kind: apperr.Conflict,
	Msg: "a notice to authority needs 2 different approvers: draft it first (breachctl draft " + testID + " eu-gdpr-art33), then each approves the draft"}

// withDraft gives the fake incident a pending draft of the notice to the
// authority, approved by the people given.
func withDraft(r *rig, preview []incident.NoticePreview, approvedBy ...string) {
	st := r.inc.known[testID]
	st.Clocks[0].Notify = "authority"
	raw, _ := json.Marshal(workflows.ApproveRequest{Rules: []string{"eu-gdpr-art33"}, Texts: wantTexts, Actor: "slack:UDRAFTER"})
	d := incident.Draft{Hash: testHash, Rules: []string{"eu-gdpr-art33"}, Notify: "authority", By: "slack:UDRAFTER",
		At: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), State: incident.DraftPending, Required: 2, Request: raw, Preview: preview}
	for _, by := range approvedBy {
		d.Approvals = append(d.Approvals, incident.Approval{By: by})
	}
	st.Drafts = []incident.Draft{d}
	r.inc.known[testID] = st
}

func TestApproveSubmissionDraftsWhereTwoApproversAreNeeded(t *testing.T) {
	r := newRig(t)
	r.inc.approveErr = twoPersonRefusal
	r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, approveMeta, approveValues())))
	calls := r.inc.Calls()
	want := []call{
		{Op: "approve", ID: testID, Rules: []string{"eu-gdpr-art33"}, Texts: wantTexts, Actor: "slack:UAPPR"},
		{Op: "draft", ID: testID, Rules: []string{"eu-gdpr-art33"}, Texts: wantTexts, Actor: "slack:UAPPR"},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Fatalf("calls = %+v, want the approval refused, then the draft", calls)
	}
	if len(r.views.updated) != 1 || r.views.updated[0].Title.Text != "Draft recorded" {
		t.Fatalf("form updated to %+v", r.views.updated)
	}
	posts := r.resp.Posts()
	if len(posts) != 1 || posts[0].Msg.ResponseType != slack.ResponseTypeInChannel {
		t.Fatalf("posts = %+v, want the draft announced", posts)
	}
	for _, s := range []string{"<@UAPPR> drafted", "draft `" + testHash + "`", "2 approvals from different people (0 so far)", "*Approve draft*"} {
		if !strings.Contains(posts[0].Msg.Text, s) {
			t.Errorf("announcement %q lacks %q", posts[0].Msg.Text, s)
		}
	}

	t.Run("one approver: approved and sent as before", func(t *testing.T) {
		r := newRig(t)
		r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, approveMeta, approveValues())))
		if calls := r.inc.Calls(); len(calls) != 1 || calls[0].Op != "approve" {
			t.Errorf("calls = %+v", calls)
		}
	})
	t.Run("another conflict is not a draft", func(t *testing.T) {
		r := newRig(t)
		r.inc.approveErr = &apperr.Error{Kind: apperr.Conflict, Msg: "eu-gdpr-art33 is met: there is nothing to notify under it"}
		r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, approveMeta, approveValues())))
		if calls := r.inc.Calls(); len(calls) != 1 {
			t.Errorf("calls = %+v, want the approval only", calls)
		}
	})
}

// Once a draft of the kind shows the two approvers, the form says so and
// drafts without trying to send.
func TestApproveFormKnowsADraftIsNeeded(t *testing.T) {
	r := newRig(t)
	withDraft(r, nil)
	r.serve(t, interactionBody(t, buttonPayload("UAPPR", ActionIDApprove, testID+"|eu-gdpr-art33")))
	if len(r.views.opened) != 1 {
		t.Fatalf("opened %+v", r.views.opened)
	}
	form := r.views.opened[0].View
	meta := decodeMeta(form.PrivateMetadata)
	if meta.Approvers != 2 || form.Submit.Text != "Record draft" || form.Title.Text != "Draft notice" {
		t.Fatalf("form %q/%q with %+v, want a draft form for 2 approvers", form.Title.Text, form.Submit.Text, meta)
	}
	r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, form.PrivateMetadata, approveValues())))
	var ops []string
	for _, c := range r.inc.Calls() {
		ops = append(ops, c.Op)
	}
	if strings.Join(ops, " ") != "show draft" {
		t.Errorf("calls %v, want show then draft", ops)
	}
}

func TestApproveDraftButton(t *testing.T) {
	press := func(r *rig, user string) []posted {
		before := len(r.resp.Posts())
		r.serve(t, interactionBody(t, buttonPayload(user, ActionIDApproveDraft, testID+"|"+testHash)))
		return r.resp.Posts()[before:]
	}
	r := newRig(t)
	withDraft(r, nil)
	posts := press(r, "UAPPR")
	want := call{Op: "approve", ID: testID, Rules: []string{"eu-gdpr-art33"}, Draft: testHash, Actor: "slack:UAPPR"}
	if calls := r.inc.Calls(); len(calls) != 2 || calls[0].Op != "show" || !reflect.DeepEqual(calls[1], want) {
		t.Fatalf("calls = %+v, want show then %+v", calls, want)
	}
	if len(posts) != 1 || posts[0].Msg.ResponseType != slack.ResponseTypeInChannel || !strings.Contains(posts[0].Msg.Text, "1 of 2 approvals") {
		t.Fatalf("posts = %+v", posts)
	}

	// The same person again: the workflow's refusal, to them alone.
	posts = press(r, "UAPPR")
	if len(posts) != 1 || posts[0].Msg.ResponseType != slack.ResponseTypeEphemeral ||
		!strings.Contains(posts[0].Msg.Text, "Not done: slack:UAPPR has already approved draft "+testHash) {
		t.Fatalf("second approval by the same person: %+v", posts)
	}

	// Another approver: the last approval sends.
	posts = press(r, "UADMIN")
	if len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "the last approval it needed: notice N-2") {
		t.Fatalf("last approval: %+v", posts)
	}

	// The draft is approved: nothing more to approve.
	posts = press(r, "UADMIN")
	if len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "is approved") {
		t.Fatalf("approving an approved draft: %+v", posts)
	}
}

func TestDraftButtonsRefused(t *testing.T) {
	tests := []struct {
		name, user, action, value, want string
	}{
		{"a responder approves", "URESP", ActionIDApproveDraft, testID + "|" + testHash, "needs the *approver* role"},
		{"a commander rejects", "UCMDR", ActionIDRejectDraft, testID + "|" + testHash, "needs the *approver* role"},
		{"a reporter previews", "UREP", ActionIDPreviewDraft, testID + "|" + testHash, "needs the *responder* role"},
		{"no hash", "UAPPR", ActionIDApproveDraft, testID + "|", "malformed"},
		{"not a hash", "UAPPR", ActionIDApproveDraft, testID + "|<!channel>", "malformed"},
		{"no incident", "UAPPR", ActionIDPreviewDraft, "INC-1|" + testHash, "malformed"},
		{"an unknown draft", "UAPPR", ActionIDApproveDraft, testID + "|abcdef012345", "has no draft abcdef012345"},
		{"an unknown draft's preview", "URESP", ActionIDPreviewDraft, testID + "|abcdef012345", "has no draft abcdef012345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			withDraft(r, nil)
			r.serve(t, interactionBody(t, buttonPayload(tt.user, tt.action, tt.value)))
			posts := r.resp.Posts()
			if len(posts) != 1 || posts[0].Msg.ResponseType != slack.ResponseTypeEphemeral || !strings.Contains(posts[0].Msg.Text, tt.want) {
				t.Errorf("posts = %+v, want %q", posts, tt.want)
			}
			for _, c := range r.inc.Calls() {
				if c.Op != "show" {
					t.Errorf("call %+v", c)
				}
			}
			if len(r.views.opened) != 0 {
				t.Errorf("opened %+v", r.views.opened)
			}
		})
	}
}

func TestPreviewButton(t *testing.T) {
	r := newRig(t)
	withDraft(r, []incident.NoticePreview{
		{Template: "authority", Lang: "de", Recipient: "Berliner Beauftragte", Subject: "Meldung einer Datenpanne", Text: "Sehr geehrte Damen und Herren,\n\n" + strings.Repeat("Text. ", 700)},
	}, "slack:UAPPR")
	r.serve(t, interactionBody(t, buttonPayload("URESP", ActionIDPreviewDraft, testID+"|"+testHash)))
	if len(r.views.opened) != 1 || r.views.opened[0].Trigger != "trig-2" {
		t.Fatalf("opened %+v", r.views.opened)
	}
	v := r.views.opened[0].View
	raw, _ := json.Marshal(v)
	for _, s := range []string{"Draft " + testHash, "approvals *1 of 2* (\\u003c@UAPPR\\u003e)", "Template *authority* · language *de* · to *Berliner Beauftragte*",
		"Subject: Meldung einer Datenpanne", "Sehr geehrte Damen und Herren"} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("preview lacks %q", s)
		}
	}
	for _, b := range v.Blocks.BlockSet {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil && len([]rune(s.Text.Text)) > maxPlainText {
			t.Errorf("a section of %d characters: Slack takes %d", len([]rune(s.Text.Text)), maxPlainText)
		}
	}
	if len([]rune(v.Title.Text)) > maxModalTitle {
		t.Errorf("title %q is longer than Slack takes", v.Title.Text)
	}
	if posts := r.resp.Posts(); len(posts) != 0 {
		t.Errorf("posts = %+v", posts)
	}
}

func TestPreviewStaysWithinSlackLimits(t *testing.T) {
	var previews []incident.NoticePreview
	for i := range 20 {
		previews = append(previews, incident.NoticePreview{Template: "individuals", Lang: fmt.Sprint("l", i), Subject: "S", Text: strings.Repeat("Ein Satz.\n", 1200)})
	}
	v := previewModal(testID, incident.Draft{Hash: testHash, Rules: []string{"r"}, State: incident.DraftVoided, Reason: "facts changed", Preview: previews})
	if n := len(v.Blocks.BlockSet); n > maxModalBlocks {
		t.Fatalf("%d blocks, Slack takes %d", n, maxModalBlocks)
	}
	raw, _ := json.Marshal(v)
	for _, s := range []string{"does not fit", "*voided*: facts changed"} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("preview lacks %q", s)
		}
	}
}

func TestRejectButtonAndForm(t *testing.T) {
	r := newRig(t)
	withDraft(r, nil)
	r.serve(t, interactionBody(t, buttonPayload("UAPPR", ActionIDRejectDraft, testID+"|"+testHash)))
	if len(r.views.opened) != 1 || r.views.opened[0].View.CallbackID != callbackReject {
		t.Fatalf("opened %+v", r.views.opened)
	}
	meta := r.views.opened[0].View.PrivateMetadata
	if m := decodeMeta(meta); m.Draft != testHash || m.Incident != testID || m.ResponseURL != "https://hooks.slack.test/actions/2" {
		t.Fatalf("metadata %+v", m)
	}
	reason := func(v string) map[string]any {
		return map[string]any{blockReason: map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": v}}}
	}

	for _, tt := range []struct{ name, user, reason, want string }{
		{"no reason", "UAPPR", "  ", "Say why"},
		{"a responder", "URESP", "wrong", "needs the *approver* role"},
		{"too long", "UAPPR", strings.Repeat("x", workflows.MaxReasonLength+1), "At most"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := r.serve(t, interactionBody(t, viewPayload(tt.user, callbackReject, meta, reason(tt.reason))))
			var got slack.ViewSubmissionResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.ResponseAction != slack.RAErrors || !strings.Contains(got.Errors[blockReason], tt.want) {
				t.Errorf("answer %s, want %q", rec.Body, tt.want)
			}
		})
	}

	rec := r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackReject, meta, reason(" The <consequences> are understated. "))))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("answer %d %s, want the form closed", rec.Code, rec.Body)
	}
	want := call{Op: "reject", ID: testID, Draft: testHash, Text: "The <consequences> are understated.", Actor: "slack:UAPPR"}
	calls := r.inc.Calls()
	if len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
		t.Errorf("calls = %+v, want %+v", calls, want)
	}
	posts := r.resp.Posts()
	if len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "<@UAPPR> rejected draft `"+testHash+"`") || !strings.Contains(posts[0].Msg.Text, "&lt;consequences&gt;") {
		t.Errorf("posts = %+v", posts)
	}

	t.Run("lost metadata", func(t *testing.T) {
		rec := r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackReject, "{}", reason("x"))))
		if !strings.Contains(rec.Body.String(), "lost its draft") {
			t.Errorf("answer %s", rec.Body)
		}
	})
}

func TestStatusShowsDrafts(t *testing.T) {
	r := newRig(t)
	withDraft(r, nil, "slack:UAPPR")
	r.serve(t, slash("URESP", "status "+testID))
	posts := r.resp.Posts()
	if len(posts) != 1 || posts[0].Msg.Blocks == nil {
		t.Fatalf("posts = %+v", posts)
	}
	raw, _ := json.Marshal(posts[0].Msg.Blocks)
	for _, s := range []string{"approvals *1 of 2*", `"action_id":"approve_draft"`, `"value":"` + testID + `|` + testHash + `"`, "Yours is the last approval"} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("status lacks %q", s)
		}
	}
}

func TestChunks(t *testing.T) {
	for _, tt := range []struct {
		text string
		n    int
		want []string
	}{
		{"", 10, nil},
		{"short", 10, []string{"short"}},
		{"line one\nline two\nline three", 20, []string{"line one\nline two", "line three"}},
		{"abcdefghijklmnopqrstuvwxyz", 10, []string{"abcdefghij", "klmnopqrst", "uvwxyz"}},
		{"ääääääääää", 4, []string{"ääää", "ääää", "ää"}},
	} {
		if got := chunks(tt.text, tt.n); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("chunks(%q, %d) = %q, want %q", tt.text, tt.n, got, tt.want)
		}
	}
}

func TestNeedsDraft(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{twoPersonRefusal, 2},
		{&apperr.Error{Kind: apperr.Conflict, Msg: "a notice to authority needs 3 different approvers: draft it first"}, 3},
		{&apperr.Error{Kind: apperr.Invalid, Msg: "draft it first"}, 0},
		{&apperr.Error{Kind: apperr.Conflict, Msg: "incident is closed"}, 0},
		{nil, 0},
	} {
		if got := needsDraft(tt.err); got != tt.want {
			t.Errorf("needsDraft(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
