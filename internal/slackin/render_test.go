package slackin

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

var update = flag.Bool("update", false, "rewrite the golden files of the Slack forms and messages")

// TestBlocksGolden renders every form and message slackin builds from
// fixed inputs and a fixed clock, and compares it with testdata. The forms
// are what people fill in to open an incident and approve a notice: every
// change of their wording or shape shows in review.
func TestBlocksGolden(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	meta := formMeta{ResponseURL: "https://hooks.slack.test/commands/1", Channel: "C1"}
	approveMeta := formMeta{ResponseURL: "https://hooks.slack.test/actions/1", Channel: "C1", Incident: testID,
		Rules: []string{"eu-gdpr-art34", "us-ca-1798.82"}}
	texts := activities.NoticeTexts{WhatHappened: "On 19 November a storage bucket holding customer exports was readable by anyone with its address."}

	for _, tc := range []struct {
		name string
		v    any
	}{
		{"open-form", openModal(now, meta)},
		{"note-form", noteModal(formMeta{ResponseURL: meta.ResponseURL, Channel: "C1", Incident: testID})},
		{"approve-form", approveModal(approveMeta, texts, nil)},
		{"draft-form", approveModal(formMeta{ResponseURL: approveMeta.ResponseURL, Incident: testID, Rules: []string{"eu-gdpr-art33"}, Approvers: 2}, texts, nil)},
		{"reject-form", rejectModal(formMeta{ResponseURL: approveMeta.ResponseURL, Incident: testID, Draft: testHash})},
		{"preview", previewModal(testID, representativeDraft(true))},
		{"preview-unavailable", previewModal(testID, representativeDraft(false))},
		{"status", statusMessage(representativeStatus())},
		{"list", ephemeral(listText("open", representativeList()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".json", string(got)+"\n")
		})
	}
}

// representativeStatus is an open incident with a clock of each kind the
// status message tells apart: open without a notice (an approve button),
// open with a notice (none), overdue, met, and one the law sets no
// deadline for.
func representativeStatus() incident.Status {
	aware := time.Date(2026, 11, 19, 14, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := aware.Add(d); return &t }
	return incident.Status{
		ID: testID, State: incident.StateOpen, OpenedAt: aware.Add(30 * time.Minute), OpenedBy: "slack:UOPENER",
		Facts: incident.Facts{Title: "Customer export bucket was public <script> & more", Severity: incident.SeverityHigh},
		Clocks: []incident.Clock{
			{Obligation: incident.Obligation{Rule: "eu-gdpr-art33", Title: "Tell the supervisory authority", Due: at(72 * time.Hour)},
				State: incident.ClockRunning},
			{Obligation: incident.Obligation{Rule: "eu-gdpr-art34", Title: "Tell the people concerned", ASAP: true},
				State: incident.ClockRunning, NoticeID: "N-20261120-0001"},
			{Obligation: incident.Obligation{Rule: "nis2-art23-early", Title: "Early warning to the CSIRT", Due: at(24 * time.Hour)},
				State: incident.ClockOverdue, OverdueAt: at(24 * time.Hour)},
			{Obligation: incident.Obligation{Rule: "us-ca-1798.82", Title: "Tell Californians <affected>"},
				State: incident.ClockMet, NoticeID: "N-20261119-0002", ClosedAt: at(20 * time.Hour)},
		},
		NextDeadline: at(24 * time.Hour), BindingRule: "nis2-art23-early",
		Roles:  map[string]string{"scribe": "Sam & <temp>", "commander": "slack:U0123ABCD", "dpo": "dana@example.com"},
		Drafts: []incident.Draft{{Hash: "0badc0ffee00", Rules: []string{"eu-gdpr-art33"}, State: incident.DraftVoided}, representativeDraft(true)},
	}
}

// representativeDraft is a draft of the notice to the authority with one
// of its two approvals, with its renderings or without (drafted before
// the worker rendered them).
func representativeDraft(rendered bool) incident.Draft {
	raw, _ := json.Marshal(workflows.ApproveRequest{Rules: []string{"eu-gdpr-art33"}, Actor: "slack:U0DPO",
		Texts:        activities.NoticeTexts{WhatHappened: "A bucket <was> public.", LikelyConsequences: "Phishing & spam."},
		Translations: map[string]activities.NoticeTexts{"fr": {}, "de": {}}})
	d := incident.Draft{Hash: "3f9a0c1d2e4b", Rules: []string{"eu-gdpr-art33"}, Notify: "authority", By: "slack:U0DPO",
		At: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), State: incident.DraftPending, Required: 2, Request: raw,
		Approvals: []incident.Approval{{By: "slack:U0LEGAL", At: time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)}}}
	if rendered {
		d.Preview = []incident.NoticePreview{
			{Template: "authority", Lang: "de", Recipient: "Berliner Beauftragte für Datenschutz", Subject: "Meldung einer Verletzung des Schutzes personenbezogener Daten",
				Text: "Sehr geehrte Damen und Herren,\n\nwir melden eine Verletzung <des Schutzes> personenbezogener Daten nach Art. 33 DSGVO.\n\n*Was geschah*: A bucket was public."},
			{Template: "authority", Lang: "en", Recipient: "Berliner Beauftragte für Datenschutz", Subject: "Notification of a personal data breach",
				Text: "Dear Sir or Madam,\n\nwe notify a personal data breach under Art. 33 GDPR."},
		}
		d.Rendered = "9c1e"
	}
	return d
}

func representativeList() []incident.Summary {
	due := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	return []incident.Summary{
		{ID: testID, State: incident.StateOpen, Severity: incident.SeverityHigh, Title: "Customer export bucket was public", NextDeadline: &due},
		{ID: "INC-20261118-2B7MT", State: incident.StateOpen, Severity: incident.SeverityUnassessed, Title: "Laptop <lost> & not found"},
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
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
		t.Fatalf("%v (run go test ./internal/slackin -update to create it)", err)
	}
	if got == string(want) {
		return
	}
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
			t.Fatalf("%s differs from the golden file at line %d (run go test ./internal/slackin -update and read the diff):\nwant %s\ngot  %s", path, i+1, wl, gl)
		}
	}
}
