// Package fromstore reads what an evidence pack records of the notification
// ledger from the store: the one reading of it that the CLI's export and
// the worker's anchor share, so the two build the same pack.
package fromstore

import (
	"context"
	"fmt"

	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/store"
)

// ReadLedger reads the incident's notices from the notification ledger.
func ReadLedger(ctx context.Context, s *store.Store, id string) ([]evidence.LedgerNotice, error) {
	ids, err := s.IncidentNotices(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]evidence.LedgerNotice, 0, len(ids))
	for _, nid := range ids {
		r, err := s.NoticeReport(ctx, nid)
		if err != nil {
			return nil, err
		}
		resends, err := s.Resends(ctx, nid)
		if err != nil {
			return nil, fmt.Errorf("the batches of %s sent more than once: %w", nid, err)
		}
		out = append(out, ledgerNotice(r, resends))
	}
	return out, nil
}

// ledgerNotice is a notice as the pack records it: the ledger's report of
// it (its counts from store.NoticeProgress, the one source every view
// reads) and its batches sent more than once with every attempt.
func ledgerNotice(r store.NoticeReport, resends []store.BatchAttempts) evidence.LedgerNotice {
	n, p := r.Notice, r.Progress
	l := evidence.LedgerNotice{
		ID: n.ID, Rule: n.Rule, Audience: n.Audience, SnapshotID: n.SnapshotID, ApprovedBy: n.ApprovedBy, ApprovedAt: n.ApprovedAt,
		Content: n.Content,
		Progress: evidence.LedgerProgress{
			Batches: p.Batches, BatchesAccepted: p.BatchesAccepted, BatchesFailed: p.BatchesFailed, BatchesAmbiguous: p.BatchesAmbiguous,
			Recipients: p.Recipients, Queued: p.Queued, Accepted: p.Accepted, Failed: p.Failed, Unreachable: p.Unreachable,
			Delivered: p.Delivered, Bounced: p.Bounced, Dropped: p.Dropped, Deferred: p.Deferred,
			BatchesSending: p.BatchesSending, Requests: p.Requests, Resent: p.Resent, ResentRecipients: p.ResentRecipients,
			Twice: p.Twice, MaybeTwice: p.MaybeTwice,
		},
		Resends: []evidence.LedgerResend{},
	}
	for _, b := range resends {
		lr := evidence.LedgerResend{Batch: b.Batch, Recipients: b.Recipients, State: string(b.State), Attempts: []evidence.LedgerAttempt{}}
		for _, a := range b.Attempts {
			lr.Attempts = append(lr.Attempts, evidence.LedgerAttempt{
				N: a.N, StartedAt: a.StartedAt, EndedAt: a.EndedAt, Outcome: string(a.Outcome), MessageID: a.MessageID,
				Error: a.Error, Resend: a.Resend, ConfirmedBy: a.ConfirmedBy,
			})
		}
		l.Resends = append(l.Resends, lr)
	}
	for _, b := range r.Batches {
		l.Batches = append(l.Batches, evidence.LedgerBatch{
			Key: b.Key, State: string(b.State), Recipients: b.Recipients, MessageID: b.MessageID, Error: b.Error, Attempts: b.Attempts,
			SentAt: b.SentAt, UpdatedAt: b.UpdatedAt, Events: b.Events, Delivered: b.Delivered, Bounced: b.Bounced, Dropped: b.Dropped, Deferred: b.Deferred,
		})
	}
	return l
}
