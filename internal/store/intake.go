package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachctl/breachctl/internal/apperr"
)

// The intake's shared state (migration 0003): which incident each dedup key
// of an alerting system opened, and which signed requests were seen lately.
// It lives here rather than in each server's memory so that two `serve`
// processes behind a load balancer open one incident for the same alert,
// and refuse each other's replays. Keys and signatures are SHA-256 hashes
// the caller computes; nothing stored is alert text.

// IntakeRepeat is what RepeatIntakeKey counted.
type IntakeRepeat struct {
	Repeats int // alerts received again for the incident, this one included
	// Note is true when this repeat should be noted on the timeline: the
	// first, and then at most one per the interval given.
	Note bool
	// SinceNote is how many repeats the note covers (this one included);
	// zero when Note is false.
	SinceNote int
}

// intakeEngine is one dialect's SQL for the intake; the Store checks
// arguments and computes times.
type intakeEngine interface {
	// claimIntakeKey inserts a claim for a new key, or takes over one whose
	// lease ended before now; otherwise it reports the key's incident, ""
	// while another request holds it.
	claimIntakeKey(ctx context.Context, key []byte, holder string, now, leaseUntil time.Time) (incidentID string, claimed bool, err error)
	replaceIntakeKey(ctx context.Context, key []byte, closedIncident, holder string, now, leaseUntil time.Time) (bool, error)
	bindIntakeKey(ctx context.Context, key []byte, holder, incidentID string, now time.Time) (bool, error)
	releaseIntakeKey(ctx context.Context, key []byte, holder string) error
	repeatIntakeKey(ctx context.Context, key []byte, incidentID string, now, noteBefore time.Time) (IntakeRepeat, error)
	intakeKeyIncident(ctx context.Context, key []byte) (string, error)
	markIntakeSignature(ctx context.Context, sig []byte, now, forgetBefore time.Time) (bool, error)
	forgetIntakeSignature(ctx context.Context, sig []byte) error
}

var (
	_ intakeEngine = (*sqliteDB)(nil)
	_ intakeEngine = (*pgDB)(nil)
)

func (s *Store) intake() (intakeEngine, error) {
	e, ok := s.db.(intakeEngine)
	if !ok {
		return nil, apperr.New(apperr.Internal, "the %s store has no intake tables", s.db.dialect())
	}
	return e, nil
}

func checkClaim(holder string, lease time.Duration) error {
	switch {
	case holder == "":
		return apperr.Invalidf("holder", "required")
	case lease <= 0:
		return apperr.Invalidf("lease", "must be positive, got %s", lease)
	}
	return nil
}

// ClaimIntakeKey claims a dedup key for the request holder, which is about
// to open an incident for it, until now+lease. It answers one of three
// ways: claimed (the key was new, or its previous claim lapsed: the holder
// opens the incident and calls BindIntakeKey, or ReleaseIntakeKey if it
// cannot); the incident the key is bound to; or neither, while another
// request holds the key (ask again shortly).
func (s *Store) ClaimIntakeKey(ctx context.Context, key [32]byte, holder string, now time.Time, lease time.Duration) (incidentID string, claimed bool, err error) {
	if err := checkClaim(holder, lease); err != nil {
		return "", false, err
	}
	e, err := s.intake()
	if err != nil {
		return "", false, err
	}
	id, claimed, err := e.claimIntakeKey(ctx, key[:], holder, now.UTC(), now.UTC().Add(lease))
	if err != nil {
		return "", false, fmt.Errorf("claim intake key: %w", err)
	}
	return id, claimed, nil
}

// ReplaceIntakeKey claims a key bound to closedIncident, which the caller
// found closed, so that the next alert with the key opens a new incident.
// It reports false when the key is no longer bound to closedIncident
// (another request replaced it first).
func (s *Store) ReplaceIntakeKey(ctx context.Context, key [32]byte, closedIncident, holder string, now time.Time, lease time.Duration) (bool, error) {
	if err := checkClaim(holder, lease); err != nil {
		return false, err
	}
	if closedIncident == "" {
		return false, apperr.Invalidf("incident", "required")
	}
	e, err := s.intake()
	if err != nil {
		return false, err
	}
	ok, err := e.replaceIntakeKey(ctx, key[:], closedIncident, holder, now.UTC(), now.UTC().Add(lease))
	if err != nil {
		return false, fmt.Errorf("replace intake key: %w", err)
	}
	return ok, nil
}

