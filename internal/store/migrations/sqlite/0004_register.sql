-- The breach register (GDPR Art. 33(5)) outlives Temporal's retention: each
-- incident's final record, written by its workflow when it closes, kept for
-- good. status is the incident's status as JSON, sealed when the store has
-- keys (it holds incident text).
CREATE TABLE register_entries (
    incident_id TEXT PRIMARY KEY,
    closed_at   TEXT NOT NULL, -- UTC, 2006-01-02T15:04:05.000000Z
    status      BLOB NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
