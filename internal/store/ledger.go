package store

import (
	"context"
	"errors"
	"time"
)

// The notification ledger: which notices were approved, which people each
// one reached through which batch, what SendGrid answered, and what its
// Event Webhook reported afterwards. It is what makes "nobody twice" hold:
// a person is claimed once per incident and audience, and a batch is
// checked here before it is sent and marked here before the activity that
// sent it completes.

// NoticeRecord is one approved notice under one obligation of an incident.
type NoticeRecord struct {
	ID         string // "INC-20261123-ABCDE/eu-gdpr-art34"
	IncidentID string
	Rule       string
	// Audience groups the notices that must never reach the same person
	// twice within an incident: "individuals" for notices to people (one
	// notice satisfies every law that covers the person), the rule ID for a
	// law that requires its own notice, "org" for notices to authorities
	// and business customers.
	Audience   string
	SnapshotID string // the people notified; empty for notices to organisations
	Content    []byte // the approved notice (JSON); opaque to the store
	ApprovedBy string
	ApprovedAt time.Time
}

// BatchState is what became of a batch.
type BatchState string

const (
	BatchQueued   BatchState = "queued"   // claimed, not sent yet (or sent and the answer lost to a crash)
	BatchAccepted BatchState = "accepted" // SendGrid answered 202 (final)
	BatchFailed   BatchState = "failed"   // refused for good (a 4xx other than 429)
	// BatchAmbiguous: the request may or may not have been accepted (the
	// connection broke after it was sent). An Event Webhook event naming
	// the batch proves it was, and turns it into accepted.
	BatchAmbiguous BatchState = "ambiguous"
)

// BatchClaim is one batch of a page: up to 1,000 subjects that get the same
// rendered notice in one Mail Send request.
type BatchClaim struct {
	Key      string // deterministic, unique across all notices
	Subjects [][16]byte
}

// Unreachable is a subject who cannot be mailed, with why ("no_address",
// "invalid_address"). They count toward a substitute notice.
type Unreachable struct {
	Key    [16]byte
	Reason string
}

// BatchStatus is a batch as the ledger has it.
type BatchStatus struct {
	Key        string
	Notice     string
	State      BatchState
	Recipients int // subjects the ledger assigns to the batch
	MessageID  string
	Error      string // why it failed or was ambiguous; never names a recipient
	Attempts   int    // how many times MarkBatch recorded a send attempt's outcome
	SentAt     time.Time
	Events     int // Event Webhook events recorded for the batch
}

// DeliveryEvent is one Event Webhook event, matched to the ledger by the
// custom args breachctl puts on every message.
type DeliveryEvent struct {
	Batch     string   // custom arg breachctl_batch
	Subject   [16]byte // custom arg breachctl_subject, hex-decoded
	Event     string   // processed, delivered, deferred, bounce, dropped, blocked, spamreport, ...
	Reason    string   // bounce, dropped, deferred: SendGrid's reason (may quote the address: the store keeps it, logs never do)
	At        time.Time
	SGEventID string
}

// NoticeProgress counts a notice's recipients by state.
type NoticeProgress struct {
	Notice           string
	Batches          int
	BatchesAccepted  int
	BatchesFailed    int
	BatchesAmbiguous int

	Recipients  int // claimed in batches
	Queued      int // in batches not yet accepted or failed (ambiguous included)
	Accepted    int // in accepted batches
	Failed      int // in failed batches
	Unreachable int // no address or an invalid one

	// From the Event Webhook; each recipient counted in its latest state.
	Delivered int
	Bounced   int // bounce and blocked
	Dropped   int
	Deferred  int // not final: SendGrid keeps trying
}

// RecipientRecord is one subject's entry in the ledger.
type RecipientRecord struct {
	Notice    string
	Batch     string // empty for an unreachable subject
	State     string // queued, accepted, failed, ambiguous, unreachable, delivered, bounced, dropped, deferred, ...
	MessageID string
	Reason    string
	UpdatedAt time.Time
}

// MaxBatchSubjects is the most subjects a batch may have: SendGrid's limit

var errLedgerTODO = errors.New("ledger: not implemented yet")

func (s *Store) CreateNotice(ctx context.Context, n NoticeRecord) (NoticeRecord, error) {
	return NoticeRecord{}, errLedgerTODO
}
func (s *Store) Notice(ctx context.Context, id string) (NoticeRecord, error) {
	return NoticeRecord{}, errLedgerTODO
}
func (s *Store) ClaimedBetween(ctx context.Context, incidentID, audience string, from, through [16]byte) (map[[16]byte]string, error) {
	return nil, errLedgerTODO
}
func (s *Store) Claim(ctx context.Context, noticeID string, batches []BatchClaim, unreachable []Unreachable) ([]BatchStatus, error) {
	return nil, errLedgerTODO
}
func (s *Store) MarkBatch(ctx context.Context, key string, state BatchState, messageID, errText string, at time.Time) error {
	return errLedgerTODO
}
func (s *Store) Batch(ctx context.Context, key string) (BatchStatus, error) {
	return BatchStatus{}, errLedgerTODO
}
func (s *Store) RecordEvents(ctx context.Context, events []DeliveryEvent) (int, error) {
	return 0, errLedgerTODO
}
func (s *Store) NoticeProgress(ctx context.Context, noticeID string) (NoticeProgress, error) {
	return NoticeProgress{}, errLedgerTODO
}
func (s *Store) Recipient(ctx context.Context, incidentID, audience string, key [16]byte) (RecipientRecord, error) {
	return RecipientRecord{}, errLedgerTODO
}
