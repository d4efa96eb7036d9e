package store

import (
	"context"
	"errors"
	"time"
)

// Write-ahead sending (issue 14). Every Mail Send request of a batch is an
// attempt, recorded as "sending" before the request leaves and finished
// with its outcome after; an attempt found still "sending" by a retry was
// cut off (a crash, a lost answer) and may or may not have been taken by
// SendGrid. It is never resent blindly: it is reconciled (Event Webhook
// events, the Email Activity API) and resent only after a wait, as a
// counted resend. The attempts are the record of who may have been mailed
// more than once.

// BatchSending: an attempt's request may be on its way. Its outcome is
// unknown until FinishAttempt or a reconciliation records it.
const BatchSending BatchState = "sending"

// AttemptOutcome is what became of one attempt.
type AttemptOutcome string

const (
	AttemptSending   AttemptOutcome = "sending"   // begun, no outcome recorded (yet)
	AttemptAccepted  AttemptOutcome = "accepted"  // SendGrid answered 2xx
	AttemptRefused   AttemptOutcome = "refused"   // a 4xx other than 429: refused for good
	AttemptTemporary AttemptOutcome = "temporary" // 429, 5xx, or no connection: SendGrid did not take it
	AttemptAmbiguous AttemptOutcome = "ambiguous" // the request left and the answer was lost
	// AttemptConfirmed: an attempt whose answer was lost (or never came)
	// was found taken by SendGrid afterwards: an event named it, or the
	// Email Activity API listed it.
	AttemptConfirmed AttemptOutcome = "confirmed"
	// AttemptNotTaken: reconciliation found that SendGrid never had it
	// (the Email Activity API did not list it within the wait).
	AttemptNotTaken AttemptOutcome = "not_taken"
)

// Attempt is one send attempt of a batch.
type Attempt struct {
	Batch     string
	N         int // 1, 2, ... in the order they began
	StartedAt time.Time
	EndedAt   time.Time // zero while sending
	Outcome   AttemptOutcome
	MessageID string
	Error     string // never names a recipient
	// Resend says why this attempt was made although an earlier one's fate
	// was unknown ("not confirmed within 2m0s"); empty for a first
	// attempt or a retry after an attempt SendGrid did not take.
	Resend string
	// ConfirmedBy is what reconciled the attempt: "event", "activity".
	ConfirmedBy string
}

// Taken reports whether SendGrid took the attempt (its recipients were
// mailed by it).
func (a Attempt) Taken() bool { return a.Outcome == AttemptAccepted || a.Outcome == AttemptConfirmed }

// Unknown reports whether the attempt's fate is not known: it may have
// mailed its recipients.
func (a Attempt) Unknown() bool { return a.Outcome == AttemptSending || a.Outcome == AttemptAmbiguous }

var errAttemptsTODO = errors.New("store: write-ahead attempts not implemented yet")

// BeginAttempt records, before the request leaves, that a new attempt of
// the batch is being sent, and returns the batch as it then stands with
// Attempts the new attempt's number. A batch accepted or failed already is
// returned unchanged and must not be sent (Attempts then names no new
// attempt: check State). resend is why the attempt is made although an
// earlier one's fate is unknown; such an attempt counts as a resend.
func (s *Store) BeginAttempt(ctx context.Context, key, resend string, at time.Time) (BatchStatus, error) {
	return BatchStatus{}, errAttemptsTODO
}

// FinishAttempt records the outcome of attempt n of a batch: accepted
// (with SendGrid's message ID) and refused are final for the batch;
// temporary puts it back to queued; ambiguous marks it ambiguous. An
// attempt already finished keeps its outcome (idempotent); a batch
// accepted already stays accepted, and the attempt's own outcome is still
// recorded.
func (s *Store) FinishAttempt(ctx context.Context, key string, n int, outcome AttemptOutcome, messageID, errText string, at time.Time) error {
	return errAttemptsTODO
}

// ReconcileAttempt records what reconciliation found of attempt n whose
// fate was unknown: confirmed (taken: the batch becomes accepted, with
// messageID if known) or not_taken (the batch goes back to queued).
func (s *Store) ReconcileAttempt(ctx context.Context, key string, n int, outcome AttemptOutcome, by, messageID string, at time.Time) error {
	return errAttemptsTODO
}

// Attempts returns a batch's attempts in order.
func (s *Store) Attempts(ctx context.Context, key string) ([]Attempt, error) {
	return nil, errAttemptsTODO
}

// Resends lists a notice's batches that were sent more than once or whose
// resend is pending: every batch with more than one attempt, with its
// attempts, in key order.
func (s *Store) Resends(ctx context.Context, noticeID string) ([]BatchAttempts, error) {
	return nil, errAttemptsTODO
}

// BatchAttempts is a batch with its attempts.
type BatchAttempts struct {
	Batch      string
	Recipients int
	State      BatchState
	Attempts   []Attempt
}
