package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/seal"
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ErrNotFound is wrapped by every error about a snapshot that does not exist
// or is not committed yet, and about a notice, batch or recipient not in the
// ledger. apperr.KindOf reports it as apperr.NotFound.
var ErrNotFound = apperr.New(apperr.NotFound, "not found")

// Store is the breachctl database. It is safe for concurrent use.
type Store struct {
	db  engine
	now func() time.Time
	// keys seal the columns that hold incident text or personal data
	// (sealed.go); nil stores them plain.
	keys *seal.Keyring
	// subjectSecret keys the subject keys (subjectkeys.go); nil, with
	// secretErr saying why, when it cannot be opened.
	subjectSecret []byte
	secretErr     error
	log           *slog.Logger
}

// Option configures Open.
type Option func(*Store)

// WithKeys seals, under keys, every column that holds incident text or
// personal data: subject payloads, snapshot descriptions, notice contents
// and approvers, batch errors and recipient reasons. Values written before
// (plain) are still read as they are; a sealed value read without its key
// is an error naming the key. Nil keys store everything plain.
func WithKeys(keys *seal.Keyring) Option { return func(s *Store) { s.keys = keys } }

// WithLogger logs what Open had to fix (a data directory or database file
// others could read, made private). Without it nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// Subject is one affected person in a snapshot.
type Subject struct {
	Key          [16]byte // identity across sources (SnapshotWriter.Keyer's key of the person; never all zero)
	Jurisdiction string   // "DE", "US-CA"
	Categories   uint64   // bit i set = data category i (the caller defines the bit order)
	Locale       string   // BCP 47, for the notice language
	Payload      []byte   // the person's details, opaque (encrypted by the caller)
}

// SnapshotInfo describes a committed snapshot.
type SnapshotInfo struct {
	ID          string
	IncidentID  string
	Description string
	CreatedAt   time.Time // when NewSnapshot was called
	CommittedAt time.Time

	People int // distinct subjects
	Merged int // subjects given to Add that merged into one already there

	ByJurisdiction map[string]int // people per jurisdiction
	ByCategoryBit  map[int]int    // people per category bit; bits nobody has are absent
}

// SnapshotWriter writes one snapshot. It is not safe for concurrent use. Call
// Commit or Abort when done; Abort after Commit does nothing, so
// `defer w.Abort(ctx)` is the way to clean up on every error path.
type SnapshotWriter interface {
	// Add stores a batch. A subject whose Key is already in the snapshot is
	// merged, not added twice: its categories become the union (bitwise OR),
	// its jurisdiction, payload and locale are kept from the first. It returns
	// how many of the batch were new and how many merged into an existing
	// subject. A batch is stored whole or, on error, not at all; the one
	// exception, a PostgreSQL connection lost while committing a batch,
	// leaves the writer able only to Abort. Add does not keep batch or
	// its payloads after it returns. A nil Payload is stored as an empty one.
	Add(ctx context.Context, batch []Subject) (added, merged int, err error)
	// Commit makes the snapshot visible, with its counts.
	Commit(ctx context.Context) (SnapshotInfo, error)
	// Abort drops everything written.
	Abort(ctx context.Context) error
	// Keyer returns a new keyer of the snapshot's people (a Subject's
	// Key), for one goroutine: it may be used while Add runs in another.
	Keyer() *SubjectKeyer
}

// engine is one dialect's SQL. The Store validates arguments and keeps the
// logic the dialects share; an engine runs statements.
type engine interface {
	dialect() string
	beginMigration(ctx context.Context) (migrationTx, error)
	// prepare runs once the schema is migrated.
	prepare(ctx context.Context) error
	createSnapshot(ctx context.Context, id, incidentID, description string, keyScheme int, createdAt time.Time) (seq int64, err error)
	// upsert stores rows, whose keys are distinct and ascending, and returns
	// how many were not in the snapshot before.
	upsert(ctx context.Context, seq int64, rows []Subject) (added int, err error)
	commit(ctx context.Context, seq int64, merged int, at time.Time) error
	abort(ctx context.Context, seq int64) error
	// snapshots returns committed snapshots with the given id, or else of the
	// given incident, newest first.
	snapshots(ctx context.Context, id, incidentID string) ([]SnapshotInfo, error)
	// committedSeq returns the seq of a committed snapshot, or ErrNotFound.
	committedSeq(ctx context.Context, id string) (int64, error)
	read(ctx context.Context, seq int64, after [16]byte, limit int) ([]Subject, error)
	close() error

	ledgerEngine // ledger.go

	// The subject-key secret and schemes (subjectkeys.go).
	secret(ctx context.Context, name string) (value []byte, keyID string, found bool, err error)
	addSecret(ctx context.Context, name string, value []byte, keyID string, at time.Time) error // unless there is one
	swapSecret(ctx context.Context, name string, old, value []byte, keyID string, at time.Time) error
	// legacyKeyed reports whether the incident has a committed snapshot
	// keyed before keyed keys.
	legacyKeyed(ctx context.Context, incidentID string) (bool, error)

	// The sweep of snapshots left uncommitted (sweep.go).
	touchSnapshot(ctx context.Context, seq int64, at time.Time) error
	staleSnapshots(ctx context.Context, before time.Time) ([]int64, error)
	sweepSnapshot(ctx context.Context, seq int64, before time.Time) (people int, swept bool, err error)
}

