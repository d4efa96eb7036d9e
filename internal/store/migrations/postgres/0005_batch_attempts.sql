-- Write-ahead sending (issue 14): every Mail Send request of a batch is an
-- attempt, recorded as sending before it leaves and finished with its
-- outcome after, so a batch cut off mid-request is never sent again blindly
-- and whoever was mailed more than once is on the record.
--
-- notice_batches allows the state 'sending' and keeps the counts
-- NoticeProgress adds up per batch (never per person):
--   last_attempt_at, last_outcome: when the latest attempt began, and what
--     it came to ('' before any attempt was recorded);
--   resends: attempts made although an earlier one's fate was unknown;
--   taken:   attempts SendGrid took (accepted, or confirmed afterwards);
--   unknown: attempts whose fate is unknown (sending, ambiguous).
-- A batch accepted before attempts were recorded counts as one request
-- taken.
ALTER TABLE notice_batches
    DROP CONSTRAINT notice_batches_state_check,
    ADD CONSTRAINT notice_batches_state_check CHECK (state IN ('queued', 'sending', 'accepted', 'failed', 'ambiguous')),
    ADD COLUMN last_attempt_at timestamptz,
    ADD COLUMN last_outcome    text    NOT NULL DEFAULT '',
    ADD COLUMN resends         integer NOT NULL DEFAULT 0,
    ADD COLUMN taken           integer NOT NULL DEFAULT 0,
    ADD COLUMN unknown         integer NOT NULL DEFAULT 0;
UPDATE notice_batches SET taken = 1 WHERE state = 'accepted';

-- One row per attempt of a batch, numbered 1, 2, ... in the order they
-- began; the primary key is what lets only one writer begin attempt n.
-- error is sealed like the batch's; resend says why an attempt was made
-- although an earlier one's fate was unknown ('' otherwise); confirmed_by is
-- what reconciled an attempt of unknown fate ('event', 'activity').
CREATE TABLE batch_attempts (
    batch_seq    integer     NOT NULL REFERENCES notice_batches (seq),
    n            integer     NOT NULL CHECK (n >= 1),
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    outcome      text        NOT NULL CHECK (outcome IN ('sending', 'accepted', 'refused', 'temporary', 'ambiguous', 'confirmed', 'not_taken')),
    message_id   text        NOT NULL DEFAULT '',
    error        text        NOT NULL DEFAULT '',
    resend       text        NOT NULL DEFAULT '',
    confirmed_by text        NOT NULL DEFAULT '',
    PRIMARY KEY (batch_seq, n)
);
