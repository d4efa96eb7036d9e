package workflows_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/workflows"
)

// fakeSending stands in for the notifier: pages of a fixed size over a
// fixed number of people per partition, with a rate limit on one page.
type fakeSending struct {
	mu          sync.Mutex
	people      int // per partition
	pageSize    int
	calls       map[string]int // "partition/page" -> attempts
	rateLimited string         // the page answered 429 once
	retryAfter  time.Duration
	attemptAt   map[string][]time.Time
	now         func() time.Time
	specs       []activities.NoticeSpec // as PrepareNotice got them
	// unreachable people per page of the first approval (not of a notice
	// approved again, "-2"); refuseOrg: SendGrid refuses the first email to
	// an organisation (403, an unverified sender).
	unreachable int
	refuseOrg   bool
	orgSends    int
	tallies     map[string]*activities.TallyResult // by notice ID, as the ledger would count
}

func (f *fakeSending) tally(id string) *activities.TallyResult {
	if f.tallies == nil {
		f.tallies = map[string]*activities.TallyResult{}
	}
	if f.tallies[id] == nil {
		f.tallies[id] = &activities.TallyResult{}
	}
	return f.tallies[id]
}

func (f *fakeSending) register(h *harness) {
	h.env.RegisterActivityWithOptions(func(_ context.Context, spec activities.NoticeSpec) (activities.PrepareResult, error) {
		f.mu.Lock()
		f.specs = append(f.specs, spec)
		f.mu.Unlock()
		if spec.Notify != "individuals" {
			return activities.PrepareResult{Partitions: 1, Recipients: []activities.OrgRecipient{{Name: "DPA", Emails: []string{"dpa@example.org"}}}}, nil
		}
		return activities.PrepareResult{Expected: 2 * f.people, PageSize: f.pageSize, Partitions: 2}, nil
	}, activity.RegisterOptions{Name: activities.PrepareNoticeName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.PageInput) (activities.PageResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		key := string(rune('0'+in.Partition)) + "/" + string(rune('0'+in.Page))
		f.calls[key]++
		f.attemptAt[key] = append(f.attemptAt[key], f.now())
		if key == f.rateLimited && f.calls[key] == 1 {
			return activities.PageResult{}, temporal.NewApplicationErrorWithOptions("429", activities.ErrTypeRateLimited,
				temporal.ApplicationErrorOptions{NextRetryDelay: f.retryAfter})
		}
		n := min(f.pageSize, f.people-in.Page*f.pageSize)
		res := activities.PageResult{Last: strings.Repeat("ab", 16), Done: (in.Page+1)*f.pageSize >= f.people}
		unreachable := 0
		if !strings.HasSuffix(in.Notice, "-2") {
			unreachable = min(f.unreachable, n)
		}
		res.Read, res.Accepted, res.Batches = n, n-unreachable, (n+999)/1000
		res.Unreachable = unreachable
		t := f.tally(in.Notice)
		t.Accepted += res.Accepted
		t.Unreachable += res.Unreachable
		t.Batches += res.Batches
		t.Requests += res.Batches
		return res, nil
	}, activity.RegisterOptions{Name: activities.SendNoticePageName})
	h.env.RegisterActivityWithOptions(func(context.Context, string) (activities.OrgResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.orgSends++
		if f.refuseOrg && f.orgSends == 1 {
			return activities.OrgResult{Deliveries: []incident.OrgDelivery{{Recipient: "DPA", Emails: []string{"dpa@example.org"}, SentAt: f.now(),
				Error: "SendGrid refused the request (403): The from address does not match a verified Sender Identity"}}}, nil
		}
		return activities.OrgResult{Deliveries: []incident.OrgDelivery{{Recipient: "DPA", Emails: []string{"dpa@example.org"}, MessageID: "msg-1", SentAt: f.now()}}}, nil
	}, activity.RegisterOptions{Name: activities.SendOrgNoticeName})
	h.env.RegisterActivityWithOptions(func(_ context.Context, id string) (activities.TallyResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return *f.tally(id), nil
	}, activity.RegisterOptions{Name: activities.TallyNoticeName})
}

