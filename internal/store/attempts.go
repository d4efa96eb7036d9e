package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
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

// BeginAttempt records, before the request leaves, that a new attempt of
// the batch is being sent, and returns the batch as it then stands with
// Attempts the new attempt's number. A batch accepted or failed already is
// returned unchanged and must not be sent (Attempts then names no new
// attempt: check State). resend is why the attempt is made although an
// earlier one's fate is unknown; such an attempt counts as a resend.
//
// While an attempt's fate is unknown (the batch is sending or ambiguous),
// an attempt without a resend reason is refused with a conflict
// (apperr.Conflict) and nothing is recorded: of two workers that find a
// batch queued and begin it at once, one wins and the other must not send.
// A resend reason given when no attempt's fate is unknown (one was found
// not taken meanwhile) is dropped: that attempt is no resend. A zero at
// means now; an unknown key is an error wrapping ErrNotFound.
func (s *Store) BeginAttempt(ctx context.Context, key, resend string, at time.Time) (BatchStatus, error) {
	if key == "" {
		return BatchStatus{}, apperr.Invalidf("key", "required")
	}
	at = s.at(at)
	var out BatchStatus
	err := s.inBatch(ctx, key, func(tx ledgerTx, b *batchRow) error {
		out = b.status
		if b.status.State == BatchAccepted || b.status.State == BatchFailed {
			return errUnchanged
		}
		atts, err := tx.batchAttempts(ctx, b.seq)
		if err != nil {
			return err
		}
		if b.status.State == BatchAmbiguous && b.unknown == 0 && b.status.Attempts > 0 && !hasAttempt(atts, b.status.Attempts) {
			// MarkBatch left it ambiguous: that send becomes an attempt of
			// unknown fate, so what follows is a resend and an unnumbered
			// event can confirm it.
			legacy := Attempt{N: b.status.Attempts, StartedAt: b.updatedAt, EndedAt: b.updatedAt, Outcome: AttemptAmbiguous, Error: b.status.Error}
			if err := tx.putAttempt(ctx, b.seq, legacy, true); err != nil {
				return err
			}
			atts = append(atts, legacy)
			b.unknown++
		}
		if b.unknown == 0 {
			resend = ""
		} else if resend == "" {
			n := latestUnknown(atts)
			return &apperr.Error{Kind: apperr.Conflict, Field: "resend",
				Msg: fmt.Sprintf("attempt %d of batch %s is %s, its fate unknown: reconcile it, or resend with a reason", n.N, key, n.Outcome)}
		}
		a := Attempt{N: b.status.Attempts + 1, StartedAt: at, Outcome: AttemptSending, Resend: resend}
		if err := tx.putAttempt(ctx, b.seq, a, true); err != nil {
			return err
		}
		b.status.Attempts = a.N
		b.status.State = BatchSending
		b.status.LastAttemptAt, b.status.LastOutcome = at, AttemptSending
		if resend != "" {
			b.status.Resends++
		}
		b.unknown++
		b.updatedAt = at
		if err := tx.putBatch(ctx, b); err != nil {
			return err
		}
		out = b.status
		return nil
	})
	if err == nil {
		out, err = openBatch(s.keys, out)
	}
	if err != nil {
		return BatchStatus{}, fmt.Errorf("begin attempt of batch %s: %w", key, err)
	}
	return out, nil
}

// FinishAttempt records the outcome of attempt n of a batch: accepted
// (with SendGrid's message ID) and refused are final for the batch;
// temporary puts it back to queued; ambiguous marks it ambiguous. An
// attempt already finished keeps its outcome (idempotent); a batch
// accepted already stays accepted, and the attempt's own outcome is still
// recorded.
//
// Where attempts overlap (a resend while the first is still out), the
// batch is accepted if any attempt was taken, else failed if any was
// refused, else sending while its latest attempt is, else ambiguous while
// any attempt's fate is unknown, else queued. errText never names a
// recipient; it is sealed like the batch's error. A zero at means now; an
// unknown batch or attempt is an error wrapping ErrNotFound.
func (s *Store) FinishAttempt(ctx context.Context, key string, n int, outcome AttemptOutcome, messageID, errText string, at time.Time) error {
	switch {
	case key == "":
		return apperr.Invalidf("key", "required")
	case n < 1:
		return apperr.Invalidf("attempt", "%d is not an attempt number (1, 2, ...)", n)
	}
	switch outcome {
	case AttemptAccepted:
		errText = ""
	case AttemptRefused, AttemptTemporary, AttemptAmbiguous:
		messageID = ""
	default:
		return apperr.Invalidf("outcome", "%q is not an outcome of a request (accepted, refused, temporary, ambiguous)", outcome)
	}
	at = s.at(at)
	sealed, err := s.keys.SealStringFor(errText, batchErrorContext(key))
	if err != nil {
		return fmt.Errorf("finish attempt %d of batch %s: %w", n, key, err)
	}
	err = s.inBatch(ctx, key, func(tx ledgerTx, b *batchRow) error {
		atts, i, err := attemptOf(ctx, tx, b, n)
		if err != nil {
			return err
		}
		return finish(ctx, tx, b, atts, i, outcome, messageID, sealed, at)
	})
	if err != nil {
		return fmt.Errorf("finish attempt %d of batch %s as %s: %w", n, key, outcome, err)
	}
	return nil
}

