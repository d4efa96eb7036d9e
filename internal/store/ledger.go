package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
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
	Attempts   int    // attempts begun (BeginAttempt); before write-ahead sending, outcomes MarkBatch recorded
	SentAt     time.Time
	Events     int // Event Webhook events recorded for the batch
	// LastAttemptAt is when the latest attempt began; LastOutcome what it
	// came to (sending while its outcome is unknown).
	LastAttemptAt time.Time
	LastOutcome   AttemptOutcome
	// Resends counts attempts made although an earlier one's fate was
	// unknown.
	Resends int
}

// DeliveryEvent is one Event Webhook event, matched to the ledger by the
// custom args breachctl puts on every message.
type DeliveryEvent struct {
	Batch   string   // custom arg breachctl_batch
	Subject [16]byte // custom arg breachctl_subject, hex-decoded
	// Attempt is which attempt of the batch the message was (custom arg
	// breachctl_attempt); 0 when the message carried none (sent before
	// attempts were numbered).
	Attempt   int
	Event     string // processed, delivered, deferred, bounce, dropped, blocked, spamreport, ...
	Reason    string // bounce, dropped, deferred: SendGrid's reason (may quote the address: the store keeps it, logs never do)
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
	BatchesSending   int // an attempt begun and its outcome not recorded

	// Requests counts the Mail Send requests SendGrid took (accepted or
	// confirmed attempts): one message ID each.
	Requests int
	// Resent counts batches sent again although an earlier attempt's fate
	// was unknown, and ResentRecipients their people.
	Resent           int
	ResentRecipients int
	// Twice counts people in batches SendGrid took more than once (mailed
	// twice, known); MaybeTwice people in resent batches whose earlier
	// attempt's fate stays unknown (mailed once or twice).
	Twice      int
	MaybeTwice int

	Recipients  int // claimed in batches
	Queued      int // in batches not yet accepted or failed (sending and ambiguous included)
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
	State     string // queued, sending, accepted, failed, ambiguous, unreachable, delivered, bounced, dropped, deferred, ...
	MessageID string
	Reason    string
	UpdatedAt time.Time
}

// maxBatchSubjects is the most subjects a batch may have: SendGrid's limit
// of personalizations per Mail Send request (see BatchClaim).
const maxBatchSubjects = 1000

// Recipient states besides the batch states, as RecipientRecord.State has
// them. The first four come from Event Webhook events.
const (
	recipientDelivered   = "delivered"
	recipientBounced     = "bounced" // bounce and blocked
	recipientDropped     = "dropped"
	recipientDeferred    = "deferred" // not final
	recipientUnreachable = "unreachable"
)

// ledgerEngine is one dialect's SQL for the ledger. The Store validates
// arguments and runs the logic the dialects share (what to claim, what an
// event changes); the engine runs statements.
type ledgerEngine interface {
	// createNotice stores n unless its ID is taken, and returns the stored one.
	createNotice(ctx context.Context, n NoticeRecord, createdAt time.Time) (NoticeRecord, error)
	notice(ctx context.Context, id string) (NoticeRecord, error) // or ErrNotFound
	// claimed returns the audience's subjects in [from, through] with the
	// notice that claimed each, leaving out the claims another notice may
	// take over (see ClaimedBetween).
	claimed(ctx context.Context, incidentID, audience string, from, through [16]byte) (map[[16]byte]string, error)
	batch(ctx context.Context, key string) (BatchStatus, error) // or ErrNotFound
	progress(ctx context.Context, noticeID string) (NoticeProgress, error)
	// attempts returns a batch's attempts in order, errors sealed; no such
	// batch is ErrNotFound.
	attempts(ctx context.Context, key string) ([]Attempt, error)
	// resends returns the notice's batches with more than one attempt or
	// ambiguous, in key order, with their attempts (errors sealed); no such
	// notice is ErrNotFound.
	resends(ctx context.Context, noticeID string) ([]BatchAttempts, error)
	recipient(ctx context.Context, incidentID, audience string, key [16]byte) (recipientRow, error)
	// beginLedger starts a write transaction for Claim or RecordEvents.
	beginLedger(ctx context.Context) (ledgerTx, error)
}

