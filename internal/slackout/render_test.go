package slackout_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/internal/slackin"
	"github.com/breachctl/breachctl/internal/slackout"
)

var update = flag.Bool("update", false, "rewrite the golden files of the Slack summary")

const id = "INC-20261123-ABCDE"

var (
	aware  = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	viewAt = aware.Add(26 * time.Hour)             // the workflow's clock when it took the view
	now    = aware.Add(26*time.Hour + time.Minute) // the activity's clock when it renders
)

func at(d time.Duration) *time.Time {
	t := aware.Add(d)
	return &t
}

// representative is an incident a day in: one clock running, one overdue
// that needs reasons for the delay, one met by a notice that is still
// sending, one waiting for another notice, one withdrawn.
func representative() incident.Status {
	sent := aware.Add(20 * time.Hour)
	st := incident.Status{
		ID: id, State: incident.StateOverdue, OpenedAt: aware.Add(30 * time.Minute), OpenedBy: "slack:U0ANA0001",
		Facts: incident.Facts{
			Title: "Customer export bucket was public <script>", AwareAt: aware,
			Systems: []string{"exports", "uploads"}, DataCategories: []string{"email", "password_hash"},
			Regions: []string{"EU", "US-CA"}, Severity: incident.SeverityHigh,
			Affected: []incident.Residents{{Region: "EU", Count: 12000}, {Region: "US-CA", Count: 400}},
		},
		Risk: &risk.Assessment{Level: risk.High},
		Clocks: []incident.Clock{
			{Obligation: incident.Obligation{Rule: "us-ca-1798.82", Title: "Tell Californians", Jurisdiction: "US-CA", Notify: "individuals", StartsAt: at(0), ASAP: true}, State: incident.ClockMet, NoticeID: id + "/us-ca-1798.82"},
			{Obligation: incident.Obligation{Rule: "eu-gdpr-art33", Title: "Tell the supervisory authority", Jurisdiction: "EU", Notify: "authority", StartsAt: at(0), Due: at(72 * time.Hour), Late: "reasons for the delay"}, State: incident.ClockRunning},
			{Obligation: incident.Obligation{Rule: "eu-nis2-art23-ew", Title: "Early warning to the CSIRT", Jurisdiction: "EU", Notify: "authority", Stage: "early warning", StartsAt: at(0), Due: at(24 * time.Hour), Late: "reasons for the delay"}, State: incident.ClockOverdue, OverdueAt: at(24 * time.Hour)},
			{Obligation: incident.Obligation{Rule: "us-ca-ag", Title: "Tell the California Attorney General", Jurisdiction: "US-CA", Notify: "authority", ClockStart: "us-ca-1798.82"}, State: incident.ClockRunning},
			{Obligation: incident.Obligation{Rule: "br-lgpd-art48", Title: "Tell the ANPD", Jurisdiction: "BR", Notify: "authority", StartsAt: at(0), Due: at(72 * time.Hour)}, State: incident.ClockWithdrawn},
		},
		Notices: []incident.Notice{{
			ID: id + "/us-ca-1798.82", Rules: []string{"us-ca-1798.82"}, Notify: "individuals", State: incident.NoticeSending,
			ApprovedBy: "slack:U0BEN0002", ApprovedAt: sent,
			Counts: incident.NoticeCounts{Expected: 400, Accepted: 250, Unreachable: 3, Covered: 7},
		}},
		Drafts: []incident.Draft{
			{Hash: "0badc0ffee00", Rules: []string{"eu-nis2-art23-ew"}, Notify: "authority", By: "cli:dana", At: aware.Add(22 * time.Hour),
				State: incident.DraftVoided, Required: 2, Reason: "the facts changed"},
			{Hash: "3f9a0c1d2e4b", Rules: []string{"eu-gdpr-art33"}, Notify: "authority", By: "slack:U0ANA0001", At: aware.Add(25 * time.Hour),
				State: incident.DraftPending, Required: 2, Request: json.RawMessage(`{"texts":{"what_happened":"someone's data"}}`),
				Approvals: []incident.Approval{{By: "slack:U0BEN0002", At: aware.Add(25*time.Hour + 10*time.Minute)}},
				Preview:   []incident.NoticePreview{{Template: "authority", Lang: "de", Subject: "Meldung", Text: "someone's data"}}},
		},
		Timeline: incident.Timeline{{Seq: 1, At: aware, Kind: incident.EntryNote, Text: "a note with someone's data in it"}},
	}
	st.Refresh()
	return st
}

