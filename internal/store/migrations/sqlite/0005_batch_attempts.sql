-- Write-ahead sending (issue 14): every Mail Send request of a batch is an
-- attempt, recorded as sending before it leaves and finished with its
-- outcome after, so a batch cut off mid-request is never sent again blindly
-- and whoever was mailed more than once is on the record.
--
-- notice_batches is rebuilt, as SQLite cannot change a CHECK in place, to
-- allow the state 'sending', with the counts NoticeProgress adds up per
-- batch (never per person):
--   last_attempt_at, last_outcome: when the latest attempt began, and what
--     it came to ('' before any attempt was recorded);
--   resends: attempts made although an earlier one's fate was unknown;
--   taken:   attempts SendGrid took (accepted, or confirmed afterwards);
--   unknown: attempts whose fate is unknown (sending, ambiguous).
-- A batch accepted before attempts were recorded counts as one request
-- taken. Nothing references notice_batches, and its seqs are kept, so the
-- recipients' batch_seq still names their batch.
CREATE TABLE notice_batches_0005 (
    seq             INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL UNIQUE,
    notice_seq      INTEGER NOT NULL REFERENCES notices (seq),
    recipients      INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'accepted', 'failed', 'ambiguous')),
    message_id      TEXT    NOT NULL DEFAULT '',
    error           TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         TEXT,
    updated_at      TEXT    NOT NULL,
    events          INTEGER NOT NULL DEFAULT 0,
    delivered       INTEGER NOT NULL DEFAULT 0,
    bounced         INTEGER NOT NULL DEFAULT 0,
    dropped         INTEGER NOT NULL DEFAULT 0,
    deferred        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TEXT,
    last_outcome    TEXT    NOT NULL DEFAULT '',
    resends         INTEGER NOT NULL DEFAULT 0,
    taken           INTEGER NOT NULL DEFAULT 0,
    unknown         INTEGER NOT NULL DEFAULT 0
);
INSERT INTO notice_batches_0005 (seq, key, notice_seq, recipients, state, message_id, error, attempts, sent_at, updated_at,
        events, delivered, bounced, dropped, deferred, taken)
    SELECT seq, key, notice_seq, recipients, state, message_id, error, attempts, sent_at, updated_at,
        events, delivered, bounced, dropped, deferred, CASE WHEN state = 'accepted' THEN 1 ELSE 0 END
    FROM notice_batches;
DROP TABLE notice_batches;
ALTER TABLE notice_batches_0005 RENAME TO notice_batches;
CREATE INDEX notice_batches_notice ON notice_batches (notice_seq);

-- One row per attempt of a batch, numbered 1, 2, ... in the order they
-- began; the primary key is what lets only one writer begin attempt n.
-- error is sealed like the batch's; resend says why an attempt was made
-- although an earlier one's fate was unknown ('' otherwise); confirmed_by is
-- what reconciled an attempt of unknown fate ('event', 'activity').
CREATE TABLE batch_attempts (
    batch_seq    INTEGER NOT NULL REFERENCES notice_batches (seq),
    n            INTEGER NOT NULL CHECK (n >= 1),
    started_at   TEXT    NOT NULL, -- UTC, 2006-01-02T15:04:05.000000Z
    ended_at     TEXT,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('sending', 'accepted', 'refused', 'temporary', 'ambiguous', 'confirmed', 'not_taken')),
    message_id   TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    resend       TEXT    NOT NULL DEFAULT '',
    confirmed_by TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (batch_seq, n)
) WITHOUT ROWID;
