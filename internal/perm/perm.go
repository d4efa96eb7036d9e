// Package perm keeps breachctl's files to their owner: the data directory
// 0700, the database files in it (SQLite's main file, its -wal and -shm)
// 0600, whatever the umask, and whatever modes an older release or another
// tool left. It imports only the standard library.
package perm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Modes enforced.
const (
	Dir  fs.FileMode = 0o700
	File fs.FileMode = 0o600
)

// Fixed is a file or directory whose mode was made private.
type Fixed struct {
	Path string
	Was  fs.FileMode
}

func (f Fixed) String() string { return fmt.Sprintf("%s was %04o", f.Path, f.Was) }

// PrivateDir creates dir (and its parents, 0700) if missing and makes dir
// itself 0700 if group or others had any access. A sticky directory (such as
// /tmp) is shared by design and left alone: it is an error to keep private
// data directly in one.
func PrivateDir(dir string) (*Fixed, error) {
	if err := os.MkdirAll(dir, Dir); err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		return nil, fmt.Errorf("%s is a shared directory (sticky, like /tmp): give a directory of its own in it", dir)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil, nil
	}
	if err := os.Chmod(dir, fi.Mode().Perm()&^0o077); err != nil {
		return nil, fmt.Errorf("make %s private (mode %04o): %w", dir, fi.Mode().Perm(), err)
	}
	return &Fixed{Path: dir, Was: fi.Mode().Perm()}, nil
}

// CreatePrivate creates path empty with mode 0600 unless it exists, so
// that whatever opens it next (SQLite) finds it private from the start.
func CreatePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, File)
	if err != nil {
		return err
	}
	return f.Close()
}

// PrivateFiles makes each existing path 0600 if group or others had any
// access; a missing path is skipped. It returns what it changed.
func PrivateFiles(paths ...string) ([]Fixed, error) {
	var fixed []Fixed
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fixed, err
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&^0o077); err != nil {
			return fixed, fmt.Errorf("make %s private (mode %04o): %w", p, fi.Mode().Perm(), err)
		}
		fixed = append(fixed, Fixed{Path: p, Was: fi.Mode().Perm()})
	}
	return fixed, nil
}

// SQLite lists a SQLite database's files: the main file and the WAL mode's
// -wal and -shm.
func SQLite(path string) []string { return []string{path, path + "-wal", path + "-shm"} }
