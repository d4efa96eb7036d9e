// Package devserver runs a Temporal server inside the breachctl process for
// `breachctl dev`: frontend, history, matching and worker services, the
// frontend's HTTP API and the Web UI, all on loopback, with no other process
// to install.
//
// What it guarantees, and why:
//
//   - Durable. State lives in DataDir/temporal.db, SQLite in WAL mode with
//     synchronous=FULL, so a transaction the server has committed survives
//     Ctrl-C, kill -9 and power loss. An incident's legal clocks are
//     workflow timers: a deadline that falls due while the process is down
//     fires when it comes back. A dev server that forgot them on restart
//     would teach people to trust clocks that are not there.
//
//   - Private. DataDir is 0700 and temporal.db, its -wal and -shm files and
//     the marker 0600, whatever the umask: the database is made 0600 before
//     SQLite opens it, and a looser directory or file an older release left
//     is tightened at Start, with a warning in the log (internal/perm).
//
//   - Version-pinned. The SQLite schema has no upgrade path of its own (the
//     server creates it whole on an empty file and never migrates it), so a
//     database made by one Temporal release may not work with the next. Start
//     records the embedded server and schema versions in
//     DataDir/server-version.json when it creates the database, and refuses,
//     with a *VersionMismatchError, to open a database whose marker is missing
//     or names other versions. Nothing is ever changed in such a directory.
//
//   - Configured on every boot. The namespace is created if missing, its
//     retention is set to Options.Retention, and missing custom search
//     attributes are added, so a data dir from an older breachctl with fewer
//     attributes keeps working.
//
//   - Clear about ports. A busy port is reported as a *PortInUseError before
//     anything starts (the UI server would otherwise exit the process).
//
// Membership is static (no gossip ring), there is one history shard and one
// partition per task queue; the server is for one developer's machine, not
// for production.
//
// Start and Stop may be called again in the same process, on the same or
// another DataDir (the tests do), but Stop does not free everything: the
// SQLite plugin never closes a database connection, so the file stays open
// until the process exits, and a few of the server's internal gRPC clients
// keep redialling the stopped server's ports. Two components that would leak
// polling workers (the scanners and the parent-close-policy worker) are
// switched off; see dynamicConfig.
package devserver
