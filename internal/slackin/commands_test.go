package slackin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text    string
		want    command
		wantErr string
	}{
		{"", command{Action: ActionHelp}, ""},
		{"help", command{Action: ActionHelp}, ""},
		{"open", command{Action: ActionOpen}, ""},
		{"OPEN", command{Action: ActionOpen}, ""},
		{"open now", command{}, "takes nothing"},
		{"status", command{Action: ActionStatus}, ""},
		{"status inc-20261120-7k3qx", command{Action: ActionStatus, Incident: testID}, ""},
		{"status INC-1", command{}, "is not an incident ID"},
		{"status " + testID + " more", command{}, "one incident ID"},
		{"list", command{Action: ActionList, State: "open"}, ""},
		{"list Closed", command{Action: ActionList, State: "closed"}, ""},
		{"list soon", command{}, "open, overdue, closed, all"},
		{"note " + testID + "  bucket  was &lt;public&gt; &amp; listed", command{Action: ActionNote, Incident: testID, Text: "bucket  was <public> & listed"}, ""},
		{"note " + testID, command{}, "text of the note"},
		{"note", command{}, "needs an incident ID"},
		{"ack " + testID, command{Action: ActionAck, Incident: testID}, ""},
		{"ACK " + testID + " eu-gdpr-art33  on it", command{Action: ActionAck, Incident: testID, Text: "eu-gdpr-art33  on it"}, ""},
		{"ack", command{}, "needs an incident ID"},
		{"ack INC-1 on it", command{}, "is not an incident ID"},
		{"scope " + testID, command{Action: ActionScope, Incident: testID}, ""},
		{"scope", command{}, "one incident ID"},
		{"close " + testID + " false alarm", command{Action: ActionClose, Incident: testID, Text: "false alarm"}, ""},
		{"close " + testID, command{}, "the reason"},
		{"close " + testID + " --yes the DPA was called", command{Action: ActionClose, Incident: testID, Text: "the DPA was called", Yes: true}, ""},
		{"close " + testID + " --yes", command{}, "the reason"},
		{"approve " + testID + " eu-gdpr-art33 eu-gdpr-art34", command{Action: ActionApprove, Incident: testID, Rules: []string{"eu-gdpr-art33", "eu-gdpr-art34"}}, ""},
		{"approve " + testID, command{}, "at least one obligation"},
		{"assign " + testID + " Commander <@U0123ABCD|alice>", command{Action: ActionAssign, Incident: testID, Role: "commander", Person: "slack:U0123ABCD"}, ""},
		{"assign " + testID + " dpo <@W0456EFGH>", command{Action: ActionAssign, Incident: testID, Role: "dpo", Person: "slack:W0456EFGH"}, ""},
		{"assign " + testID + " legal <mailto:lee@example.com|lee@example.com>", command{Action: ActionAssign, Incident: testID, Role: "legal", Person: "lee@example.com"}, ""},
		{"assign " + testID + " scribe Sam  Doe", command{Action: ActionAssign, Incident: testID, Role: "scribe", Person: "Sam  Doe"}, ""},
		{"assign " + testID + " janitor <@U0123ABCD|alice>", command{}, "commander, dpo, legal, scribe"},
		{"assign " + testID + " commander", command{}, "needs the person"},
		{"assign " + testID + " commander @alice", command{}, "not a mention Slack resolved"},
		{"assign " + testID + " commander <@U0123ABCD> <@U0456EFGH>", command{}, "takes one person"},
		{"assign " + testID + " commander <@alice|alice>", command{}, "takes one person"},
		{"assign " + testID + " commander <#C0123|general>", command{}, "takes one person"},
		{"assign " + testID + " scribe Sam &lt;temp&gt;", command{}, "takes one person"},
		{"assign", command{}, "needs an incident ID"},
		{"assign INC-1 commander <@U0123ABCD>", command{}, "is not an incident ID"},
		{"delete " + testID, command{}, `"delete" is not a /breach subcommand`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := parseCommand(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "note INC-20261120-7K3QX hi", "approve inc-20261120-7k3qx a b", "list all", "close \u00a0x", "assign INC-20261120-7K3QX dpo <@U0123ABCD|dana>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parseCommand(text)
		if err != nil {
			return
		}
		switch c.Action {
		case ActionNote, ActionClose:
			if c.Incident == "" || c.Text == "" {
				t.Errorf("%q parsed without ID or text: %+v", text, c)
			}
		case ActionAck:
			if c.Incident == "" {
				t.Errorf("%q parsed without ID: %+v", text, c)
			}
		case ActionAssign:
			if c.Incident == "" || !slices.Contains(incident.TeamRoles, c.Role) || strings.TrimSpace(c.Person) == "" || strings.ContainsAny(c.Person, "<>") {
				t.Errorf("%q parsed without ID, role or person: %+v", text, c)
			}
			if id, ok := strings.CutPrefix(c.Person, "slack:"); ok && !validUserID(id) {
				t.Errorf("%q parsed to a bad user %q", text, c.Person)
			}
		case ActionApprove:
			if c.Incident == "" || len(c.Rules) == 0 {
				t.Errorf("%q parsed without ID or rules: %+v", text, c)
			}
		}
	})
}

