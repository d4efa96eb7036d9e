-- The notification ledger: approved notices, the batches each was sent in,
-- the people each batch reached, and what SendGrid's Event Webhook reported.
--
-- ledger_audiences numbers the (incident, audience) pairs: "nobody twice"
-- holds within one, and its seq keeps the per-person rows small.
CREATE TABLE ledger_audiences (
    seq         INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL,
    audience    TEXT NOT NULL,
    UNIQUE (incident_id, audience)
);

-- One row per approved notice. content is the approved notice (JSON),
-- opaque to the store. unreachable counts its recipient rows without a
-- batch, kept by Claim so NoticeProgress never counts people.
CREATE TABLE notices (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    incident_id  TEXT    NOT NULL,
    rule         TEXT    NOT NULL,
    audience_seq INTEGER NOT NULL REFERENCES ledger_audiences (seq),
    snapshot_id  TEXT    NOT NULL,
    content      BLOB    NOT NULL,
    approved_by  TEXT    NOT NULL,
    approved_at  TEXT    NOT NULL, -- UTC, 2006-01-02T15:04:05.000000Z
    created_at   TEXT    NOT NULL,
    unreachable  INTEGER NOT NULL DEFAULT 0
);

-- One row per Mail Send request. recipients is how many people the ledger
-- assigned to it when it was claimed; delivered, bounced, dropped and
-- deferred count its recipients by their latest Event Webhook state, kept by
-- RecordEvents, so a notice's progress is a sum over its batches (a
-- thousand per million people) rather than a count of its people.
CREATE TABLE notice_batches (
    seq        INTEGER PRIMARY KEY,
    key        TEXT    NOT NULL UNIQUE,
    notice_seq INTEGER NOT NULL REFERENCES notices (seq),
    recipients INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('queued', 'accepted', 'failed', 'ambiguous')),
    message_id TEXT    NOT NULL DEFAULT '',
    error      TEXT    NOT NULL DEFAULT '',
    attempts   INTEGER NOT NULL DEFAULT 0,
    sent_at    TEXT,
    updated_at TEXT    NOT NULL,
    events     INTEGER NOT NULL DEFAULT 0,
    delivered  INTEGER NOT NULL DEFAULT 0,
    bounced    INTEGER NOT NULL DEFAULT 0,
    dropped    INTEGER NOT NULL DEFAULT 0,
    deferred   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notice_batches_notice ON notice_batches (notice_seq);

-- One row per person notified (or found unreachable) in an audience: the
-- primary key is what makes "nobody twice" hold. A claimed row carries only
-- the four leading columns; batch_seq is NULL for an unreachable person
-- (reason says why, updated_at when); delivery, reason and updated_at are
-- set by Event Webhook events (delivered, bounced, dropped, deferred).
-- subject_key is the caller's 16-byte hash of the person, as in
-- snapshot_subjects; no column holds personal data, except that a bounce
-- reason from SendGrid may quote the address.
--
-- WITHOUT ROWID, unlike snapshot_subjects: the row is hardly larger than its
-- key, so one B-tree instead of a table and an index. Claim inserts each
-- call's rows in key order, which appends within the B-tree.
--
-- No foreign keys and no other index: checking them costs a share of every
-- insert, and a million rows are inserted per million people notified. The
-- store inserts rows only under a notice and batches it has just read or
-- written in the same transaction. The check on delivery is written with OR:
-- with IN, SQLite builds a table of the list for every INSERT statement,
-- which doubled the time Claim took.
CREATE TABLE notice_recipients (
    audience_seq INTEGER NOT NULL,
    subject_key  BLOB    NOT NULL CHECK (length(subject_key) = 16),
    notice_seq   INTEGER NOT NULL,
    batch_seq    INTEGER,
    delivery     TEXT CHECK (delivery = 'delivered' OR delivery = 'bounced' OR delivery = 'dropped' OR delivery = 'deferred'),
    reason       TEXT,
    updated_at   TEXT,
    PRIMARY KEY (audience_seq, subject_key)
) WITHOUT ROWID;
