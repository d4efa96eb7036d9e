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

func dumpSlack(t *testing.T, sl *slacktest.Server) {
	for _, c := range sl.Calls() {
		t.Logf("%s %d %s", c.Method, c.Status, c.Error)
	}
	for _, ch := range sl.Channels() {
		t.Logf("channel %s %s", ch.ID, ch.Name)
	}
}
