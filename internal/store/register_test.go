package store

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestRegisterEntries: a closed incident's record is kept, replaced by a
// later write of the same incident, and read back oldest first.
func TestRegisterEntries(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		if err := s.PutRegisterEntry(ctx, "INC-20261123-BBBBB", t0.Add(time.Hour), []byte(`{"id":"INC-20261123-BBBBB"}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRegisterEntry(ctx, "INC-20261123-AAAAA", t0, []byte(`{"id":"INC-20261123-AAAAA","v":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRegisterEntry(ctx, "INC-20261123-AAAAA", t0, []byte(`{"id":"INC-20261123-AAAAA","v":2}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRegisterEntry(ctx, "", t0, []byte(`{}`)); err == nil {
			t.Fatal("an entry without an incident ID was taken")
		}
		got, err := s.RegisterEntries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].IncidentID != "INC-20261123-AAAAA" || !bytes.Contains(got[0].Status, []byte(`"v":2`)) ||
			!got[0].ClosedAt.Equal(t0) || got[1].IncidentID != "INC-20261123-BBBBB" {
			t.Fatalf("entries: %+v", got)
		}
	})
}

// TestRegisterEntriesSealed: with keys, the record (incident text) is not
// readable in the database, and reads back whole.
func TestRegisterEntriesSealed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := Open(ctx, dsn, WithKeys(testKeyring(t, newEntry(t, "k1"))))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		secret := []byte(`{"title":"register-secret-title-7f3a"}`)
		if err := s.PutRegisterEntry(ctx, "INC-20261123-SEALD", time.Now(), secret); err != nil {
			t.Fatal(err)
		}
		var raw []byte
		switch d := s.db.(type) {
		case *sqliteDB:
			err = d.r.QueryRowContext(ctx, `SELECT status FROM register_entries WHERE incident_id = 'INC-20261123-SEALD'`).Scan(&raw)
		case *pgDB:
			err = d.pool.QueryRow(ctx, `SELECT status FROM register_entries WHERE incident_id = 'INC-20261123-SEALD'`).Scan(&raw)
		}
		if err != nil || bytes.Contains(raw, []byte("register-secret")) {
			t.Fatalf("stored %q (%v)", raw, err)
		}
		got, err := s.RegisterEntries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			if e.IncidentID == "INC-20261123-SEALD" && bytes.Equal(e.Status, secret) {
				return
			}
		}
		t.Fatalf("entries: %+v", got)
	})
}
