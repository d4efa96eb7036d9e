package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgMigrationLock is the advisory lock key that keeps two processes from
// migrating at once ("breachct" in ASCII).
const pgMigrationLock int64 = 0x6272656163686374

// pgDB is the PostgreSQL engine.
type pgDB struct {
	pool    *pgxpool.Pool
	streams int // connections one Add writes on at once

	// An Add on several streams holds one connection while it waits for the
	// next: with every connection held by such Adds, all would wait for
	// ever. Slots let so few of them write at once that half the pool
	// always stays for them and everything else.
	slots chan struct{}
}

func openPostgres(ctx context.Context, dsn string) (*pgDB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message can repeat the DSN, password included.
		return nil, errors.New("postgres store: cannot parse the connection string")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default is 4 (or the CPU count): two writers' streams would
		// leave readers waiting.
		cfg.MaxConns = max(cfg.MaxConns, 4*pgStreams)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store on %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	streams := min(pgStreams, int(cfg.MaxConns))
	slots := max(1, int(cfg.MaxConns)/(2*streams))
	return &pgDB{pool: pool, streams: streams, slots: make(chan struct{}, slots)}, nil
}

// pgStreams is how many connections one Add writes on at once. A
// PostgreSQL backend inserts on one CPU, so a batch split across
// connections goes faster as long as the server has CPUs to spare. Measured
// with BenchmarkSnapshotWrite/postgres (200,000 subjects) on the 2-core
// machine that runs both the benchmark and the server: 1 stream 103,000
// rows/s, 2 164,000, 3 128,000, 4 135,000.
const pgStreams = 2

func (d *pgDB) dialect() string { return Postgres }

func (d *pgDB) prepare(context.Context) error { return nil }

func (d *pgDB) close() error {
	d.pool.Close()
	return nil
}

// --- migrations

type pgMigrationTx struct{ tx pgx.Tx }

func (d *pgDB) beginMigration(ctx context.Context) (migrationTx, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	return pgMigrationTx{tx}, nil
}

func (m pgMigrationTx) version(ctx context.Context) (int, error) {
	var v int
	err := m.tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (m pgMigrationTx) apply(ctx context.Context, mig migration) error {
	if _, err := m.tx.Exec(ctx, mig.sql); err != nil { // no arguments: the simple protocol, which runs several statements
		return err
	}
	_, err := m.tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, mig.version)
	return err
}

func (m pgMigrationTx) commit(ctx context.Context) error   { return m.tx.Commit(ctx) }
func (m pgMigrationTx) rollback(ctx context.Context) error { return m.tx.Rollback(ctx) }

// --- snapshots

func (d *pgDB) createSnapshot(ctx context.Context, id, incidentID, description string, keyScheme int, createdAt time.Time) (int64, error) {
	var seq int64
	err := d.pool.QueryRow(ctx,
		`INSERT INTO snapshots (id, incident_id, description, key_scheme, created_at, written_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING seq`,
		id, incidentID, description, keyScheme, createdAt).Scan(&seq)
	return seq, err
}

// pgStage is the staging table a batch is copied into: temporary, so
// per-session (each Add holds one connection for its transaction) and never
// WAL-logged; emptied at every commit.
const pgStage = `CREATE TEMP TABLE IF NOT EXISTS snapshot_stage (
	key          bytea  NOT NULL,
	jurisdiction text   NOT NULL,
	categories   bigint NOT NULL,
	locale       text   NOT NULL,
	payload      bytea  NOT NULL
) ON COMMIT DELETE ROWS`

// pgUpsert moves the staged batch into the snapshot and counts the rows that
// were new: an inserted row has xmax 0, a row ON CONFLICT updated has the
// updating transaction's. The batch's keys are distinct (Add merged them),
// so no row is touched twice.
const pgUpsert = `WITH up AS (
	INSERT INTO snapshot_subjects (snapshot_seq, key, jurisdiction, categories, locale, payload)
	SELECT $1, key, jurisdiction, categories, locale, payload FROM pg_temp.snapshot_stage
	ON CONFLICT (snapshot_seq, key) DO UPDATE SET categories = snapshot_subjects.categories | EXCLUDED.categories
	RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted) FROM up`

var pgStageColumns = []string{"key", "jurisdiction", "categories", "locale", "payload"}

