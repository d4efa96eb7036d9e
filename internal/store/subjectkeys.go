package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachctl/breachctl/internal/seal"
)

// Subject keys (docs/adr/0006-keyed-subject-keys.md). A person is known in
// snapshot_subjects and notice_recipients, and by their hex in outbox file
// names and SendGrid custom args, by a 16-byte key made from their identity
// ("id:u1", "email:ana@example.com"). The key is the first 16 bytes of
// HMAC-SHA-256 under the store's subject-key secret, so someone holding the
// database, an outbox or SendGrid's event log but not that secret cannot test
// whether a given person was in a breach by hashing their address.
//
// The secret is 32 random bytes made on the store's first open and kept in
// store_secrets, sealed under the keyring when the store has keys (WithKeys)
// and sealed again under the primary key whenever the store is opened with a
// keyring whose primary did not seal it (a rotation, or keys set on a store
// made without them). It never changes: the same person gets the same key in
// every snapshot of the store.
//
// Snapshots written before keyed keys (key_scheme 0) keep their unkeyed
// SHA-256 keys, and so does every later snapshot of an incident that has
// one: running notices page through snapshots by key and carry key cursors
// in their workflow histories, and the ledger must know each person of an
// incident by one key, so those keys cannot be rewritten in place.

const (
	keySchemeSHA256 = 0 // the first 16 bytes of SHA-256 of the identity; before migration 0006
	keySchemeHMAC   = 1 // the first 16 bytes of HMAC-SHA-256 under the subject-key secret
)

const subjectSecretName = "subject_key"

// subjectSecretSize is the length of the subject-key secret: SHA-256's block
// is 64 bytes, its output 32; 32 random bytes are as strong as the hash.
const subjectSecretSize = 32

// SubjectKeyer makes the subject keys of one incident's people. It is not
// safe for concurrent use: make one per goroutine.
type SubjectKeyer struct {
	mac hash.Hash // nil: an incident scoped before keyed keys
	sum []byte
	in  []byte // the identity, copied: no allocation per key
}

// Key is the subject key of an identity (subjects.Person.Key). It is never
// all zero but with odds of 2^-128.
func (k *SubjectKeyer) Key(identity string) [16]byte {
	var out [16]byte
	if k.mac == nil {
		s := sha256.Sum256([]byte(identity))
		copy(out[:], s[:])
		return out
	}
	k.in = append(k.in[:0], identity...)
	k.mac.Reset()
	k.mac.Write(k.in)
	k.sum = k.mac.Sum(k.sum[:0])
	copy(out[:], k.sum)
	return out
}

// Keyed reports whether the keys are keyed with the store's secret (false
// for an incident that kept its keys from before).
func (k *SubjectKeyer) Keyed() bool { return k.mac != nil }

func newKeyer(scheme int, secret []byte) *SubjectKeyer {
	if scheme == keySchemeSHA256 {
		return &SubjectKeyer{}
	}
	return &SubjectKeyer{mac: hmac.New(sha256.New, secret), sum: make([]byte, 0, sha256.Size)}
}