// BindIntakeKey binds a key the holder claimed to the incident it opened.
// A holder whose claim lapsed and was taken over gets a Conflict error.
func (s *Store) BindIntakeKey(ctx context.Context, key [32]byte, holder, incidentID string, now time.Time) error {
	if holder == "" || incidentID == "" {
		return apperr.Invalidf("incident", "holder and incident are required")
	}
	e, err := s.intake()
	if err != nil {
		return err
	}
	ok, err := e.bindIntakeKey(ctx, key[:], holder, incidentID, now.UTC())
	if err != nil {
		return fmt.Errorf("bind intake key to %s: %w", incidentID, err)
	}
	if !ok {
		return apperr.New(apperr.Conflict, "bind intake key to %s: the claim lapsed and another request holds the key", incidentID)
	}
	return nil
}

// ReleaseIntakeKey gives up a claim the holder could not turn into an
// incident, so that the next request claims the key at once. A key no
// longer claimed by holder is left alone.
func (s *Store) ReleaseIntakeKey(ctx context.Context, key [32]byte, holder string) error {
	e, err := s.intake()
	if err != nil {
		return err
	}
	if err := e.releaseIntakeKey(ctx, key[:], holder); err != nil {
		return fmt.Errorf("release intake key: %w", err)
	}
	return nil
}

// RepeatIntakeKey counts an alert received again for the incident a key is
// bound to, and says whether to note it on the timeline: the first repeat
// yes, later ones only once noteEvery has passed since the last note. A key
// no longer bound to incidentID is an error wrapping ErrNotFound.
func (s *Store) RepeatIntakeKey(ctx context.Context, key [32]byte, incidentID string, now time.Time, noteEvery time.Duration) (IntakeRepeat, error) {
	e, err := s.intake()
	if err != nil {
		return IntakeRepeat{}, err
	}
	r, err := e.repeatIntakeKey(ctx, key[:], incidentID, now.UTC(), now.UTC().Add(-noteEvery))
	if err != nil {
		return IntakeRepeat{}, fmt.Errorf("count a repeat of %s: %w", incidentID, err)
	}
	return r, nil
}

// IntakeKeyIncident returns the incident a key is bound to, or "" when it
// is bound to none (never seen, or being opened).
func (s *Store) IntakeKeyIncident(ctx context.Context, key [32]byte) (string, error) {
	e, err := s.intake()
	if err != nil {
		return "", err
	}
	id, err := e.intakeKeyIncident(ctx, key[:])
	if err != nil {
		return "", fmt.Errorf("read intake key: %w", err)
	}
	return id, nil
}

// MarkIntakeSignature records a signed request's hash and reports whether
// it is new: false means the same request was marked within keep, a
// replay. Marks older than keep are deleted on the way.
func (s *Store) MarkIntakeSignature(ctx context.Context, sig [32]byte, now time.Time, keep time.Duration) (fresh bool, err error) {
	if keep <= 0 {
		return false, apperr.Invalidf("keep", "must be positive, got %s", keep)
	}
	e, err := s.intake()
	if err != nil {
		return false, err
	}
	fresh, err = e.markIntakeSignature(ctx, sig[:], now.UTC(), now.UTC().Add(-keep))
	if err != nil {
		return false, fmt.Errorf("mark intake signature: %w", err)
	}
	return fresh, nil
}

// ForgetIntakeSignature drops a mark, for a request that failed: the sender
// may then send it again.
func (s *Store) ForgetIntakeSignature(ctx context.Context, sig [32]byte) error {
	e, err := s.intake()
	if err != nil {
		return err
	}
	if err := e.forgetIntakeSignature(ctx, sig[:]); err != nil {
		return fmt.Errorf("forget intake signature: %w", err)
	}
	return nil
}

// --- SQLite

func (d *sqliteDB) claimIntakeKey(ctx context.Context, key []byte, holder string, now, leaseUntil time.Time) (string, bool, error) {
	// An upsert that only takes a lapsed claim over: RETURNING yields a row
	// exactly when this request holds the key.
	var got string
	err := d.w.QueryRowContext(ctx, `INSERT INTO intake_keys (key_hash, holder, lease_until, updated_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (key_hash) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, updated_at = excluded.updated_at
		WHERE intake_keys.incident_id = '' AND intake_keys.lease_until < ?4
		RETURNING holder`, key, holder, leaseUntil.Format(sqliteTime), now.Format(sqliteTime)).Scan(&got)
	switch {
	case err == nil:
		return "", true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", false, err
	}
	id, err := d.intakeKeyIncident(ctx, key)
	return id, false, err
}

