package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/workflows"
)

var authorityTexts = activities.NoticeTexts{WhatHappened: "An attacker copied the account table.", LikelyConsequences: "Passwords could be cracked.",
	MeasuresTaken: "Passwords were reset.", WhatYouCanDo: "Choose a new password."}

func latestDraft(s incident.Status) incident.Draft {
	if len(s.Drafts) == 0 {
		return incident.Draft{}
	}
	return s.Drafts[len(s.Drafts)-1]
}

// TestTwoPersonRule: a notice to an authority under the two-person rule
// is refused without a draft; the draft needs two different approvers; the
// second approval sends it and meets the clock.
func TestTwoPersonRule(t *testing.T) {
	esc, err := escalation.Parse([]byte("sign_off:\n  two_person: [authority]\npolicies: []\n"), "e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, esc)
	f := &fakeSending{people: 10, pageSize: 10, calls: map[string]int{}, attemptAt: map[string][]time.Time{}, now: func() time.Time { return h.env.Now() }}
	f.register(h)
	var hash string
	var errs []string
	keep := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	req := workflows.ApproveRequest{Rules: []string{"eu-gdpr-art33"}, Texts: authorityTexts, Actor: "cli:alice"}
	h.at(time.Hour, func() {
		h.update(workflows.UpdateApprove, req, keep) // no draft: refused
		h.update(workflows.UpdateDraft, req, h.must("draft", func() { hash = latestDraft(h.status()).Hash }))
	})
	h.at(2*time.Hour, func() {
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: hash, Actor: "cli:alice"}, h.must("first approval", nil))
	})
	h.at(3*time.Hour, func() {
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: hash, Actor: "cli:alice"}, keep) // the same person
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: "000000000000", Actor: "cli:bob"}, keep)
	})
	var before incident.Status
	h.at(3*time.Hour+time.Minute, func() { before = h.status() })
	h.at(4*time.Hour, func() {
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: hash, Actor: "cli:bob"}, h.must("second approval", nil))
	})
	h.at(5*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	if len(errs) != 3 || !strings.Contains(errs[0], "2 different approvers") || !strings.Contains(errs[1], "already approved") || !strings.Contains(errs[2], "no draft") {
		t.Fatalf("refusals: %q", errs)
	}
	if len(before.Notices) != 0 || latestDraft(before).State != incident.DraftPending || len(latestDraft(before).Approvals) != 1 {
		t.Fatalf("after one approval: notices %d, draft %+v", len(before.Notices), latestDraft(before))
	}
	d := latestDraft(final)
	if d.State != incident.DraftApproved || len(d.Approvals) != 2 || d.Approvals[1].By != "cli:bob" || d.Required != 2 {
		t.Fatalf("draft: %+v", d)
	}
	if cl := clockIn(final, "eu-gdpr-art33"); cl == nil || cl.State != incident.ClockMet || !cl.ClosedAt.Equal(start.Add(4*time.Hour)) {
		t.Fatalf("clock: %+v", cl)
	}
	if n := noticeIn(final, "INC-20261120-7K3QX/eu-gdpr-art33"); n == nil || n.ApprovedBy != "cli:bob" {
		t.Fatalf("notice: %+v", n)
	}
	// The approvers read the notice as the worker renders it, and the
	// notice carries that rendering's hash so it cannot send anything else.
	if len(d.Preview) != 1 || d.Rendered == "" || !strings.Contains(d.Preview[0].Text, authorityTexts.WhatHappened) ||
		!strings.Contains(d.Preview[0].Text, activities.DrillOrganisation.Name) || d.Preview[0].Template != "authority" {
		t.Fatalf("preview %q, rendered %q", d.Preview, d.Rendered)
	}
	if len(f.specs) != 1 || f.specs[0].Rendered != d.Rendered {
		t.Fatalf("the notice sent carries rendered %q, the draft %q", f.specs[0].Rendered, d.Rendered)
	}
}