// ledgerTx is a Claim's or a RecordEvents' transaction.
type ledgerTx interface {
	// lockNotice returns a notice's seq and its audience's, or ErrNotFound,
	// and keeps other claims in the audience waiting until the transaction
	// ends, so that what claimedIn finds stays true until then.
	lockNotice(ctx context.Context, id string) (noticeSeq, audienceSeq int64, err error)
	// claimedIn returns the audience's claims in [from, through] in
	// ascending order of key, at most limit of them.
	claimedIn(ctx context.Context, audienceSeq int64, from, through [16]byte, limit int) ([]claimedKey, error)
	// claimedAmong returns the audience's claims of these keys, in any order.
	claimedAmong(ctx context.Context, audienceSeq int64, keys [][16]byte) ([]claimedKey, error)
	// releasedAmong returns which of these batches let their people go:
	// failed, with no attempt of unknown fate.
	releasedAmong(ctx context.Context, seqs []int64) (map[int64]bool, error)
	// takeOver moves claims to the notice (into a batch, or unreachable
	// with a reason) and applies the counts that moves.
	takeOver(ctx context.Context, audienceSeq, noticeSeq int64, moves []movedClaim, batches []batchDelta, notices []noticeDelta, at time.Time) error
	// batches returns the batches with these keys that exist, by key.
	batches(ctx context.Context, keys []string) (map[string]BatchStatus, error)
	// addBatches inserts queued batches and returns their seqs, in order.
	addBatches(ctx context.Context, noticeSeq int64, keys []string, recipients []int, at time.Time) ([]int64, error)
	// addRecipients inserts rows, ascending by key and not claimed yet.
	addRecipients(ctx context.Context, audienceSeq, noticeSeq int64, rows []claimedRow) error
	// addUnreachable inserts unreachable subjects, not claimed yet, and adds
	// them to the notice's count.
	addUnreachable(ctx context.Context, audienceSeq, noticeSeq int64, rows []Unreachable, at time.Time) error

	// eventBatches returns the batches with these keys that exist, by key,
	// and keeps other RecordEvents and attempt changes on them waiting
	// until the transaction ends.
	eventBatches(ctx context.Context, keys []string) (map[string]*eventBatch, error)
	// openAttempts returns, by batch, the attempts of these batches that an
	// event may confirm (sending, ambiguous, not_taken), in order.
	openAttempts(ctx context.Context, seqs []int64) (map[int64][]Attempt, error)
	// eventRecipients returns the rows of these subjects, those that exist.
	eventRecipients(ctx context.Context, ids []recipientID) (map[recipientID]*eventRecipient, error)
	// applyEvents writes the recipients that changed, adds the batches'
	// counts and records the attempts the events confirmed.
	applyEvents(ctx context.Context, recipients []*eventRecipient, batches []*eventBatch, now time.Time) error

	// lockBatch returns a batch and keeps every other change to it waiting
	// until the transaction ends; no such batch is ErrNotFound.
	lockBatch(ctx context.Context, key string) (*batchRow, error)
	// batchAttempts returns a batch's attempts in order, errors sealed.
	batchAttempts(ctx context.Context, seq int64) ([]Attempt, error)
	// putAttempt inserts (insert) or updates attempt a.N of batch seq.
	putAttempt(ctx context.Context, seq int64, a Attempt, insert bool) error
	// putBatch writes what attempts change in a batch: its status but for
	// Key, Notice, Recipients and Events, and its counts of attempts.
	putBatch(ctx context.Context, b *batchRow) error

	commit(ctx context.Context) error
	rollback(ctx context.Context) error
}

// CreateNotice records a notice. It is idempotent on ID: recording the same
// ID again returns the stored record unchanged (the first one wins), so an
// activity can retry it. Every field but SnapshotID is required.
func (s *Store) CreateNotice(ctx context.Context, n NoticeRecord) (NoticeRecord, error) {
	for _, f := range []struct{ name, value string }{
		{"id", n.ID}, {"incident", n.IncidentID}, {"rule", n.Rule}, {"audience", n.Audience}, {"approved_by", n.ApprovedBy},
	} {
		if f.value == "" {
			return NoticeRecord{}, apperr.Invalidf(f.name, "required")
		}
	}
	if len(n.Content) == 0 {
		return NoticeRecord{}, apperr.Invalidf("content", "required")
	}
	if n.ApprovedAt.IsZero() {
		return NoticeRecord{}, apperr.Invalidf("approved_at", "required")
	}
	n.ApprovedAt = n.ApprovedAt.UTC().Truncate(time.Microsecond) // what both databases keep
	sealed, err := sealNotice(s.keys, n)
	if err != nil {
		return NoticeRecord{}, fmt.Errorf("create notice %s: %w", n.ID, err)
	}
	stored, err := s.db.createNotice(ctx, sealed, s.now())
	if err == nil {
		stored, err = openNotice(s.keys, stored)
	}
	if err != nil {
		return NoticeRecord{}, fmt.Errorf("create notice %s: %w", n.ID, err)
	}
	return stored, nil
}

// Notice returns a notice, or an error wrapping ErrNotFound.
func (s *Store) Notice(ctx context.Context, id string) (NoticeRecord, error) {
	n, err := s.db.notice(ctx, id)
	if err == nil {
		n, err = openNotice(s.keys, n)
	}
	if err != nil {
		return NoticeRecord{}, fmt.Errorf("notice %s: %w", id, err)
	}
	return n, nil
}

