package store

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/breachctl/breachctl/internal/seal"
)

// execSQL runs a statement on either engine, as someone with the database
// would.
func execSQL(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	switch db := s.db.(type) {
	case *sqliteDB:
		if _, err := db.w.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	case *pgDB:
		if _, err := db.pool.Exec(context.Background(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// A sealed value is bound to its row: copied to another row (another
// notice's content, another snapshot's people), it does not open there.
// A value sealed before contexts still opens, and is counted.
func TestSealedValuesDoNotOpenInAnotherRow(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		keys := testKeyring(t, newEntry(t, "k1"))
		s, err := Open(ctx, dsn, WithKeys(keys))
		must(t, err)
		defer s.Close()

		a := testNotice("INC-CTX", "rule-a", "individuals")
		a.Content = []byte(`{"text":"notice a"}`)
		b := testNotice("INC-CTX", "rule-b", "authority")
		b.Content = []byte(`{"text":"notice b"}`)
		createNotice(t, s, a)
		createNotice(t, s, b)
		execSQL(t, s, `UPDATE notices SET content = (SELECT content FROM notices WHERE id = $1) WHERE id = $2`, a.ID, b.ID)
		if _, err := s.Notice(ctx, b.ID); !errors.Is(err, seal.ErrTampered) {
			t.Fatalf("notice b with a's content: %v, want ErrTampered", err)
		}
		if got, err := s.Notice(ctx, a.ID); err != nil || !bytes.Equal(got.Content, a.Content) {
			t.Fatalf("notice a: %q, %v", got.Content, err)
		}

		snap := func(incident string, payload string) string {
			w, err := s.NewSnapshot(ctx, incident, "d")
			must(t, err)
			_, _, err = w.Add(ctx, []Subject{{Key: key(1), Jurisdiction: "DE", Categories: 1, Locale: "de", Payload: []byte(payload)}})
			must(t, err)
			info, err := w.Commit(ctx)
			must(t, err)
			return info.ID
		}
		s1, s2 := snap("INC-ONE", `{"email":"one@example.com"}`), snap("INC-TWO", `{"email":"two@example.com"}`)
		execSQL(t, s, `UPDATE snapshot_subjects SET payload = (SELECT p.payload FROM snapshot_subjects p JOIN snapshots n ON n.seq = p.snapshot_seq WHERE n.id = $1)
			WHERE snapshot_seq = (SELECT seq FROM snapshots WHERE id = $2)`, s1, s2)
		if _, err := s.ReadSnapshot(ctx, s2, [16]byte{}, 10); !errors.Is(err, seal.ErrTampered) {
			t.Fatalf("snapshot two with one's people: %v, want ErrTampered", err)
		}

		// Sealed before contexts (bound to the key ID only): still read.
		old, err := keys.SealBytes(nil, []byte(`{"text":"sealed before contexts"}`))
		must(t, err)
		execSQL(t, s, `UPDATE notices SET content = $1 WHERE id = $2`, old, b.ID)
		before := keys.LegacyOpens()
		if got, err := s.Notice(ctx, b.ID); err != nil || string(got.Content) != `{"text":"sealed before contexts"}` {
			t.Fatalf("legacy content: %q, %v", got.Content, err)
		}
		if keys.LegacyOpens() != before+1 {
			t.Fatalf("legacy opens %d, want %d", keys.LegacyOpens(), before+1)
		}
	})
}