// finish records outcome for atts[i], an attempt of the locked batch b.
func finish(ctx context.Context, tx ledgerTx, b *batchRow, atts []Attempt, i int, outcome AttemptOutcome, messageID, sealedErr string, at time.Time) error {
	a := &atts[i]
	if a.Outcome != AttemptSending {
		// Finished already, or reconciled before its answer came: the
		// outcome stays, and an answer brings the message ID it lacked.
		if outcome == AttemptAccepted && a.Taken() {
			return fillMessageID(ctx, tx, b, a, messageID)
		}
		return errUnchanged
	}
	a.Outcome, a.EndedAt, a.MessageID, a.Error = outcome, at, messageID, sealedErr
	switch outcome {
	case AttemptAccepted:
		b.unknown--
		b.taken++
	case AttemptRefused, AttemptTemporary:
		b.unknown--
	}
	if err := tx.putAttempt(ctx, b.seq, *a, false); err != nil {
		return err
	}
	b.settle(atts, *a, at)
	return tx.putBatch(ctx, b)
}

// fillMessageID gives a taken attempt that lacks one the message ID a late
// answer or a reconciliation brings (and its batch, if it has none).
func fillMessageID(ctx context.Context, tx ledgerTx, b *batchRow, a *Attempt, messageID string) error {
	if a.MessageID != "" || messageID == "" {
		return errUnchanged
	}
	a.MessageID = messageID
	if err := tx.putAttempt(ctx, b.seq, *a, false); err != nil {
		return err
	}
	if b.status.MessageID == "" {
		b.status.MessageID = messageID
		return tx.putBatch(ctx, b)
	}
	return nil
}

// ReconcileAttempt records what reconciliation found of attempt n whose
// fate was unknown: confirmed (taken: the batch becomes accepted, with
// messageID if known) or not_taken (the batch goes back to queued).
//
// by is what found it ("event", "activity"). Confirmed applies to an
// attempt of unknown fate (sending, ambiguous) or found not taken before
// (SendGrid had it after all), as an event naming it does; not_taken only
// to an attempt of unknown fate. Anything else (an attempt SendGrid
// answered, or one reconciled already) is left as it is (idempotent). A
// zero at means now; an unknown batch or attempt is an error wrapping
// ErrNotFound.
func (s *Store) ReconcileAttempt(ctx context.Context, key string, n int, outcome AttemptOutcome, by, messageID string, at time.Time) error {
	switch {
	case key == "":
		return apperr.Invalidf("key", "required")
	case n < 1:
		return apperr.Invalidf("attempt", "%d is not an attempt number (1, 2, ...)", n)
	case outcome != AttemptConfirmed && outcome != AttemptNotTaken:
		return apperr.Invalidf("outcome", "%q is not what reconciliation finds (confirmed, not_taken)", outcome)
	}
	at = s.at(at)
	err := s.inBatch(ctx, key, func(tx ledgerTx, b *batchRow) error {
		atts, i, err := attemptOf(ctx, tx, b, n)
		if err != nil {
			return err
		}
		a := &atts[i]
		switch {
		case outcome == AttemptConfirmed && a.Taken():
			return fillMessageID(ctx, tx, b, a, messageID)
		case outcome == AttemptConfirmed && (a.Unknown() || a.Outcome == AttemptNotTaken):
			if a.Unknown() {
				b.unknown--
			}
			b.taken++
			if messageID != "" {
				a.MessageID = messageID
			}
		case outcome == AttemptNotTaken && a.Unknown():
			b.unknown--
		default:
			return errUnchanged
		}
		a.Outcome, a.ConfirmedBy = outcome, by
		if a.EndedAt.IsZero() {
			a.EndedAt = at
		}
		if err := tx.putAttempt(ctx, b.seq, *a, false); err != nil {
			return err
		}
		b.settle(atts, *a, at)
		return tx.putBatch(ctx, b)
	})
	if err != nil {
		return fmt.Errorf("reconcile attempt %d of batch %s as %s: %w", n, key, outcome, err)
	}
	return nil
}

