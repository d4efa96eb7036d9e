package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Reading the ledger for the record: an incident's notices and, for each,
// every batch it was sent in, with SendGrid's message ID, its state and how
// many recipients it had and in which delivery state, for the evidence pack.
// Never a person: counts and batch keys only.

// NoticeReport is a notice as the ledger has it: the approved content, its
// progress, and its batches in the order they were claimed.
type NoticeReport struct {
	Notice   NoticeRecord
	Progress NoticeProgress
	Batches  []BatchReport
}

// BatchReport is one Mail Send request of a notice.
type BatchReport struct {
	Key        string
	State      BatchState
	Recipients int
	MessageID  string
	Error      string // why it failed or was ambiguous; never names a recipient
	Attempts   int
	SentAt     time.Time // zero until accepted
	UpdatedAt  time.Time
	// Its recipients by their latest Event Webhook state.
	Events    int
	Delivered int
	Bounced   int
	Dropped   int
	Deferred  int
}

// reportEngine is each dialect's SQL for the reports. The engines
// implement it here, in this file, so the engine interface stays the
// ledger's; Store checks for it once per call.
type reportEngine interface {
	incidentNotices(ctx context.Context, incidentID string) ([]string, error)
	noticeBatches(ctx context.Context, noticeID string) ([]BatchReport, error)
}

var (
	_ reportEngine = (*sqliteDB)(nil)
	_ reportEngine = (*pgDB)(nil)
)

func (s *Store) reports() (reportEngine, error) {
	r, ok := s.db.(reportEngine)
	if !ok {
		return nil, fmt.Errorf("the %s store has no reports", s.db.dialect())
	}
	return r, nil
}

// IncidentNotices lists the IDs of an incident's notices in the ledger, in
// the order they were recorded. An incident with none gives an empty list.
func (s *Store) IncidentNotices(ctx context.Context, incidentID string) ([]string, error) {
	r, err := s.reports()
	if err != nil {
		return nil, err
	}
	ids, err := r.incidentNotices(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list notices of %s: %w", incidentID, err)
	}
	return ids, nil
}

// NoticeReport reads a notice with its progress and every batch. The
// content and the batches' errors are read through Notice and Batch, the
// ledger's own readers, so whatever they do to stored values (sealing)
// applies here too. An unknown notice is an error wrapping ErrNotFound.
func (s *Store) NoticeReport(ctx context.Context, noticeID string) (NoticeReport, error) {
	r, err := s.reports()
	if err != nil {
		return NoticeReport{}, err
	}
	n, err := s.Notice(ctx, noticeID)
	if err != nil {
		return NoticeReport{}, err
	}
	p, err := s.NoticeProgress(ctx, noticeID)
	if err != nil {
		return NoticeReport{}, err
	}
	batches, err := r.noticeBatches(ctx, noticeID)
	if err != nil {
		return NoticeReport{}, fmt.Errorf("batches of notice %s: %w", noticeID, err)
	}
	for i := range batches {
		b := &batches[i]
		if b.State != BatchFailed && b.State != BatchAmbiguous {
			continue // only these keep an error (MarkBatch clears it on acceptance)
		}
		st, err := s.Batch(ctx, b.Key)
		if err != nil {
			return NoticeReport{}, err
		}
		b.Error = st.Error
	}
	return NoticeReport{Notice: n, Progress: p, Batches: batches}, nil
}

// reportBatchesSQL lists a notice's batches without their error column.
// Both dialects run it ($1 is a placeholder in both).
const reportBatchesSQL = `SELECT b.key, b.state, b.recipients, b.message_id, b.attempts, b.sent_at, b.updated_at,
	b.events, b.delivered, b.bounced, b.dropped, b.deferred
	FROM notices n JOIN notice_batches b ON b.notice_seq = n.seq WHERE n.id = $1 ORDER BY b.seq`

const reportNoticesSQL = `SELECT id FROM notices WHERE incident_id = $1 ORDER BY seq`

func (d *sqliteDB) incidentNotices(ctx context.Context, incidentID string) ([]string, error) {
	rows, err := d.r.QueryContext(ctx, reportNoticesSQL, incidentID)
	if err != nil {
		return nil, err
	}
	return scanIDs(sqlRows{rows})
}

func (d *pgDB) incidentNotices(ctx context.Context, incidentID string) ([]string, error) {
	rows, err := d.pool.Query(ctx, reportNoticesSQL, incidentID)
	if err != nil {
		return nil, err
	}
	return scanIDs(rows)
}

func scanIDs(rows claimRows) ([]string, error) {
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (d *sqliteDB) noticeBatches(ctx context.Context, noticeID string) ([]BatchReport, error) {
	rows, err := d.r.QueryContext(ctx, reportBatchesSQL, noticeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []BatchReport{}
	for rows.Next() {
		var (
			b                 BatchReport
			sentAt, updatedAt sql.NullString
		)
		if err := rows.Scan(&b.Key, &b.State, &b.Recipients, &b.MessageID, &b.Attempts, &sentAt, &updatedAt,
			&b.Events, &b.Delivered, &b.Bounced, &b.Dropped, &b.Deferred); err != nil {
			return nil, err
		}
		if b.SentAt, err = parseSQLiteTime(sentAt); err != nil {
			return nil, err
		}
		if b.UpdatedAt, err = parseSQLiteTime(updatedAt); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (d *pgDB) noticeBatches(ctx context.Context, noticeID string) ([]BatchReport, error) {
	rows, err := d.pool.Query(ctx, reportBatchesSQL, noticeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []BatchReport{}
	for rows.Next() {
		var (
			b                 BatchReport
			sentAt, updatedAt *time.Time
		)
		if err := rows.Scan(&b.Key, &b.State, &b.Recipients, &b.MessageID, &b.Attempts, &sentAt, &updatedAt,
			&b.Events, &b.Delivered, &b.Bounced, &b.Dropped, &b.Deferred); err != nil {
			return nil, err
		}
		if sentAt != nil {
			b.SentAt = sentAt.UTC()
		}
		if updatedAt != nil {
			b.UpdatedAt = updatedAt.UTC()
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
