-- The notification ledger: approved notices, the batches each was sent in,
-- the people each batch reached, and what SendGrid's Event Webhook reported.
--
-- ledger_audiences numbers the (incident, audience) pairs: "nobody twice"
-- holds within one, and its seq keeps the per-person rows small.
CREATE TABLE ledger_audiences (
    seq         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id text NOT NULL,
    audience    text NOT NULL,
    UNIQUE (incident_id, audience)
);

-- One row per approved notice. content is the approved notice (JSON),
-- opaque to the store. unreachable counts its recipient rows without a
-- batch, kept by Claim so NoticeProgress never counts people.
CREATE TABLE notices (
    seq          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text        NOT NULL UNIQUE,
    incident_id  text        NOT NULL,
    rule         text        NOT NULL,
    audience_seq integer     NOT NULL REFERENCES ledger_audiences (seq),
    snapshot_id  text        NOT NULL,
    content      bytea       NOT NULL,
    approved_by  text        NOT NULL,
    approved_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    unreachable  integer     NOT NULL DEFAULT 0
);

-- One row per Mail Send request. recipients is how many people the ledger
-- assigned to it when it was claimed; delivered, bounced, dropped and
-- deferred count its recipients by their latest Event Webhook state, kept by
-- RecordEvents, so a notice's progress is a sum over its batches (a
-- thousand per million people) rather than a count of its people.
CREATE TABLE notice_batches (
    seq        integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key        text        NOT NULL UNIQUE,
    notice_seq integer     NOT NULL REFERENCES notices (seq),
    recipients integer     NOT NULL,
    state      text        NOT NULL CHECK (state IN ('queued', 'accepted', 'failed', 'ambiguous')),
    message_id text        NOT NULL DEFAULT '',
    error      text        NOT NULL DEFAULT '',
    attempts   integer     NOT NULL DEFAULT 0,
    sent_at    timestamptz,
    updated_at timestamptz NOT NULL,
    events     integer     NOT NULL DEFAULT 0,
    delivered  integer     NOT NULL DEFAULT 0,
    bounced    integer     NOT NULL DEFAULT 0,
    dropped    integer     NOT NULL DEFAULT 0,
    deferred   integer     NOT NULL DEFAULT 0
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
-- No foreign keys and no other index: checking them costs a share of every
-- insert, and a million rows are inserted per million people notified. The
-- store inserts rows only under a notice and batches it has just read or
-- written in the same transaction.
CREATE TABLE notice_recipients (
    audience_seq integer NOT NULL,
    subject_key  bytea   NOT NULL CHECK (octet_length(subject_key) = 16),
    notice_seq   integer NOT NULL,
    batch_seq    integer,
    delivery     text CHECK (delivery IN ('delivered', 'bounced', 'dropped', 'deferred')),
    reason       text,
    updated_at   timestamptz,
    PRIMARY KEY (audience_seq, subject_key)
);