// SubjectKeyer returns the keyer of an incident's people: what a snapshot
// started now for the incident keys them with.
func (s *Store) SubjectKeyer(ctx context.Context, incidentID string) (*SubjectKeyer, error) {
	scheme, err := s.keyScheme(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	return newKeyer(scheme, s.subjectSecret), nil
}

// keyScheme is how a new snapshot of the incident keys its people: as the
// incident's earlier snapshots did if any was written before keyed keys,
// keyed otherwise.
func (s *Store) keyScheme(ctx context.Context, incidentID string) (int, error) {
	legacy, err := s.db.legacyKeyed(ctx, incidentID)
	if err != nil {
		return 0, fmt.Errorf("read how %s's people are keyed: %w", incidentID, err)
	}
	if legacy {
		return keySchemeSHA256, nil
	}
	if s.subjectSecret == nil {
		return 0, s.secretErr
	}
	return keySchemeHMAC, nil
}

// loadSubjectSecret reads the subject-key secret, making it on the first
// open. A secret that cannot be opened (sealed, and the store opened without
// its key) is not an error here: only writing a snapshot needs it, and that
// fails with secretErr.
func (s *Store) loadSubjectSecret(ctx context.Context) error {
	sctx := seal.Context("store_secrets", "value", subjectSecretName)
	for range 3 {
		value, keyID, found, err := s.db.secret(ctx, subjectSecretName)
		if err != nil {
			return fmt.Errorf("read the subject-key secret: %w", err)
		}
		if !found {
			raw, err := newSubjectSecret()
			if err != nil {
				return err
			}
			stored, kid, err := s.sealSecret(raw, sctx)
			if err != nil {
				return err
			}
			// Two processes opening a new store at once: the first
			// insert wins, and both read it back.
			if err := s.db.addSecret(ctx, subjectSecretName, stored, kid, s.now()); err != nil {
				return fmt.Errorf("store the subject-key secret: %w", err)
			}
			continue
		}
		raw, err := s.keys.OpenBytesFor(nil, value, sctx)
		if err != nil {
			s.secretErr = fmt.Errorf("the store's subject-key secret cannot be opened, so no snapshot can be written (open the store with the keys it was made with, BREACHCTL_ENCRYPTION_KEYS): %w", err)
			return nil
		}
		if len(raw) != subjectSecretSize {
			s.secretErr = fmt.Errorf("the store's subject-key secret is %d bytes, want %d", len(raw), subjectSecretSize)
			return nil
		}
		if s.keys != nil && keyID != s.keys.PrimaryID() {
			stored, kid, err := s.sealSecret(raw, sctx)
			if err == nil {
				err = s.db.swapSecret(ctx, subjectSecretName, value, stored, kid, s.now())
			}
			if err != nil {
				return fmt.Errorf("seal the subject-key secret under key %s: %w", s.keys.PrimaryID(), err)
			}
		}
		s.subjectSecret = raw
		return nil
	}
	return errors.New("the subject-key secret was stored but cannot be read back")
}

func (s *Store) sealSecret(raw []byte, sctx string) (stored []byte, keyID string, err error) {
	if s.keys == nil {
		return raw, "", nil
	}
	stored, err = s.keys.SealBytesFor(nil, raw, sctx)
	if err != nil {
		return nil, "", fmt.Errorf("seal the subject-key secret: %w", err)
	}
	return stored, s.keys.PrimaryID(), nil
}

// newSubjectSecret makes 32 random bytes that do not read as a sealed value
// when kept plain.
func newSubjectSecret() ([]byte, error) {
	raw := make([]byte, subjectSecretSize)
	for {
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("make the subject-key secret: %w", err)
		}
		if !seal.IsSealed(raw) {
			return raw, nil
		}
	}
}

// --- SQLite

func (d *sqliteDB) secret(ctx context.Context, name string) (value []byte, keyID string, found bool, err error) {
	err = d.w.QueryRowContext(ctx, `SELECT value, key_id FROM store_secrets WHERE name = ?`, name).Scan(&value, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", false, nil
	}
	return value, keyID, err == nil, err
}

func (d *sqliteDB) addSecret(ctx context.Context, name string, value []byte, keyID string, at time.Time) error {
	_, err := d.w.ExecContext(ctx, `INSERT INTO store_secrets (name, value, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, value, keyID, at.Format(sqliteTime), at.Format(sqliteTime))
	return err
}

func (d *sqliteDB) swapSecret(ctx context.Context, name string, old, value []byte, keyID string, at time.Time) error {
	_, err := d.w.ExecContext(ctx, `UPDATE store_secrets SET value = ?, key_id = ?, updated_at = ? WHERE name = ? AND value = ?`,
		value, keyID, at.Format(sqliteTime), name, old)
	return err
}

func (d *sqliteDB) legacyKeyed(ctx context.Context, incidentID string) (bool, error) {
	var n int
	err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM snapshots WHERE incident_id = ? AND key_scheme = 0 AND committed_at IS NOT NULL`,
		incidentID).Scan(&n)
	return n > 0, err
}

// --- PostgreSQL

func (d *pgDB) secret(ctx context.Context, name string) (value []byte, keyID string, found bool, err error) {
	err = d.pool.QueryRow(ctx, `SELECT value, key_id FROM store_secrets WHERE name = $1`, name).Scan(&value, &keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", false, nil
	}
	return value, keyID, err == nil, err
}

func (d *pgDB) addSecret(ctx context.Context, name string, value []byte, keyID string, at time.Time) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO store_secrets (name, value, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (name) DO NOTHING`, name, value, keyID, at)
	return err
}

func (d *pgDB) swapSecret(ctx context.Context, name string, old, value []byte, keyID string, at time.Time) error {
	_, err := d.pool.Exec(ctx, `UPDATE store_secrets SET value = $3, key_id = $4, updated_at = $5 WHERE name = $1 AND value = $2`,
		name, old, value, keyID, at)
	return err
}

func (d *pgDB) legacyKeyed(ctx context.Context, incidentID string) (bool, error) {
	var legacy bool
	err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM snapshots WHERE incident_id = $1 AND key_scheme = 0 AND committed_at IS NOT NULL)`,
		incidentID).Scan(&legacy)
	return legacy, err
}