func (d *pgDB) upsert(ctx context.Context, seq int64, rows []Subject) (int, error) {
	// The batch is split into key ranges written at once on separate
	// connections: one backend would use one CPU of the server. Every range
	// is written before any is committed, so a batch that fails while being
	// written leaves nothing.
	n := max(1, min(d.streams, len(rows)/pgMinStreamRows))
	if n > 1 {
		select {
		case d.slots <- struct{}{}:
			defer func() { <-d.slots }()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	parts := make([]pgPart, n)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(rows)/n, (i+1)*len(rows)/n
		wg.Go(func() { parts[i] = d.stage(ctx, seq, rows[lo:hi]) })
	}
	wg.Wait()
	var errs []error
	for _, p := range parts {
		errs = append(errs, p.err)
	}
	if err := errors.Join(errs...); err != nil {
		for _, p := range parts {
			if p.tx != nil {
				_ = p.tx.Rollback(ctx)
			}
		}
		return 0, err
	}
	// A failed commit may or may not have committed (the connection can
	// drop after the server did), so from here an error leaves the batch in
	// an unknown state.
	added := 0
	for i, p := range parts {
		if err := p.tx.Commit(ctx); err != nil {
			for _, q := range parts[i+1:] {
				_ = q.tx.Rollback(ctx)
			}
			return 0, fmt.Errorf("%w: %w", errPartialBatch, err)
		}
		added += p.added
	}
	return added, nil
}

// pgMinStreamRows is the fewest rows worth a stream of their own.
const pgMinStreamRows = 1000

// pgPart is one key range of a batch, written and not yet committed.
type pgPart struct {
	tx    pgx.Tx
	added int
	err   error
}

// stage writes rows in a transaction of its own, which it leaves open.
func (d *pgDB) stage(ctx context.Context, seq int64, rows []Subject) (p pgPart) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return pgPart{err: err}
	}
	defer func() {
		if p.err != nil {
			_ = tx.Rollback(ctx)
			p.tx = nil
		}
	}()
	// A batch needs no sync of its own: the snapshot is not visible until
	// Commit, whose synchronous commit flushes the WAL with every batch in it.
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off;\n"+pgStage); err != nil {
		return pgPart{err: fmt.Errorf("stage: %w", err)}
	}
	src := &pgCopySource{rows: rows, i: -1}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "snapshot_stage"}, pgStageColumns, src); err != nil {
		return pgPart{err: fmt.Errorf("copy: %w", err)}
	}
	var added int64
	if err := tx.QueryRow(ctx, pgUpsert, seq).Scan(&added); err != nil {
		return pgPart{err: fmt.Errorf("upsert: %w", err)}
	}
	return pgPart{tx: tx, added: int(added)}
}

// pgCopySource feeds rows to CopyFrom without building a [][]any: pgx encodes
// each row before asking for the next, so one []any is reused.
type pgCopySource struct {
	rows []Subject
	i    int
	vals [5]any
}

func (s *pgCopySource) Next() bool { s.i++; return s.i < len(s.rows) }
func (s *pgCopySource) Err() error { return nil }
func (s *pgCopySource) Values() ([]any, error) {
	p := &s.rows[s.i]
	s.vals = [5]any{p.Key[:], p.Jurisdiction, int64(p.Categories), p.Locale, p.Payload}
	return s.vals[:], nil
}

