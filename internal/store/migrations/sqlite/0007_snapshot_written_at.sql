-- When a snapshot's writer last wrote (created, or a batch added), so
-- SweepSnapshots can tell a scoping that died (killed, failed before Abort)
-- from one still writing. NULL for snapshots from before: their created_at
-- stands in.
ALTER TABLE snapshots ADD COLUMN written_at TEXT; -- UTC, 2006-01-02T15:04:05.000000Z