func (d *sqliteDB) replaceIntakeKey(ctx context.Context, key []byte, closedIncident, holder string, now, leaseUntil time.Time) (bool, error) {
	res, err := d.w.ExecContext(ctx, `UPDATE intake_keys SET incident_id = '', holder = ?1, lease_until = ?2,
			repeats = 0, noted_repeats = 0, noted_at = NULL, updated_at = ?3
		WHERE key_hash = ?4 AND incident_id = ?5`,
		holder, leaseUntil.Format(sqliteTime), now.Format(sqliteTime), key, closedIncident)
	return affectedOne(res, err)
}

func (d *sqliteDB) bindIntakeKey(ctx context.Context, key []byte, holder, incidentID string, now time.Time) (bool, error) {
	res, err := d.w.ExecContext(ctx, `UPDATE intake_keys SET incident_id = ?1, holder = '', lease_until = NULL, updated_at = ?2
		WHERE key_hash = ?3 AND holder = ?4 AND incident_id = ''`,
		incidentID, now.Format(sqliteTime), key, holder)
	return affectedOne(res, err)
}

func (d *sqliteDB) releaseIntakeKey(ctx context.Context, key []byte, holder string) error {
	_, err := d.w.ExecContext(ctx, `DELETE FROM intake_keys WHERE key_hash = ? AND holder = ? AND incident_id = ''`, key, holder)
	return err
}

