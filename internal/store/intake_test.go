package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
)

func intakeKey(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func TestIntakeKeyLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		ctx := context.Background()
		k := intakeKey("alertmanager\x00group-1")
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

		id, claimed, err := s.ClaimIntakeKey(ctx, k, "req-a", t0, time.Minute)
		if err != nil || !claimed || id != "" {
			t.Fatalf("first claim = %q, %v, %v; want claimed", id, claimed, err)
		}
		// Another request while a holds it: neither claimed nor an incident.
		if id, claimed, err := s.ClaimIntakeKey(ctx, k, "req-b", t0.Add(time.Second), time.Minute); err != nil || claimed || id != "" {
			t.Fatalf("claim while held = %q, %v, %v; want wait", id, claimed, err)
		}
		if got, err := s.IntakeKeyIncident(ctx, k); err != nil || got != "" {
			t.Fatalf("incident while opening = %q, %v", got, err)
		}
		if err := s.BindIntakeKey(ctx, k, "req-b", "INC-X", t0); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("bind by a non-holder = %v, want conflict", err)
		}
		if err := s.BindIntakeKey(ctx, k, "req-a", "INC-20261123-AAAAA", t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if id, claimed, err := s.ClaimIntakeKey(ctx, k, "req-c", t0.Add(3*time.Second), time.Minute); err != nil || claimed || id != "INC-20261123-AAAAA" {
			t.Fatalf("claim of a bound key = %q, %v, %v; want the incident", id, claimed, err)
		}
		if got, err := s.IntakeKeyIncident(ctx, k); err != nil || got != "INC-20261123-AAAAA" {
			t.Fatalf("incident = %q, %v", got, err)
		}

		// Repeats: the first noted, then one note an hour at most, covering
		// the repeats since the last.
		hour := time.Hour
		want := []struct {
			at        time.Duration
			note      bool
			sinceNote int
		}{
			{time.Minute, true, 1},
			{2 * time.Minute, false, 0},
			{30 * time.Minute, false, 0},
			{61 * time.Minute, true, 3},
			{62 * time.Minute, false, 0},
		}
		for i, w := range want {
			r, err := s.RepeatIntakeKey(ctx, k, "INC-20261123-AAAAA", t0.Add(w.at), hour)
			if err != nil {
				t.Fatal(err)
			}
			if r.Repeats != i+1 || r.Note != w.note || r.SinceNote != w.sinceNote {
				t.Errorf("repeat %d = %+v, want note %v since %d", i+1, r, w.note, w.sinceNote)
			}
		}
		if _, err := s.RepeatIntakeKey(ctx, k, "INC-OTHER", t0, hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("repeat of another incident = %v, want not found", err)
		}

		// Closed: one request replaces the key; the loser sees it claimed.
		if ok, err := s.ReplaceIntakeKey(ctx, k, "INC-20261123-AAAAA", "req-d", t0.Add(2*hour), time.Minute); err != nil || !ok {
			t.Fatalf("replace = %v, %v", ok, err)
		}
		if ok, err := s.ReplaceIntakeKey(ctx, k, "INC-20261123-AAAAA", "req-e", t0.Add(2*hour), time.Minute); err != nil || ok {
			t.Fatalf("second replace = %v, %v; want false", ok, err)
		}
		if err := s.BindIntakeKey(ctx, k, "req-d", "INC-20261123-BBBBB", t0.Add(2*hour)); err != nil {
			t.Fatal(err)
		}
		if r, err := s.RepeatIntakeKey(ctx, k, "INC-20261123-BBBBB", t0.Add(2*hour+time.Second), hour); err != nil || r.Repeats != 1 || !r.Note {
			t.Errorf("first repeat of the new incident = %+v, %v; counts start again", r, err)
		}
	})
}

func TestIntakeClaimLapsesAndReleases(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		ctx := context.Background()
		k := intakeKey("siem\x00k")
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		if _, claimed, err := s.ClaimIntakeKey(ctx, k, "crashed", t0, time.Minute); err != nil || !claimed {
			t.Fatal(claimed, err)
		}
		// Within the lease: wait. After it: taken over.
		if _, claimed, _ := s.ClaimIntakeKey(ctx, k, "next", t0.Add(59*time.Second), time.Minute); claimed {
			t.Fatal("claimed a key within another's lease")
		}
		if _, claimed, err := s.ClaimIntakeKey(ctx, k, "next", t0.Add(61*time.Second), time.Minute); err != nil || !claimed {
			t.Fatalf("lapsed claim not taken over: %v, %v", claimed, err)
		}
		if err := s.BindIntakeKey(ctx, k, "crashed", "INC-LATE", t0.Add(62*time.Second)); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("bind after the lease was taken over = %v, want conflict", err)
		}
		// Release by the holder: the next request claims at once.
		if err := s.ReleaseIntakeKey(ctx, k, "crashed"); err != nil { // not the holder: nothing
			t.Fatal(err)
		}
		if _, claimed, _ := s.ClaimIntakeKey(ctx, k, "third", t0.Add(62*time.Second), time.Minute); claimed {
			t.Fatal("a release by a non-holder let the key go")
		}
		if err := s.ReleaseIntakeKey(ctx, k, "next"); err != nil {
			t.Fatal(err)
		}
		if _, claimed, err := s.ClaimIntakeKey(ctx, k, "third", t0.Add(62*time.Second), time.Minute); err != nil || !claimed {
			t.Fatalf("claim after release = %v, %v", claimed, err)
		}
	})
}

// TestIntakeClaimConcurrent: of many requests claiming one new key at once,
// exactly one holds it.
func TestIntakeClaimConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		k := intakeKey("race")
		now := time.Now()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			holders int
		)
		for i := range 16 {
			wg.Go(func() {
				_, claimed, err := s.ClaimIntakeKey(context.Background(), k, fmt.Sprint("req-", i), now, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if claimed {
					mu.Lock()
					holders++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if holders != 1 {
			t.Fatalf("%d requests hold the key, want 1", holders)
		}
	})
}

func TestIntakeSignatures(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		ctx := context.Background()
		sig := intakeKey("t=1,v1=ab")
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		keep := 10 * time.Minute
		if fresh, err := s.MarkIntakeSignature(ctx, sig, t0, keep); err != nil || !fresh {
			t.Fatalf("first mark = %v, %v", fresh, err)
		}
		if fresh, err := s.MarkIntakeSignature(ctx, sig, t0.Add(9*time.Minute), keep); err != nil || fresh {
			t.Fatalf("replay within the window = %v, %v; want not fresh", fresh, err)
		}
		if err := s.ForgetIntakeSignature(ctx, sig); err != nil {
			t.Fatal(err)
		}
		if fresh, err := s.MarkIntakeSignature(ctx, sig, t0.Add(9*time.Minute), keep); err != nil || !fresh {
			t.Fatalf("mark after forget = %v, %v", fresh, err)
		}
		// Past the window the mark is gone (and so is the row).
		if fresh, err := s.MarkIntakeSignature(ctx, intakeKey("other"), t0.Add(30*time.Minute), keep); err != nil || !fresh {
			t.Fatal(fresh, err)
		}
		if n := rawInt(t, s, `SELECT count(*) FROM intake_signatures`); n != 1 {
			t.Errorf("%d signature rows after the window, want 1", n)
		}
	})
}