// Attempts returns a batch's attempts in order. A batch MarkBatch recorded
// has none (but for attempts begun by BeginAttempt). An unknown key is an
// error wrapping ErrNotFound.
func (s *Store) Attempts(ctx context.Context, key string) ([]Attempt, error) {
	atts, err := s.db.attempts(ctx, key)
	if err == nil {
		err = s.openAttempts(key, atts)
	}
	if err != nil {
		return nil, fmt.Errorf("attempts of batch %s: %w", key, err)
	}
	return atts, nil
}

// Resends lists a notice's batches that were sent more than once or whose
// resend is pending: every batch with more than one attempt, or ambiguous
// (an answer lost), with its attempts, in key order. An unknown notice is
// an error wrapping ErrNotFound.
func (s *Store) Resends(ctx context.Context, noticeID string) ([]BatchAttempts, error) {
	bs, err := s.db.resends(ctx, noticeID)
	for i := range bs {
		if err == nil {
			err = s.openAttempts(bs[i].Batch, bs[i].Attempts)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("resends of notice %s: %w", noticeID, err)
	}
	return bs, nil
}

// BatchAttempts is a batch with its attempts.
type BatchAttempts struct {
	Batch      string
	Recipients int
	State      BatchState
	Attempts   []Attempt
}

// batchRow is a batch an attempt's transaction holds, as stored (its
// Error sealed), with its counts of attempts.
type batchRow struct {
	seq       int64
	status    BatchStatus
	updatedAt time.Time
	taken     int // attempts SendGrid took
	unknown   int // attempts of unknown fate
}

// settle sets the batch's state, error, message ID, sent time and latest
// outcome after attempt a, one of atts, changed at `at`.
func (b *batchRow) settle(atts []Attempt, a Attempt, at time.Time) {
	was := b.status.State
	refused := false
	for _, x := range atts {
		refused = refused || x.Outcome == AttemptRefused
	}
	switch {
	case b.taken > 0:
		b.status.State = BatchAccepted
	case refused || was == BatchFailed: // failed stays failed, but for a taken attempt
		b.status.State = BatchFailed
	case atts[len(atts)-1].Outcome == AttemptSending:
		b.status.State = BatchSending
	case b.unknown > 0:
		b.status.State = BatchAmbiguous
	default:
		b.status.State = BatchQueued
	}
	if a.Taken() && b.status.MessageID == "" {
		b.status.MessageID = a.MessageID
	}
	switch {
	case b.status.State == BatchAccepted:
		if was != BatchAccepted {
			b.status.SentAt = at
		}
		b.status.Error = ""
	case a.Error != "":
		b.status.Error = a.Error
	}
	if a.N == b.status.Attempts {
		b.status.LastOutcome = a.Outcome
	}
	b.updatedAt = at
}

// errUnchanged ends a batch's transaction without writing and without error.
var errUnchanged = errors.New("unchanged")

// inBatch runs f in a transaction holding the batch, and commits unless f
// fails; errUnchanged rolls back and is no error.
func (s *Store) inBatch(ctx context.Context, key string, f func(tx ledgerTx, b *batchRow) error) (err error) {
	tx, err := s.db.beginLedger(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.rollback(context.WithoutCancel(ctx))
			if errors.Is(err, errUnchanged) {
				err = nil
			}
		}
	}()
	b, err := tx.lockBatch(ctx, key)
	if err != nil {
		return err
	}
	if err := f(tx, b); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// attemptOf reads the locked batch's attempts and finds attempt n.
func attemptOf(ctx context.Context, tx ledgerTx, b *batchRow, n int) ([]Attempt, int, error) {
	atts, err := tx.batchAttempts(ctx, b.seq)
	if err != nil {
		return nil, 0, err
	}
	for i := range atts {
		if atts[i].N == n {
			return atts, i, nil
		}
	}
	return nil, 0, fmt.Errorf("attempt %d (the batch has %d recorded): %w", n, len(atts), ErrNotFound)
}

func hasAttempt(atts []Attempt, n int) bool {
	for _, a := range atts {
		if a.N == n {
			return true
		}
	}
	return false
}

func latestUnknown(atts []Attempt) Attempt {
	for i := len(atts) - 1; i >= 0; i-- {
		if atts[i].Unknown() {
			return atts[i]
		}
	}
	return Attempt{}
}

// openAttempts opens the sealed errors of a batch's attempts and names the
// batch in each.
func (s *Store) openAttempts(key string, atts []Attempt) error {
	for i := range atts {
		e, err := s.keys.OpenStringFor(atts[i].Error, batchErrorContext(key))
		if err != nil {
			return fmt.Errorf("error of attempt %d: %w", atts[i].N, err)
		}
		atts[i].Batch, atts[i].Error = key, e
	}
	return nil
}

// at is t as the store keeps it (UTC, microseconds), or now for zero.
func (s *Store) at(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return t.UTC().Truncate(time.Microsecond)
}
