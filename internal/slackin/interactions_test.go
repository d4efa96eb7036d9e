package slackin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// openValues are the fields of a valid report form.
func openValues(mod func(map[string]any)) map[string]any {
	aware := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC).Unix()
	v := map[string]any{
		blockTitle:       map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": "Export bucket public"}},
		blockDescription: map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": "The bucket was listable."}},
		blockAwareAt:     map[string]any{inputAction: map[string]any{"type": "datetimepicker", "selected_date_time": aware}},
		blockSystems:     map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": "uploads, accounts"}},
		blockCategories: map[string]any{inputAction: map[string]any{"type": "multi_static_select",
			"selected_options": []any{map[string]any{"value": "email"}, map[string]any{"value": "name"}}}},
		blockRegions:  map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": "de us-ca"}},
		blockSeverity: map[string]any{inputAction: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "high"}}},
	}
	if mod != nil {
		mod(v)
	}
	return v
}

func setText(block, value string) func(map[string]any) {
	return func(v map[string]any) {
		v[block] = map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": value}}
	}
}

func TestOpenSubmissionErrors(t *testing.T) {
	future := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC).Unix()
	tests := []struct {
		name      string
		mod       func(map[string]any)
		block     string
		wantError string
	}{
		{"no title", setText(blockTitle, "  "), blockTitle, "short title"},
		{"no description", setText(blockDescription, ""), blockDescription, "what happened"},
		{"bad region", setText(blockRegions, "EU, Atlantis"), blockRegions, "ISO 3166-1"},
		{"bad system name", setText(blockSystems, "billing/db"), blockSystems, "letters, digits"},
		{"awareness in the future", func(v map[string]any) {
			v[blockAwareAt] = map[string]any{inputAction: map[string]any{"type": "datetimepicker", "selected_date_time": future}}
		}, blockAwareAt, "in the future"},
		{"no awareness", func(v map[string]any) { delete(v, blockAwareAt) }, blockAwareAt, "became aware"},
		{"unknown category", func(v map[string]any) {
			v[blockCategories] = map[string]any{inputAction: map[string]any{"selected_options": []any{map[string]any{"value": "shoe_size"}}}}
		}, blockCategories, "Unknown category"},
		{"unknown severity", func(v map[string]any) {
			v[blockSeverity] = map[string]any{inputAction: map[string]any{"selected_option": map[string]any{"value": "apocalyptic"}}}
		}, blockSeverity, "severities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			rec := r.serve(t, interactionBody(t, viewPayload("UREP", callbackOpen, "", openValues(tt.mod))))
			var got slack.ViewSubmissionResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("answer %d %s", rec.Code, rec.Body)
			}
			if got.ResponseAction != slack.RAErrors || !strings.Contains(got.Errors[tt.block], tt.wantError) {
				t.Errorf("answer = %+v, want an error on %s saying %q", got, tt.block, tt.wantError)
			}
			if calls := r.inc.Calls(); len(calls) != 0 {
				t.Errorf("invalid form reached the service: %+v", calls)
			}
		})
	}
}

func TestOpenSubmission(t *testing.T) {
	r := newRig(t)
	meta := formMeta{ResponseURL: "https://hooks.slack.test/commands/9", Channel: "C1"}.encode()
	rec := r.serve(t, interactionBody(t, viewPayload("UREP", callbackOpen, meta, openValues(nil))))
	var got slack.ViewSubmissionResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.ResponseAction != slack.RAUpdate {
		t.Fatalf("answer %s, want an update to the form", rec.Body)
	}
	calls := r.inc.Calls()
	if len(calls) != 1 || calls[0].Op != "open" || calls[0].Actor != "slack:UREP" {
		t.Fatalf("calls = %+v", calls)
	}
	f := calls[0].Facts
	if f.Title != "Export bucket public" || f.Reporter != "slack:UREP" || f.Severity != "high" ||
		!reflect.DeepEqual(f.Systems, []string{"accounts", "uploads"}) ||
		!reflect.DeepEqual(f.DataCategories, []string{"email", "name"}) ||
		!reflect.DeepEqual(f.Regions, []string{"DE", "US-CA"}) ||
		!f.AwareAt.Equal(time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("facts = %+v", f)
	}
	if len(r.views.updated) != 1 || r.views.updated[0].Title.Text != "Incident opened" {
		t.Errorf("form updated to %+v", r.views.updated)
	}
	posts := r.resp.Posts()
	if len(posts) != 1 || posts[0].URL != "https://hooks.slack.test/commands/9" ||
		posts[0].Msg.ResponseType != slack.ResponseTypeInChannel || !strings.Contains(posts[0].Msg.Text, "<@UREP> opened *"+testID+"*") {
		t.Errorf("announcement = %+v", posts)
	}
}

