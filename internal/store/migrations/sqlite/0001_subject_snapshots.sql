-- Subject snapshots: the people affected by a breach, as scoping found them.
--
-- snapshots is one row per snapshot. seq is internal (it keeps the per-person
-- rows small); id ("snap_" + UUID) is what workflows and people see. A
-- snapshot is written in batches and becomes visible when committed_at is
-- set; until then it is not readable, and Abort deletes it.
CREATE TABLE snapshots (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    incident_id  TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    created_at   TEXT    NOT NULL, -- UTC, 2006-01-02T15:04:05.000000Z
    committed_at TEXT,             -- NULL while being written
    people       INTEGER NOT NULL DEFAULT 0,
    merged       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX snapshots_incident ON snapshots (incident_id, created_at);

-- One row per person in a snapshot, unique by (snapshot_seq, key). key is the
-- caller's 16-byte hash of the person's identity; payload is the person's
-- details, opaque to the store (encrypted by the caller). No other column
-- holds personal data. categories is a bit set (bit i = data category i),
-- stored as the int64 with the same bits.
--
-- A rowid table with a unique index rather than a WITHOUT ROWID table keyed by
-- (snapshot_seq, key): keys are hashes, so every batch lands all over the key
-- order; here only the small index entries do, the rows are appended. It
-- writes about twice as fast at a million people. And a new row's rowid is
-- one more than the largest, so Add counts new rows as the growth of
-- max(rowid) in its transaction.
--
-- No foreign key to snapshots: checking it once per person costs PostgreSQL
-- a third of the write, and the store writes rows only under a snapshot it
-- has just created, and deletes them before the snapshot.
CREATE TABLE snapshot_subjects (
    snapshot_seq INTEGER NOT NULL,
    key          BLOB    NOT NULL CHECK (length(key) = 16),
    jurisdiction TEXT    NOT NULL,
    categories   INTEGER NOT NULL,
    locale       TEXT    NOT NULL,
    payload      BLOB    NOT NULL
);
CREATE UNIQUE INDEX snapshot_subjects_key ON snapshot_subjects (snapshot_seq, key);

-- Counts computed in SQL when a snapshot is committed.
CREATE TABLE snapshot_jurisdiction_counts (
    snapshot_seq INTEGER NOT NULL REFERENCES snapshots (seq) ON DELETE CASCADE,
    jurisdiction TEXT    NOT NULL,
    people       INTEGER NOT NULL,
    PRIMARY KEY (snapshot_seq, jurisdiction)
) WITHOUT ROWID;

CREATE TABLE snapshot_category_counts (
    snapshot_seq INTEGER NOT NULL REFERENCES snapshots (seq) ON DELETE CASCADE,
    bit          INTEGER NOT NULL CHECK (bit BETWEEN 0 AND 63),
    people       INTEGER NOT NULL,
    PRIMARY KEY (snapshot_seq, bit)
) WITHOUT ROWID;
