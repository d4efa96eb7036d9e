package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

func TestProgressLine(t *testing.T) {
	preparing := workflows.NoticeProgress{Notice: "INC-1/r", State: incident.NoticeSending}
	if got := progressLine(preparing, 0, false); got != "INC-1/r preparing" {
		t.Errorf("before preparation: %q", got)
	}
	half := workflows.NoticeProgress{Notice: "INC-1/r", State: incident.NoticeSending,
		Counts: incident.NoticeCounts{Expected: 1000, Accepted: 400, Failed: 50, Unreachable: 25, Covered: 25}}
	got := progressLine(half, 1234, true)
	for _, want := range []string{"[###############...............]", " 50%", "sent 400", "failed 50", "unreachable 25", "already notified 25", "remaining 500", "1234/s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress line %q lacks %q", got, want)
		}
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		m.add(t0.Add(time.Duration(i)*time.Second), i*100)
	}
	if got := m.perSecond(); got != 100 {
		t.Errorf("rate %v, want 100/s", got)
	}
	if len(m.at) > 12 {
		t.Errorf("the meter keeps %d samples; it should keep about ten seconds", len(m.at))
	}
}

func TestDraftApproveReject(t *testing.T) {
	id := "INC-20261121-AB12C"
	var gotDraft workflows.ApproveRequest
	var gotApprove workflows.ApproveRequest
	var gotReject workflows.RejectRequest
	pending := incident.Status{ID: id, Drafts: []incident.Draft{{Hash: "3f9a1c0e7b2d", Rules: []string{"eu-gdpr-art33"}, State: incident.DraftPending, Required: 2,
		Approvals: []incident.Approval{{By: "cli:alice"}}, Rendered: "99aa",
		Preview: []incident.NoticePreview{{Template: "authority", Lang: "de", Recipient: "Berlin DPA", Subject: "Meldung", Text: "Sehr geehrte Damen und Herren"}}}}}
	svc := &fakeIncidents{
		draft: func(_ string, req workflows.ApproveRequest) (incident.Status, error) {
			gotDraft = req
			return pending, nil
		},
		approve: func(_ string, req workflows.ApproveRequest) (incident.Status, error) {
			gotApprove = req
			return pending, nil
		},
		reject: func(_ string, req workflows.RejectRequest) (incident.Status, error) {
			gotReject = req
			return pending, nil
		},
		show: func(string) (incident.Status, error) { return pending, nil },
	}
	code, out, errOut := run(t, svc, nil, "draft", id, "eu-gdpr-art33", "--what-happened", "copied", "--consequences", "phishing")
	if code != 0 || !strings.Contains(out, "--draft 3f9a1c0e7b2d") || gotDraft.Texts.WhatHappened != "copied" || gotDraft.Texts.LikelyConsequences != "phishing" {
		t.Fatalf("draft: exit %d %q %q %+v", code, out, errOut, gotDraft)
	}
	// The approver reads the notice as rendered, for each recipient.
	for _, args := range [][]string{{"draft", id, "eu-gdpr-art33", "--what-happened", "copied"}, {"draft", id, "--show", "3f9a1c0e7b2d"}} {
		code, out, errOut = run(t, svc, nil, args...)
		if code != 0 || !strings.Contains(out, "authority notice to Berlin DPA, de") || !strings.Contains(out, "Subject: Meldung") ||
			!strings.Contains(out, "Sehr geehrte") || !strings.Contains(out, "1 of 2 approval") {
			t.Fatalf("%v: exit %d %q %q", args, code, out, errOut)
		}
	}
	if code, _, errOut := run(t, svc, nil, "draft", id, "--show", "000000000000"); code == 0 || !strings.Contains(errOut, "no draft") {
		t.Fatalf("draft --show of an unknown hash: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, svc, nil, "draft", id); code != 2 || !strings.Contains(errOut, "RULE") {
		t.Fatalf("draft without a rule: exit %d %s", code, errOut)
	}
	code, out, _ = run(t, svc, nil, "approve", id, "eu-gdpr-art33", "--draft", "3f9a1c0e7b2d")
	if code != 0 || gotApprove.Draft != "3f9a1c0e7b2d" || !strings.Contains(out, "1 of 2 approvals") {
		t.Fatalf("approve --draft: exit %d %q %+v", code, out, gotApprove)
	}
	if code, _, errOut := run(t, svc, nil, "approve", id, "eu-gdpr-art33", "--draft", "3f9a1c0e7b2d", "--measures", "x"); code != 2 || !strings.Contains(errOut, "--draft") {
		t.Fatalf("approve --draft with texts: exit %d %s", code, errOut)
	}
	code, _, _ = run(t, svc, nil, "reject", id, "--draft", "3f9a1c0e7b2d", "--reason", "name the systems")
	if code != 0 || gotReject.Draft != "3f9a1c0e7b2d" || gotReject.Reason != "name the systems" {
		t.Fatalf("reject: exit %d %+v", code, gotReject)
	}
}

// Flag help names each flag's value plainly: cobra reads a word in
// backquotes as the value's name ("--draft breachctl draft").
func TestHelpNamesFlagValuesPlainly(t *testing.T) {
	code, out, _ := run(t, nil, nil, "approve", "--help")
	if code != 0 || strings.Contains(out, "--draft breachctl") || !strings.Contains(out, "--draft string") {
		t.Fatalf("approve --help: exit %d\n%s", code, out)
	}
}

// The README's first-incident examples read as they are.
func TestExampleNoticeFileReads(t *testing.T) {
	nf, err := readNoticeFile(filepath.Join("..", "..", "examples", "notice.yaml"))
	if err != nil || nf.WhatHappened == "" || nf.LikelyConsequences == "" || nf.MeasuresTaken == "" || nf.WhatYouCanDo == "" || len(nf.SubjectCategories) != 1 {
		t.Fatalf("examples/notice.yaml: %+v, %v", nf, err)
	}
}
