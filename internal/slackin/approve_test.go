package slackin

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
)

// inputValue is the initial value of the form's input on block, and
// whether the form has that block.
func inputValue(v slack.ModalViewRequest, block string) (string, bool) {
	for _, b := range v.Blocks.BlockSet {
		in, ok := b.(*slack.InputBlock)
		if !ok || in.BlockID != block {
			continue
		}
		if el, ok := in.Element.(*slack.PlainTextInputBlockElement); ok {
			return el.InitialValue, true
		}
	}
	return "", false
}

func TestApproveButtonOpensForm(t *testing.T) {
	r := newRig(t)
	rec := r.serve(t, interactionBody(t, buttonPayload("UAPPR", ActionIDApprove, testID+"| eu-gdpr-art33")))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if len(r.views.opened) != 1 {
		t.Fatalf("opened %+v, want the approval form", r.views.opened)
	}
	o := r.views.opened[0]
	if o.Trigger != "trig-2" || o.View.CallbackID != callbackApprove {
		t.Errorf("opened %q with trigger %q", o.View.CallbackID, o.Trigger)
	}
	if got, _ := inputValue(o.View, blockWhatHappened); got != "The export bucket was listable." {
		t.Errorf("what happened prefilled with %q, want the incident's description", got)
	}
	for _, b := range textBlocks {
		if _, ok := inputValue(o.View, b); !ok {
			t.Errorf("the form has no %s input", b)
		}
	}
	raw, _ := json.Marshal(o.View)
	if !strings.Contains(string(raw), "`eu-gdpr-art33`") || !strings.Contains(string(raw), testID) {
		t.Errorf("the form does not name the incident and the rule: %s", raw)
	}
	m := decodeMeta(o.View.PrivateMetadata)
	if want := (formMeta{ResponseURL: "https://hooks.slack.test/actions/2", Incident: testID, Rules: []string{"eu-gdpr-art33"}}); !reflect.DeepEqual(m, want) {
		t.Errorf("metadata %+v, want %+v", m, want)
	}
	for _, c := range r.inc.Calls() {
		if c.Op == "approve" {
			t.Errorf("pressing the button approved: %+v", c)
		}
	}
	if posts := r.resp.Posts(); len(posts) != 0 {
		t.Errorf("posted %+v, want nothing", posts)
	}
}

func TestApproveCommandOpensForm(t *testing.T) {
	r := newRig(t)
	rec := r.serve(t, slash("UADMIN", "approve "+testID+" eu-gdpr-art33 eu-gdpr-art34"))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("answer %d %s, want an empty 200", rec.Code, rec.Body)
	}
	if len(r.views.opened) != 1 || r.views.opened[0].Trigger != "trig-1" || r.views.opened[0].View.CallbackID != callbackApprove {
		t.Fatalf("opened %+v", r.views.opened)
	}
	m := decodeMeta(r.views.opened[0].View.PrivateMetadata)
	if want := (formMeta{ResponseURL: "https://hooks.slack.test/commands/1", Channel: "C1", Incident: testID,
		Rules: []string{"eu-gdpr-art33", "eu-gdpr-art34"}}); !reflect.DeepEqual(m, want) {
		t.Errorf("metadata %+v, want %+v", m, want)
	}

	t.Run("unknown incident", func(t *testing.T) {
		r := newRig(t)
		got := answer(t, r.serve(t, slash("UAPPR", "approve INC-20261120-00000 r1")))
		if !strings.Contains(got.Text, "No incident INC-20261120-00000") || len(r.views.opened) != 0 {
			t.Errorf("answer %+v, opened %+v", got, r.views.opened)
		}
	})
	t.Run("expired trigger", func(t *testing.T) {
		r := newRig(t)
		r.views.openErr = slack.SlackErrorResponse{Err: "expired_trigger_id"}
		got := answer(t, r.serve(t, slash("UAPPR", "approve "+testID+" eu-gdpr-art33")))
		if got.ResponseType != slack.ResponseTypeEphemeral || !strings.Contains(got.Text, "Run `/breach approve "+testID+" eu-gdpr-art33` again") {
			t.Errorf("answer %+v", got)
		}
	})
	t.Run("expired trigger on the button", func(t *testing.T) {
		r := newRig(t)
		r.views.openErr = slack.SlackErrorResponse{Err: "expired_trigger_id"}
		r.serve(t, interactionBody(t, buttonPayload("UAPPR", ActionIDApprove, testID+"|eu-gdpr-art33")))
		if posts := r.resp.Posts(); len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "Press *Approve eu-gdpr-art33* again") {
			t.Errorf("posts %+v", posts)
		}
	})
	t.Run("a commander is refused", func(t *testing.T) {
		r := newRig(t)
		got := answer(t, r.serve(t, slash("UCMDR", "approve "+testID+" eu-gdpr-art33")))
		if !strings.Contains(got.Text, "needs the *approver* role") || len(r.views.opened) != 0 || len(r.inc.Calls()) != 0 {
			t.Errorf("answer %+v, opened %+v, calls %+v", got, r.views.opened, r.inc.Calls())
		}
	})
}

// approveValues are the texts of a filled approval form.
func approveValues() map[string]any {
	v := map[string]any{}
	for b, text := range map[string]string{
		blockWhatHappened: " The bucket was listable. ", blockConsequences: "Phishing.", blockMeasures: "Closed the bucket.",
		blockWhatToDo: "Watch for phishing.", blockIDTheft: "",
	} {
		v[b] = map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": text}}
	}
	return v
}

var approveMeta = formMeta{ResponseURL: "https://hooks.slack.test/actions/2", Incident: testID, Rules: []string{"eu-gdpr-art33"}}.encode()

