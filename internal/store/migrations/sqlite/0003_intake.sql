-- HTTP intake from alerting systems (internal/intake).
--
-- intake_keys maps a dedup key to the incident it opened: one row per key,
-- keyed by the SHA-256 of the source and the key, so no column holds alert
-- text (a key can carry a user name or a host). While a request opens the
-- incident, incident_id is '' and holder names that request until
-- lease_until; a request finding another's claim waits for the ID, one
-- finding a lapsed claim takes it over. repeats counts the alerts received
-- again for the incident; noted_at and noted_repeats are when and at which
-- count the timeline last got a note about them, so a flood of repeats
-- makes a note now and then rather than one each.
CREATE TABLE intake_keys (
    key_hash      BLOB    PRIMARY KEY CHECK (length(key_hash) = 32),
    incident_id   TEXT    NOT NULL DEFAULT '',
    holder        TEXT    NOT NULL DEFAULT '',
    lease_until   TEXT,   -- UTC, 2006-01-02T15:04:05.000000Z
    repeats       INTEGER NOT NULL DEFAULT 0,
    noted_repeats INTEGER NOT NULL DEFAULT 0,
    noted_at      TEXT,
    updated_at    TEXT    NOT NULL
) WITHOUT ROWID;

-- intake_signatures holds the SHA-256 of each signed request taken in the
-- last few minutes (the signature's tolerance, twice): the same signed
-- request seen again is a replay. A request that failed is deleted, so its
-- retry is taken; rows past the window are deleted as new ones come in.
CREATE TABLE intake_signatures (
    sig_hash BLOB PRIMARY KEY CHECK (length(sig_hash) = 32),
    seen_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX intake_signatures_seen ON intake_signatures (seen_at);
