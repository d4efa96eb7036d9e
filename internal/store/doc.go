// Package store keeps what must not go into Temporal: the people affected by a
// breach (subject snapshots), the notification ledger, and the breach
// register later. It runs on a SQLite file in the data directory by default
// and on PostgreSQL when configured; both behave the same.
//
// What it guarantees, and why:
//
//   - No personal data outside the payload. A person is a 16-byte key, a
//     jurisdiction, a category bit set, a locale and an opaque payload.
//     Nothing else about a person is stored, logged or put in an error. The
//     key is a keyed hash of the person's identity (HMAC-SHA-256 under the
//     store's own secret, sealed under the keyring: subjectkeys.go), made by
//     SnapshotWriter.Keyer, so the database alone cannot tell whether a
//     given address was affected.
//
//   - Sealed at rest. Opened WithKeys, the store seals (AES-256-GCM, the
//     key's ID in each value) every column that holds incident text or
//     personal data: payloads, descriptions, notice contents and approvers,
//     batch errors, bounce reasons (sealed.go). Rows from before are read
//     as they are, so turning encryption on needs no migration.
//
//   - A snapshot appears whole or not at all. It is written in batches, each
//     its own transaction, and becomes readable only at Commit, which counts
//     people per jurisdiction and per category bit in SQL and is durable when
//     it returns (synchronous=FULL for that one transaction on SQLite,
//     synchronous_commit on PostgreSQL) even though the batches before it are
//     written with cheaper syncs. Abort deletes it.
//
//   - One person, one row. A key seen again, in the same batch or a later
//     one, is merged: categories are OR'd, the first jurisdiction, locale and
//     payload are kept, and Add says exactly how many were new and how many
//     merged.
//
//   - Memory that does not grow with the number of people. Add holds one
//     batch; counts are computed by the database; ReadSnapshot pages in key
//     order.
//
//   - Bulk writes. Add merges a batch's duplicates in Go and sorts it by key.
//     On PostgreSQL it copies the batch (COPY) into a temporary staging table
//     and moves it with one INSERT ... ON CONFLICT DO UPDATE, split into key
//     ranges written on two connections at once; on SQLite it runs prepared
//     32-row INSERT ... ON CONFLICT DO UPDATE statements in one transaction.
//     BenchmarkSnapshotWrite measures it.
//
//   - Nobody notified twice. The notification ledger (ledger.go) holds one
//     row per person and (incident, audience), keyed by the person's key:
//     Claim adds a page's people under a notice's batches in one
//     transaction, leaving out whoever is there already, so a retried page
//     or a second notice to the same audience claims nobody again. The
//     rows are written in key order and in bulk (COPY on PostgreSQL, a
//     thousand rows a statement from one blob on SQLite), and a notice's
//     progress is summed from counts kept on its batches, never counted
//     from its people.
//
//   - Versioned schema. Migrations are embedded SQL files per dialect
//     (migrations/<dialect>/NNNN_name.sql), applied in order on Open, one
//     transaction each, recorded in schema_migrations. A later table is a new
//     file. A database whose schema is newer than this binary is refused.
package store
