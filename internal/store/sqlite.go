package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/breachctl/breachctl/internal/perm"
)

// sqliteChunk is how many rows go into one INSERT statement. Measured with
// BenchmarkSnapshotWrite/sqlite, 1,000,000 subjects on a 2-core machine:
// 16 rows 52,800 rows/s, 32 62,400, 64 56,500, 128 49,600 (and, on 300,000,
// one row per statement slower than any of them). Longer statements lose
// because the driver binds arguments in time quadratic in their number;
// shorter ones lose to per-statement overhead.
const sqliteChunk = 32

// sqliteTime is how times are stored: UTC, fixed width, so text order is time
// order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// sqliteDB is the SQLite engine: one writer connection (SQLite has one writer
// at a time anyway; holding it avoids SQLITE_BUSY between our own writers)
// and a pool of read-only connections, which WAL lets read while the writer
// writes.
type sqliteDB struct {
	w *sql.DB
	r *sql.DB

	// The full-chunk statements, prepared once on w. (Not lazily: with one
	// connection, preparing on w while a transaction holds it would wait
	// for ever.)
	upsertChunk *sql.Stmt
	ledger      sqliteLedgerStmts

	mu     sync.Mutex
	ranges map[int64]rowidRange // by snapshot seq: where its rows were appended

	fixed []perm.Fixed // files and directory made private on open, for Open to log
}

// rowidRange holds every rowid a snapshot's writer appended. Rows of other
// snapshots written meanwhile may be in it too, so it narrows a scan, never
// replaces the snapshot_seq filter.
type rowidRange struct{ first, last int64 }