// ClaimedBetween returns the subjects with keys in [from, through] already
// in the ledger for the incident and audience, with the notice that claimed
// each: one range scan, since a page of a snapshot is a key range. An
// audience nobody claimed anything in gives an empty map.
//
// It leaves out the claims that do not hold, which another notice of the
// audience may take over (Claim moves them): a subject found unreachable,
// and one in a failed batch (refused by SendGrid) none of whose attempts
// may have been taken. Nobody was given the notice through them; a notice
// approved again once the sender or the addresses are fixed must reach
// them. The notice that holds them sees them left out too, and its own
// Claim leaves them where they are.
func (s *Store) ClaimedBetween(ctx context.Context, incidentID, audience string, from, through [16]byte) (map[[16]byte]string, error) {
	switch {
	case incidentID == "":
		return nil, apperr.Invalidf("incident", "required")
	case audience == "":
		return nil, apperr.Invalidf("audience", "required")
	case bytes.Compare(from[:], through[:]) > 0:
		return nil, apperr.Invalidf("through", "before from")
	}
	m, err := s.db.claimed(ctx, incidentID, audience, from, through)
	if err != nil {
		return nil, fmt.Errorf("read claims of %s/%s: %w", incidentID, audience, err)
	}
	return m, nil
}

// Claim records, in one transaction, a page's batches with their subjects
// and the page's unreachable subjects, under a notice. A batch key already
// recorded is left as it is, with its subjects (even if they differ from
// the ones recorded); a subject already in the ledger for the notice's
// incident and audience is left as it is and not added to its new batch.
// So a retried page claims nothing twice. The exception is a claim that
// does not hold (see ClaimedBetween) under another notice: unreachable, or
// in a failed batch none of whose attempts may have been taken. Such a
// subject is taken over: moved to this notice's batch (or its unreachable,
// with the new reason), counted in the new batch's Recipients, and taken
// out of the old batch's or notice's counts, so nobody is counted twice. It
// returns every batch's status,
// in the order given: a retried page skips the batches already accepted,
// and a batch whose Recipients is less than its subjects lost some of them
// to another notice of the audience (ClaimedBetween tells which; a batch
// left with none is recorded all the same, queued, and needs no sending).
//
// Each batch has a key and 1 to 1,000 subjects; a subject appears once in
// the call, in a batch or as unreachable; no key is all zero; an
// unreachable subject has a reason. Anything else is invalid, with the field
// named ("batches[3].subjects[17]"), and nothing is recorded. An unknown
// notice is an error wrapping ErrNotFound; a batch key recorded under
// another notice is a conflict.
//
// Claims in one audience wait for each other (they must, to tell who
// claimed a person first); claims in different audiences do not. The
// subjects are written in key order, in bulk: BenchmarkClaim.
func (s *Store) Claim(ctx context.Context, noticeID string, batches []BatchClaim, unreachable []Unreachable) ([]BatchStatus, error) {
	c, err := newClaim(noticeID, batches, unreachable)
	if err != nil {
		return nil, err
	}
	statuses, err := s.claim(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("claim %d batches and %d unreachable for notice %s: %w", len(batches), len(unreachable), noticeID, err)
	}
	return statuses, nil
}

// MarkBatch records the outcome of sending a batch: accepted (with
// SendGrid's message ID), failed or ambiguous (with the error). Every
// outcome counts as an attempt. Accepted is final: marking an accepted
// batch again, with any outcome, changes nothing and is not an error. A zero
// at means now. An unknown key is an error wrapping ErrNotFound.
//
// It is how batches were recorded before write-ahead sending, and records
// no attempt of its own (Attempts lists none; an accepted mark counts as
// one request taken), except that a batch whose latest attempt is sending
// has that attempt finished, as FinishAttempt would (failed as refused).
func (s *Store) MarkBatch(ctx context.Context, key string, state BatchState, messageID, errText string, at time.Time) error {
	if key == "" {
		return apperr.Invalidf("key", "required")
	}
	var outcome AttemptOutcome
	switch state {
	case BatchAccepted:
		errText = "" // the error of an earlier attempt no longer applies
		outcome = AttemptAccepted
	case BatchFailed:
		outcome = AttemptRefused
	case BatchAmbiguous:
		outcome = AttemptAmbiguous
	default:
		return apperr.Invalidf("state", "%q is not an outcome (accepted, failed, ambiguous)", state)
	}
	at = s.at(at)
	errText, err := s.keys.SealStringFor(errText, batchErrorContext(key))
	if err != nil {
		return fmt.Errorf("mark batch %s %s: %w", key, state, err)
	}
	err = s.inBatch(ctx, key, func(tx ledgerTx, b *batchRow) error {
		if b.status.State == BatchAccepted {
			return errUnchanged
		}
		atts, err := tx.batchAttempts(ctx, b.seq)
		if err != nil {
			return err
		}
		if n := len(atts); n > 0 && atts[n-1].N == b.status.Attempts && atts[n-1].Outcome == AttemptSending {
			return finish(ctx, tx, b, atts, n-1, outcome, messageID, errText, at)
		}
		b.status.State = state
		if messageID != "" {
			b.status.MessageID = messageID
		}
		b.status.Error = errText
		b.status.Attempts++
		if state == BatchAccepted {
			b.status.SentAt = at
			b.taken++
		}
		b.updatedAt = at
		return tx.putBatch(ctx, b)
	})
	if err != nil {
		return fmt.Errorf("mark batch %s %s: %w", key, state, err)
	}
	return nil
}