func highRiskFacts() incident.Facts {
	f := facts(start, "EU")
	f.DataCategories = []string{"name", "email", "password_hash"}
	f.Risk = &risk.Override{Level: risk.High, Justification: "hashes are weak"}
	return f
}

var scoped = incident.SnapshotRef{ID: "snap_1", At: start, Systems: []string{"accounts"}, Window: "all", People: 5000,
	Affected: []incident.Residents{{Region: "DE", Count: 5000}}, Categories: []string{"name", "email", "password_hash"}}

// TestApprovedNoticeMeetsItsClockAfterARateLimit sends a notice to people
// over two partitions of three pages; one page is rate limited for ten
// minutes, and the notice completes only after that retry, at the virtual
// instant SendGrid's reset allows. The clock is met then, counts add up.
func TestApprovedNoticeMeetsItsClockAfterARateLimit(t *testing.T) {
	h := newHarness(t)
	f := &fakeSending{people: 2500, pageSize: 1000, calls: map[string]int{}, attemptAt: map[string][]time.Time{},
		rateLimited: "1/1", retryAfter: 10 * time.Minute, now: func() time.Time { return h.env.Now() }}
	f.register(h)
	approve := workflows.ApproveRequest{Rules: []string{"eu-gdpr-art34"}, Actor: "cli:alice",
		Texts: activities.NoticeTexts{WhatHappened: "An attacker copied the account table.", LikelyConsequences: "Passwords could be cracked.",
			MeasuresTaken: "Passwords were reset.", WhatYouCanDo: "Choose a new password."}}
	var refused []string
	h.at(time.Hour, func() {
		h.update(workflows.UpdateApprove, approve, func(_ any, err error) {
			if err == nil || !strings.Contains(err.Error(), "scope") {
				t.Errorf("approving before scoping: %v", err)
			}
			refused = append(refused, "unscoped")
		})
		h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: scoped, Actor: "cli:alice"}, h.must("scope", nil))
	})
	h.at(2*time.Hour, func() {
		h.update(workflows.UpdateApprove, approve, h.must("approve", nil))
	})
	h.at(2*time.Hour+time.Second, func() {
		h.update(workflows.UpdateApprove, approve, func(_ any, err error) {
			if err == nil || !strings.Contains(err.Error(), "already answered") {
				t.Errorf("approving twice: %v", err)
			}
			refused = append(refused, "twice")
		})
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: []string{"eu-gdpr-art34", "eu-gdpr-art33"}, Actor: "cli:alice"}, func(_ any, err error) {
			if err == nil {
				t.Error("approving a notice to people and one to an authority as one was accepted")
			}
			refused = append(refused, "mixed")
		})
	})
	var during incident.Status
	h.at(2*time.Hour+5*time.Minute, func() { during = h.status() })
	h.at(3*time.Hour, func() {
		h.update(workflows.UpdateApprove, workflows.ApproveRequest{Rules: []string{"eu-gdpr-art33"}, Actor: "cli:alice", Texts: approve.Texts}, h.must("approve art33", nil))
	})
	h.at(4*time.Hour, func() { h.close("Notified") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(highRiskFacts()))
	final := h.result()

	if len(refused) != 3 {
		t.Fatalf("refusals: %v", refused)
	}
	if n := noticeIn(during, "INC-20261120-7K3QX/eu-gdpr-art34"); n == nil || n.State != incident.NoticeSending {
		t.Fatalf("5 minutes into the rate limit the notice is %+v, want sending", n)
	}
	n := noticeIn(final, "INC-20261120-7K3QX/eu-gdpr-art34")
	if n == nil || n.State != incident.NoticeSent {
		t.Fatalf("notice: %+v", n)
	}
	want := incident.NoticeCounts{Expected: 5000, Read: 5000, Accepted: 5000, Batches: 6, Requests: 6}
	if n.Counts != want {
		t.Errorf("counts %+v, want %+v", n.Counts, want)
	}
	retries := f.attemptAt["1/1"]
	if len(retries) != 2 || retries[1].Sub(retries[0]) != 10*time.Minute {
		t.Fatalf("rate-limited page attempted at %v; want a retry exactly 10 minutes later", retries)
	}
	if n.SentAt == nil || n.SentAt.Before(retries[1]) {
		t.Errorf("notice sent at %v, before the retried page at %s", n.SentAt, retries[1])
	}
	cl := clockIn(final, "eu-gdpr-art34")
	if cl == nil || cl.State != incident.ClockMet || cl.ClosedAt == nil || !cl.ClosedAt.Equal(*n.SentAt) || cl.NoticeID != n.ID {
		t.Errorf("clock after the notice: %+v", cl)
	}
	dpa := noticeIn(final, "INC-20261120-7K3QX/eu-gdpr-art33")
	if dpa == nil || dpa.State != incident.NoticeSent || len(dpa.Deliveries) != 1 || dpa.Deliveries[0].MessageID != "msg-1" {
		t.Errorf("authority notice: %+v", dpa)
	}
	if cl := clockIn(final, "eu-gdpr-art33"); cl == nil || cl.State != incident.ClockMet {
		t.Errorf("authority clock: %+v", cl)
	}
	if got := entries(final, "clock_met"); len(got) != 2 {
		t.Errorf("clock_met entries at %v, want two", got)
	}
}

