package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/slacktest"
)

const slackSecret = "e2e-signing-secret"

// slackPost sends a form to dev's Slack endpoint, signed as Slack signs
// (or not, or with an old timestamp), and returns the answer.
func slackPost(t *testing.T, addr, path string, form url.Values, signedAt time.Time, sign bool) (int, string) {
	t.Helper()
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		ts := strconv.FormatInt(signedAt.Unix(), 10)
		mac := hmac.New(sha256.New, []byte(slackSecret))
		mac.Write([]byte("v0:" + ts + ":" + body))
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func slashCommand(user, text, trigger, responseURL string) url.Values {
	return url.Values{"command": {"/breach"}, "text": {text}, "user_id": {user}, "user_name": {strings.ToLower(user)},
		"team_id": {"T0001"}, "channel_id": {"C0001"}, "trigger_id": {trigger}, "response_url": {responseURL}}
}

// TestSlackDrivesAnIncident opens, follows and closes an incident from
// Slack against dev and a loopback Slack: the form opens, its submission
// opens the incident as the Slack user, status comes back through the
// response URL, a reporter may not close and a commander may; an unsigned
// or replayed request is refused and changes nothing.
func TestSlackDrivesAnIncident(t *testing.T) {
	dir := t.TempDir()
	sl := slacktest.NewServer(slacktest.Options{Users: []slacktest.User{{ID: "U0REPORT", Name: "ana"}, {ID: "U0COMMAND", Name: "cmd"}, {ID: "U0DPO", Name: "dpo"}}})
	defer sl.Close()
	roles := filepath.Join(dir, "roles.yaml")
	if err := os.WriteFile(roles, []byte("default_role: reporter\nusers:\n  U0COMMAND: [commander]\n  U0DPO: [approver]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notifyPath := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(notifyPath, []byte(notifyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SLACK_SIGNING_SECRET": slackSecret, "SLACK_BOT_TOKEN": sl.Token(), "SLACK_API_URL": sl.APIURL(),
		"BREACHCTL_NOTIFY":      notifyPath,
		"BREACHCTL_SLACK_ROLES": roles, "BREACHCTL_SLACK_RESPONDERS": "U0DPO,U0COMMAND"}
	dev := startDevEnv(t, dir, env)
	defer dev.Stop()
	c := cliRunner{t: t, address: dev.Server.FrontendAddress(), env: map[string]string{"BREACHCTL_ACTOR": "cli:e2e", "BREACHCTL_LOG_LEVEL": "warn"}}
	incidents := func() []incident.Summary {
		var rows []incident.Summary
		c.ok(&rows, "list", "--state", "all")
		return rows
	}

	// Unsigned, or signed ten minutes ago: 401, nothing done.
	if code, _ := slackPost(t, dev.HTTPAddr, "/slack/commands", slashCommand("U0REPORT", "open", sl.IssueTrigger(), sl.NewResponseURL()), time.Now(), false); code != http.StatusUnauthorized {
		t.Fatalf("unsigned command: %d", code)
	}
	if code, _ := slackPost(t, dev.HTTPAddr, "/slack/commands", slashCommand("U0REPORT", "open", sl.IssueTrigger(), sl.NewResponseURL()), time.Now().Add(-10*time.Minute), true); code != http.StatusUnauthorized {
		t.Fatalf("replayed command: %d", code)
	}
	if len(sl.Views()) != 0 {
		t.Fatalf("a refused request opened a view: %+v", sl.Views())
	}

	// /breach open shows the form; submitting it opens the incident.
	opened := sl.NewResponseURL()
	if code, body := slackPost(t, dev.HTTPAddr, "/slack/commands", slashCommand("U0REPORT", "open", sl.IssueTrigger(), opened), time.Now(), true); code != http.StatusOK {
		t.Fatalf("/breach open: %d %s", code, body)
	}
	views := sl.Views()
	if len(views) != 1 || views[0].CallbackID != "breach_open" {
		t.Fatalf("views after /breach open: %+v", views)
	}
	var view struct {
		PrivateMetadata string `json:"private_metadata"`
	}
	_ = json.Unmarshal(views[0].JSON, &view)
	aware := time.Now().Add(-3 * time.Hour).Unix()
	input := func(v map[string]any) map[string]any { return map[string]any{"value": v} }
	payload, _ := json.Marshal(map[string]any{
		"type": "view_submission", "user": map[string]any{"id": "U0REPORT", "name": "ana"}, "team": map[string]any{"id": "T0001"},
		"view": map[string]any{"id": views[0].ID, "callback_id": "breach_open", "private_metadata": view.PrivateMetadata,
			"state": map[string]any{"values": map[string]any{
				"title":           input(map[string]any{"type": "plain_text_input", "value": "Export bucket public"}),
				"description":     input(map[string]any{"type": "plain_text_input", "value": "The export bucket was listable."}),
				"aware_at":        input(map[string]any{"type": "datetimepicker", "selected_date_time": aware}),
				"systems":         input(map[string]any{"type": "plain_text_input", "value": "uploads"}),
				"data_categories": input(map[string]any{"type": "multi_static_select", "selected_options": []any{map[string]any{"value": "email"}, map[string]any{"value": "name"}}}),
				"regions":         input(map[string]any{"type": "plain_text_input", "value": "DE"}),
				"severity":        input(map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "high"}}),
			}}},
	})
	if code, body := slackPost(t, dev.HTTPAddr, "/slack/interactions", url.Values{"payload": {string(payload)}}, time.Now(), true); code != http.StatusOK {
		t.Fatalf("form submission: %d %s", code, body)
	}
	var id string
	eventually(t, 30*time.Second, "the incident opened from Slack", func() bool {
		for _, s := range incidents() {
			if s.Title == "Export bucket public" {
				id = s.ID
				return true
			}
		}
		return false
	})
	var st incident.Status
	c.ok(&st, "show", id)
	if st.OpenedBy != "slack:U0REPORT" || len(st.Clocks) == 0 {
		t.Fatalf("incident opened from Slack: opened by %q, %d clocks", st.OpenedBy, len(st.Clocks))
	}

	// The incident has its private channel with the responders in it, and
	// a pinned summary of its obligations.
	channel := strings.ToLower(id) // inc-20261123-abcde
	defer func() {
		if t.Failed() {
			dumpSlack(t, sl)
		}
	}()
	eventually(t, 30*time.Second, "the incident channel and its pinned summary", func() bool {
		return len(sl.Pins(channel)) == 1
	})
	members := sl.Members(channel)
	if !slices.Contains(members, "U0DPO") || !slices.Contains(members, "U0COMMAND") {
		t.Fatalf("members of #%s: %v", channel, members)
	}
	if pin := sl.Pins(channel)[0]; !strings.Contains(string(pin.Blocks), "eu-gdpr-art33") || !strings.Contains(string(pin.Blocks), "approve_notice") {
		t.Fatalf("the pinned summary does not show the GDPR clock with its approve button: %s", pin.Blocks)
	}
	c.ok(&st, "show", id)
	if st.Slack == nil || st.Slack.Name != channel || st.Slack.SummaryTS == "" {
		t.Fatalf("the incident's Slack state: %+v", st.Slack)
	}

	// Status comes back through the response URL.
	statusURL := sl.NewResponseURL()
	if code, _ := slackPost(t, dev.HTTPAddr, "/slack/commands", slashCommand("U0REPORT", "status "+id, "", statusURL), time.Now(), true); code != http.StatusOK {
		t.Fatalf("/breach status: %d", code)
	}
	eventually(t, 30*time.Second, "the status through the response URL", func() bool {
		for _, p := range sl.Responses(statusURL) {
			if strings.Contains(p.Text, id) || strings.Contains(string(p.Blocks), id) {
				return true
			}
		}
		return false
	})

	// A note from the slash command, and Acknowledge from the summary's
	// button: both on the timeline with who did them.
	if code, body := slackPost(t, dev.HTTPAddr, "/slack/commands", slashCommand("U0COMMAND", "note "+id+" Bucket made private at 11:40", "", sl.NewResponseURL()), time.Now(), true); code != http.StatusOK {
		t.Fatalf("/breach note: %d %s", code, body)
	}
	ack, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0COMMAND", "name": "cmd"}, "team": map[string]any{"id": "T0001"},
		"channel": map[string]any{"id": "C0001"}, "response_url": sl.NewResponseURL(), "trigger_id": sl.IssueTrigger(),
		"actions": []any{map[string]any{"action_id": "ack", "block_id": "actions", "type": "button", "value": id}},
	})
	if code, body := slackPost(t, dev.HTTPAddr, "/slack/interactions", url.Values{"payload": {string(ack)}}, time.Now(), true); code != http.StatusOK {
		t.Fatalf("Acknowledge: %d %s", code, body)
	}
	eventually(t, 30*time.Second, "the note and the acknowledgement on the timeline", func() bool {
		c.ok(&st, "show", id)
		return hasEntry(st, "note", "Bucket made private") && hasEntry(st, "acknowledged", "Acknowledged by slack:U0COMMAND")
	})

	// The DPO presses Approve notice on the summary, fills in the form, and
	// the notice to the authority goes out (the outbox of dev, no SendGrid
	// key): the obligation is met.
	press, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0DPO", "name": "dpo"}, "team": map[string]any{"id": "T0001"},
		"channel": map[string]any{"id": "C0001"}, "response_url": sl.NewResponseURL(), "trigger_id": sl.IssueTrigger(),
		"actions": []any{map[string]any{"action_id": "approve_notice", "block_id": "actions", "type": "button", "value": id + "|eu-gdpr-art33"}},
	})
	if code, body := slackPost(t, dev.HTTPAddr, "/slack/interactions", url.Values{"payload": {string(press)}}, time.Now(), true); code != http.StatusOK {
		t.Fatalf("Approve notice: %d %s", code, body)
	}
	var form slacktest.View
	for _, v := range sl.Views() {
		if v.CallbackID == "breach_approve" {
			form = v
		}
	}
	if form.ID == "" {
		t.Fatalf("no approval form opened: %+v", sl.Views())
	}
	_ = json.Unmarshal(form.JSON, &view)
	text := func(v string) map[string]any {
		return map[string]any{"value": map[string]any{"type": "plain_text_input", "value": v}}
	}
	approval, _ := json.Marshal(map[string]any{
		"type": "view_submission", "user": map[string]any{"id": "U0DPO", "name": "dpo"}, "team": map[string]any{"id": "T0001"},
		"view": map[string]any{"id": form.ID, "callback_id": "breach_approve", "private_metadata": view.PrivateMetadata,
			"state": map[string]any{"values": map[string]any{
				"what_happened":       text("The export bucket was listable for five hours."),
				"likely_consequences": text("Addresses could receive phishing."),
				"measures_taken":      text("The bucket is private; access logs reviewed."),
				"what_you_can_do":     text("Be wary of messages about your exports."),
			}}},
	})
	if code, body := slackPost(t, dev.HTTPAddr, "/slack/interactions", url.Values{"payload": {string(approval)}}, time.Now(), true); code != http.StatusOK {
		t.Fatalf("approval form: %d %s", code, body)
	}
	eventually(t, 60*time.Second, "the authority notified after an approval from Slack", func() bool {
		c.ok(&st, "show", id)
		cl := clockOf(st, "eu-gdpr-art33")
		return cl != nil && cl.State == incident.ClockMet
	})
	if n := st.Notices[0]; n.ApprovedBy != "slack:U0DPO" || len(n.Deliveries) != 1 || n.Deliveries[0].MessageID == "" {
		t.Fatalf("notice approved from Slack: %+v", n)
	}

	// A reporter may not close; a commander may, and the timeline says who.
	refusedURL := sl.NewResponseURL()
	code, body := slackPost(t, dev.HTTPAddr, "/slack/commands", slashCommand("U0REPORT", "close "+id+" contained", "", refusedURL), time.Now(), true)
	if code != http.StatusOK || !strings.Contains(body, "commander") {
		t.Fatalf("a reporter closing: %d %s", code, body)
	}
	closeURL := sl.NewResponseURL()
	if code, body := slackPost(t, dev.HTTPAddr, "/slack/commands", slashCommand("U0COMMAND", "close "+id+" Contained; no notice needed", "", closeURL), time.Now(), true); code != http.StatusOK {
		t.Fatalf("a commander closing: %d %s", code, body)
	}
	eventually(t, 30*time.Second, "the incident closed from Slack", func() bool {
		c.ok(&st, "show", id)
		return st.State == incident.StateClosed
	})
	if !hasEntry(st, "closed", "Contained") || !slices.ContainsFunc(st.Timeline, func(e incident.Entry) bool {
		return e.Kind == incident.EntryClosed && e.Actor == "slack:U0COMMAND"
	}) {
		t.Fatalf("timeline after the close: %+v", st.Timeline[len(st.Timeline)-1])
	}
	// The pinned summary was edited to say so, not posted again.
	eventually(t, 30*time.Second, "the summary showing the close", func() bool {
		pins := sl.Pins(channel)
		return len(pins) == 1 && pins[0].Updates > 0 && strings.Contains(string(pins[0].Blocks), "closed")
	})
	// In the channel: the summary, and the obligation met, once.
	if msgs := sl.Messages(channel); len(msgs) != 2 || !strings.Contains(msgs[1].Text, "Obligation met") {
		t.Errorf("messages in #%s: %+v, want the summary and the obligation met", channel, msgs)
	}
	captureHistories(t, dev, id)
}