func TestSummaryGolden(t *testing.T) {
	closed := representative()
	closedAt := aware.Add(40 * time.Hour)
	closed.State, closed.ClosedAt = incident.StateClosed, &closedAt
	for i := range closed.Clocks {
		closed.Clocks[i].Stop(closedAt)
	}
	for _, tc := range []struct {
		name string
		st   incident.Status
		opts slackout.Options
	}{
		{"representative", representative(), slackout.Options{WebURL: "https://breachctl.example/incidents/{id}"}},
		{"closed", closed, slackout.Options{}},
		{"new", incident.Status{ID: id, State: incident.StateOpen, OpenedAt: aware, Facts: incident.Facts{Title: "Laptop lost", AwareAt: aware}}, slackout.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := slackout.ViewOf(tc.st, viewAt)
			got, err := json.MarshalIndent(map[string]any{
				"text":   slackout.Fallback(v),
				"blocks": slackout.Blocks(v, now, tc.opts),
			}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "summary-"+tc.name+".json", string(got)+"\n")
		})
	}
}

// golden compares got with testdata/name, or rewrites it with -update. The
// summary is what people act on: every change of it shows in review.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/slackout -update to create it)", err)
	}
	if got != string(want) {
		w, g := strings.Split(string(want), "\n"), strings.Split(got, "\n")
		for i := range max(len(w), len(g)) {
			var wl, gl string
			if i < len(w) {
				wl = w[i]
			}
			if i < len(g) {
				gl = g[i]
			}
			if wl != gl {
				t.Fatalf("%s differs from the golden file at line %d (run go test ./internal/slackout -update and read the diff):\nwant %s\ngot  %s", path, i+1, wl, gl)
			}
		}
	}
}

func TestSummaryContent(t *testing.T) {
	v := slackout.ViewOf(representative(), viewAt)
	raw, err := json.Marshal(slackout.Blocks(v, now, slackout.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{
		"2026-11-26 09:00 UTC",               // GDPR's deadline, in UTC
		"45h59m left",                        // from the renderer's clock, not the view's
		"overdue by 2h1m",                    // the NIS2 early warning
		"record them with `breachctl delay`", // it needs reasons
		"starts when the notice under",       // the AG clock waits
		"12,400 counted",                     // affected
		"250 accepted, 3 not reached",        // the notice's counts
		`"text":"` + id + ` · Customer export bucket was public \u003cscript\u003e"`, // the header is plain text
		`"value":"` + id + `|eu-gdpr-art33"`,                                         // approve buttons for open clocks without a notice
		`"value":"` + id + `|eu-nis2-art23-ew"`,
		`"value":"` + id + `|us-ca-ag"`,
		"*Draft `3f9a0c1d2e4b`* of the notice under `eu-gdpr-art33` to authority", // the pending draft
		`approvals *1 of 2* (\u003c@U0BEN0002\u003e)`,
		`"action_id":"approve_draft","value":"` + id + `|3f9a0c1d2e4b","confirm"`,
		"Yours is the last approval it needs: sending starts.", // the confirmation
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	for _, unwanted := range []string{id + "|us-ca-1798.82", id + "|br-lgpd-art48", "someone's data", "0badc0ffee00"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("summary has %q", unwanted)
		}
	}
	var approve int
	for _, b := range slackout.Blocks(v, now, slackout.Options{}) {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok && btn.ActionID == slackout.ActionApprove {
					approve++
				}
			}
		}
	}
	if approve != 3 {
		t.Fatalf("approve buttons = %d, want 3", approve)
	}
}

// TestViewStaysSmall keeps the timeline and the rules' reasoning out of the
// activity input, which is recorded in the workflow's history.
func TestViewStaysSmall(t *testing.T) {
	st := representative()
	for i := range 500 {
		st.Timeline.Append(aware, incident.EntryNote, "slack:U1", "", fmt.Sprintf("note %d %s", i, strings.Repeat("x", 200)))
	}
	raw, err := json.Marshal(slackout.ViewOf(st, viewAt))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 4096 || bytes.Contains(raw, []byte("note 1")) {
		t.Fatalf("view is %d bytes: %s", len(raw), raw)
	}
	var back slackout.SummaryView
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if !bytes.Equal(raw, again) {
		t.Fatalf("view does not round-trip:\n%s\n%s", raw, again)
	}
}

