-- Keyed subject keys (docs/adr/0006-keyed-subject-keys.md).
--
-- store_secrets holds the store's own secrets, one row each. subject_key is
-- the HMAC-SHA-256 key that turns a person's identity into the 16-byte key of
-- snapshot_subjects and notice_recipients: 32 random bytes made when the
-- store is first opened, sealed under the keyring when the store has keys
-- (key_id names the key that sealed it, '' for plain).
CREATE TABLE store_secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    key_id     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- How a snapshot's keys were made: 0, the first 16 bytes of SHA-256 of the
-- identity, as every snapshot before this migration was written; 1, keyed
-- with the store's subject_key. An incident with a committed snapshot of
-- scheme 0 keeps scheme 0 for its later snapshots, so its ledger still knows
-- each person by one key ("nobody twice"); every other incident gets 1.
ALTER TABLE snapshots ADD COLUMN key_scheme integer NOT NULL DEFAULT 0;