func TestButtons(t *testing.T) {
	tests := []struct {
		name, user, actionID, value string
		wantCall                    *call
		wantPost                    string
	}{
		{"ack", "URESP", ActionIDAck, testID,
			&call{Op: "ack", ID: testID, Actor: "slack:URESP"}, "<@URESP> acknowledged " + testID + "."},
		{"ack by a reporter is refused", "UREP", ActionIDAck, testID, nil, "needs the *responder* role"},
		{"approve by a reporter is refused", "UREP", ActionIDApprove, testID + "|eu-gdpr-art33", nil, "needs the *approver* role"},
		{"approve by a responder is refused", "URESP", ActionIDApprove, testID + "|eu-gdpr-art33", nil, "needs the *approver* role"},
		{"approve without a rule", "UAPPR", ActionIDApprove, testID, nil, "malformed"},
		{"ack of an unknown incident", "URESP", ActionIDAck, "INC-20261120-00000",
			&call{Op: "ack", ID: "INC-20261120-00000", Actor: "slack:URESP"}, "No incident INC-20261120-00000."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			rec := r.serve(t, interactionBody(t, buttonPayload(tt.user, tt.actionID, tt.value)))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			calls := r.inc.Calls()
			if tt.wantCall == nil && len(calls) != 0 || tt.wantCall != nil && (len(calls) != 1 || !reflect.DeepEqual(calls[0], *tt.wantCall)) {
				t.Errorf("calls = %+v, want %+v", calls, tt.wantCall)
			}
			posts := r.resp.Posts()
			if len(posts) != 1 || posts[0].URL != "https://hooks.slack.test/actions/2" || !strings.Contains(posts[0].Msg.Text, tt.wantPost) {
				t.Errorf("posts = %+v, want one with %q", posts, tt.wantPost)
			}
		})
	}
}

func TestAddNoteButtonAndForm(t *testing.T) {
	r := newRig(t)
	r.serve(t, interactionBody(t, buttonPayload("URESP", ActionIDAddNote, testID)))
	if len(r.views.opened) != 1 || r.views.opened[0].Trigger != "trig-2" || r.views.opened[0].View.CallbackID != callbackNote {
		t.Fatalf("opened %+v", r.views.opened)
	}
	meta := r.views.opened[0].View.PrivateMetadata
	if m := decodeMeta(meta); m.Incident != testID || m.ResponseURL != "https://hooks.slack.test/actions/2" {
		t.Errorf("metadata %+v", m)
	}

	note := func(text string) map[string]any {
		return map[string]any{blockNote: map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": text}}}
	}
	rec := r.serve(t, interactionBody(t, viewPayload("URESP", callbackNote, meta, note("   "))))
	if !strings.Contains(rec.Body.String(), `"errors":{"note":"Write the note"}`) {
		t.Errorf("empty note: %s", rec.Body)
	}
	rec = r.serve(t, interactionBody(t, viewPayload("UREP", callbackNote, meta, note("x"))))
	if !strings.Contains(rec.Body.String(), "needs the *responder* role") {
		t.Errorf("reporter's note: %s", rec.Body)
	}
	if calls := r.inc.Calls(); len(calls) != 0 {
		t.Fatalf("refused notes reached the service: %+v", calls)
	}

	rec = r.serve(t, interactionBody(t, viewPayload("URESP", callbackNote, meta, note(" keys rotated "))))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("valid note: %d %s, want an empty 200 (closes the form)", rec.Code, rec.Body)
	}
	calls := r.inc.Calls()
	if want := (call{Op: "note", ID: testID, Text: "keys rotated", Actor: "slack:URESP"}); len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
		t.Errorf("calls = %+v", calls)
	}
	if posts := r.resp.Posts(); len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "Note 7 added to "+testID) {
		t.Errorf("posts = %+v", posts)
	}

	r = newRig(t)
	r.views.openErr = slack.SlackErrorResponse{Err: "expired_trigger_id"}
	r.serve(t, interactionBody(t, buttonPayload("URESP", ActionIDAddNote, testID)))
	if posts := r.resp.Posts(); len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "Press *Add note* again") {
		t.Errorf("expired trigger: %+v", posts)
	}
}

