package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
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