// Open opens "sqlite:/path/to/breachctl.db" (or a bare path) or
// "postgres://..." (or "postgresql://...") and runs migrations.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	var (
		e   engine
		err error
	)
	switch {
	case dsn == "":
		return nil, apperr.Invalidf("store", "no database given")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		e, err = openPostgres(ctx, dsn)
	default:
		e, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	}
	if err != nil {
		return nil, err
	}
	ms, err := migrations(e.dialect())
	if err == nil {
		err = migrate(ctx, e.beginMigration, ms)
	}
	if err == nil {
		err = e.prepare(ctx)
	}
	if err != nil {
		_ = e.close()
		return nil, fmt.Errorf("open %s store: %w", e.dialect(), err)
	}
	s := &Store{db: e, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
	for _, o := range opts {
		o(s)
	}
	if d, ok := e.(*sqliteDB); ok && s.log != nil {
		for _, f := range d.fixed {
			s.log.Warn("store: made private what others could read", "path", f.Path, "was", fmt.Sprintf("%04o", f.Was))
		}
	}
	if err := s.loadSubjectSecret(ctx); err != nil {
		_ = e.close()
		return nil, fmt.Errorf("open %s store: %w", e.dialect(), err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.close() }

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.db.dialect() }

// NewSnapshot starts a snapshot of the people affected by an incident.
func (s *Store) NewSnapshot(ctx context.Context, incidentID, description string) (SnapshotWriter, error) {
	if incidentID == "" {
		return nil, apperr.Invalidf("incident", "required")
	}
	scheme, err := s.keyScheme(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("create snapshot for %s: %w", incidentID, err)
	}
	w := &snapshotWriter{db: s.db, now: s.now, keys: s.keys, id: "snap_" + uuid.NewString(), scheme: scheme, secret: s.subjectSecret}
	sealed, err := s.keys.SealStringFor(description, descriptionContext(w.id))
	if err != nil {
		return nil, fmt.Errorf("create snapshot for %s: %w", incidentID, err)
	}
	seq, err := s.db.createSnapshot(ctx, w.id, incidentID, sealed, scheme, s.now())
	if err != nil {
		return nil, fmt.Errorf("create snapshot for %s: %w", incidentID, err)
	}
	w.seq = seq
	return w, nil
}

// Snapshot returns a committed snapshot. An unknown or uncommitted one is an
// error wrapping ErrNotFound.
func (s *Store) Snapshot(ctx context.Context, id string) (SnapshotInfo, error) {
	infos, err := s.db.snapshots(ctx, id, "")
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	if len(infos) == 0 {
		return SnapshotInfo{}, fmt.Errorf("snapshot %s: %w", id, ErrNotFound)
	}
	if err := openInfos(s.keys, infos); err != nil {
		return SnapshotInfo{}, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	return infos[0], nil
}

// Snapshots returns an incident's committed snapshots, newest first.
func (s *Store) Snapshots(ctx context.Context, incidentID string) ([]SnapshotInfo, error) {
	if incidentID == "" {
		return nil, apperr.Invalidf("incident", "required")
	}
	infos, err := s.db.snapshots(ctx, "", incidentID)
	if err == nil {
		err = openInfos(s.keys, infos)
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s: %w", incidentID, err)
	}
	return infos, nil
}

// ReadSnapshot pages through a committed snapshot in Key order (bytewise):
// after is the last Key of the previous page, zero for the start. A page
// shorter than limit is the last. An unknown or uncommitted snapshot is an
// error wrapping ErrNotFound.
func (s *Store) ReadSnapshot(ctx context.Context, id string, after [16]byte, limit int) ([]Subject, error) {
	if limit <= 0 {
		return nil, apperr.Invalidf("limit", "must be positive, got %d", limit)
	}
	seq, err := s.db.committedSeq(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	subjects, err := s.db.read(ctx, seq, after, limit)
	if err == nil {
		err = openPayloads(s.keys, id, subjects)
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	return subjects, nil
}

type writerState int

const (
	writing writerState = iota
	committed
	aborted
	broken // a failed Add may have left part of a batch: only Abort
)

type snapshotWriter struct {
	db     engine
	now    func() time.Time
	keys   *seal.Keyring
	id     string
	seq    int64
	state  writerState
	merged int
	scheme int    // how its people are keyed (subjectkeys.go)
	secret []byte // the store's subject-key secret

	// Reused from batch to batch, so memory follows the batch size.
	order  []int32
	rows   []Subject
	sealed []byte // the batch's sealed payloads, back to back
}

func (w *snapshotWriter) Add(ctx context.Context, batch []Subject) (added, merged int, err error) {
	if w.state != writing {
		return 0, 0, apperr.New(apperr.Conflict, "snapshot %s is already %s", w.id, w.stateName())
	}
	if len(batch) == 0 {
		return 0, 0, nil
	}
	rows, err := w.distinct(batch)
	if err == nil {
		err = w.seal(rows)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("add to snapshot %s: %w", w.id, err)
	}
	added, err = w.db.upsert(ctx, w.seq, rows)
	clear(w.rows) // drop references to the caller's payloads
	if errors.Is(err, errPartialBatch) {
		w.state = broken
	}
	if err != nil {
		return 0, 0, fmt.Errorf("add %d subjects to snapshot %s: %w", len(batch), w.id, err)
	}
	merged = len(batch) - added
	w.merged += merged
	// The writer is alive: SweepSnapshots leaves the snapshot alone. Not
	// worth failing a stored batch for; the last good touch still counts.
	_ = w.db.touchSnapshot(ctx, w.seq, w.now())
	return added, merged, nil
}

// distinct returns batch with duplicate keys merged (categories OR'd, the
// rest from the first), in ascending key order: the order the key index
// wants, and what ON CONFLICT needs (it cannot touch a row twice in one
// statement). Merging here rather than with GROUP BY in SQL keeps "the
// first" exact without an ordinal column, and sends each person once.
func (w *snapshotWriter) distinct(batch []Subject) ([]Subject, error) {
	w.order = w.order[:0]
	for i := range batch {
		if batch[i].Key == ([16]byte{}) {
			return nil, apperr.Invalidf(fmt.Sprintf("batch[%d].Key", i), "all zero (the zero key means the start in ReadSnapshot)")
		}
		w.order = append(w.order, int32(i))
	}
	// Stable, so the first of equal keys stays first.
	slices.SortStableFunc(w.order, func(a, b int32) int { return bytes.Compare(batch[a].Key[:], batch[b].Key[:]) })
	w.rows = w.rows[:0]
	for _, i := range w.order {
		if n := len(w.rows); n > 0 && w.rows[n-1].Key == batch[i].Key {
			w.rows[n-1].Categories |= batch[i].Categories
			continue
		}
		w.rows = append(w.rows, batch[i])
		if w.rows[len(w.rows)-1].Payload == nil {
			w.rows[len(w.rows)-1].Payload = []byte{}
		}
	}
	return w.rows, nil
}

func (w *snapshotWriter) Commit(ctx context.Context) (SnapshotInfo, error) {
	if w.state != writing {
		return SnapshotInfo{}, apperr.New(apperr.Conflict, "snapshot %s is already %s", w.id, w.stateName())
	}
	if err := w.db.commit(ctx, w.seq, w.merged, w.now()); err != nil {
		return SnapshotInfo{}, fmt.Errorf("commit snapshot %s: %w", w.id, err)
	}
	w.state = committed
	infos, err := w.db.snapshots(ctx, w.id, "")
	if err == nil && len(infos) == 0 {
		err = ErrNotFound
	}
	if err == nil {
		err = openInfos(w.keys, infos)
	}
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("read committed snapshot %s: %w", w.id, err)
	}
	return infos[0], nil
}

func (w *snapshotWriter) Abort(ctx context.Context) error {
	if w.state != writing && w.state != broken {
		return nil
	}
	if err := w.db.abort(ctx, w.seq); err != nil {
		return fmt.Errorf("abort snapshot %s: %w", w.id, err)
	}
	w.state = aborted
	return nil
}

func (w *snapshotWriter) Keyer() *SubjectKeyer { return newKeyer(w.scheme, w.secret) }

func (w *snapshotWriter) stateName() string {
	switch w.state {
	case committed:
		return "committed"
	case broken:
		return "broken by a failed Add (Abort it)"
	}
	return "aborted"
}

// errPartialBatch is wrapped by an engine's upsert error when the batch, or
// part of it, may have been committed: the snapshot's contents and counts
// are then unknown, and the writer can only Abort.
var errPartialBatch = errors.New("part of the batch was written")

// errNotOpen is returned by an engine's commit for a snapshot that is not
// being written (committed already, or aborted by another process).
var errNotOpen = errors.New("snapshot is not open for writing")

// categoryBits is how many bits Subject.Categories has.
const categoryBits = 64

// countsSQL counts a snapshot's people per jurisdiction and per category
// bit in one scan of its rows. It groups them by (jurisdiction, categories),
// which makes few groups (people share a handful of category combinations),
// then adds the groups up: one row per jurisdiction ('j', jurisdiction,
// people, zeros) and one row for the whole snapshot ('b', an empty
// jurisdiction, people, people with bit 0, ..., people with bit 63), the 64
// sums in one pass. where picks the snapshot's rows; cast makes a sum an
// integer where it is not (PostgreSQL's sum of bigint is numeric).
func countsSQL(where, cast string) string {
	var j, b strings.Builder
	j.WriteString("SELECT 'j', j, sum(n)" + cast)
	b.WriteString("SELECT 'b', '', coalesce(sum(n), 0)" + cast)
	for i := range categoryBits {
		j.WriteString(", 0" + cast)
		fmt.Fprintf(&b, ",\n  coalesce(sum(((c >> %d) & 1) * n), 0)%s", i, cast)
	}
	return "WITH g AS MATERIALIZED (\n" +
		"  SELECT jurisdiction AS j, categories AS c, count(*) AS n FROM snapshot_subjects\n" +
		"  WHERE " + where + " GROUP BY jurisdiction, categories\n)\n" +
		j.String() + " FROM g GROUP BY j\nUNION ALL\n" + b.String() + "\nFROM g"
}

// snapshotCounts is what countsSQL found.
type snapshotCounts struct {
	people         int64
	byJurisdiction map[string]int64
	byBit          [categoryBits]int64
}

// scan reads countsSQL's rows with next, which scans one row into dest and
// reports false after the last.
func (c *snapshotCounts) scan(next func(dest ...any) (bool, error)) error {
	var (
		kind, jurisdiction string
		people             int64
		bits               [categoryBits]int64
	)
	dest := []any{&kind, &jurisdiction, &people}
	for i := range bits {
		dest = append(dest, &bits[i])
	}
	c.byJurisdiction = map[string]int64{}
	for {
		ok, err := next(dest...)
		if err != nil || !ok {
			return err
		}
		switch kind {
		case "j":
			c.byJurisdiction[jurisdiction] = people
		case "b":
			c.people, c.byBit = people, bits
		}
	}
}

// subjectRows is what pgx.Rows and *sql.Rows share.
type subjectRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanSubjects reads the rows of a snapshot page. Key, jurisdiction and
// locale are read without a copy each (a page has a handful of distinct
// jurisdictions and locales, shared by its rows): reading a page is on the
// path of every person notified.
func scanSubjects(rows subjectRows, limit int) ([]Subject, error) {
	out := make([]Subject, 0, min(limit, 10000))
	interned := map[string]string{}
	intern := func(b []byte) string {
		if s, ok := interned[string(b)]; ok {
			return s
		}
		s := string(b)
		interned[s] = s
		return s
	}
	for rows.Next() {
		var (
			s                  Subject
			key, juris, locale sql.RawBytes
			cats               int64
		)
		if err := rows.Scan(&key, &juris, &cats, &locale, &s.Payload); err != nil {
			return nil, err
		}
		if len(key) != len(s.Key) {
			return nil, fmt.Errorf("subject key of %d bytes in the database", len(key))
		}
		s.Key = [16]byte(key)
		s.Jurisdiction, s.Locale = intern(juris), intern(locale)
		s.Categories = uint64(cats)
		out = append(out, s)
	}
	return out, rows.Err()
}