// Batch returns a batch's status, or an error wrapping ErrNotFound.
func (s *Store) Batch(ctx context.Context, key string) (BatchStatus, error) {
	b, err := s.db.batch(ctx, key)
	if err == nil {
		b, err = openBatch(s.keys, b)
	}
	if err != nil {
		return BatchStatus{}, fmt.Errorf("batch %s: %w", key, err)
	}
	return b, nil
}

// RecordEvents applies Event Webhook events, in one transaction, to the
// recipients they name: the subject's row in the audience of the batch's
// notice, if that row is in that batch; any other event is ignored. It
// returns how many events were applied.
//
// delivered, bounce (and blocked), dropped and deferred set the recipient's
// state, with the event's reason and time (a zero At means now). A final
// state (delivered, bounced, dropped) never goes back to deferred, and
// replaces another final state only with a later event, so events arriving
// out of order leave each recipient in its latest state. Other events
// (processed, open, click, spamreport, unsubscribe, ...) leave the state as
// it is. Every applied event counts toward its batch's Events, and proves
// SendGrid had the batch: an event of attempt n (DeliveryEvent.Attempt)
// confirms that attempt (ConfirmedBy "event") if its fate was unknown
// (sending, ambiguous) or it was found not taken, and the batch becomes
// accepted; an event without an attempt number confirms the batch's latest
// attempt of unknown fate, unless SendGrid took one already, and turns a
// batch MarkBatch left ambiguous into accepted. If two attempts of a batch
// end up taken, its people count in NoticeProgress's Twice. A queued batch
// with no attempt of unknown fate stays queued.
func (s *Store) RecordEvents(ctx context.Context, events []DeliveryEvent) (applied int, err error) {
	if len(events) == 0 {
		return 0, nil
	}
	applied, err = s.recordEvents(ctx, events)
	if err != nil {
		return 0, fmt.Errorf("record %d events: %w", len(events), err)
	}
	return applied, nil
}

// NoticeProgress counts a notice's recipients by state. It adds up counts
// kept on the notice's batches, so it costs the same at any number of
// recipients (BenchmarkNoticeProgress). An unknown notice is an error
// wrapping ErrNotFound.
func (s *Store) NoticeProgress(ctx context.Context, noticeID string) (NoticeProgress, error) {
	p, err := s.db.progress(ctx, noticeID)
	if err != nil {
		return NoticeProgress{}, fmt.Errorf("progress of notice %s: %w", noticeID, err)
	}
	return p, nil
}

// Recipient returns a subject's ledger entry for an incident and audience:
// was this person notified, when, and how did it go. State is the latest
// delivery state from the Event Webhook if there is one, else "unreachable"
// (with its reason), else the batch's state (with the batch's error as the
// reason, if it failed or was ambiguous). Not in the ledger is an error
// wrapping ErrNotFound.
func (s *Store) Recipient(ctx context.Context, incidentID, audience string, key [16]byte) (RecipientRecord, error) {
	switch {
	case incidentID == "":
		return RecipientRecord{}, apperr.Invalidf("incident", "required")
	case audience == "":
		return RecipientRecord{}, apperr.Invalidf("audience", "required")
	}
	r, err := s.db.recipient(ctx, incidentID, audience, key)
	if err == nil {
		r.batchError, err = s.keys.OpenStringFor(r.batchError, batchErrorContext(r.batch))
	}
	if err == nil {
		r.reason, err = s.keys.OpenString(r.reason)
	}
	if err != nil {
		return RecipientRecord{}, fmt.Errorf("recipient in %s/%s: %w", incidentID, audience, err)
	}
	return r.record(), nil
}

// recipientRow is a recipient's row with its batch's, as the engines read it.
type recipientRow struct {
	notice      string
	batch       string // "" when unreachable
	batchState  BatchState
	batchError  string
	batchAt     time.Time // the batch's updated_at
	messageID   string
	delivery    string // "" before any event
	reason      string
	updatedAt   time.Time // the row's own: zero for a batch's recipient before any event
	unreachable bool
}

func (r recipientRow) record() RecipientRecord {
	rec := RecipientRecord{Notice: r.notice, Batch: r.batch, MessageID: r.messageID, Reason: r.reason, UpdatedAt: r.updatedAt}
	switch {
	case r.delivery != "":
		rec.State = r.delivery
	case r.unreachable:
		rec.State = recipientUnreachable
	default:
		rec.State = string(r.batchState)
		rec.UpdatedAt = r.batchAt
		if r.batchState == BatchFailed || r.batchState == BatchAmbiguous {
			rec.Reason = r.batchError
		}
	}
	return rec
}

// --- Claim

// claimSet is a validated Claim: every subject of the call, ascending by
// key, with where it came from.
type claimSet struct {
	notice      string
	batches     []BatchClaim
	unreachable []Unreachable
	rows        []claimRow
}

// claimRow is one subject of a Claim. The key is split into two big-endian
// halves, which sort like the bytes and compare faster.
type claimRow struct {
	hi, lo uint64
	batch  int32 // index in batches, or -1 for unreachable
	index  int32 // in the batch's subjects, or in unreachable
}