var wantTexts = activities.NoticeTexts{
	WhatHappened: "The bucket was listable.", LikelyConsequences: "Phishing.", MeasuresTaken: "Closed the bucket.", WhatYouCanDo: "Watch for phishing.",
}

func TestApproveSubmission(t *testing.T) {
	r := newRig(t)
	rec := r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, approveMeta, approveValues())))
	var got slack.ViewSubmissionResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.ResponseAction != slack.RAUpdate {
		t.Fatalf("answer %s, want the form updated to Approving…", rec.Body)
	}
	want := call{Op: "approve", ID: testID, Rules: []string{"eu-gdpr-art33"}, Texts: wantTexts, Actor: "slack:UAPPR"}
	if calls := r.inc.Calls(); len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
		t.Errorf("calls = %+v, want %+v", calls, want)
	}
	if len(r.views.updated) != 1 || r.views.updated[0].Title.Text != "Notice approved" {
		t.Errorf("form updated to %+v", r.views.updated)
	}
	posts := r.resp.Posts()
	if len(posts) != 1 || posts[0].URL != "https://hooks.slack.test/actions/2" || posts[0].Msg.ResponseType != slack.ResponseTypeInChannel ||
		!strings.Contains(posts[0].Msg.Text, "<@UAPPR> approved notice") {
		t.Errorf("posts = %+v", posts)
	}
}

func TestApproveSubmissionRefused(t *testing.T) {
	t.Run("by the workflow", func(t *testing.T) {
		r := newRig(t)
		r.inc.approveErr = &apperr.Error{Kind: apperr.Invalid, Msg: "the notice cannot go out as approved: likely_consequences: is required: " +
			"the notice must describe the likely consequences (GDPR Art. 33(3)) (give the texts in --file or with the flags of approve)"}
		r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, approveMeta, approveValues())))
		posts := r.resp.Posts()
		if len(posts) != 1 || posts[0].Msg.ResponseType != slack.ResponseTypeEphemeral ||
			!strings.Contains(posts[0].Msg.Text, "Not accepted: the notice cannot go out as approved: likely_consequences: is required") ||
			!strings.Contains(posts[0].Msg.Text, "fill in *Likely consequences*") || strings.Contains(posts[0].Msg.Text, "--file") {
			t.Errorf("posts = %+v, want the refusal without the CLI's hint", posts)
		}
		if len(r.views.updated) != 1 {
			t.Fatalf("form updated %d times, want once", len(r.views.updated))
		}
		form := r.views.updated[0]
		if form.CallbackID != callbackApprove || form.PrivateMetadata != approveMeta {
			t.Errorf("the form did not come back: %+v", form)
		}
		if got, _ := inputValue(form, blockConsequences); got != "Phishing." {
			t.Errorf("likely consequences came back as %q", got)
		}
		// The refusal sits right under the block it names.
		for i, b := range form.Blocks.BlockSet {
			if in, ok := b.(*slack.InputBlock); ok && in.BlockID == blockConsequences {
				raw, _ := json.Marshal(form.Blocks.BlockSet[i+1])
				if !strings.Contains(string(raw), ":warning: The notice cannot go out") {
					t.Errorf("block after %s is %s", blockConsequences, raw)
				}
			}
		}
	})
	t.Run("a rule the workflow refuses", func(t *testing.T) {
		r := newRig(t)
		r.inc.approveErr = &apperr.Error{Kind: apperr.Conflict, Msg: "eu-gdpr-art33 is met: there is nothing to notify under it"}
		r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, approveMeta, approveValues())))
		if posts := r.resp.Posts(); len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "Not done: eu-gdpr-art33 is met") {
			t.Errorf("posts = %+v", posts)
		}
		if len(r.views.updated) != 1 || r.views.updated[0].Title.Text != "Not approved" {
			t.Errorf("form updated to %+v", r.views.updated)
		}
	})
	t.Run("a reporter", func(t *testing.T) {
		r := newRig(t)
		rec := r.serve(t, interactionBody(t, viewPayload("UREP", callbackApprove, approveMeta, approveValues())))
		var got slack.ViewSubmissionResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.ResponseAction != slack.RAErrors ||
			!strings.Contains(got.Errors[blockWhatHappened], "needs the *approver* role") {
			t.Errorf("answer %s", rec.Body)
		}
		if calls := r.inc.Calls(); len(calls) != 0 {
			t.Errorf("calls = %+v", calls)
		}
	})
	t.Run("lost metadata", func(t *testing.T) {
		r := newRig(t)
		rec := r.serve(t, interactionBody(t, viewPayload("UAPPR", callbackApprove, "{}", approveValues())))
		if !strings.Contains(rec.Body.String(), "lost its incident") || len(r.inc.Calls()) != 0 {
			t.Errorf("answer %s, calls %+v", rec.Body, r.inc.Calls())
		}
	})
}

func TestApproveRefusalBlock(t *testing.T) {
	tests := []struct{ msg, block string }{
		{"the notice cannot go out as approved: what_you_can_do: is required: x", blockWhatToDo},
		{"texts.what_happened: say what happened (the incident has no description to use)", blockWhatHappened},
		{"texts.identity_theft_offer: at most 20000 characters; this one is 20001", blockIDTheft},
		{"rules: eu-gdpr-art33 is overdue and a late notice must give reasons", ""},
	}
	for _, tt := range tests {
		if got := approveRefusal(&apperr.Error{Kind: apperr.Invalid, Msg: tt.msg}); got.Block != tt.block {
			t.Errorf("approveRefusal(%q).Block = %q, want %q", tt.msg, got.Block, tt.block)
		}
	}
}
