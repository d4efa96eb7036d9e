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
    key_hash      bytea       PRIMARY KEY CHECK (octet_length(key_hash) = 32),
    incident_id   text        NOT NULL DEFAULT '',
    holder        text        NOT NULL DEFAULT '',
    lease_until   timestamptz,
    repeats       integer     NOT NULL DEFAULT 0,
    noted_repeats integer     NOT NULL DEFAULT 0,
    noted_at      timestamptz,
    updated_at    timestamptz NOT NULL
);

-- intake_signatures holds the SHA-256 of each signed request taken in the
-- last few minutes (the signature's tolerance, twice): the same signed
-- request seen again is a replay. A request that failed is deleted, so its
-- retry is taken; rows past the window are deleted as new ones come in.
CREATE TABLE intake_signatures (
    sig_hash bytea       PRIMARY KEY CHECK (octet_length(sig_hash) = 32),
    seen_at  timestamptz NOT NULL
);
CREATE INDEX intake_signatures_seen ON intake_signatures (seen_at);