func (r claimRow) key() [16]byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], r.hi)
	binary.BigEndian.PutUint64(k[8:], r.lo)
	return k
}

func (r claimRow) field() string {
	if r.batch < 0 {
		return fmt.Sprintf("unreachable[%d].key", r.index)
	}
	return fmt.Sprintf("batches[%d].subjects[%d]", r.batch, r.index)
}

// after reports whether r comes after o in the call's arguments: batches in
// order, then unreachable.
func (r claimRow) after(o claimRow) bool {
	rb, ob := uint32(r.batch), uint32(o.batch) // -1 sorts last
	return rb > ob || rb == ob && r.index > o.index
}

func cmpClaimRows(a, b claimRow) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// newClaim validates a Claim's arguments, naming the first field at fault,
// and sorts its subjects.
func newClaim(noticeID string, batches []BatchClaim, unreachable []Unreachable) (*claimSet, error) {
	if noticeID == "" {
		return nil, apperr.Invalidf("notice", "required")
	}
	c := &claimSet{notice: noticeID, batches: batches, unreachable: unreachable}
	n := len(unreachable)
	keys := make(map[string]int, len(batches))
	for i, b := range batches {
		field := fmt.Sprintf("batches[%d]", i)
		switch {
		case b.Key == "":
			return nil, apperr.Invalidf(field+".key", "required")
		case len(b.Subjects) == 0:
			return nil, apperr.Invalidf(field+".subjects", "empty")
		case len(b.Subjects) > maxBatchSubjects:
			return nil, apperr.Invalidf(field+".subjects", "%d subjects, at most %d", len(b.Subjects), maxBatchSubjects)
		}
		if j, dup := keys[b.Key]; dup {
			return nil, apperr.Invalidf(field+".key", "repeats batches[%d].key", j)
		}
		keys[b.Key] = i
		n += len(b.Subjects)
	}
	c.rows = make([]claimRow, 0, n)
	for i, b := range batches {
		for j, k := range b.Subjects {
			c.rows = append(c.rows, newClaimRow(k, int32(i), int32(j)))
		}
	}
	for i, u := range unreachable {
		if u.Reason == "" {
			return nil, apperr.Invalidf(fmt.Sprintf("unreachable[%d].reason", i), "required")
		}
		c.rows = append(c.rows, newClaimRow(u.Key, -1, int32(i)))
	}
	for _, r := range c.rows {
		if r.hi == 0 && r.lo == 0 {
			return nil, apperr.Invalidf(r.field(), "all zero")
		}
	}
	// Sorted, the rows go into the ledger's key order in one sweep, and
	// duplicates are neighbours.
	slices.SortFunc(c.rows, cmpClaimRows)
	for i := 1; i < len(c.rows); i++ {
		a, b := c.rows[i-1], c.rows[i]
		if a.hi == b.hi && a.lo == b.lo {
			if a.after(b) {
				a, b = b, a
			}
			return nil, apperr.Invalidf(b.field(), "repeats %s", a.field())
		}
	}
	return c, nil
}

func newClaimRow(k [16]byte, batch, index int32) claimRow {
	return claimRow{hi: binary.BigEndian.Uint64(k[:8]), lo: binary.BigEndian.Uint64(k[8:]), batch: batch, index: index}
}

