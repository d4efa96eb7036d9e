package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/testpg"
)

// dialects is every database the store runs on. Each test runs against all
// of them: a SQLite file in t.TempDir(), and a throwaway PostgreSQL database
// (testpg: BREACHCTL_TEST_POSTGRES or the machine's server; unreachable is a
// failure, not a skip).
var dialects = []struct {
	name string
	dsn  func(t testing.TB) string
}{
	{SQLite, func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "breachctl.db") }},
	{Postgres, testpg.DB},
}

func forEachDialect(t *testing.T, f func(t *testing.T, dsn string)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { f(t, d.dsn(t)) })
	}
}

// openStore opens the store under test; with BREACHCTL_TEST_STORE_SEALED=1
// every test runs with a keyring, so sealing changes no behaviour.
func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	var opts []Option
	if os.Getenv("BREACHCTL_TEST_STORE_SEALED") == "1" {
		opts = append(opts, WithKeys(testKeyring(t, sealedTestsKey)))
	}
	s, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawInt runs a query returning one integer on the store's own connection,
// for looking under the API. Placeholders are written $1.
func rawInt(t *testing.T, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	var err error
	switch db := s.db.(type) {
	case *sqliteDB:
		err = db.w.QueryRow(q, args...).Scan(&n)
	case *pgDB:
		err = db.pool.QueryRow(context.Background(), q, args...).Scan(&n)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func rawExec(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	var err error
	switch db := s.db.(type) {
	case *sqliteDB:
		_, err = db.w.Exec(q, args...)
	case *pgDB:
		_, err = db.pool.Exec(context.Background(), q, args...)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func key(n uint64) [16]byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], n)
	binary.BigEndian.PutUint64(k[8:], ^n)
	return k
}

func subject(n uint64, jur string, cats uint64) Subject {
	return Subject{Key: key(n), Jurisdiction: jur, Categories: cats, Locale: "en", Payload: []byte("p" + strconv.FormatUint(n, 10))}
}

// readAll pages through a snapshot, checking key order across pages.
func readAll(t *testing.T, s *Store, id string, limit int) []Subject {
	t.Helper()
	var all []Subject
	var after [16]byte
	for {
		page, err := s.ReadSnapshot(context.Background(), id, after, limit)
		if err != nil {
			t.Fatalf("ReadSnapshot: %v", err)
		}
		for _, p := range page {
			if bytes.Compare(p.Key[:], after[:]) <= 0 {
				t.Fatalf("key %x after %x: not in ascending order", p.Key, after)
			}
			after = p.Key
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
	}
}

func TestMigrationsApplyOnceAndReopen(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ms, err := migrations(strings.SplitN(t.Name(), "/", 2)[1])
		if err != nil {
			t.Fatal(err)
		}
		s := openStore(t, dsn)
		if got := rawInt(t, s, `SELECT count(*) FROM schema_migrations`); got != int64(len(ms)) {
			t.Fatalf("schema_migrations has %d rows, want %d", got, len(ms))
		}
		if got := rawInt(t, s, `SELECT max(version) FROM schema_migrations`); got != int64(ms[len(ms)-1].version) {
			t.Fatalf("schema version %d, want %d", got, ms[len(ms)-1].version)
		}
		// Something to keep across reopen.
		w, err := s.NewSnapshot(context.Background(), "INC-1", "first")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.Add(context.Background(), []Subject{subject(1, "DE", 1)}); err != nil {
			t.Fatal(err)
		}
		info, err := w.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		for range 2 {
			s2 := openStore(t, dsn)
			if got := rawInt(t, s2, `SELECT count(*) FROM schema_migrations`); got != int64(len(ms)) {
				t.Fatalf("after reopen schema_migrations has %d rows, want %d", got, len(ms))
			}
			if _, err := s2.Snapshot(context.Background(), info.ID); err != nil {
				t.Fatalf("snapshot lost across reopen: %v", err)
			}
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestNewerSchemaIsRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		latest := rawInt(t, s, `SELECT max(version) FROM schema_migrations`)
		future := latest + 41
		switch s.Dialect() {
		case SQLite:
			rawExec(t, s, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'later')`, future)
		case Postgres:
			rawExec(t, s, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, future)
		}
		_ = s.Close()

		s2, err := Open(context.Background(), dsn)
		if err == nil {
			_ = s2.Close()
			t.Fatal("Open succeeded on a database with a newer schema")
		}
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("error %v does not wrap ErrSchemaTooNew", err)
		}
		for _, v := range []int64{future, latest} {
			if !strings.Contains(err.Error(), fmt.Sprint(v)) {
				t.Errorf("error %q does not name version %d", err, v)
			}
		}
	})
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	names := map[string][]string{}
	for _, d := range dialects {
		ms, err := migrations(d.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			names[d.name] = append(names[d.name], m.name)
		}
	}
	if !slices.Equal(names[SQLite], names[Postgres]) {
		t.Errorf("migrations differ: sqlite %v, postgres %v", names[SQLite], names[Postgres])
	}
}

func TestDuplicatesMerge(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-7", "export of 2026-05-01")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(ctx)

		first := subject(1, "DE", 1<<0)
		first.Locale, first.Payload = "de-DE", []byte("first")
		again := subject(1, "FR", 1<<2)
		again.Locale, again.Payload = "fr-FR", []byte("again")
		batch1 := []Subject{
			first,
			subject(2, "US-CA", 1<<1),
			again,                   // duplicate within the batch
			subject(1, "DE", 1<<63), // and once more
			subject(3, "DE", 1<<3),
		}
		added, merged, err := w.Add(ctx, batch1)
		if err != nil {
			t.Fatal(err)
		}
		if added != 3 || merged != 2 {
			t.Errorf("batch 1: added %d merged %d, want 3 and 2", added, merged)
		}

		late := subject(2, "BR", 1<<4) // across batches
		late.Payload = []byte("late")
		batch2 := []Subject{
			late,
			subject(4, "BR", 1<<5),
			subject(4, "BR", 1<<6), // within, of a new key
			subject(3, "DE", 1<<3), // across, nothing new
			subject(5, "DE", 0),
		}
		added, merged, err = w.Add(ctx, batch2)
		if err != nil {
			t.Fatal(err)
		}
		if added != 2 || merged != 3 {
			t.Errorf("batch 2: added %d merged %d, want 2 and 3", added, merged)
		}

		info, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.People != 5 || info.Merged != 5 {
			t.Errorf("People %d Merged %d, want 5 and 5", info.People, info.Merged)
		}

		got := readAll(t, s, info.ID, 100)
		want := map[[16]byte]Subject{
			key(1): {Key: key(1), Jurisdiction: "DE", Categories: 1<<0 | 1<<2 | 1<<63, Locale: "de-DE", Payload: []byte("first")},
			key(2): {Key: key(2), Jurisdiction: "US-CA", Categories: 1<<1 | 1<<4, Locale: "en", Payload: []byte("p2")},
			key(3): {Key: key(3), Jurisdiction: "DE", Categories: 1 << 3, Locale: "en", Payload: []byte("p3")},
			key(4): {Key: key(4), Jurisdiction: "BR", Categories: 1<<5 | 1<<6, Locale: "en", Payload: []byte("p4")},
			key(5): {Key: key(5), Jurisdiction: "DE", Categories: 0, Locale: "en", Payload: []byte("p5")},
		}
		if len(got) != len(want) {
			t.Fatalf("read %d subjects, want %d", len(got), len(want))
		}
		for _, g := range got {
			w := want[g.Key]
			if g.Jurisdiction != w.Jurisdiction || g.Categories != w.Categories || g.Locale != w.Locale || !bytes.Equal(g.Payload, w.Payload) {
				t.Errorf("subject %x = %+v, want %+v", g.Key, g, w)
			}
		}
	})
}

func TestCounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-2", "")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(ctx)
		var batch []Subject
		wantJ := map[string]int{}
		wantB := map[int]int{}
		jurs := []string{"DE", "FR", "US-CA", "BR"}
		for i := range 1000 {
			cats := uint64(i)*0x9e3779b97f4a7c15 ^ uint64(i)<<60 // every bit, including 63, for some
			j := jurs[i%len(jurs)]
			if i%7 == 0 {
				j = "DE"
			}
			batch = append(batch, subject(uint64(i+1), j, cats))
			wantJ[j]++
			for b := range 64 {
				if cats&(1<<b) != 0 {
					wantB[b]++
				}
			}
		}
		// A duplicate that adds a bit: counted once, with the bit.
		batch = append(batch, subject(1, "FR", 1<<63))
		if batch[0].Categories&(1<<63) == 0 {
			wantB[63]++
		}
		for i := 0; i < len(batch); i += 300 {
			if _, _, err := w.Add(ctx, batch[i:min(i+300, len(batch))]); err != nil {
				t.Fatal(err)
			}
		}
		info, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.People != 1000 || info.Merged != 1 {
			t.Errorf("People %d Merged %d, want 1000 and 1", info.People, info.Merged)
		}
		if !maps.Equal(info.ByJurisdiction, wantJ) {
			t.Errorf("ByJurisdiction %v, want %v", info.ByJurisdiction, wantJ)
		}
		if !maps.Equal(info.ByCategoryBit, wantB) {
			t.Errorf("ByCategoryBit %v, want %v", info.ByCategoryBit, wantB)
		}
		if _, ok := wantB[63]; !ok {
			t.Fatal("test data has no subject with bit 63")
		}

		// Snapshot and Snapshots say the same as Commit did.
		again, err := s.Snapshot(ctx, info.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameInfo(again, info) {
			t.Errorf("Snapshot = %+v, Commit said %+v", again, info)
		}
	})
}

func sameInfo(a, b SnapshotInfo) bool {
	return a.ID == b.ID && a.IncidentID == b.IncidentID && a.Description == b.Description &&
		a.CreatedAt.Equal(b.CreatedAt) && a.CommittedAt.Equal(b.CommittedAt) &&
		a.People == b.People && a.Merged == b.Merged &&
		maps.Equal(a.ByJurisdiction, b.ByJurisdiction) && maps.Equal(a.ByCategoryBit, b.ByCategoryBit)
}

func TestAbortLeavesNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-3", "to be dropped")
		if err != nil {
			t.Fatal(err)
		}
		var batch []Subject
		for i := range 500 {
			batch = append(batch, subject(uint64(i+1), "DE", 3))
		}
		if _, _, err := w.Add(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"snapshots", "snapshot_subjects", "snapshot_jurisdiction_counts", "snapshot_category_counts"} {
			if n := rawInt(t, s, "SELECT count(*) FROM "+table); n != 0 {
				t.Errorf("%s has %d rows after Abort", table, n)
			}
		}
		if _, _, err := w.Add(ctx, batch[:1]); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("Add after Abort: %v, want a conflict", err)
		}
		if _, err := w.Commit(ctx); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("Commit after Abort: %v, want a conflict", err)
		}
		if list, err := s.Snapshots(ctx, "INC-3"); err != nil || len(list) != 0 {
			t.Errorf("Snapshots after Abort: %v, %v", list, err)
		}
	})
}

func TestAbortAfterCommitKeepsTheSnapshot(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-4", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.Add(ctx, []Subject{subject(1, "DE", 1)}); err != nil {
			t.Fatal(err)
		}
		info, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(ctx); err != nil {
			t.Fatalf("Abort after Commit: %v", err)
		}
		if _, err := s.Snapshot(ctx, info.ID); err != nil {
			t.Fatalf("Abort after Commit dropped the snapshot: %v", err)
		}
		if _, _, err := w.Add(ctx, []Subject{subject(2, "DE", 1)}); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("Add after Commit: %v, want a conflict", err)
		}
		if _, err := w.Commit(ctx); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("second Commit: %v, want a conflict", err)
		}
	})
}

func TestReadSnapshotPages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-5", "")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(ctx)
		const n = 1000
		want := map[[16]byte]bool{}
		var batch []Subject
		for range n {
			var k [16]byte
			_, _ = rand.Read(k[:])
			k[0] |= 1 // never zero
			if want[k] {
				continue
			}
			want[k] = true
			batch = append(batch, Subject{Key: k, Jurisdiction: "DE", Locale: "de", Payload: k[:4]})
		}
		// Extremes of the key space: bytes compared unsigned on both dialects.
		for _, k := range [][16]byte{{0xff, 0xff}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, {0x80}} {
			want[k] = true
			batch = append(batch, Subject{Key: k, Jurisdiction: "DE", Locale: "de", Payload: []byte{1}})
		}
		if _, _, err := w.Add(ctx, batch); err != nil {
			t.Fatal(err)
		}
		info, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total := len(want)
		for _, limit := range []int{1, 7, 300, total, total + 1} {
			got := readAll(t, s, info.ID, limit)
			seen := map[[16]byte]bool{}
			for _, p := range got {
				if seen[p.Key] {
					t.Fatalf("limit %d: key %x read twice", limit, p.Key)
				}
				seen[p.Key] = true
			}
			if !maps.Equal(seen, want) {
				t.Fatalf("limit %d: read %d distinct keys, want exactly the %d written", limit, len(seen), len(want))
			}
			keys := slices.Collect(maps.Keys(want))
			slices.SortFunc(keys, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
			if got[0].Key != keys[0] || got[len(got)-1].Key != keys[len(keys)-1] {
				t.Fatalf("limit %d: first/last key %x/%x, want %x/%x", limit, got[0].Key, got[len(got)-1].Key, keys[0], keys[len(keys)-1])
			}
		}
		// A boundary in the middle, by hand: the next page starts right after.
		page1, err := s.ReadSnapshot(ctx, info.ID, [16]byte{}, total/2)
		if err != nil {
			t.Fatal(err)
		}
		page2, err := s.ReadSnapshot(ctx, info.ID, page1[len(page1)-1].Key, total)
		if err != nil {
			t.Fatal(err)
		}
		if len(page1)+len(page2) != total || bytes.Compare(page1[len(page1)-1].Key[:], page2[0].Key[:]) >= 0 {
			t.Fatalf("pages of %d and %d around the middle, want %d in all, in order", len(page1), len(page2), total)
		}
		if _, err := s.ReadSnapshot(ctx, info.ID, [16]byte{}, 0); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("limit 0: %v, want invalid", err)
		}
	})
}

func TestUncommittedIsNotReadable(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-6", "")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(ctx)
		if _, _, err := w.Add(ctx, []Subject{subject(1, "DE", 1), subject(2, "FR", 2)}); err != nil {
			t.Fatal(err)
		}
		id := w.(*snapshotWriter).id
		if _, err := s.ReadSnapshot(ctx, id, [16]byte{}, 10); !errors.Is(err, ErrNotFound) || !apperr.Is(err, apperr.NotFound) {
			t.Errorf("ReadSnapshot of an uncommitted snapshot: %v, want ErrNotFound", err)
		}
		if _, err := s.Snapshot(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Snapshot of an uncommitted snapshot: %v, want ErrNotFound", err)
		}
		if list, err := s.Snapshots(ctx, "INC-6"); err != nil || len(list) != 0 {
			t.Errorf("Snapshots lists an uncommitted snapshot: %v, %v", list, err)
		}
		if _, err := s.Snapshot(ctx, "snap_nonesuch"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Snapshot of an unknown ID: %v, want ErrNotFound", err)
		}

		if _, err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ReadSnapshot(ctx, id, [16]byte{}, 10); err != nil || len(got) != 2 {
			t.Errorf("after Commit: %d subjects, %v", len(got), err)
		}
	})
}

func TestSnapshotsNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		clock := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		s.now = func() time.Time { clock = clock.Add(time.Minute); return clock }
		var ids []string
		for i, inc := range []string{"INC-8", "INC-9", "INC-8", "INC-8"} {
			w, err := s.NewSnapshot(ctx, inc, fmt.Sprintf("source %d", i))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := w.Add(ctx, []Subject{subject(uint64(i+1), "DE", 1)}); err != nil {
				t.Fatal(err)
			}
			info, err := w.Commit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(info.ID, "snap_") || len(info.ID) != len("snap_")+36 {
				t.Errorf("snapshot ID %q, want snap_ and a UUID", info.ID)
			}
			if inc == "INC-8" {
				ids = append(ids, info.ID)
			}
		}
		list, err := s.Snapshots(ctx, "INC-8")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, info := range list {
			got = append(got, info.ID)
			if info.IncidentID != "INC-8" || info.People != 1 || info.ByJurisdiction["DE"] != 1 || info.ByCategoryBit[0] != 1 {
				t.Errorf("listed %+v", info)
			}
			if info.CreatedAt.Location() != time.UTC || !info.CommittedAt.After(info.CreatedAt) {
				t.Errorf("times %v, %v", info.CreatedAt, info.CommittedAt)
			}
		}
		slices.Reverse(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("Snapshots = %v, want newest first %v", got, ids)
		}
	})
}

func TestAddRejectsTheZeroKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		w, err := s.NewSnapshot(ctx, "INC-10", "")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(ctx)
		_, _, err = w.Add(ctx, []Subject{subject(1, "DE", 1), {Jurisdiction: "DE"}})
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "batch[1].Key") {
			t.Errorf("zero key: %v, want invalid naming batch[1].Key", err)
		}
		// Nothing of the refused batch was stored.
		info, err := w.Commit(ctx)
		if err != nil || info.People != 0 {
			t.Errorf("after a refused batch: %+v, %v", info, err)
		}
	})
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "breachctl.db")
	s := openStore(t, path) // a bare path works too
	if s.Dialect() != SQLite {
		t.Fatalf("dialect %q", s.Dialect())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	var mode string
	if err := s.db.(*sqliteDB).w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
	var fk int
	if err := s.db.(*sqliteDB).w.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d, %v", fk, err)
	}
}

func TestInterleavedWriters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		a, err := s.NewSnapshot(ctx, "INC-11", "a")
		if err != nil {
			t.Fatal(err)
		}
		defer a.Abort(ctx)
		b, err := s.NewSnapshot(ctx, "INC-11", "b")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Abort(ctx)
		// The same keys in both, in batches that alternate: each snapshot
		// counts and merges only its own.
		for round := range 4 {
			var ba, bb []Subject
			for i := range 2500 {
				n := uint64(round*2500 + i + 1)
				ba = append(ba, subject(n, "DE", 1))
				bb = append(bb, subject(n, "FR", 2))
				if i%10 == 0 {
					bb = append(bb, subject(n, "FR", 4))
				}
			}
			if added, merged, err := a.Add(ctx, ba); err != nil || added != 2500 || merged != 0 {
				t.Fatalf("a: added %d merged %d, %v", added, merged, err)
			}
			if added, merged, err := b.Add(ctx, bb); err != nil || added != 2500 || merged != 250 {
				t.Fatalf("b: added %d merged %d, %v", added, merged, err)
			}
		}
		ia, err := a.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ib, err := b.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ia.People != 10000 || !maps.Equal(ia.ByJurisdiction, map[string]int{"DE": 10000}) || !maps.Equal(ia.ByCategoryBit, map[int]int{0: 10000}) {
			t.Errorf("a: %+v", ia)
		}
		if ib.People != 10000 || ib.Merged != 1000 || !maps.Equal(ib.ByJurisdiction, map[string]int{"FR": 10000}) ||
			!maps.Equal(ib.ByCategoryBit, map[int]int{1: 10000, 2: 1000}) {
			t.Errorf("b: %+v", ib)
		}
		if got := readAll(t, s, ib.ID, 3000); len(got) != 10000 || got[0].Jurisdiction != "FR" {
			t.Errorf("b reads %d subjects", len(got))
		}
	})
}

// fakeEngine is an engine whose upsert says what the test wants.
type fakeEngine struct {
	engine
	upsertErr error
	aborted   bool
}

func (f *fakeEngine) upsert(context.Context, int64, []Subject) (int, error) { return 0, f.upsertErr }
func (f *fakeEngine) abort(context.Context, int64) error                    { f.aborted = true; return nil }
func (f *fakeEngine) touchSnapshot(context.Context, int64, time.Time) error { return nil }

var _ engine = (*fakeEngine)(nil)

func TestWriterAfterAPartialBatchCanOnlyAbort(t *testing.T) {
	ctx := context.Background()
	f := &fakeEngine{upsertErr: fmt.Errorf("%w: connection lost", errPartialBatch)}
	w := &snapshotWriter{db: f, now: time.Now, id: "snap_x"}
	if _, _, err := w.Add(ctx, []Subject{subject(1, "DE", 1)}); err == nil {
		t.Fatal("Add succeeded")
	}
	if _, _, err := w.Add(ctx, []Subject{subject(2, "DE", 1)}); !apperr.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "Abort") {
		t.Errorf("Add after a partial batch: %v, want a conflict telling to Abort", err)
	}
	if _, err := w.Commit(ctx); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Commit after a partial batch: %v, want a conflict", err)
	}
	if err := w.Abort(ctx); err != nil || !f.aborted {
		t.Errorf("Abort: %v, aborted %v", err, f.aborted)
	}

	// Any other error leaves the writer usable: the batch was rolled back.
	f = &fakeEngine{upsertErr: errors.New("deadline exceeded")}
	w = &snapshotWriter{db: f, now: time.Now, id: "snap_y"}
	_, _, _ = w.Add(ctx, []Subject{subject(1, "DE", 1)})
	f.upsertErr = nil
	if _, _, err := w.Add(ctx, []Subject{subject(1, "DE", 1)}); err != nil {
		t.Errorf("Add after a failed batch: %v", err)
	}
}

// TestPostgresSmallPool runs writers that split batches across connections
// on a pool too small for all of them at once, with readers besides: nothing
// may wait for ever.
func TestPostgresSmallPool(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := url.Parse(testpg.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "2")
	u.RawQuery = q.Encode()
	s := openStore(t, u.String())
	done := make(chan error, 4)
	for i := range 4 {
		go func() {
			w, err := s.NewSnapshot(ctx, "INC-12", "")
			if err != nil {
				done <- err
				return
			}
			defer w.Abort(ctx)
			var batch []Subject
			for j := range 5000 {
				batch = append(batch, subject(uint64(j+1), "DE", 1))
			}
			for range 3 {
				if _, _, err := w.Add(ctx, batch); err != nil {
					done <- err
					return
				}
				if _, err := s.Snapshots(ctx, "INC-12"); err != nil {
					done <- err
					return
				}
			}
			info, err := w.Commit(ctx)
			if err == nil && (info.People != 5000 || info.Merged != 10000) {
				err = fmt.Errorf("writer %d: %d people, %d merged", i, info.People, info.Merged)
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// A data directory and database files others could read, as an older
// release (or a loose umask) left them, are made private on open and the
// fix is logged; the -wal and -shm files SQLite makes are private too.
func TestSQLiteOpenMakesAnExistingDataDirPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "breachctl.db")
	s, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := s.NewSnapshot(context.Background(), "INC-1", "x")
	_, _, _ = w.Add(context.Background(), []Subject{subject(1, "DE", 1)})
	_ = s.Close()
	mustChmod := func(p string, m os.FileMode) {
		if err := os.Chmod(p, m); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	mustChmod(dir, 0o755)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		mustChmod(p, 0o644)
	}
	var logged strings.Builder
	s, err = Open(context.Background(), "sqlite:"+path, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err = s.NewSnapshot(context.Background(), "INC-1", "y")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Add(context.Background(), []Subject{subject(2, "DE", 1)}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	if !strings.Contains(logged.String(), "made private") || !strings.Contains(logged.String(), "was=0755") {
		t.Errorf("log = %q", logged.String())
	}
}