func openSQLite(ctx context.Context, path string) (*sqliteDB, error) {
	switch {
	case path == "", path == ":memory:", strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlite store %q: give a file path", path)
	case strings.ContainsAny(path, "?#"):
		return nil, fmt.Errorf("sqlite store %q: the path may not contain ? or #", path)
	}
	// The file holds personal data (encrypted payloads, and who is affected
	// by what): only its owner may read it, or list its directory. An
	// existing directory or file others could read is made private (Open
	// logs it); a new file is made 0600 before SQLite opens it, and SQLite
	// gives the -wal and -shm files it creates the main file's mode.
	var fixed []perm.Fixed
	dirFixed, err := perm.PrivateDir(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	if dirFixed != nil {
		fixed = append(fixed, *dirFixed)
	}
	if err := perm.CreatePrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	files, err := perm.PrivateFiles(perm.SQLite(path)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	fixed = append(fixed, files...)

	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	// The writer: WAL, so readers never wait for it; synchronous NORMAL, so a
	// commit does not wait for the disk (Commit asks for FULL, see commit);
	// a 64 MiB page cache; and a checkpoint only every 256 MiB of WAL, which
	// wrote a million people 20% faster than every 64 MiB (each batch of
	// hashed keys touches most of the key index, so the same pages are
	// written again and again). The WAL is cut back to 64 MiB afterwards.
	// BEGIN IMMEDIATE takes the write lock at once, so two writers queue on
	// busy_timeout instead of failing on a lock upgrade.
	w, err := sql.Open("sqlite", "file:"+path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)"+
		"&_pragma=wal_autocheckpoint(65536)&_pragma=journal_size_limit(67108864)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=query_only(1)&_pragma=cache_size(-16384)&_pragma=mmap_size(1073741824)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	return &sqliteDB{w: w, r: r, ranges: map[int64]rowidRange{}, fixed: fixed}, nil
}

// prepare prepares the statements Add and Claim use again and again. The
// tables must exist: it runs after the migrations.
func (d *sqliteDB) prepare(ctx context.Context) error {
	var err error
	if d.upsertChunk, err = d.w.PrepareContext(ctx, sqliteUpsertSQL(sqliteChunk)); err != nil {
		return err
	}
	return d.prepareLedger(ctx)
}

func (d *sqliteDB) dialect() string { return SQLite }

func (d *sqliteDB) close() error {
	if d.upsertChunk != nil {
		_ = d.upsertChunk.Close()
	}
	d.closeLedger()
	return errors.Join(d.r.Close(), d.w.Close())
}

// --- migrations

type sqliteMigrationTx struct{ tx *sql.Tx }

func (d *sqliteDB) beginMigration(ctx context.Context) (migrationTx, error) {
	tx, err := d.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock, so two processes migrate one after the other
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return sqliteMigrationTx{tx}, nil
}

func (m sqliteMigrationTx) version(ctx context.Context) (int, error) {
	var v int
	err := m.tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (m sqliteMigrationTx) apply(ctx context.Context, mig migration) error {
	if _, err := m.tx.ExecContext(ctx, mig.sql); err != nil {
		return err
	}
	_, err := m.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		mig.version, time.Now().UTC().Format(sqliteTime))
	return err
}

func (m sqliteMigrationTx) commit(context.Context) error   { return m.tx.Commit() }
func (m sqliteMigrationTx) rollback(context.Context) error { return m.tx.Rollback() }

// --- snapshots

func (d *sqliteDB) createSnapshot(ctx context.Context, id, incidentID, description string, keyScheme int, createdAt time.Time) (int64, error) {
	res, err := d.w.ExecContext(ctx,
		`INSERT INTO snapshots (id, incident_id, description, key_scheme, created_at, written_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, incidentID, description, keyScheme, createdAt.Format(sqliteTime), createdAt.Format(sqliteTime))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// upsertSQL is the INSERT for n rows; ?1 is the snapshot's seq.
func sqliteUpsertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO snapshot_subjects (snapshot_seq, key, jurisdiction, categories, locale, payload) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?1,?,?,?,?,?)")
	}
	b.WriteString(" ON CONFLICT (snapshot_seq, key) DO UPDATE SET categories = categories | excluded.categories")
	return b.String()
}

func (d *sqliteDB) upsert(ctx context.Context, seq int64, rows []Subject) (added int, err error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// New rows get rowids max+1, max+2, ... and a merged row keeps its own,
	// so the growth of max(rowid) is the number of new rows. The
	// transaction holds the write lock: nobody else inserts meanwhile.
	before, err := maxRowid(ctx, tx)
	if err != nil {
		return 0, err
	}
	args := make([]any, 0, 1+5*min(len(rows), sqliteChunk))
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), sqliteChunk)]
		rows = rows[len(chunk):]
		var st *sql.Stmt
		if len(chunk) == sqliteChunk {
			st = tx.StmtContext(ctx, d.upsertChunk)
		} else if st, err = tx.PrepareContext(ctx, sqliteUpsertSQL(len(chunk))); err != nil { // closed with tx
			return 0, err
		}
		args = append(args[:0], seq)
		for i := range chunk {
			p := &chunk[i]
			args = append(args, p.Key[:], p.Jurisdiction, int64(p.Categories), p.Locale, p.Payload)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return 0, err
		}
	}
	after, err := maxRowid(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	if after > before {
		d.mu.Lock()
		r, ok := d.ranges[seq]
		if !ok {
			r.first = before + 1
		}
		r.last = after
		d.ranges[seq] = r
		d.mu.Unlock()
	}
	return int(after - before), nil
}

func maxRowid(ctx context.Context, tx *sql.Tx) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM snapshot_subjects`).Scan(&n)
	return n, err
}

func (d *sqliteDB) commit(ctx context.Context, seq int64, merged int, at time.Time) (err error) {
	// The batches were written with synchronous=NORMAL: in WAL mode, a
	// transaction may be lost on power failure, but the file stays intact.
	// The commit is what a workflow will record, so it is made durable:
	// with synchronous=FULL the WAL is synced, and with it every batch
	// before.
	conn, err := d.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return err
	}
	defer func() {
		if _, e := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`); e != nil && err == nil {
			err = e
		}
	}()

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var open int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM snapshots WHERE seq = ? AND committed_at IS NULL`, seq).Scan(&open); err != nil {
		return err
	}
	if open != 1 {
		return errNotOpen
	}
	// The rows were appended in a range of rowids: scanning that range reads
	// the table in order, where going by the (snapshot_seq, key) index would
	// visit the rows in key order, which is all over the table (twice as
	// slow at a million people). The unary + keeps SQLite off that index.
	d.mu.Lock()
	r, ok := d.ranges[seq]
	d.mu.Unlock()
	where := "snapshot_seq = ?1"
	if ok {
		where = fmt.Sprintf("rowid BETWEEN %d AND %d AND +snapshot_seq = ?1", r.first, r.last)
	}
	var c snapshotCounts
	rows, err := tx.QueryContext(ctx, countsSQL(where, ""), seq)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	err = c.scan(func(dest ...any) (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		return true, rows.Scan(dest...)
	})
	_ = rows.Close()
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	for j, n := range c.byJurisdiction {
		if _, err := tx.ExecContext(ctx, `INSERT INTO snapshot_jurisdiction_counts (snapshot_seq, jurisdiction, people) VALUES (?, ?, ?)`,
			seq, j, n); err != nil {
			return fmt.Errorf("store counts: %w", err)
		}
	}
	for bit, n := range c.byBit {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO snapshot_category_counts (snapshot_seq, bit, people) VALUES (?, ?, ?)`,
			seq, bit, n); err != nil {
			return fmt.Errorf("store counts: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE snapshots SET committed_at = ?, people = ?, merged = ? WHERE seq = ?`,
		at.Format(sqliteTime), c.people, merged, seq); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.forget(seq)
	return nil
}

// forget drops what upsert remembered about a snapshot no longer written.
func (d *sqliteDB) forget(seq int64) {
	d.mu.Lock()
	delete(d.ranges, seq)
	d.mu.Unlock()
}

func (d *sqliteDB) abort(ctx context.Context, seq int64) (err error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// Children first, explicitly, rather than by cascade: the same statements
	// on both dialects, and no reliance on foreign_keys being on.
	for _, q := range []string{
		`DELETE FROM snapshot_subjects WHERE snapshot_seq = ?`,
		`DELETE FROM snapshot_jurisdiction_counts WHERE snapshot_seq = ?`,
		`DELETE FROM snapshot_category_counts WHERE snapshot_seq = ?`,
		`DELETE FROM snapshots WHERE seq = ? AND committed_at IS NULL`,
	} {
		if _, err := tx.ExecContext(ctx, q, seq); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.forget(seq)
	return nil
}

func (d *sqliteDB) committedSeq(ctx context.Context, id string) (int64, error) {
	var seq int64
	err := d.r.QueryRowContext(ctx, `SELECT seq FROM snapshots WHERE id = ? AND committed_at IS NOT NULL`, id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return seq, err
}

func (d *sqliteDB) snapshots(ctx context.Context, id, incidentID string) (infos []SnapshotInfo, err error) {
	where, arg := "s.id = ?", id
	if id == "" {
		where, arg = "s.incident_id = ?", incidentID
	}
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one read snapshot for the three queries
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()

	rows, err := tx.QueryContext(ctx, `SELECT s.seq, s.id, s.incident_id, s.description, s.created_at, s.committed_at, s.people, s.merged
		FROM snapshots s WHERE `+where+` AND s.committed_at IS NOT NULL ORDER BY s.created_at DESC, s.seq DESC`, arg)
	if err != nil {
		return nil, err
	}
	bySeq := map[int64]int{}
	for rows.Next() {
		var (
			info               SnapshotInfo
			seq                int64
			created, committed string
		)
		if err := rows.Scan(&seq, &info.ID, &info.IncidentID, &info.Description, &created, &committed, &info.People, &info.Merged); err != nil {
			_ = rows.Close()
			return nil, err
		}
		if info.CreatedAt, err = time.Parse(sqliteTime, created); err != nil {
			_ = rows.Close()
			return nil, err
		}
		if info.CommittedAt, err = time.Parse(sqliteTime, committed); err != nil {
			_ = rows.Close()
			return nil, err
		}
		info.ByJurisdiction, info.ByCategoryBit = map[string]int{}, map[int]int{}
		bySeq[seq] = len(infos)
		infos = append(infos, info)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, nil
	}

	rows, err = tx.QueryContext(ctx, `SELECT c.snapshot_seq, c.jurisdiction, c.people FROM snapshot_jurisdiction_counts c
		JOIN snapshots s ON s.seq = c.snapshot_seq WHERE `+where+` AND s.committed_at IS NOT NULL`, arg)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var (
			seq int64
			j   string
			n   int
		)
		if err := rows.Scan(&seq, &j, &n); err != nil {
			_ = rows.Close()
			return nil, err
		}
		infos[bySeq[seq]].ByJurisdiction[j] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = tx.QueryContext(ctx, `SELECT c.snapshot_seq, c.bit, c.people FROM snapshot_category_counts c
		JOIN snapshots s ON s.seq = c.snapshot_seq WHERE `+where+` AND s.committed_at IS NOT NULL`, arg)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var (
			seq    int64
			bit, n int
		)
		if err := rows.Scan(&seq, &bit, &n); err != nil {
			_ = rows.Close()
			return nil, err
		}
		infos[bySeq[seq]].ByCategoryBit[bit] = n
	}
	return infos, rows.Err()
}

func (d *sqliteDB) read(ctx context.Context, seq int64, after [16]byte, limit int) ([]Subject, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT key, jurisdiction, categories, locale, payload FROM snapshot_subjects
		WHERE snapshot_seq = ? AND key > ? ORDER BY key LIMIT ?`, seq, after[:], limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanSubjects(rows, limit)
}