func (s *Store) claim(ctx context.Context, c *claimSet) (_ []BatchStatus, err error) {
	tx, err := s.db.beginLedger(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.rollback(context.WithoutCancel(ctx))
		}
	}()
	noticeSeq, audienceSeq, err := tx.lockNotice(ctx, c.notice)
	if err != nil {
		return nil, err
	}

	// Batches recorded already keep what they have.
	keys := make([]string, len(c.batches))
	for i, b := range c.batches {
		keys[i] = b.Key
	}
	existing, err := tx.batches(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		b, ok := existing[k]
		if !ok {
			continue
		}
		if b.Notice != c.notice {
			return nil, &apperr.Error{Kind: apperr.Conflict, Field: fmt.Sprintf("batches[%d].key", i),
				Msg: fmt.Sprintf("%q belongs to notice %s", k, b.Notice)}
		}
		if existing[k], err = openBatch(s.keys, b); err != nil {
			return nil, err
		}
	}
	rows := slices.DeleteFunc(c.rows, func(r claimRow) bool {
		if r.batch < 0 {
			return false
		}
		_, old := existing[c.batches[r.batch].Key]
		return old
	})

	// Subjects claimed already (by this notice or another of the
	// audience) are left out, but for the claims of other notices that do
	// not hold, which are taken over.
	claimed, err := claimedOf(ctx, tx, audienceSeq, rows)
	if err != nil {
		return nil, err
	}
	rows, olds, err := sortClaimed(ctx, tx, noticeSeq, rows, claimed)
	if err != nil {
		return nil, err
	}

	counts := make([]int, len(c.batches))
	var (
		unreachable []Unreachable
		moves       []movedClaim
		moveRows    []int32 // the batch of each move, or -1
	)
	for i, r := range rows {
		old, moved := olds[i]
		if r.batch < 0 {
			reason, err := s.keys.SealString(c.unreachable[r.index].Reason)
			if err != nil {
				return nil, err
			}
			if moved {
				moves, moveRows = append(moves, movedClaim{key: r.key(), reason: reason, old: old}), append(moveRows, -1)
				continue
			}
			unreachable = append(unreachable, Unreachable{Key: r.key(), Reason: reason})
			continue
		}
		counts[r.batch]++
		if moved {
			moves, moveRows = append(moves, movedClaim{key: r.key(), old: old}), append(moveRows, r.batch)
		}
	}
	var newKeys []string
	var newCounts []int
	for i, k := range keys {
		if _, old := existing[k]; !old {
			newKeys, newCounts = append(newKeys, k), append(newCounts, counts[i])
		}
	}
	now := s.now()
	seqs, err := tx.addBatches(ctx, noticeSeq, newKeys, newCounts, now)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	seqOf := make([]int64, len(c.batches))
	for i, j := 0, 0; i < len(keys); i++ {
		if _, old := existing[keys[i]]; !old {
			seqOf[i] = seqs[j]
			j++
		}
	}
	fresh := make([]claimedRow, 0, len(rows)-len(unreachable)-len(moves))
	for i, r := range rows {
		if _, moved := olds[i]; r.batch >= 0 && !moved {
			fresh = append(fresh, claimedRow{key: r.key(), batch: seqOf[r.batch]})
		}
	}
	if err := tx.addRecipients(ctx, audienceSeq, noticeSeq, fresh); err != nil {
		return nil, fmt.Errorf("add recipients: %w", err)
	}
	if len(unreachable) > 0 {
		if err := tx.addUnreachable(ctx, audienceSeq, noticeSeq, unreachable, now); err != nil {
			return nil, fmt.Errorf("add unreachable: %w", err)
		}
	}
	if len(moves) > 0 {
		for i := range moves {
			if b := moveRows[i]; b >= 0 {
				moves[i].batch = seqOf[b]
			}
		}
		batchDeltas, noticeDeltas := takeOverCounts(noticeSeq, moves)
		if err := tx.takeOver(ctx, audienceSeq, noticeSeq, moves, batchDeltas, noticeDeltas, now); err != nil {
			return nil, fmt.Errorf("take over %d claims: %w", len(moves), err)
		}
	}
	if err := tx.commit(ctx); err != nil {
		return nil, err
	}

	statuses := make([]BatchStatus, len(keys))
	for i, k := range keys {
		if b, old := existing[k]; old {
			statuses[i] = b
			continue
		}
		statuses[i] = BatchStatus{Key: k, Notice: c.notice, State: BatchQueued, Recipients: counts[i]}
	}
	return statuses, nil
}

// claimedRow is a subject to add under a batch.
type claimedRow struct {
	key   [16]byte
	batch int64 // its seq
}

// claimedKey is a subject the audience has claimed, and where.
type claimedKey struct {
	key      [16]byte
	notice   int64  // seq
	batch    int64  // seq; 0 when unreachable
	delivery string // its latest Event Webhook state, "" for none
}

// movedClaim is a claim a notice takes over.
type movedClaim struct {
	key    [16]byte
	batch  int64  // the new batch's seq; 0 when unreachable
	reason string // when unreachable, why (sealed)
	old    claimedKey
}

// batchDelta and noticeDelta are what a take-over changes in the counts of
// the batches and notices that held the claims.
type batchDelta struct {
	seq        int64
	recipients int
	counts     [4]int // as eventBatch.counts
}

type noticeDelta struct {
	seq         int64
	unreachable int
}

// claimedOf returns which of rows (ascending) the audience has claimed, in
// ascending order. A page of a snapshot is a key range, so one range scan
// usually answers, reading little besides the rows asked about; when the
// range holds many more claimed subjects than the call has (its keys are
// spread thin over a populated audience), it asks about each key instead.
func claimedOf(ctx context.Context, tx ledgerTx, audienceSeq int64, rows []claimRow) ([]claimedKey, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	limit := 2*len(rows) + 64
	claimed, err := tx.claimedIn(ctx, audienceSeq, rows[0].key(), rows[len(rows)-1].key(), limit)
	if err != nil || len(claimed) < limit {
		return claimed, err
	}
	keys := make([][16]byte, len(rows))
	for i, r := range rows {
		keys[i] = r.key()
	}
	claimed, err = tx.claimedAmong(ctx, audienceSeq, keys)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(claimed, func(a, b claimedKey) int { return bytes.Compare(a.key[:], b.key[:]) })
	return claimed, nil
}

