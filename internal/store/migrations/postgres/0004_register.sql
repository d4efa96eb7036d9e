-- The breach register (GDPR Art. 33(5)) outlives Temporal's retention: each
-- incident's final record, written by its workflow when it closes, kept for
-- good. status is the incident's status as JSON, sealed when the store has
-- keys (it holds incident text).
CREATE TABLE register_entries (
    incident_id text PRIMARY KEY,
    closed_at   timestamptz NOT NULL,
    status      bytea NOT NULL,
    updated_at  timestamptz NOT NULL
);
