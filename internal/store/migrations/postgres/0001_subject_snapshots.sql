-- Subject snapshots: the people affected by a breach, as scoping found them.
--
-- snapshots is one row per snapshot. seq is internal (it keeps the per-person
-- rows small); id ("snap_" + UUID) is what workflows and people see. A
-- snapshot is written in batches and becomes visible when committed_at is
-- set; until then it is not readable, and Abort deletes it.
CREATE TABLE snapshots (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text        NOT NULL UNIQUE,
    incident_id  text        NOT NULL,
    description  text        NOT NULL,
    created_at   timestamptz NOT NULL,
    committed_at timestamptz,           -- NULL while being written
    people       bigint      NOT NULL DEFAULT 0,
    merged       bigint      NOT NULL DEFAULT 0
);
CREATE INDEX snapshots_incident ON snapshots (incident_id, created_at);

-- One row per person in a snapshot. key is the caller's 16-byte hash of the
-- person's identity; payload is the person's details, opaque to the store
-- (encrypted by the caller). No other column holds personal data.
-- categories is a bit set (bit i = data category i), stored as the int64 with
-- the same bits.
--
-- No foreign key to snapshots: PostgreSQL checks one per inserted row, a
-- third of the cost of writing a person; the store writes rows only under a
-- snapshot it has just created, and deletes them before the snapshot.
CREATE TABLE snapshot_subjects (
    snapshot_seq bigint   NOT NULL,
    key          bytea    NOT NULL CHECK (octet_length(key) = 16),
    jurisdiction text     NOT NULL,
    categories   bigint   NOT NULL,
    locale       text     NOT NULL,
    payload      bytea    NOT NULL,
    PRIMARY KEY (snapshot_seq, key)
);

-- Counts computed in SQL when a snapshot is committed.
CREATE TABLE snapshot_jurisdiction_counts (
    snapshot_seq bigint NOT NULL REFERENCES snapshots (seq) ON DELETE CASCADE,
    jurisdiction text   NOT NULL,
    people       bigint NOT NULL,
    PRIMARY KEY (snapshot_seq, jurisdiction)
);

CREATE TABLE snapshot_category_counts (
    snapshot_seq bigint   NOT NULL REFERENCES snapshots (seq) ON DELETE CASCADE,
    bit          smallint NOT NULL CHECK (bit BETWEEN 0 AND 63),
    people       bigint   NOT NULL,
    PRIMARY KEY (snapshot_seq, bit)
);
