package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

// ErrSchemaTooNew is returned by Open for a database migrated by a newer
// breachctl than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this breachctl")

type migration struct {
	version int
	name    string // file name, for errors
	sql     string
}

// migrations returns the dialect's migrations in version order, checking that
// they are numbered 1, 2, 3 ... with no gap.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", dialect, err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_name.sql", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	// fs.ReadDir sorts by name, and the names are zero-padded.
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations/%s: expected version %d, found %s", dialect, i+1, m.name)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("migrations/%s: none embedded", dialect)
	}
	return ms, nil
}

// migrationTx is one migration's transaction, holding whatever lock keeps two
// processes from migrating at once, with schema_migrations present.
type migrationTx interface {
	version(ctx context.Context) (int, error) // highest applied, 0 for none
	apply(ctx context.Context, m migration) error
	commit(ctx context.Context) error
	rollback(ctx context.Context) error
}

// migrate applies, in order and one transaction each, every migration the
// database has not seen yet.
func migrate(ctx context.Context, begin func(context.Context) (migrationTx, error), ms []migration) error {
	latest := ms[len(ms)-1].version
	for {
		tx, err := begin(ctx)
		if err != nil {
			return fmt.Errorf("begin migration: %w", err)
		}
		done, err := migrateOne(ctx, tx, ms, latest)
		if err != nil {
			_ = tx.rollback(ctx)
			return err
		}
		if err := tx.commit(ctx); err != nil {
			return fmt.Errorf("commit migration: %w", err)
		}
		if done {
			return nil
		}
	}
}

func migrateOne(ctx context.Context, tx migrationTx, ms []migration, latest int) (done bool, err error) {
	current, err := tx.version(ctx)
	if err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case current > latest:
		return false, fmt.Errorf("%w: the database is at schema version %d, this breachctl knows versions up to %d; upgrade breachctl",
			ErrSchemaTooNew, current, latest)
	case current == latest:
		return true, nil
	}
	m := ms[current] // versions are 1..latest with no gap
	if err := tx.apply(ctx, m); err != nil {
		return false, fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	return false, nil
}
