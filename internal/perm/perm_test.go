package perm

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestPrivateDirFixesALooseOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	fixed, err := PrivateDir(dir)
	if err != nil || fixed == nil || fixed.Was != 0o755 {
		t.Fatalf("PrivateDir = %v, %v", fixed, err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("mode %04o, want 0700", m)
	}
	if fixed, err := PrivateDir(dir); err != nil || fixed != nil {
		t.Fatalf("again: %v, %v", fixed, err)
	}
	made := filepath.Join(t.TempDir(), "a", "b")
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if _, err := PrivateDir(made); err != nil || mode(t, made) != 0o700 || mode(t, filepath.Dir(made)) != 0o700 {
		t.Fatalf("new directory: %v", err)
	}
}

func TestPrivateDirRefusesASharedOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if _, err := PrivateDir(dir); err == nil {
		t.Fatal("a sticky directory was taken")
	}
	if m := mode(t, dir); m != 0o777 {
		t.Fatalf("the shared directory was changed to %04o", m)
	}
}

func TestPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if err := CreatePrivate(db); err != nil || mode(t, db) != 0o600 {
		t.Fatalf("CreatePrivate: %v, mode %04o", err, mode(t, db))
	}
	if err := os.WriteFile(db+"-wal", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fixed, err := PrivateFiles(SQLite(db)...) // -shm is missing
	if err != nil || len(fixed) != 1 || fixed[0].Path != db+"-wal" || fixed[0].Was != 0o644 {
		t.Fatalf("PrivateFiles = %v, %v", fixed, err)
	}
	if m := mode(t, db+"-wal"); m != 0o600 {
		t.Fatalf("-wal mode %04o", m)
	}
}