// answer decodes the immediate answer to a slash command.
func answer(t *testing.T, rec *httptest.ResponseRecorder) reply {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r reply
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("answer is not JSON: %s", rec.Body)
		}
	}
	return r
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name, user, text string
		wantNow          string // in the immediate, ephemeral answer
		wantCall         *call  // what the incident service saw (nil: nothing)
		wantPost         string // in the follow-up on response_url ("" = none)
		wantInChannel    bool
	}{
		{name: "help", user: "UREP", text: "help", wantNow: "/breach ack INC-ID [RULE] [text]"},
		{name: "unknown subcommand", user: "UADMIN", text: "frobnicate", wantNow: `"frobnicate" is not a /breach subcommand`},
		{name: "malformed ID", user: "UADMIN", text: "status INC-1", wantNow: "Usage"},
		{name: "status", user: "UREP", text: "status " + testID, wantNow: "Looking up " + testID,
			wantCall: &call{Op: "show", ID: testID}, wantPost: testID + ": open, severity high"},
		{name: "status of an unknown incident", user: "UREP", text: "status INC-20261120-00000", wantNow: "Looking up",
			wantCall: &call{Op: "show", ID: "INC-20261120-00000"}, wantPost: "No incident INC-20261120-00000."},
		{name: "status without ID shows the one open incident", user: "UREP", text: "status", wantNow: "open incidents",
			wantCall: &call{Op: "show", ID: testID}, wantPost: testID},
		{name: "list", user: "UREP", text: "list overdue", wantNow: "Listing overdue",
			wantCall: &call{Op: "list", Filter: listFilter("overdue")}, wantPost: "Export bucket public"},
		{name: "note", user: "URESP", text: "note " + testID + " rotated the keys", wantNow: "Adding your note",
			wantCall: &call{Op: "note", ID: testID, Text: "rotated the keys", Actor: "slack:URESP"}, wantPost: "Note 7 added to " + testID},
		{name: "note by a reporter is refused", user: "UREP", text: "note " + testID + " x", wantNow: "needs the *responder* role"},
		{name: "ack", user: "URESP", text: "ack " + testID, wantNow: "Acknowledging " + testID,
			wantCall: &call{Op: "ack", ID: testID, Actor: "slack:URESP"}, wantPost: "<@URESP> acknowledged " + testID + ".", wantInChannel: true},
		{name: "ack of one obligation", user: "UCMDR", text: "ack " + testID + " EU-GDPR-ART33 on it, pulling logs", wantNow: "Acknowledging",
			wantCall: &call{Op: "ack", ID: testID, Rule: "eu-gdpr-art33", Text: "on it, pulling logs", Actor: "slack:UCMDR"}, wantPost: "acknowledged " + testID + " for eu-gdpr-art33.", wantInChannel: true},
		{name: "ack whose text is not a rule", user: "URESP", text: "ack " + testID + " on it", wantNow: "Acknowledging",
			wantCall: &call{Op: "ack", ID: testID, Text: "on it", Actor: "slack:URESP"}, wantPost: "acknowledged " + testID + ".", wantInChannel: true},
		{name: "ack of an unknown incident with text", user: "URESP", text: "ack INC-20261120-00000 on it", wantNow: "Acknowledging",
			wantCall: &call{Op: "show", ID: "INC-20261120-00000"}, wantPost: "No incident INC-20261120-00000."},
		{name: "ack by a reporter is refused", user: "UREP", text: "ack " + testID, wantNow: "needs the *responder* role"},
		{name: "scope points to the CLI", user: "URESP", text: "scope " + testID, wantNow: "breachctl scope " + testID + " --source"},
		{name: "scope by a reporter is refused", user: "UREP", text: "scope " + testID, wantNow: "needs the *responder* role"},
		{name: "close", user: "UCMDR", text: "close " + testID + " not personal data", wantNow: "Closing",
			wantCall: &call{Op: "close", ID: testID, Text: "not personal data", Actor: "slack:UCMDR"}, wantPost: "closed by <@UCMDR>", wantInChannel: true},
		{name: "close confirming what is left open", user: "UCMDR", text: "close " + testID + " --yes contained", wantNow: "Closing",
			wantCall: &call{Op: "close --yes", ID: testID, Text: "contained", Actor: "slack:UCMDR"}, wantPost: "closed by <@UCMDR>", wantInChannel: true},
		{name: "close by a responder is refused", user: "URESP", text: "close " + testID + " x", wantNow: "needs the *commander* role"},
		{name: "assign", user: "UCMDR", text: "assign " + testID + " dpo <@U0123ABCD|dana>", wantNow: "Assigning the privacy lead (DPO) on " + testID,
			wantCall: &call{Op: "assign", ID: testID, Role: "dpo", Person: "slack:U0123ABCD", Actor: "slack:UCMDR"},
			wantPost: "<@UCMDR> made <@U0123ABCD> the privacy lead (DPO) on " + testID + ".", wantInChannel: true},
		{name: "assign by name", user: "UADMIN", text: "assign " + testID + " scribe Sam &amp; Co", wantNow: "Assigning the scribe",
			wantCall: &call{Op: "assign", ID: testID, Role: "scribe", Person: "Sam & Co", Actor: "slack:UADMIN"},
			wantPost: "made Sam &amp; Co the scribe on " + testID + ".", wantInChannel: true},
		{name: "assign of an unknown incident", user: "UCMDR", text: "assign INC-20261120-00000 legal <@U0123ABCD>", wantNow: "Assigning",
			wantCall: &call{Op: "assign", ID: "INC-20261120-00000", Role: "legal", Person: "slack:U0123ABCD", Actor: "slack:UCMDR"}, wantPost: "No incident INC-20261120-00000."},
		{name: "assign by a responder is refused", user: "URESP", text: "assign " + testID + " dpo <@U0123ABCD>", wantNow: "needs the *commander* role"},
		{name: "help names assign", user: "UREP", text: "help", wantNow: "/breach assign INC-ID ROLE @person"},
		{name: "approve by a commander is refused", user: "UCMDR", text: "approve " + testID + " eu-gdpr-art33", wantNow: "needs the *approver* role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			got := answer(t, r.serve(t, slash(tt.user, tt.text)))
			if got.ResponseType != slack.ResponseTypeEphemeral || !strings.Contains(got.Text, tt.wantNow) {
				t.Errorf("answer = %+v, want ephemeral with %q", got, tt.wantNow)
			}
			calls := r.inc.Calls()
			if tt.wantCall == nil {
				if len(calls) != 0 {
					t.Errorf("calls = %+v, want none", calls)
				}
			} else if len(calls) == 0 || !reflect.DeepEqual(calls[len(calls)-1], *tt.wantCall) {
				t.Errorf("calls = %+v, want last %+v", calls, *tt.wantCall)
			}
			posts := r.resp.Posts()
			if tt.wantPost == "" {
				if len(posts) != 0 {
					t.Errorf("posted %+v, want nothing", posts)
				}
				return
			}
			if len(posts) != 1 {
				t.Fatalf("posted %d follow-ups, want 1", len(posts))
			}
			p := posts[0]
			if p.URL != "https://hooks.slack.test/commands/1" {
				t.Errorf("posted to %s", p.URL)
			}
			if !strings.Contains(p.Msg.Text, tt.wantPost) {
				t.Errorf("follow-up = %q, want %q", p.Msg.Text, tt.wantPost)
			}
			if inCh := p.Msg.ResponseType == slack.ResponseTypeInChannel; inCh != tt.wantInChannel {
				t.Errorf("follow-up response_type %q", p.Msg.ResponseType)
			}
		})
	}
}