// TestDraftVoidedByAChangeOfFacts: a draft approved after the facts
// changed would send something nobody approved; it is voided on the
// record, and approving it is refused. A rejected draft cannot be approved.
func TestDraftVoidedByAChangeOfFacts(t *testing.T) {
	h := newHarness(t)
	var hash, second string
	var errs []string
	keep := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	req := workflows.ApproveRequest{Rules: []string{"eu-gdpr-art33"}, Texts: authorityTexts, Actor: "cli:alice"}
	h.at(time.Hour, func() {
		h.update(workflows.UpdateDraft, req, h.must("draft", func() { hash = latestDraft(h.status()).Hash }))
	})
	h.at(2*time.Hour, func() {
		cats := []string{"email", "name"}
		h.update(workflows.UpdateFacts, workflows.FactsRequest{Change: incident.FactsChange{DataCategories: &cats}, Actor: "cli:alice"}, h.must("facts", nil))
	})
	h.at(3*time.Hour, func() {
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: hash, Actor: "cli:bob"}, keep)
		h.update(workflows.UpdateDraft, req, h.must("draft again", func() { second = latestDraft(h.status()).Hash }))
	})
	h.at(4*time.Hour, func() {
		h.update(workflows.UpdateReject, workflows.RejectRequest{Draft: second, Reason: "say which systems", Actor: "cli:bob"}, h.must("reject", nil))
	})
	h.at(5*time.Hour, func() {
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: second, Actor: "cli:bob"}, keep)
	})
	h.at(6*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	if hash == "" || second == "" || hash == second {
		t.Fatalf("drafts %q and %q: the change of facts should change the hash", hash, second)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "voided") || !strings.Contains(errs[1], "rejected") {
		t.Fatalf("refusals: %q", errs)
	}
	if final.Drafts[0].State != incident.DraftVoided || !strings.Contains(final.Drafts[0].Reason, "facts changed") {
		t.Errorf("first draft: %+v", final.Drafts[0])
	}
	if got := entries(final, "draft_voided"); len(got) != 1 || got[0] != 2*time.Hour {
		t.Errorf("voided at %v, want at +2h", got)
	}
	if len(final.Notices) != 0 {
		t.Errorf("a notice went out: %+v", final.Notices)
	}
}

// TestSameDraftAgainAfterARejection: the same texts drafted again after a
// rejection hash the same; the new draft is the one approved.
func TestSameDraftAgainAfterARejection(t *testing.T) {
	h := newHarness(t)
	var first, again string
	req := workflows.ApproveRequest{Rules: []string{"eu-gdpr-art33"}, Texts: authorityTexts, Actor: "cli:alice"}
	h.at(time.Hour, func() {
		h.update(workflows.UpdateDraft, req, h.must("draft", func() { first = latestDraft(h.status()).Hash }))
	})
	h.at(2*time.Hour, func() {
		h.update(workflows.UpdateReject, workflows.RejectRequest{Draft: first, Reason: "check with legal first", Actor: "cli:bob"}, h.must("reject", nil))
	})
	h.at(3*time.Hour, func() {
		h.update(workflows.UpdateDraft, req, h.must("draft again", func() { again = latestDraft(h.status()).Hash }))
	})
	h.at(4*time.Hour, func() {
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: again, Actor: "cli:bob"}, h.must("approve", nil))
	})
	h.at(5*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()
	if first != again || len(final.Drafts) != 2 || final.Drafts[0].State != incident.DraftRejected || final.Drafts[1].State != incident.DraftApproved {
		t.Fatalf("drafts %q %q: %+v", first, again, final.Drafts)
	}
}

