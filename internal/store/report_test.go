package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestNoticeReport(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		org := createNotice(t, s, testNotice("INC-1", "a", "org"))
		createNotice(t, s, testNotice("INC-2", "r", "individuals"))
		claim(t, s, n.ID, []BatchClaim{
			{Key: "b1", Subjects: keys(1, 5)},
			{Key: "b2", Subjects: keys(6, 8)},
			{Key: "b3", Subjects: keys(30, 31)},
		}, []Unreachable{{Key: key(9), Reason: "no_address"}})
		must(t, s.MarkBatch(ctx, "b1", BatchAccepted, "msg-1", "", ledgerT0))
		must(t, s.MarkBatch(ctx, "b2", BatchFailed, "", "400 invalid personalizations", ledgerT0.Add(time.Minute)))
		if _, err := s.RecordEvents(ctx, []DeliveryEvent{
			{Batch: "b1", Subject: key(1), Event: "delivered", At: ledgerT0.Add(2 * time.Minute)},
			{Batch: "b1", Subject: key(2), Event: "bounce", Reason: "550 user@example.com unknown", At: ledgerT0.Add(2 * time.Minute)},
		}); err != nil {
			t.Fatal(err)
		}

		ids, err := s.IncidentNotices(ctx, "INC-1")
		if err != nil || !slices.Equal(ids, []string{n.ID, org.ID}) {
			t.Fatalf("IncidentNotices = %v, %v", ids, err)
		}
		if ids, err := s.IncidentNotices(ctx, "INC-none"); err != nil || ids == nil || len(ids) != 0 {
			t.Errorf("IncidentNotices of an incident with none = %#v, %v", ids, err)
		}

		r, err := s.NoticeReport(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Notice.Content) != string(n.Content) || r.Notice.ApprovedBy != n.ApprovedBy {
			t.Errorf("notice %+v, want %+v", r.Notice, n)
		}
		if r.Progress.Accepted != 5 || r.Progress.Failed != 3 || r.Progress.Unreachable != 1 || r.Progress.Delivered != 1 || r.Progress.Bounced != 1 {
			t.Errorf("progress %+v", r.Progress)
		}
		want := []BatchReport{
			{Key: "b1", State: BatchAccepted, Recipients: 5, MessageID: "msg-1", Attempts: 1, SentAt: ledgerT0, Events: 2, Delivered: 1, Bounced: 1},
			{Key: "b2", State: BatchFailed, Recipients: 3, Error: "400 invalid personalizations", Attempts: 1},
			{Key: "b3", State: BatchQueued, Recipients: 2},
		}
		if len(r.Batches) != len(want) {
			t.Fatalf("batches %+v", r.Batches)
		}
		for i, w := range want {
			got := r.Batches[i]
			if got.UpdatedAt.IsZero() {
				t.Errorf("batch %s has no update time", got.Key)
			}
			got.UpdatedAt = time.Time{}
			if got != w {
				t.Errorf("batch %d\n got %+v\nwant %+v", i, got, w)
			}
		}

		if r, err := s.NoticeReport(ctx, org.ID); err != nil || len(r.Batches) != 0 || r.Batches == nil {
			t.Errorf("a notice with no batches: %+v, %v", r, err)
		}
		if _, err := s.NoticeReport(ctx, "INC-1/nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown notice: %v", err)
		}
	})
}

// TestNoticeReportOpensSealedFields: the report reads the sealed columns
// (content, approved_by, a batch's error) through the ledger's own readers,
// so with encryption on it returns them as they were written.
func TestNoticeReportOpensSealedFields(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := Open(ctx, dsn, WithKeys(testKeyring(t, newEntry(t, "k1"))))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		claim(t, s, n.ID, []BatchClaim{{Key: "b1", Subjects: keys(1, 2)}}, nil)
		must(t, s.MarkBatch(ctx, "b1", BatchFailed, "", "400 bad request", ledgerT0))
		r, err := s.NoticeReport(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Notice.Content) != `{"subject":"r"}` || r.Notice.ApprovedBy != "dpo@example.com" || len(r.Batches) != 1 || r.Batches[0].Error != "400 bad request" {
			t.Errorf("sealed fields in the report: %+v", r)
		}
	})
}