func TestStatusMessageButtons(t *testing.T) {
	msg := statusMessage(newFakeIncidents().known[testID])
	raw, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{`"action_id":"ack"`, `"value":"` + testID + `|eu-gdpr-art33"`, `"action_id":"add_note"`} {
		if !strings.Contains(s, want) {
			t.Errorf("status blocks lack %s", want)
		}
	}
	// The met clock has its notice: no approve button for it.
	if strings.Contains(s, "|us-ca-1798.82") {
		t.Error("approve button for a clock already answered")
	}
}

// TestEndToEnd runs a signed request through an HTTP server and the real
// responder, whose follow-up lands on a loopback response_url.
func TestEndToEnd(t *testing.T) {
	got := make(chan slack.WebhookMessage, 1)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m slack.WebhookMessage
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&m) != nil {
			http.Error(w, "bad follow-up", http.StatusBadRequest)
			return
		}
		got <- m
	}))
	defer hooks.Close()

	inc := newFakeIncidents()
	h, err := New(Config{SigningSecret: testSecret, Incidents: inc, Views: &fakeViews{}, Roles: testRoles,
		Responder: HTTPResponder{Client: hooks.Client(), Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := strings.Replace(slash("UREP", "status "+testID), "https%3A%2F%2Fhooks.slack.test%2Fcommands%2F1",
		strings.ReplaceAll(hooks.URL, ":", "%3A")+"%2Fhook", 1)
	req := signedRequest(testSecret, time.Now(), body)
	req.RequestURI = ""
	req.URL, _ = req.URL.Parse(srv.URL + "/slack/commands")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	select {
	case m := <-got:
		if m.ResponseType != slack.ResponseTypeEphemeral || !strings.HasPrefix(m.Text, testID+": open") || m.Blocks == nil {
			t.Errorf("follow-up = %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no follow-up reached the response_url")
	}

	// A replayed old request is refused and does nothing.
	old := signedRequest(testSecret, time.Now().Add(-10*time.Minute), body)
	old.RequestURI = ""
	old.URL, _ = old.URL.Parse(srv.URL + "/slack/commands")
	resp, err = srv.Client().Do(old)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(inc.Calls()) != 1 {
		t.Errorf("replay: status %d, calls %d", resp.StatusCode, len(inc.Calls()))
	}
}

func TestAckButtonSaysWhenPagingStopped(t *testing.T) {
	r := newRig(t)
	r.inc.paging = true
	r.serve(t, interactionBody(t, buttonPayload("URESP", ActionIDAck, testID)))
	r.wait(t)
	posts := r.resp.Posts()
	if len(posts) != 1 || posts[0].Msg.ResponseType != slack.ResponseTypeInChannel ||
		posts[0].Msg.Text != ":eyes: <@URESP> acknowledged "+testID+". Paging stopped." {
		t.Errorf("posts = %+v", posts)
	}
}