func (d *pgDB) commit(ctx context.Context, seq int64, merged int, at time.Time) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Lock the snapshot row, so a concurrent Abort or Commit waits.
	var open bool
	err = tx.QueryRow(ctx, `SELECT committed_at IS NULL FROM snapshots WHERE seq = $1 FOR UPDATE`, seq).Scan(&open)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !open {
		return errNotOpen
	}
	if err != nil {
		return err
	}
	var c snapshotCounts
	rows, err := tx.Query(ctx, countsSQL("snapshot_seq = $1", "::bigint"), seq)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	err = c.scan(func(dest ...any) (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		return true, rows.Scan(dest...)
	})
	rows.Close()
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	var js []string
	var jn []int64
	for j, n := range c.byJurisdiction {
		js, jn = append(js, j), append(jn, n)
	}
	var bits []int16
	var bn []int64
	for bit, n := range c.byBit {
		if n != 0 {
			bits, bn = append(bits, int16(bit)), append(bn, n)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO snapshot_jurisdiction_counts (snapshot_seq, jurisdiction, people)
		SELECT $1, j, n FROM unnest($2::text[], $3::bigint[]) AS t(j, n)`, seq, js, jn); err != nil {
		return fmt.Errorf("store counts: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO snapshot_category_counts (snapshot_seq, bit, people)
		SELECT $1, b, n FROM unnest($2::smallint[], $3::bigint[]) AS t(b, n)`, seq, bits, bn); err != nil {
		return fmt.Errorf("store counts: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE snapshots SET committed_at = $2, people = $3, merged = $4 WHERE seq = $1`,
		seq, at, c.people, merged); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (d *pgDB) abort(ctx context.Context, seq int64) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, q := range []string{
		`DELETE FROM snapshot_subjects WHERE snapshot_seq = $1`,
		`DELETE FROM snapshot_jurisdiction_counts WHERE snapshot_seq = $1`,
		`DELETE FROM snapshot_category_counts WHERE snapshot_seq = $1`,
		`DELETE FROM snapshots WHERE seq = $1 AND committed_at IS NULL`,
	} {
		if _, err := tx.Exec(ctx, q, seq); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func (d *pgDB) committedSeq(ctx context.Context, id string) (int64, error) {
	var seq int64
	err := d.pool.QueryRow(ctx, `SELECT seq FROM snapshots WHERE id = $1 AND committed_at IS NOT NULL`, id).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return seq, err
}

func (d *pgDB) snapshots(ctx context.Context, id, incidentID string) ([]SnapshotInfo, error) {
	where, arg := "s.id = $1", id
	if id == "" {
		where, arg = "s.incident_id = $1", incidentID
	}
	// One statement, so one consistent view: the counts travel as arrays.
	rows, err := d.pool.Query(ctx, `SELECT s.id, s.incident_id, s.description, s.created_at, s.committed_at, s.people, s.merged,
			coalesce((SELECT array_agg(jurisdiction ORDER BY jurisdiction) FROM snapshot_jurisdiction_counts c WHERE c.snapshot_seq = s.seq), '{}'),
			coalesce((SELECT array_agg(people ORDER BY jurisdiction) FROM snapshot_jurisdiction_counts c WHERE c.snapshot_seq = s.seq), '{}'),
			coalesce((SELECT array_agg(bit ORDER BY bit) FROM snapshot_category_counts c WHERE c.snapshot_seq = s.seq), '{}'),
			coalesce((SELECT array_agg(people ORDER BY bit) FROM snapshot_category_counts c WHERE c.snapshot_seq = s.seq), '{}')
		FROM snapshots s WHERE `+where+` AND s.committed_at IS NOT NULL
		ORDER BY s.created_at DESC, s.seq DESC`, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var infos []SnapshotInfo
	for rows.Next() {
		var (
			info       SnapshotInfo
			js         []string
			jn, bn     []int64
			bs         []int16
			people, mg int64
		)
		if err := rows.Scan(&info.ID, &info.IncidentID, &info.Description, &info.CreatedAt, &info.CommittedAt,
			&people, &mg, &js, &jn, &bs, &bn); err != nil {
			return nil, err
		}
		if len(js) != len(jn) || len(bs) != len(bn) {
			return nil, fmt.Errorf("snapshot %s: count arrays of different lengths", info.ID)
		}
		info.People, info.Merged = int(people), int(mg)
		info.CreatedAt, info.CommittedAt = info.CreatedAt.UTC(), info.CommittedAt.UTC()
		info.ByJurisdiction = make(map[string]int, len(js))
		for i, j := range js {
			info.ByJurisdiction[j] = int(jn[i])
		}
		info.ByCategoryBit = make(map[int]int, len(bs))
		for i, b := range bs {
			info.ByCategoryBit[int(b)] = int(bn[i])
		}
		infos = append(infos, info)
	}
	return infos, rows.Err()
}

func (d *pgDB) read(ctx context.Context, seq int64, after [16]byte, limit int) ([]Subject, error) {
	rows, err := d.pool.Query(ctx, `SELECT key, jurisdiction, categories, locale, payload FROM snapshot_subjects
		WHERE snapshot_seq = $1 AND key > $2 ORDER BY key LIMIT $3`, seq, after[:], limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanSubjects(rows, limit)
}