func (d *sqliteDB) repeatIntakeKey(ctx context.Context, key []byte, incidentID string, now, noteBefore time.Time) (_ IntakeRepeat, err error) {
	tx, err := d.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: no other writer between the read and the update
	if err != nil {
		return IntakeRepeat{}, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var (
		repeats, noted int
		notedAt        sql.NullString
	)
	err = tx.QueryRowContext(ctx, `SELECT repeats, noted_repeats, noted_at FROM intake_keys WHERE key_hash = ? AND incident_id = ?`,
		key, incidentID).Scan(&repeats, &noted, &notedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return IntakeRepeat{}, ErrNotFound
	}
	if err != nil {
		return IntakeRepeat{}, err
	}
	last, err := parseSQLiteTime(notedAt)
	if err != nil {
		return IntakeRepeat{}, err
	}
	r := nextRepeat(repeats, noted, last, noteBefore)
	if r.Note {
		_, err = tx.ExecContext(ctx, `UPDATE intake_keys SET repeats = ?1, noted_repeats = ?1, noted_at = ?2, updated_at = ?2 WHERE key_hash = ?3`,
			r.Repeats, now.Format(sqliteTime), key)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE intake_keys SET repeats = ?1, updated_at = ?2 WHERE key_hash = ?3`,
			r.Repeats, now.Format(sqliteTime), key)
	}
	if err != nil {
		return IntakeRepeat{}, err
	}
	return r, tx.Commit()
}

// nextRepeat counts one more repeat of a key that had repeats, noted up to
// noted at last (zero for never).
func nextRepeat(repeats, noted int, last, noteBefore time.Time) IntakeRepeat {
	r := IntakeRepeat{Repeats: repeats + 1}
	if last.IsZero() || !last.After(noteBefore) {
		r.Note, r.SinceNote = true, r.Repeats-noted
	}
	return r
}

func (d *sqliteDB) intakeKeyIncident(ctx context.Context, key []byte) (string, error) {
	var id string
	err := d.w.QueryRowContext(ctx, `SELECT incident_id FROM intake_keys WHERE key_hash = ?`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

func (d *sqliteDB) markIntakeSignature(ctx context.Context, sig []byte, now, forgetBefore time.Time) (bool, error) {
	if _, err := d.w.ExecContext(ctx, `DELETE FROM intake_signatures WHERE seen_at < ?`, forgetBefore.Format(sqliteTime)); err != nil {
		return false, err
	}
	res, err := d.w.ExecContext(ctx, `INSERT INTO intake_signatures (sig_hash, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		sig, now.Format(sqliteTime))
	return affectedOne(res, err)
}

func (d *sqliteDB) forgetIntakeSignature(ctx context.Context, sig []byte) error {
	_, err := d.w.ExecContext(ctx, `DELETE FROM intake_signatures WHERE sig_hash = ?`, sig)
	return err
}

func affectedOne(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// --- PostgreSQL

func (d *pgDB) claimIntakeKey(ctx context.Context, key []byte, holder string, now, leaseUntil time.Time) (string, bool, error) {
	// As on SQLite: ON CONFLICT makes two requests inserting the same new
	// key at once wait for each other, and only one gets the row back.
	var got string
	err := d.pool.QueryRow(ctx, `INSERT INTO intake_keys (key_hash, holder, lease_until, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key_hash) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, updated_at = excluded.updated_at
		WHERE intake_keys.incident_id = '' AND intake_keys.lease_until < $4
		RETURNING holder`, key, holder, leaseUntil, now).Scan(&got)
	switch {
	case err == nil:
		return "", true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return "", false, err
	}
	id, err := d.intakeKeyIncident(ctx, key)
	return id, false, err
}

func (d *pgDB) replaceIntakeKey(ctx context.Context, key []byte, closedIncident, holder string, now, leaseUntil time.Time) (bool, error) {
	tag, err := d.pool.Exec(ctx, `UPDATE intake_keys SET incident_id = '', holder = $1, lease_until = $2,
			repeats = 0, noted_repeats = 0, noted_at = NULL, updated_at = $3
		WHERE key_hash = $4 AND incident_id = $5`,
		holder, leaseUntil, now, key, closedIncident)
	return err == nil && tag.RowsAffected() == 1, err
}

func (d *pgDB) bindIntakeKey(ctx context.Context, key []byte, holder, incidentID string, now time.Time) (bool, error) {
	tag, err := d.pool.Exec(ctx, `UPDATE intake_keys SET incident_id = $1, holder = '', lease_until = NULL, updated_at = $2
		WHERE key_hash = $3 AND holder = $4 AND incident_id = ''`,
		incidentID, now, key, holder)
	return err == nil && tag.RowsAffected() == 1, err
}

func (d *pgDB) releaseIntakeKey(ctx context.Context, key []byte, holder string) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM intake_keys WHERE key_hash = $1 AND holder = $2 AND incident_id = ''`, key, holder)
	return err
}

func (d *pgDB) repeatIntakeKey(ctx context.Context, key []byte, incidentID string, now, noteBefore time.Time) (IntakeRepeat, error) {
	var r IntakeRepeat
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var (
			repeats, noted int
			notedAt        *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT repeats, noted_repeats, noted_at FROM intake_keys WHERE key_hash = $1 AND incident_id = $2 FOR UPDATE`,
			key, incidentID).Scan(&repeats, &noted, &notedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var last time.Time
		if notedAt != nil {
			last = *notedAt
		}
		r = nextRepeat(repeats, noted, last, noteBefore)
		if r.Note {
			_, err = tx.Exec(ctx, `UPDATE intake_keys SET repeats = $1, noted_repeats = $1, noted_at = $2, updated_at = $2 WHERE key_hash = $3`,
				r.Repeats, now, key)
		} else {
			_, err = tx.Exec(ctx, `UPDATE intake_keys SET repeats = $1, updated_at = $2 WHERE key_hash = $3`, r.Repeats, now, key)
		}
		return err
	})
	return r, err
}

func (d *pgDB) intakeKeyIncident(ctx context.Context, key []byte) (string, error) {
	var id string
	err := d.pool.QueryRow(ctx, `SELECT incident_id FROM intake_keys WHERE key_hash = $1`, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, err
}

func (d *pgDB) markIntakeSignature(ctx context.Context, sig []byte, now, forgetBefore time.Time) (bool, error) {
	if _, err := d.pool.Exec(ctx, `DELETE FROM intake_signatures WHERE seen_at < $1`, forgetBefore); err != nil {
		return false, err
	}
	tag, err := d.pool.Exec(ctx, `INSERT INTO intake_signatures (sig_hash, seen_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, sig, now)
	return err == nil && tag.RowsAffected() == 1, err
}

func (d *pgDB) forgetIntakeSignature(ctx context.Context, sig []byte) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM intake_signatures WHERE sig_hash = $1`, sig)
	return err
}
