package store

import (
	"context"
	"fmt"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
)

// RegisterEntry is a closed incident as the breach register keeps it.
type RegisterEntry struct {
	IncidentID string
	ClosedAt   time.Time
	// Status is the incident's final status as JSON (incident.Status),
	// opaque to the store.
	Status    []byte
	UpdatedAt time.Time
}

type registerEngine interface {
	putRegisterEntry(ctx context.Context, e RegisterEntry) error
	registerEntries(ctx context.Context) ([]RegisterEntry, error)
}

var (
	_ registerEngine = (*sqliteDB)(nil)
	_ registerEngine = (*pgDB)(nil)
)

func (s *Store) register() (registerEngine, error) {
	e, ok := s.db.(registerEngine)
	if !ok {
		return nil, apperr.New(apperr.Internal, "the %s store has no register table", s.db.dialect())
	}
	return e, nil
}

// PutRegisterEntry records (or replaces) a closed incident's final record;
// writing the same record again changes nothing, so a retried activity is
// harmless.
func (s *Store) PutRegisterEntry(ctx context.Context, incidentID string, closedAt time.Time, status []byte) error {
	if incidentID == "" || len(status) == 0 {
		return apperr.Invalidf("register entry", "needs an incident ID and its status")
	}
	e, err := s.register()
	if err != nil {
		return err
	}
	if s.keys != nil {
		if status, err = s.keys.SealBytesFor(nil, status, registerContext(incidentID)); err != nil {
			return err
		}
	}
	err = e.putRegisterEntry(ctx, RegisterEntry{IncidentID: incidentID, ClosedAt: closedAt.UTC(), Status: status, UpdatedAt: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("record %s in the register: %w", incidentID, err)
	}
	return nil
}

// RegisterEntries returns every closed incident's record, oldest first.
func (s *Store) RegisterEntries(ctx context.Context) ([]RegisterEntry, error) {
	e, err := s.register()
	if err != nil {
		return nil, err
	}
	entries, err := e.registerEntries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the register: %w", err)
	}
	for i := range entries {
		if entries[i].Status, err = s.keys.OpenInPlaceFor(entries[i].Status, registerContext(entries[i].IncidentID)); err != nil {
			return nil, fmt.Errorf("register entry %s: %w", entries[i].IncidentID, err)
		}
	}
	return entries, nil
}

func (d *sqliteDB) putRegisterEntry(ctx context.Context, e RegisterEntry) error {
	_, err := d.w.ExecContext(ctx, `INSERT INTO register_entries (incident_id, closed_at, status, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET closed_at = excluded.closed_at, status = excluded.status, updated_at = excluded.updated_at`,
		e.IncidentID, e.ClosedAt.Format(sqliteTime), e.Status, e.UpdatedAt.Format(sqliteTime))
	return err
}

func (d *sqliteDB) registerEntries(ctx context.Context) ([]RegisterEntry, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT incident_id, closed_at, status, updated_at FROM register_entries ORDER BY closed_at, incident_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RegisterEntry
	for rows.Next() {
		var e RegisterEntry
		var closed, updated string
		if err := rows.Scan(&e.IncidentID, &closed, &e.Status, &updated); err != nil {
			return nil, err
		}
		if e.ClosedAt, err = time.Parse(sqliteTime, closed); err != nil {
			return nil, err
		}
		if e.UpdatedAt, err = time.Parse(sqliteTime, updated); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (d *pgDB) putRegisterEntry(ctx context.Context, e RegisterEntry) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO register_entries (incident_id, closed_at, status, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (incident_id) DO UPDATE SET closed_at = excluded.closed_at, status = excluded.status, updated_at = excluded.updated_at`,
		e.IncidentID, e.ClosedAt, e.Status, e.UpdatedAt)
	return err
}

func (d *pgDB) registerEntries(ctx context.Context) ([]RegisterEntry, error) {
	rows, err := d.pool.Query(ctx, `SELECT incident_id, closed_at, status, updated_at FROM register_entries ORDER BY closed_at, incident_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RegisterEntry
	for rows.Next() {
		var e RegisterEntry
		if err := rows.Scan(&e.IncidentID, &e.ClosedAt, &e.Status, &e.UpdatedAt); err != nil {
			return nil, err
		}
		e.ClosedAt, e.UpdatedAt = e.ClosedAt.UTC(), e.UpdatedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