// TestDraftSaysWhomItReachesAndInWhichLanguages: a notice to people under
// the GDPR and the LGPD counts, at draft, whom each law covers and who is
// covered by none (an Argentinian: not mailed by it), and names the
// languages with no texts; the approval says it again, and the notice
// carries each law with whom it covers and the approver's choice for
// those languages.
func TestDraftSaysWhomItReachesAndInWhichLanguages(t *testing.T) {
	h := newHarness(t)
	f := &fakeSending{people: 10, pageSize: 10, calls: map[string]int{}, attemptAt: map[string][]time.Time{}, now: func() time.Time { return h.env.Now() }}
	f.register(h)
	in := facts(start, "DE")
	in.DataCategories = []string{"name", "email", "account_credentials"}
	in.Risk = &risk.Override{Level: risk.High, Justification: "passwords cracked"}
	sn := incident.SnapshotRef{ID: "snap_1", At: start, Systems: []string{"accounts"}, Window: "w", People: 5,
		Affected:   []incident.Residents{{Region: "DE", Count: 3}, {Region: "BR", Count: 1}, {Region: "AR", Count: 1}},
		Categories: []string{"name", "email", "account_credentials"}}
	req := workflows.ApproveRequest{Rules: []string{"eu-gdpr-art34", "br-lgpd-art48-titulares"}, Texts: authorityTexts, Actor: "cli:alice",
		Translations: map[string]activities.NoticeTexts{"de": {WhatHappened: "Ein Angreifer kopierte die Kontentabelle."}}}
	var drafted incident.Draft
	h.at(time.Hour, func() {
		h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: sn, Actor: "cli:analyst"}, h.must("scope", nil))
	})
	h.at(2*time.Hour, func() {
		h.update(workflows.UpdateDraft, req, h.must("draft", func() { drafted = latestDraft(h.status()) }))
	})
	h.at(2*time.Hour+30*time.Minute, func() {
		// The draft was read with the German template around the English
		// texts: approving it as the English notice is refused.
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: req.Rules, Draft: drafted.Hash, Fallback: activities.FallbackEnglish, Actor: "cli:bob"},
			func(_ any, err error) {
				if err == nil || !strings.Contains(err.Error(), "draft it again with that fallback") {
					t.Errorf("approving a draft with another fallback: %v", err)
				}
			})
	})
	h.at(3*time.Hour, func() {
		bad := req
		bad.Draft, bad.Fallback = "", "klingon"
		h.update(workflows.UpdateApprove, bad, func(_ any, err error) {
			if err == nil || !strings.Contains(err.Error(), "fallback") {
				t.Errorf("an unknown fallback: %v", err)
			}
		})
		ok := req
		ok.Fallback = activities.FallbackEnglish
		h.update(workflows.UpdateApprove, ok, h.must("approve", nil))
	})
	h.at(5*time.Hour, func() { h.close("notified") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(in))
	final := h.result()

	cov := drafted.Coverage
	if cov == nil || cov.People != 5 || cov.Covered != 4 || len(cov.ByRule) != 2 || cov.ByRule[0].People != 3 || cov.ByRule[1].People != 1 ||
		len(cov.Uncovered) != 1 || cov.Uncovered[0].Region != "AR" {
		t.Fatalf("draft coverage: %+v", cov)
	}
	if strings.Join(drafted.Fallback, ",") != "fr,es,pt-BR" || drafted.FallbackChoice != activities.FallbackTemplate {
		t.Fatalf("draft fallback: %v %q", drafted.Fallback, drafted.FallbackChoice)
	}
	var draftEntry, approved string
	for _, e := range final.Timeline {
		switch e.Kind {
		case "notice_drafted":
			draftEntry = e.Text
		case "notice_approved":
			approved = e.Text
		}
	}
	for _, text := range []string{draftEntry, approved} {
		if !strings.Contains(text, "4 of 5 people in snapshot snap_1 are covered by its rules (eu-gdpr-art34 3, br-lgpd-art48-titulares 1); "+
			"1 person is covered by none and not mailed by it: AR 1 (no obligation of the incident covers them)") {
			t.Errorf("timeline entry does not say whom the notice misses: %s", text)
		}
	}
	if !strings.Contains(draftEntry, "no texts in fr, es, pt-BR: people who read them get their language's template around the English texts") ||
		!strings.Contains(approved, "people who read them get the notice in English") {
		t.Errorf("timeline entries do not name the fallback:\n%s\n%s", draftEntry, approved)
	}
	if len(f.specs) != 1 || f.specs[0].Fallback != activities.FallbackEnglish || len(f.specs[0].Laws) != 2 ||
		f.specs[0].Laws[0] != (activities.NoticeLaw{Rule: "eu-gdpr-art34", Residents: "EU", Citation: "GDPR Art. 34(1)-(3)"}) {
		t.Fatalf("the notice as prepared: %+v", f.specs)
	}
}
