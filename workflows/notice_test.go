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
		res.Read, res.Accepted, res.Batches = n, n-1, (n+999)/1000
		res.Unreachable = 1
		return res, nil
	}, activity.RegisterOptions{Name: activities.SendNoticePageName})
	h.env.RegisterActivityWithOptions(func(context.Context, string) (activities.OrgResult, error) {
		return activities.OrgResult{Deliveries: []incident.OrgDelivery{{Recipient: "DPA", Emails: []string{"dpa@example.org"}, MessageID: "msg-1", SentAt: f.now()}}}, nil
	}, activity.RegisterOptions{Name: activities.SendOrgNoticeName})
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
	want := incident.NoticeCounts{Expected: 5000, Read: 5000, Accepted: 4994, Unreachable: 6, Batches: 6}
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
