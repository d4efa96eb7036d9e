package devserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/server/common/headers"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// Names of the files in Options.DataDir.
const (
	DBFileName     = "temporal.db"
	MarkerFileName = "server-version.json"
)

// Versions identifies the code that created a temporal.db file.
type Versions struct {
	// TemporalServer is go.temporal.io/server/common/headers.ServerVersion.
	TemporalServer string `json:"temporal_server"`
	// SQLiteSchema is go.temporal.io/server/schema/sqlite.Version.
	SQLiteSchema string `json:"sqlite_schema"`
}

// EmbeddedVersions returns the versions compiled into this binary.
func EmbeddedVersions() Versions {
	return Versions{TemporalServer: headers.ServerVersion, SQLiteSchema: sqliteschema.Version}
}

func (v Versions) String() string {
	return fmt.Sprintf("Temporal server %s (SQLite schema %s)", v.TemporalServer, v.SQLiteSchema)
}

// marker is the content of MarkerFileName.
type marker struct {
	Versions
	CreatedAt time.Time `json:"created_at"`
}

// VersionMismatchError is returned by Start when DataDir holds a database that
// was created by another Temporal server or SQLite schema version, or whose
// marker file is missing or unreadable. The SQLite schema has no upgrade path,
// so the server refuses to open it.
type VersionMismatchError struct {
	DBPath     string
	MarkerPath string
	// Found is the zero value when the marker is missing or unreadable.
	Found    Versions
	Embedded Versions
	// Reason says what was wrong with the marker when it could not be read.
	Reason string
}

func (e *VersionMismatchError) Error() string {
	found := "was created by " + e.Found.String() + " according to " + e.MarkerPath
	if e.Reason != "" {
		found = "was created by an unknown version: " + e.Reason
	}
	return fmt.Sprintf("%s %s, but this breachctl embeds %s; "+
		"the SQLite schema has no upgrade path, so the dev server will not open it. "+
		"Back up %s, then run the breachctl release that created it, or start with a new --data-dir",
		e.DBPath, found, e.Embedded, filepath.Dir(e.DBPath))
}

// checkMarker compares the marker in dir with the embedded versions. It is
// called only when the database file exists.
func checkMarker(dbPath, markerPath string) error {
	want := EmbeddedVersions()
	mismatch := &VersionMismatchError{DBPath: dbPath, MarkerPath: markerPath, Embedded: want}
	b, err := os.ReadFile(markerPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		mismatch.Reason = markerPath + " is missing"
		return mismatch
	case err != nil:
		return fmt.Errorf("read version marker: %w", err)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil || m.TemporalServer == "" || m.SQLiteSchema == "" {
		mismatch.Reason = markerPath + " is unreadable"
		return mismatch
	}
	if m.Versions != want {
		mismatch.Found = m.Versions
		return mismatch
	}
	return nil
}

// writeMarker records the embedded versions in markerPath, atomically: a
// reader sees the old file or the whole new one.
func writeMarker(markerPath string, now time.Time) error {
	b, err := json.MarshalIndent(marker{Versions: EmbeddedVersions(), CreatedAt: now.UTC()}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(markerPath), MarkerFileName+".tmp*")
	if err != nil {
		return fmt.Errorf("write version marker: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write version marker: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write version marker: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write version marker: %w", err)
	}
	if err := os.Rename(tmp.Name(), markerPath); err != nil {
		return fmt.Errorf("write version marker: %w", err)
	}
	return syncDir(filepath.Dir(markerPath))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