// TestViewWithoutDraftsIsUnchanged: workflow code hashes the view to tell
// whether the pinned summary is stale, so an incident without pending
// drafts must give the JSON it gave before drafts existed, or committed
// histories would not replay.
func TestViewWithoutDraftsIsUnchanged(t *testing.T) {
	st := representative()
	st.Drafts = nil
	none, _ := json.Marshal(slackout.ViewOf(st, viewAt))
	if bytes.Contains(none, []byte(`"drafts"`)) {
		t.Fatalf("a view without drafts has a drafts field: %s", none)
	}
	st.Drafts = representative().Drafts
	for i := range st.Drafts {
		st.Drafts[i].State = incident.DraftRejected
	}
	done, _ := json.Marshal(slackout.ViewOf(st, viewAt))
	if !bytes.Equal(none, done) {
		t.Fatalf("drafts no longer pending change the view:\n%s\n%s", none, done)
	}
}

func TestManyObligationsStayWithinSlackLimits(t *testing.T) {
	st := incident.Status{ID: id, State: incident.StateOpen, OpenedAt: aware, Facts: incident.Facts{Title: "Big", AwareAt: aware}}
	for i := range 60 {
		st.Clocks = append(st.Clocks, incident.Clock{Obligation: incident.Obligation{Rule: fmt.Sprintf("rule-%02d", i), Title: "T", Due: at(time.Duration(i) * time.Hour)}, State: incident.ClockRunning})
	}
	for i := range 12 {
		st.Drafts = append(st.Drafts, incident.Draft{Hash: fmt.Sprintf("%012x", i), Rules: []string{"rule-00"}, State: incident.DraftPending, Required: 2})
	}
	blocks := slackout.Blocks(slackout.ViewOf(st, viewAt), now, slackout.Options{})
	if len(blocks) > 50 {
		t.Fatalf("%d blocks, Slack takes 50", len(blocks))
	}
	raw, _ := json.Marshal(blocks)
	if !bytes.Contains(raw, []byte("more not shown: `/breach status "+id+"` lists them with their buttons")) {
		t.Errorf("the drafts that do not fit are not counted")
	}
	approve := 0
	for _, b := range blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			if n := len(a.Elements.ElementSet); n > 25 {
				t.Fatalf("action block %s has %d elements, Slack takes 25", a.BlockID, n)
			}
			for _, e := range a.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok && btn.ActionID == slackout.ActionApprove {
					approve++
				}
			}
		}
	}
	if approve != 60 {
		t.Fatalf("approve buttons = %d, want one per open clock (60)", approve)
	}
}

func TestActionIDsAreTheOnesSlackinHandles(t *testing.T) {
	for got, want := range map[string]string{
		slackout.ActionAck:          slackin.ActionIDAck,
		slackout.ActionAddNote:      slackin.ActionIDAddNote,
		slackout.ActionApprove:      slackin.ActionIDApprove,
		slackout.ActionPreviewDraft: slackin.ActionIDPreviewDraft,
		slackout.ActionApproveDraft: slackin.ActionIDApproveDraft,
		slackout.ActionRejectDraft:  slackin.ActionIDRejectDraft,
	} {
		if got != want {
			t.Errorf("action ID %q, slackin handles %q", got, want)
		}
	}
}

func TestChannelName(t *testing.T) {
	for _, tc := range []struct{ prefix, id, want string }{
		{"inc-", "INC-20261123-ABCDE", "inc-20261123-abcde"},
		{"inc-", "inc-20261123-abcde", "inc-20261123-abcde"},
		{"Breach-", "INC-20261123-ABCDE", "breach-20261123-abcde"},
	} {
		if got := slackout.ChannelName(tc.prefix, tc.id); got != tc.want {
			t.Errorf("ChannelName(%q, %q) = %q, want %q", tc.prefix, tc.id, got, tc.want)
		}
	}
}