// sortClaimed removes from rows the keys in claimed, both ascending, but
// for those another notice than noticeSeq holds without a claim that holds
// (unreachable, or in a batch that let its people go): those stay, and
// olds maps their index in the rows returned to the claim they take over.
func sortClaimed(ctx context.Context, tx ledgerTx, noticeSeq int64, rows []claimRow, claimed []claimedKey) (_ []claimRow, olds map[int]claimedKey, err error) {
	if len(claimed) == 0 {
		return rows, nil, nil
	}
	// match calls f with each row and its claim, if any.
	match := func(f func(r claimRow, c *claimedKey)) {
		j := 0
		for _, r := range rows {
			k := r.key()
			for j < len(claimed) && bytes.Compare(claimed[j].key[:], k[:]) < 0 {
				j++
			}
			if j < len(claimed) && claimed[j].key == k {
				f(r, &claimed[j])
			} else {
				f(r, nil)
			}
		}
	}
	var batches []int64
	match(func(_ claimRow, c *claimedKey) {
		if c != nil && c.notice != noticeSeq && c.batch != 0 && !slices.Contains(batches, c.batch) {
			batches = append(batches, c.batch)
		}
	})
	released := map[int64]bool{}
	if len(batches) > 0 {
		if released, err = tx.releasedAmong(ctx, batches); err != nil {
			return nil, nil, err
		}
	}
	out := rows[:0]
	match(func(r claimRow, c *claimedKey) {
		switch {
		case c == nil:
		case c.notice != noticeSeq && (c.batch == 0 || released[c.batch]):
			if olds == nil {
				olds = map[int]claimedKey{}
			}
			olds[len(out)] = *c
		default:
			return
		}
		out = append(out, r)
	})
	return out, olds, nil
}

// takeOverCounts works out what moves take out of the counts of the
// batches and notices that held the claims, and add to the notice's
// unreachable; in seq order, the order rows are locked in.
func takeOverCounts(noticeSeq int64, moves []movedClaim) ([]batchDelta, []noticeDelta) {
	bs := map[int64]*batchDelta{}
	ns := map[int64]int{}
	for i := range moves {
		old := moves[i].old
		if old.batch == 0 {
			ns[old.notice]--
		} else {
			d := bs[old.batch]
			if d == nil {
				d = &batchDelta{seq: old.batch}
				bs[old.batch] = d
			}
			d.recipients--
			if c := slices.Index(deliveryCounters[:], old.delivery); c >= 0 {
				d.counts[c]--
			}
		}
		if moves[i].batch == 0 {
			ns[noticeSeq]++
		}
	}
	batches := make([]batchDelta, 0, len(bs))
	for _, seq := range slices.Sorted(maps.Keys(bs)) {
		batches = append(batches, *bs[seq])
	}
	var notices []noticeDelta
	for _, seq := range slices.Sorted(maps.Keys(ns)) {
		if ns[seq] != 0 {
			notices = append(notices, noticeDelta{seq: seq, unreachable: ns[seq]})
		}
	}
	return batches, notices
}

// --- RecordEvents

// eventBatch is a batch named by events, and what they change in it.
type eventBatch struct {
	seq         int64
	audienceSeq int64
	state       BatchState
	sentAt      time.Time // zero if not sent
	attempts    int       // begun
	taken       int       // attempts SendGrid took
	unknown     int       // attempts of unknown fate
	lastOutcome AttemptOutcome
	// open are the attempts an event may confirm (sending, ambiguous,
	// not_taken), in order; read only for a batch that may need them.
	open []Attempt

	events    int
	counts    [4]int // added to delivered, bounced, dropped, deferred
	confirmed bool   // not accepted until now, accepted by an event
	confirms  []int  // indexes in open of the attempts events confirmed
}

// confirm records what an applied event of attempt n (0: not numbered)
// proves: SendGrid took that attempt. A numbered event confirms its attempt
// if its fate was unknown or thought not taken. An event without a number
// confirms the latest attempt of unknown fate, unless SendGrid is known to
// have taken one already (it may be of that one); a batch MarkBatch left
// ambiguous, with no attempt recorded, becomes accepted.
func (b *eventBatch) confirm(n int, now time.Time) {
	i := -1
	if n > 0 {
		i = slices.IndexFunc(b.open, func(a Attempt) bool { return a.N == n })
		if i < 0 && n <= b.attempts {
			return // settled: taken already, refused or temporary
		}
	}
	if i < 0 { // unnumbered, or a number the ledger never began
		if b.taken > 0 {
			return
		}
		for j := len(b.open) - 1; j >= 0 && i < 0; j-- {
			if b.open[j].Unknown() {
				i = j
			}
		}
		if i < 0 {
			if b.state == BatchAmbiguous {
				b.taken++
				b.state, b.confirmed = BatchAccepted, true
			}
			return
		}
	}
	a := &b.open[i]
	if a.Taken() {
		return
	}
	if a.Unknown() {
		b.unknown--
	}
	b.taken++
	a.Outcome, a.ConfirmedBy = AttemptConfirmed, "event"
	if a.EndedAt.IsZero() {
		a.EndedAt = now
	}
	if a.N == b.attempts {
		b.lastOutcome = AttemptConfirmed
	}
	b.confirms = append(b.confirms, i)
	if b.state != BatchAccepted {
		b.state, b.confirmed = BatchAccepted, true
	}
}

// recipientID is a recipient row's key.
type recipientID struct {
	audienceSeq int64
	key         [16]byte
}

