package fromstore

import (
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/store"
)

var (
	t0          = time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	resentBatch = store.BatchAttempts{Batch: "INC-20261121-AB12C/eu-gdpr-art34/p0-000001", Recipients: 1000, State: store.BatchAccepted, Attempts: []store.Attempt{
		{Batch: "INC-20261121-AB12C/eu-gdpr-art34/p0-000001", N: 1, StartedAt: t0, EndedAt: t0.Add(2 * time.Second), Outcome: store.AttemptConfirmed, MessageID: "sg-1a", Error: "context canceled", ConfirmedBy: "event"},
		{Batch: "INC-20261121-AB12C/eu-gdpr-art34/p0-000001", N: 2, StartedAt: t0.Add(2 * time.Minute), EndedAt: t0.Add(2*time.Minute + 2*time.Second), Outcome: store.AttemptAccepted, MessageID: "sg-1b", Resend: "not confirmed within 2m0s"},
	}}
)

func TestEvidenceLedgerNoticeKeepsEveryAttempt(t *testing.T) {
	l := ledgerNotice(store.NoticeReport{Notice: store.NoticeRecord{ID: "INC-20261121-AB12C/eu-gdpr-art34"},
		Progress: store.NoticeProgress{Accepted: 1000, Requests: 2, Resent: 1, ResentRecipients: 1000, Twice: 1000, BatchesSending: 0}},
		[]store.BatchAttempts{resentBatch})
	if l.Progress.Twice != 1000 || l.Progress.Requests != 2 || len(l.Resends) != 1 || len(l.Resends[0].Attempts) != 2 ||
		l.Resends[0].Attempts[0].MessageID != "sg-1a" || l.Resends[0].Attempts[1].Resend != "not confirmed within 2m0s" ||
		l.Resends[0].Attempts[0].ConfirmedBy != "event" {
		t.Errorf("ledger notice %+v", l)
	}
	if l := ledgerNotice(store.NoticeReport{}, nil); l.Resends == nil {
		t.Error("no resends must read as [], not be left out")
	}
}
