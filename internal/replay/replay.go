// Package replay refuses a signed request that was taken before. Every
// signed endpoint (Slack's requests, SendGrid's Event Webhook, the alert
// intake) checks that a signature's timestamp is within a few minutes of
// now; within that window the same bytes would verify again, so each
// endpoint also marks what it took in one shared Store and refuses what is
// marked. The store is breachctl's (*store.Store, table intake_signatures),
// so several `serve` processes behind one address refuse each other's
// replays; nothing stored is request text, only a SHA-256 hash.
package replay

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// Store keeps the marks. *store.Store is one (its intake table, which
// every signed endpoint shares); Memory is one for a single process.
type Store interface {
	// MarkIntakeSignature records key and reports whether it is new;
	// marks older than keep are deleted on the way.
	MarkIntakeSignature(ctx context.Context, key [32]byte, now time.Time, keep time.Duration) (fresh bool, err error)
	// ForgetIntakeSignature drops a mark.
	ForgetIntakeSignature(ctx context.Context, key [32]byte) error
}

// Window is the widest a signed timestamp may be from now at any endpoint
// (Slack's and SendGrid's five minutes, the intake's default).
const Window = 5 * time.Minute

// DefaultKeep is how long a mark is kept: a request signed at t verifies
// from t-Window to t+Window, so a replay can come up to 2×Window after the
// first delivery.
const DefaultKeep = 2 * Window

// ErrReplayed is returned by Claim for a request taken before.
var ErrReplayed = errors.New("replayed: a request with this signature was taken already")

// Guard marks requests in a Store. All endpoints must share one Keep (the
// longest any needs): marking also prunes marks older than Keep, whoever
// made them.
type Guard struct {
	Store Store
	// Keep is how long a mark is kept; 0 means DefaultKeep.
	Keep time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Claim marks key as taken. It returns ErrReplayed (wrapped) when key was
// taken within Keep; other errors are the store's. forget drops the mark,
// for a request that failed and may be sent again.
func (g *Guard) Claim(ctx context.Context, key [32]byte) (forget func(context.Context) error, err error) {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	keep := g.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	fresh, err := g.Store.MarkIntakeSignature(ctx, key, now(), keep)
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, ErrReplayed
	}
	return func(ctx context.Context) error { return g.Store.ForgetIntakeSignature(ctx, key) }, nil
}

// Key is the mark of one signed request of a scheme ("slack",
// "sendgrid"): a SHA-256 over the scheme and each part with its length, so
// no two schemes' or two splits' marks are equal. The parts are what the
// signature covers (timestamp and body), not the signature itself: an
// ECDSA signature can be rewritten into another valid one over the same
// bytes.
func Key(scheme string, parts ...[]byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range append([][]byte{[]byte(scheme)}, parts...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Memory is a Store in this process's memory: for tests, and for a handler
// given no shared store (replays across processes then pass).
type Memory struct {
	mu   sync.Mutex
	seen map[[32]byte]time.Time
}

var _ Store = (*Memory)(nil)

// MarkIntakeSignature implements Store.
func (m *Memory) MarkIntakeSignature(_ context.Context, key [32]byte, now time.Time, keep time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[[32]byte]time.Time{}
	}
	for k, at := range m.seen {
		if at.Before(now.Add(-keep)) {
			delete(m.seen, k)
		}
	}
	if _, ok := m.seen[key]; ok {
		return false, nil
	}
	m.seen[key] = now
	return true, nil
}

// ForgetIntakeSignature implements Store.
func (m *Memory) ForgetIntakeSignature(_ context.Context, key [32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seen, key)
	return nil
}
