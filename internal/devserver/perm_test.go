package devserver_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/breachctl/breachctl/internal/devserver"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With the usual umask and a data directory an older release left 0755,
// Start makes the directory 0700, logs that it did, and every file of the
// database (temporal.db, -wal, -shm) and the marker is 0600: another user
// of the machine reads nothing.
func TestStartKeepsTheDataDirPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logged lockedBuffer
	opts := testOptions(dir)
	opts.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := start(t, ctx, opts)
	_ = dial(t, ctx, s) // the server has written: the WAL exists

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v, mode %04o; want 0700", err, fi.Mode().Perm())
	}
	if !bytes.Contains([]byte(logged.String()), []byte("was=0755")) {
		t.Errorf("the fix is not logged: %q", logged.String())
	}
	db := filepath.Join(dir, devserver.DBFileName)
	for _, p := range []string{db, db + "-wal", db + "-shm", filepath.Join(dir, devserver.MarkerFileName)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