// TestSlackSignsOffADraft runs the two-person rule from Slack: the
// approval form of a notice to the authority records a draft, which the
// pinned summary shows with its buttons; a second approver rejects it with
// a reason; the next draft gets one approval per person (a second press by
// the same person is refused) and goes out with the second approver's.
func TestSlackSignsOffADraft(t *testing.T) {
	dir := t.TempDir()
	sl := slacktest.NewServer(slacktest.Options{Users: []slacktest.User{{ID: "U0DPO", Name: "dpo"}, {ID: "U0LEGAL", Name: "legal"}, {ID: "U0RESP", Name: "resp"}}})
	defer sl.Close()
	files := map[string]string{
		"roles.yaml":      "default_role: reporter\nusers:\n  U0DPO: [approver]\n  U0LEGAL: [approver]\n  U0RESP: [responder]\n",
		"escalation.yaml": "policies: []\nsign_off:\n  two_person: [authority]\n",
		"notify.yaml":     notifyYAML,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"SLACK_SIGNING_SECRET": slackSecret, "SLACK_BOT_TOKEN": sl.Token(), "SLACK_API_URL": sl.APIURL(),
		"BREACHCTL_NOTIFY": filepath.Join(dir, "notify.yaml"), "BREACHCTL_ESCALATION": filepath.Join(dir, "escalation.yaml"),
		"BREACHCTL_SLACK_ROLES": filepath.Join(dir, "roles.yaml"), "BREACHCTL_SLACK_RESPONDERS": "U0DPO,U0LEGAL"}
	dev := startDevEnv(t, dir, env)
	defer dev.Stop()
	defer func() {
		if t.Failed() {
			dumpSlack(t, sl)
		}
	}()
	c := cliRunner{t: t, address: dev.Server.FrontendAddress(), env: map[string]string{"BREACHCTL_ACTOR": "cli:e2e", "BREACHCTL_LOG_LEVEL": "warn"}}
	var st incident.Status
	c.ok(&st, "open", "--title", "Export bucket public", "--aware-at", time.Now().Add(-3*time.Hour).UTC().Format(time.RFC3339),
		"--category", "email", "--category", "name", "--region", "DE", "--severity", "high")
	id := st.ID
	channel := strings.ToLower(id)
	eventually(t, 30*time.Second, "the pinned summary", func() bool { return len(sl.Pins(channel)) == 1 })

	post := func(payload map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(payload)
		if code, body := slackPost(t, dev.HTTPAddr, "/slack/interactions", url.Values{"payload": {string(raw)}}, time.Now(), true); code != http.StatusOK {
			t.Fatalf("interaction: %d %s", code, body)
		}
	}
	// press presses a button as user and returns its response URL.
	press := func(user, action, value string) string {
		t.Helper()
		answers := sl.NewResponseURL()
		post(map[string]any{
			"type": "block_actions", "user": map[string]any{"id": user}, "team": map[string]any{"id": "T0001"},
			"channel": map[string]any{"id": "C0001"}, "response_url": answers, "trigger_id": sl.IssueTrigger(),
			"actions": []any{map[string]any{"action_id": action, "block_id": "actions", "type": "button", "value": value}},
		})
		return answers
	}
	// lastView is the newest view opened with callback (any when empty).
	lastView := func(callback string) (slacktest.View, string) {
		t.Helper()
		var found slacktest.View
		for _, v := range sl.Views() {
			if callback == "" || v.CallbackID == callback {
				found = v
			}
		}
		var view struct {
			PrivateMetadata string `json:"private_metadata"`
		}
		_ = json.Unmarshal(found.JSON, &view)
		return found, view.PrivateMetadata
	}
	submit := func(user string, v slacktest.View, meta string, values map[string]any) {
		t.Helper()
		post(map[string]any{
			"type": "view_submission", "user": map[string]any{"id": user}, "team": map[string]any{"id": "T0001"},
			"view": map[string]any{"id": v.ID, "callback_id": v.CallbackID, "private_metadata": meta, "state": map[string]any{"values": values}},
		})
	}
	text := func(v string) map[string]any {
		return map[string]any{"value": map[string]any{"type": "plain_text_input", "value": v}}
	}
	texts := func(happened string) map[string]any {
		return map[string]any{
			"what_happened":       text(happened),
			"likely_consequences": text("Addresses could receive phishing."),
			"measures_taken":      text("The bucket is private; access logs reviewed."),
			"what_you_can_do":     text("Be wary of messages about your exports."),
		}
	}
	said := func(answers, want string) bool {
		for _, p := range sl.Responses(answers) {
			if strings.Contains(p.Text, want) {
				return true
			}
		}
		return false
	}
	pending := func() *incident.Draft {
		c.ok(&st, "show", id)
		for _, d := range st.Drafts {
			if d.State == incident.DraftPending {
				return &d // a copy: the next show reuses st.Drafts
			}
		}
		return nil
	}

	// The DPO approves the notice to the authority: one step is refused
	// under the two-person rule, so the form records a draft instead.
	answers := press("U0DPO", "approve_notice", id+"|eu-gdpr-art33")
	form, meta := lastView("breach_approve")
	if form.ID == "" {
		t.Fatalf("no approval form: %+v", sl.Views())
	}
	submit("U0DPO", form, meta, texts("The export bucket was listable for five hours."))
	var first *incident.Draft
	eventually(t, 30*time.Second, "a draft recorded from the approval form", func() bool {
		first = pending()
		return first != nil
	})
	if first.By != "slack:U0DPO" || first.Required != 2 || len(first.Approvals) != 0 || clockOf(st, "eu-gdpr-art33").State == incident.ClockMet {
		t.Fatalf("draft %+v, clock %+v", first, clockOf(st, "eu-gdpr-art33"))
	}
	eventually(t, 30*time.Second, "the draft's hash told", func() bool { return said(answers, "as draft `"+first.Hash+"`. It needs 2 approvals") })
	eventually(t, 30*time.Second, "the summary showing the draft", func() bool {
		pins := sl.Pins(channel)
		return len(pins) == 1 && strings.Contains(string(pins[0].Blocks), first.Hash) && strings.Contains(string(pins[0].Blocks), "approvals *0 of 2*") &&
			strings.Contains(string(pins[0].Blocks), `"approve_draft"`)
	})

	// A responder previews it.
	views := len(sl.Views())
	press("U0RESP", "preview_draft", id+"|"+first.Hash)
	eventually(t, 30*time.Second, "the preview", func() bool { return len(sl.Views()) > views })
	preview, _ := lastView("")
	if len(first.Preview) == 0 {
		t.Fatalf("the draft has no renderings to preview: %+v", first)
	}
	var shown struct {
		Title  struct{ Text string }
		Blocks []struct{ Text *struct{ Text string } }
	}
	_ = json.Unmarshal(preview.JSON, &shown)
	subject := slices.ContainsFunc(shown.Blocks, func(b struct{ Text *struct{ Text string } }) bool {
		return b.Text != nil && b.Text.Text == "Subject: "+first.Preview[0].Subject
	})
	if shown.Title.Text != "Draft "+first.Hash || !subject {
		t.Fatalf("preview %s does not show the draft's subject %q", preview.JSON, first.Preview[0].Subject)
	}

	// Legal rejects it, with a reason.
	press("U0LEGAL", "reject_draft", id+"|"+first.Hash)
	reject, meta := lastView("breach_reject")
	if reject.ID == "" {
		t.Fatalf("no reject form: %+v", sl.Views())
	}
	submit("U0LEGAL", reject, meta, map[string]any{"reason": text("Say how long the bucket was public.")})
	eventually(t, 30*time.Second, "the draft rejected", func() bool {
		c.ok(&st, "show", id)
		return st.Drafts[0].State == incident.DraftRejected && hasEntry(st, "draft_rejected", "Say how long")
	})

	// The DPO drafts again: the form now knows a draft is needed.
	press("U0DPO", "approve_notice", id+"|eu-gdpr-art33")
	form, meta = lastView("breach_approve")
	if !strings.Contains(string(form.JSON), "Record draft") {
		t.Fatalf("the second form does not say it records a draft: %s", form.JSON)
	}
	submit("U0DPO", form, meta, texts("The export bucket was listable from 06:10 to 11:40 UTC."))
	var second *incident.Draft
	eventually(t, 30*time.Second, "the second draft", func() bool {
		second = pending()
		return second != nil
	})

	// One approval per person; the second approver's sends it.
	answers = press("U0DPO", "approve_draft", id+"|"+second.Hash)
	eventually(t, 30*time.Second, "the first approval", func() bool { return said(answers, "1 of 2 approvals") })
	answers = press("U0DPO", "approve_draft", id+"|"+second.Hash)
	eventually(t, 30*time.Second, "a second approval by the same person refused", func() bool {
		for _, p := range sl.Responses(answers) {
			if p.ResponseType == "ephemeral" && strings.Contains(p.Text, "already approved") {
				return true
			}
		}
		return false
	})
	answers = press("U0LEGAL", "approve_draft", id+"|"+second.Hash)
	eventually(t, 60*time.Second, "the authority notified after the second approval", func() bool {
		c.ok(&st, "show", id)
		cl := clockOf(st, "eu-gdpr-art33")
		return cl != nil && cl.State == incident.ClockMet
	})
	if !said(answers, "the last approval it needed") {
		t.Errorf("the last approver was not told: %+v", sl.Responses(answers))
	}
	for _, kind := range []string{"notice_drafted", "draft_rejected", "draft_approval"} {
		if !slices.ContainsFunc(st.Timeline, func(e incident.Entry) bool { return string(e.Kind) == kind && strings.HasPrefix(e.Actor, "slack:U0") }) {
			t.Errorf("no %s entry by a Slack user on the timeline", kind)
		}
	}
	eventually(t, 30*time.Second, "the summary without pending drafts", func() bool {
		pins := sl.Pins(channel)
		return len(pins) == 1 && !strings.Contains(string(pins[0].Blocks), "approve_draft") && strings.Contains(string(pins[0].Blocks), "approved by")
	})
	captureHistories(t, dev, id)
}

func dumpSlack(t *testing.T, sl *slacktest.Server) {
	for _, c := range sl.Calls() {
		t.Logf("%s %d %s", c.Method, c.Status, c.Error)
	}
	for _, ch := range sl.Channels() {
		t.Logf("channel %s %s", ch.ID, ch.Name)
	}
}