// eventRecipient is a recipient row named by events, as it is and as
// they leave it.
type eventRecipient struct {
	id        recipientID
	batchSeq  int64 // 0 when unreachable
	delivery  string
	reason    string
	updatedAt time.Time
	changed   bool
}

// deliveryCounters is the order of eventBatch.counts.
var deliveryCounters = [4]string{recipientDelivered, recipientBounced, recipientDropped, recipientDeferred}

func (b *eventBatch) count(delivery string, d int) {
	if i := slices.Index(deliveryCounters[:], delivery); i >= 0 {
		b.counts[i] += d
	}
}

// deliveryOf is the recipient state an Event Webhook event sets, or "".
func deliveryOf(event string) string {
	switch event {
	case "delivered":
		return recipientDelivered
	case "bounce", "blocked":
		return recipientBounced
	case "dropped":
		return recipientDropped
	case "deferred":
		return recipientDeferred
	}
	return ""
}

// supersedes reports whether a state from an event at `at` replaces the
// recipient's current one: a final state is never replaced by a deferral,
// nor by a state from an earlier event.
func supersedes(cur string, curAt time.Time, next string, at time.Time) bool {
	switch {
	case cur == "":
		return true
	case next == recipientDeferred:
		return cur == recipientDeferred && !at.Before(curAt)
	case cur == recipientDeferred:
		return true
	}
	return !at.Before(curAt)
}

func (s *Store) recordEvents(ctx context.Context, events []DeliveryEvent) (applied int, err error) {
	var keys []string
	seen := map[string]bool{}
	for _, e := range events {
		if e.Batch != "" && !seen[e.Batch] {
			seen[e.Batch] = true
			keys = append(keys, e.Batch)
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	tx, err := s.db.beginLedger(ctx)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.rollback(context.WithoutCancel(ctx))
		}
	}()
	batches, err := tx.eventBatches(ctx, keys)
	if err != nil {
		return 0, fmt.Errorf("read batches: %w", err)
	}
	// The attempts events may confirm: of batches with an attempt of
	// unknown fate, or named by a numbered event.
	var open []int64
	for _, e := range events {
		if b := batches[e.Batch]; b != nil && b.attempts > 0 && (b.unknown > 0 || e.Attempt > 0) && !slices.Contains(open, b.seq) {
			open = append(open, b.seq)
		}
	}
	if len(open) > 0 {
		atts, err := tx.openAttempts(ctx, open)
		if err != nil {
			return 0, fmt.Errorf("read attempts: %w", err)
		}
		for _, b := range batches {
			b.open = atts[b.seq]
		}
	}
	var ids []recipientID
	wanted := map[recipientID]bool{}
	for _, e := range events {
		if b := batches[e.Batch]; b != nil {
			id := recipientID{b.audienceSeq, e.Subject}
			if !wanted[id] {
				wanted[id] = true
				ids = append(ids, id)
			}
		}
	}
	recipients, err := tx.eventRecipients(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("read recipients: %w", err)
	}
	for _, r := range recipients {
		if r.reason, err = s.keys.OpenString(r.reason); err != nil {
			return 0, fmt.Errorf("read recipients: %w", err)
		}
	}
	now := s.now()
	applied = applyEvents(events, batches, recipients, now)
	if applied == 0 {
		return 0, tx.rollback(ctx)
	}
	var changed []*eventRecipient
	for _, id := range ids {
		if r := recipients[id]; r != nil && r.changed {
			if r.reason, err = s.keys.SealString(r.reason); err != nil {
				return 0, err
			}
			changed = append(changed, r)
		}
	}
	var touched []*eventBatch
	for _, k := range keys {
		if b := batches[k]; b != nil && b.events > 0 {
			touched = append(touched, b)
		}
	}
	if err := tx.applyEvents(ctx, changed, touched, now); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	if err := tx.commit(ctx); err != nil {
		return 0, err
	}
	return applied, nil
}

// applyEvents works out, in order, what events change in the batches and
// recipients they name, and returns how many applied.
func applyEvents(events []DeliveryEvent, batches map[string]*eventBatch, recipients map[recipientID]*eventRecipient, now time.Time) (applied int) {
	for _, e := range events {
		b := batches[e.Batch]
		if b == nil {
			continue
		}
		r := recipients[recipientID{b.audienceSeq, e.Subject}]
		if r == nil || r.batchSeq != b.seq {
			continue
		}
		applied++
		b.events++
		at := now
		if !e.At.IsZero() {
			at = e.At.UTC().Truncate(time.Microsecond)
		}
		b.confirm(e.Attempt, now)
		if b.confirmed && (b.sentAt.IsZero() || at.Before(b.sentAt)) {
			b.sentAt = at // it was sent no later than SendGrid reported on it
		}
		next := deliveryOf(e.Event)
		if next == "" || !supersedes(r.delivery, r.updatedAt, next, at) {
			continue
		}
		if next == r.delivery && e.Reason == r.reason && at.Equal(r.updatedAt) {
			continue // the same event again
		}
		b.count(r.delivery, -1)
		b.count(next, +1)
		r.delivery, r.reason, r.updatedAt, r.changed = next, e.Reason, at, true
	}
	return applied
}