func TestCommandErrorsAreMapped(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{apperr.New(apperr.Conflict, "incident %s is closed", testID), "Not done: incident " + testID + " is closed."},
		{&apperr.Error{Kind: apperr.Invalid, Msg: "rules: no obligation \"x\""}, `Not accepted: rules: no obligation "x".`},
		{apperr.Wrap(apperr.Unavailable, errors.New("dial tcp 10.0.0.1:7233"), "cannot reach"), "cannot reach its workflow service"},
		{errors.New("secret internal detail"), "Something went wrong inside breachctl"},
	}
	for _, tt := range tests {
		r := newRig(t)
		r.inc.err = tt.err
		r.serve(t, slash("UADMIN", "close "+testID+" done"))
		posts := r.resp.Posts()
		if len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, tt.want) {
			t.Errorf("%v: posted %+v, want %q", tt.err, posts, tt.want)
			continue
		}
		if strings.Contains(posts[0].Msg.Text, "10.0.0.1") || strings.Contains(posts[0].Msg.Text, "secret internal") {
			t.Errorf("internal text reached Slack: %q", posts[0].Msg.Text)
		}
		if posts[0].Msg.ResponseType != slack.ResponseTypeEphemeral {
			t.Errorf("error posted %s", posts[0].Msg.ResponseType)
		}
	}
}

