package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/seal"
)

func sha256Key(identity string) [16]byte {
	s := sha256.Sum256([]byte(identity))
	return [16]byte(s[:16])
}

func keyerOf(t *testing.T, s *Store, incidentID string) *SubjectKeyer {
	t.Helper()
	k, err := s.SubjectKeyer(context.Background(), incidentID)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rawSecret(t *testing.T, s *Store) (value []byte, keyID string) {
	t.Helper()
	value, keyID, found, err := s.db.secret(context.Background(), subjectSecretName)
	if err != nil || !found {
		t.Fatalf("secret: found %v, %v", found, err)
	}
	return value, keyID
}

// A subject key is keyed with the store's secret: not the SHA-256 of the
// identity anyone can compute, the same for the same person in every
// snapshot and after reopening, and different in another store.
func TestSubjectKeysAreKeyedPerStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		const ana = "email:ana@example.com"
		s := openStore(t, dsn)
		k := keyerOf(t, s, "INC-1")
		if !k.Keyed() {
			t.Fatal("a new store's keys are not keyed")
		}
		got := k.Key(ana)
		if got == sha256Key(ana) {
			t.Fatal("the subject key is the unkeyed SHA-256 of the identity")
		}
		secret, _ := rawSecret(t, s)
		if s.keys == nil {
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(ana))
			if want := [16]byte(mac.Sum(nil)[:16]); got != want {
				t.Fatalf("key %x, want HMAC-SHA-256 %x", got, want)
			}
		}
		if k.Key("email:bob@example.com") == got || k.Key(ana) != got {
			t.Fatal("keys do not tell people apart, or change for one person")
		}
		w, err := s.NewSnapshot(ctx, "INC-2", "x")
		if err != nil {
			t.Fatal(err)
		}
		if w.Keyer().Key(ana) != got {
			t.Fatal("another incident's snapshot keys the same person differently")
		}
		_ = w.Abort(ctx)
		_ = s.Close()
		if keyerOf(t, openStore(t, dsn), "INC-1").Key(ana) != got {
			t.Fatal("the key changed across reopen")
		}
		other := openStore(t, "sqlite:"+t.TempDir()+"/other.db")
		if keyerOf(t, other, "INC-1").Key(ana) == got {
			t.Fatal("two stores key the same person alike")
		}
	})
}

// Without keys (dev) the secret is kept plain; opened with a keyring it is
// sealed under the primary key, again after a rotation, and keys stay the
// same throughout. Opened without the key that sealed it, the store opens
// but no snapshot can be written.
func TestSubjectSecretIsSealedAndFollowsRotation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		const ana = "id:u1"
		k1, _ := seal.NewEntry("k1")
		k2, _ := seal.NewEntry("k2")

		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		want := keyerOf(t, s, "INC-1").Key(ana)
		if v, kid := rawSecret(t, s); seal.IsSealed(v) || kid != "" || len(v) != subjectSecretSize {
			t.Fatalf("dev secret: sealed %v, key %q, %d bytes", seal.IsSealed(v), kid, len(v))
		}
		_ = s.Close()

		for _, ring := range [][]string{{k1}, {k2, k1}, {k2}} {
			s, err := Open(ctx, dsn, WithKeys(testKeyring(t, ring...)))
			if err != nil {
				t.Fatal(err)
			}
			v, kid := rawSecret(t, s)
			primary := strings.SplitN(ring[0], ":", 2)[0]
			if !seal.IsSealed(v) || kid != primary {
				t.Fatalf("keys %v: secret sealed %v under %q, want under %q", ring, seal.IsSealed(v), kid, primary)
			}
			if got := keyerOf(t, s, "INC-1").Key(ana); got != want {
				t.Fatalf("keys %v: subject key changed", ring)
			}
			_ = s.Close()
		}

		s, err = Open(ctx, dsn) // no keys
		if err != nil {
			t.Fatalf("a sealed store without keys does not open: %v", err)
		}
		defer s.Close()
		if _, err := s.NewSnapshot(ctx, "INC-3", "x"); err == nil || !strings.Contains(err.Error(), "subject-key secret cannot be opened") {
			t.Fatalf("NewSnapshot without the key = %v", err)
		}
	})
}

// An incident scoped before keyed keys keeps its unkeyed keys in its later
// snapshots (its ledger knows its people by them); other incidents of the
// same store are keyed. Upgraded for real: a database at migration 5 with
// a committed snapshot, then opened.
func TestIncidentsScopedBeforeKeepTheirKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		dialect := strings.SplitN(t.Name(), "/", 2)[1]
		ms, err := migrations(dialect)
		if err != nil {
			t.Fatal(err)
		}
		var e engine
		if dialect == SQLite {
			e, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
		} else {
			e, err = openPostgres(ctx, dsn)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := migrate(ctx, e.beginMigration, ms[:5]); err != nil {
			t.Fatal(err)
		}
		old := sha256Key("id:u1")
		at := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
		switch db := e.(type) {
		case *sqliteDB:
			_, err = db.w.Exec(`INSERT INTO snapshots (seq, id, incident_id, description, created_at, committed_at, people) VALUES (1, 'snap_old', 'INC-OLD', 'd', ?, ?, 1)`,
				at.Format(sqliteTime), at.Format(sqliteTime))
			if err == nil {
				_, err = db.w.Exec(`INSERT INTO snapshot_subjects VALUES (1, ?, 'DE', 1, 'de', x'')`, old[:])
			}
		case *pgDB:
			_, err = db.pool.Exec(ctx, `INSERT INTO snapshots (id, incident_id, description, created_at, committed_at, people) VALUES ('snap_old', 'INC-OLD', 'd', $1, $1, 1)`, at)
			if err == nil {
				_, err = db.pool.Exec(ctx, `INSERT INTO snapshot_subjects SELECT seq, $1, 'DE', 1, 'de', '' FROM snapshots`, old[:])
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = e.close()

		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-OLD", "rescoped")
		if err != nil {
			t.Fatal(err)
		}
		if k := w.Keyer(); k.Keyed() || k.Key("id:u1") != old {
			t.Fatal("the rescoping of an incident scoped before keys the same person differently")
		}
		if _, _, err := w.Add(ctx, []Subject{{Key: w.Keyer().Key("id:u1"), Jurisdiction: "DE", Categories: 1, Locale: "de"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if !keyerOf(t, s, "INC-NEW").Keyed() {
			t.Fatal("a new incident of an upgraded store is not keyed")
		}
		if got := rawInt(t, s, `SELECT count(*) FROM snapshots WHERE key_scheme = 1`); got != 0 {
			t.Fatalf("%d snapshots keyed; the old incident's rescoping should keep scheme 0", got)
		}
	})
}

// BenchmarkSubjectKeyer measures the keyed hash of one identity, against the
// unkeyed SHA-256 it replaces:
//
//	go test ./internal/store -run '^$' -bench SubjectKeyer
func BenchmarkSubjectKeyer(b *testing.B) {
	secret := make([]byte, subjectSecretSize)
	for _, c := range []struct {
		name   string
		scheme int
	}{{"hmac", keySchemeHMAC}, {"sha256", keySchemeSHA256}} {
		b.Run(c.name, func(b *testing.B) {
			k := newKeyer(c.scheme, secret)
			b.ReportAllocs()
			for range b.N {
				_ = k.Key("email:user123456@example.com")
			}
		})
	}
}