func noticeIn(s incident.Status, id string) *incident.Notice {
	for i := range s.Notices {
		if s.Notices[i].ID == id {
			return &s.Notices[i]
		}
	}
	return nil
}

func clockIn(s incident.Status, rule string) *incident.Clock {
	for i := range s.Clocks {
		if s.Clocks[i].Rule == rule {
			return &s.Clocks[i]
		}
	}
	return nil
}

// TestANoticeNotGivenLeavesItsClockOpen: met means given. A notice to
// people that leaves some unreached (no usable address) and a notice to
// the authority that SendGrid refuses (403, an unverified sender) meet
// nothing: each clock stays open, the timeline says why, the escalation
// chain is paged (with the notice's email targets mailed), and approving
// again once fixed meets the clock at the instant that notice is given.
func TestANoticeNotGivenLeavesItsClockOpen(t *testing.T) {
	h := newHarnessWith(t, chain(t))
	f := &fakeSending{people: 2500, pageSize: 1000, calls: map[string]int{}, attemptAt: map[string][]time.Time{},
		now: func() time.Time { return h.env.Now() }, unreachable: 2, refuseOrg: true}
	f.register(h)
	sl := &fakeSlack{now: func() time.Time { return h.env.Now() }, posts: map[string]time.Time{}, texts: map[string]string{}}
	sl.register(h)
	var pageEmails []activities.PageEmailInput
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.PageEmailInput) error {
		pageEmails = append(pageEmails, in)
		return nil
	}, activity.RegisterOptions{Name: activities.SendPageEmailName})
	texts := activities.NoticeTexts{WhatHappened: "An attacker copied the account table.", LikelyConsequences: "Passwords could be cracked.",
		MeasuresTaken: "Passwords were reset.", WhatYouCanDo: "Choose a new password."}
	people := workflows.ApproveRequest{Rules: []string{"eu-gdpr-art34"}, Actor: "cli:alice", Texts: texts}
	authority := workflows.ApproveRequest{Rules: []string{"eu-gdpr-art33"}, Actor: "cli:alice", Texts: texts}
	h.at(time.Hour, func() {
		h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: scoped, Actor: "cli:alice"}, h.must("scope", nil))
	})
	h.at(2*time.Hour, func() {
		h.update(workflows.UpdateApprove, people, h.must("approve people", nil))
		h.update(workflows.UpdateApprove, authority, h.must("approve authority", nil))
	})
	var between incident.Status
	h.at(3*time.Hour, func() {
		between = h.status()
		h.update(workflows.UpdateApprove, people, h.must("approve people again", nil))
	})
	h.at(4*time.Hour, func() {
		h.update(workflows.UpdateApprove, authority, h.must("approve authority again", nil))
	})
	h.at(5*time.Hour, func() { h.close("Notified") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(highRiskFacts()))
	final := h.result()

	first := noticeIn(between, "INC-20261120-7K3QX/eu-gdpr-art34")
	if first == nil || first.State != incident.NoticeIncomplete || first.Counts.Unreachable != 12 || first.Given() {
		t.Fatalf("notice to people with 12 unreachable: %+v", first)
	}
	dpa := noticeIn(between, "INC-20261120-7K3QX/eu-gdpr-art33")
	if dpa == nil || dpa.State != incident.NoticeFailed || !strings.Contains(dpa.Error, "403") || dpa.Given() {
		t.Fatalf("refused notice to the authority: %+v", dpa)
	}
	for _, rule := range []string{"eu-gdpr-art34", "eu-gdpr-art33"} {
		if c := clockIn(between, rule); c == nil || !c.State.Open() {
			t.Errorf("%s after a notice not given: %+v; want it open", rule, c)
		}
	}
	if got := entries(between, "clock_met"); len(got) != 0 {
		t.Errorf("clock_met entries %v after notices not given", got)
	}
	if got := entries(between, "notice_incomplete"); len(got) != 1 {
		t.Errorf("notice_incomplete entries %v, want one", got)
	}
	if got := entries(between, "notice_failed"); len(got) != 1 {
		t.Errorf("notice_failed entries %v, want one", got)
	}
	paged := 0
	for _, e := range pageEmails {
		if strings.Contains(e.Subject, "was not given") {
			paged++
			if !strings.Contains(e.Text, "deadline") {
				t.Errorf("page email for a notice not given: %+v", e)
			}
		}
	}
	if paged == 0 {
		t.Errorf("nobody was paged for the notices not given: %+v", pageEmails)
	}
	var told []string
	for key, text := range sl.texts {
		if strings.Contains(key, "/not-given/") {
			told = append(told, text)
			if !strings.Contains(text, "not met") || !strings.Contains(text, "approve") {
				t.Errorf("the channel was told %q", text)
			}
		}
		if strings.Contains(text, ":white_check_mark:") && sl.posts[key].Before(start.Add(3*time.Hour)) {
			t.Errorf("the channel heard an obligation met before any notice was given: %q", text)
		}
	}
	if len(told) != 2 {
		t.Errorf("the channel heard of %d notices not given, want 2: %q", len(told), told)
	}

	again := noticeIn(final, "INC-20261120-7K3QX/eu-gdpr-art34-2")
	if again == nil || again.State != incident.NoticeSent || !again.Given() {
		t.Fatalf("notice to people approved again: %+v", again)
	}
	if c := clockIn(final, "eu-gdpr-art34"); c == nil || c.State != incident.ClockMet || c.NoticeID != again.ID || c.ClosedAt == nil ||
		c.ClosedAt.Sub(start) < 3*time.Hour || c.ClosedAt.Sub(start) > 3*time.Hour+time.Minute {
		t.Errorf("eu-gdpr-art34 after the notice given: %+v", c)
	}
	dpaAgain := noticeIn(final, "INC-20261120-7K3QX/eu-gdpr-art33-2")
	if dpaAgain == nil || dpaAgain.State != incident.NoticeSent {
		t.Fatalf("notice to the authority approved again: %+v", dpaAgain)
	}
	if c := clockIn(final, "eu-gdpr-art33"); c == nil || c.State != incident.ClockMet || c.NoticeID != dpaAgain.ID {
		t.Errorf("eu-gdpr-art33 after the notice given: %+v", c)
	}
}
