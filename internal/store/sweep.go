package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SnapshotGrace is how long a snapshot may go unwritten and uncommitted
// before SweepSnapshots takes it for the leftovers of a scoping that died. A
// live writer writes every batch (10,000 people) within seconds; the day
// leaves room for a source query that runs for hours before its first row.
const SnapshotGrace = 24 * time.Hour

// Swept counts what SweepSnapshots deleted.
type Swept struct {
	Snapshots int // uncommitted snapshots
	People    int // their rows
}

// SweepSnapshots deletes every snapshot never committed whose writer last
// wrote (NewSnapshot, Add) more than grace ago: what a `scope` killed, or
// failed without reaching Abort, left behind, people's rows and all.
// Committed snapshots are never touched, and a snapshot committed while
// the sweep runs is kept whole: each is deleted in one transaction that
// first removes its row on the condition that it is still uncommitted and
// stale. Run it at start and now and then (dev and the worker do); it is
// cheap when there is nothing to sweep.
func (s *Store) SweepSnapshots(ctx context.Context, grace time.Duration) (Swept, error) {
	if grace <= 0 {
		return Swept{}, fmt.Errorf("sweep snapshots: the grace period must be positive, got %v", grace)
	}
	before := s.now().Add(-grace)
	seqs, err := s.db.staleSnapshots(ctx, before)
	if err != nil {
		return Swept{}, fmt.Errorf("sweep snapshots: %w", err)
	}
	var out Swept
	for _, seq := range seqs {
		people, swept, err := s.db.sweepSnapshot(ctx, seq, before)
		if err != nil {
			return out, fmt.Errorf("sweep snapshots: %w", err)
		}
		if swept {
			out.Snapshots++
			out.People += people
		}
	}
	return out, nil
}

// SweepEvery sweeps at once and then every interval until ctx ends,
// telling report of each sweep that deleted something or failed (counts
// only: nothing about a person). Run it in its own goroutine:
//
//	go st.SweepEvery(ctx, time.Hour, store.SnapshotGrace, func(sw store.Swept, err error) { ... })
func (s *Store) SweepEvery(ctx context.Context, interval, grace time.Duration, report func(Swept, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		sw, err := s.SweepSnapshots(ctx, grace)
		if ctx.Err() != nil {
			return
		}
		if (err != nil || sw != Swept{}) && report != nil {
			report(sw, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// --- SQLite

func (d *sqliteDB) touchSnapshot(ctx context.Context, seq int64, at time.Time) error {
	_, err := d.w.ExecContext(ctx, `UPDATE snapshots SET written_at = ? WHERE seq = ?`, at.Format(sqliteTime), seq)
	return err
}

func (d *sqliteDB) staleSnapshots(ctx context.Context, before time.Time) ([]int64, error) {
	rows, err := d.w.QueryContext(ctx, `SELECT seq FROM snapshots
		WHERE committed_at IS NULL AND coalesce(written_at, created_at) < ? ORDER BY seq`, before.Format(sqliteTime))
	if err != nil {
		return nil, err
	}
	return collectSeqs(rows)
}

func collectSeqs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		seqs = append(seqs, seq)
	}
	return seqs, rows.Err()
}

func (d *sqliteDB) sweepSnapshot(ctx context.Context, seq int64, before time.Time) (people int, swept bool, err error) {
	tx, err := d.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: no commit can slip in between
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `DELETE FROM snapshots WHERE seq = ? AND committed_at IS NULL AND coalesce(written_at, created_at) < ?`,
		seq, before.Format(sqliteTime))
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, false, err // committed or written to since it was listed
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM snapshot_subjects WHERE snapshot_seq = ?`, seq)
	if err != nil {
		return 0, false, err
	}
	n, _ := res.RowsAffected()
	for _, q := range []string{
		`DELETE FROM snapshot_jurisdiction_counts WHERE snapshot_seq = ?`,
		`DELETE FROM snapshot_category_counts WHERE snapshot_seq = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, seq); err != nil {
			return 0, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, false, err
	}
	d.forget(seq)
	return int(n), true, nil
}

// --- PostgreSQL

func (d *pgDB) touchSnapshot(ctx context.Context, seq int64, at time.Time) error {
	_, err := d.pool.Exec(ctx, `UPDATE snapshots SET written_at = $2 WHERE seq = $1`, seq, at)
	return err
}

func (d *pgDB) staleSnapshots(ctx context.Context, before time.Time) ([]int64, error) {
	rows, err := d.pool.Query(ctx, `SELECT seq FROM snapshots
		WHERE committed_at IS NULL AND coalesce(written_at, created_at) < $1 ORDER BY seq`, before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		seqs = append(seqs, seq)
	}
	return seqs, rows.Err()
}

func (d *pgDB) sweepSnapshot(ctx context.Context, seq int64, before time.Time) (people int, swept bool, err error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The row lock taken by the DELETE holds off a Commit of the same
	// snapshot until this transaction ends; that Commit then finds no row.
	tag, err := tx.Exec(ctx, `DELETE FROM snapshots WHERE seq = $1 AND committed_at IS NULL AND coalesce(written_at, created_at) < $2`, seq, before)
	if err != nil {
		return 0, false, err
	}
	if tag.RowsAffected() == 0 {
		return 0, false, nil
	}
	tag, err = tx.Exec(ctx, `DELETE FROM snapshot_subjects WHERE snapshot_seq = $1`, seq)
	if err != nil {
		return 0, false, err
	}
	n := tag.RowsAffected()
	for _, q := range []string{
		`DELETE FROM snapshot_jurisdiction_counts WHERE snapshot_seq = $1`,
		`DELETE FROM snapshot_category_counts WHERE snapshot_seq = $1`,
	} {
		if _, err := tx.Exec(ctx, q, seq); err != nil {
			return 0, false, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, err
	}
	return int(n), true, nil
}