func TestOpenCommand(t *testing.T) {
	r := newRig(t)
	rec := r.serve(t, slash("UREP", "open"))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("answer %d %q, want an empty 200", rec.Code, rec.Body)
	}
	if len(r.views.opened) != 1 || r.views.opened[0].Trigger != "trig-1" {
		t.Fatalf("opened %+v", r.views.opened)
	}
	v := r.views.opened[0].View
	if v.CallbackID != callbackOpen || len(v.Blocks.BlockSet) != 7 {
		t.Errorf("form = %s with %d blocks", v.CallbackID, len(v.Blocks.BlockSet))
	}
	if m := decodeMeta(v.PrivateMetadata); m.ResponseURL != "https://hooks.slack.test/commands/1" || m.Channel != "C1" {
		t.Errorf("metadata %+v", m)
	}

	r = newRig(t)
	r.views.openErr = slack.SlackErrorResponse{Err: "expired_trigger_id"}
	got := answer(t, r.serve(t, slash("UREP", "open")))
	if !strings.Contains(got.Text, "Run `/breach open` again") {
		t.Errorf("expired trigger: %q", got.Text)
	}

	r = newRig(t)
	r.h.cfg.Roles = Roles{} // nobody has a role
	got = answer(t, r.serve(t, slash("UNOBODY", "open")))
	if !strings.Contains(got.Text, "needs the *reporter* role") || !strings.Contains(got.Text, "no breachctl role") || len(r.views.opened) != 0 {
		t.Errorf("no role: %q, opened %d", got.Text, len(r.views.opened))
	}
}

func listFilter(state string) orchestrator.ListFilter {
	return orchestrator.ListFilter{State: state, Limit: maxListed + 1}
}
