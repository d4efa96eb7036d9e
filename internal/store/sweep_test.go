package store

import (
	"context"
	"testing"
	"time"
)

// What a killed scoping left (uncommitted, unwritten for longer than the
// grace period) is swept, people's rows and all; a committed snapshot and
// one still being written are not, and the swept one's writer cannot commit
// it afterwards.
func TestSweepSnapshotsDeletesWhatDeadScopingsLeft(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
		now := t0
		s.now = func() time.Time { return now }
		snap := func(people ...uint64) SnapshotWriter {
			t.Helper()
			w, err := s.NewSnapshot(ctx, "INC-1", "x")
			if err != nil {
				t.Fatal(err)
			}
			var batch []Subject
			for _, n := range people {
				batch = append(batch, subject(n, "DE", 1))
			}
			if len(batch) > 0 {
				if _, _, err := w.Add(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			return w
		}
		done := snap(1, 2)
		info, err := done.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dead := snap(3, 4, 5) // killed after a batch
		empty := snap()       // killed before its first batch
		alive := snap(6)      // still writing: a batch 23 hours later
		old := snap(7)        // from before written_at was kept
		rawExec(t, s, `UPDATE snapshots SET written_at = NULL WHERE id = `+placeholder(s, 1), old.(*snapshotWriter).id)
		now = t0.Add(23 * time.Hour)
		if _, _, err := alive.Add(ctx, []Subject{subject(8, "FR", 2)}); err != nil {
			t.Fatal(err)
		}

		now = t0.Add(SnapshotGrace + time.Hour)
		got, err := s.SweepSnapshots(ctx, SnapshotGrace)
		if err != nil {
			t.Fatal(err)
		}
		if got != (Swept{Snapshots: 3, People: 4}) {
			t.Fatalf("swept %+v; want 3 snapshots (dead, empty, old) of 4 people", got)
		}
		for _, w := range []SnapshotWriter{dead, empty, old} {
			seq := w.(*snapshotWriter).seq
			if n := rawInt(t, s, `SELECT count(*) FROM snapshot_subjects WHERE snapshot_seq = `+placeholder(s, 1), seq); n != 0 {
				t.Errorf("snapshot %d: %d people's rows left", seq, n)
			}
			if n := rawInt(t, s, `SELECT count(*) FROM snapshots WHERE seq = `+placeholder(s, 1), seq); n != 0 {
				t.Errorf("snapshot %d is still there", seq)
			}
		}
		if _, err := dead.Commit(ctx); err == nil {
			t.Error("a swept snapshot was committed")
		}
		if got, err := s.Snapshot(ctx, info.ID); err != nil || got.People != 2 {
			t.Fatalf("the committed snapshot: %+v, %v", got, err)
		}
		if n := rawInt(t, s, `SELECT count(*) FROM snapshot_subjects WHERE snapshot_seq = `+placeholder(s, 1), done.(*snapshotWriter).seq); n != 2 {
			t.Fatalf("the committed snapshot has %d rows, want 2", n)
		}
		alive2, err := alive.Commit(ctx)
		if err != nil || alive2.People != 2 {
			t.Fatalf("the snapshot still being written: %+v, %v", alive2, err)
		}
		if again, err := s.SweepSnapshots(ctx, SnapshotGrace); err != nil || again != (Swept{}) {
			t.Fatalf("second sweep: %+v, %v", again, err)
		}
		if _, err := s.SweepSnapshots(ctx, 0); err == nil {
			t.Error("a sweep with no grace period ran")
		}
	})
}

func placeholder(s *Store, n int) string {
	if s.Dialect() == Postgres {
		return "$" + string(rune('0'+n))
	}
	return "?"
}

func TestSweepEveryReportsWhatItSweptAndStops(t *testing.T) {
	s := openStore(t, "sqlite:"+t.TempDir()+"/s.db")
	ctx, cancel := context.WithCancel(context.Background())
	t0 := time.Now().UTC()
	s.now = func() time.Time { return t0 }
	if _, err := s.NewSnapshot(ctx, "INC-1", "killed"); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(2 * time.Hour) }
	reports := make(chan Swept, 10)
	done := make(chan struct{})
	go func() {
		s.SweepEvery(ctx, 10*time.Millisecond, time.Hour, func(sw Swept, err error) {
			if err != nil {
				t.Error(err)
			}
			reports <- sw
		})
		close(done)
	}()
	if sw := <-reports; sw.Snapshots != 1 {
		t.Fatalf("report %+v", sw)
	}
	time.Sleep(50 * time.Millisecond) // more sweeps, nothing to report
	cancel()
	<-done
	if len(reports) != 0 {
		t.Fatalf("%d more reports of empty sweeps", len(reports))
	}
}
