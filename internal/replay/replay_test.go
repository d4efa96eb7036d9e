package replay_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/internal/store"
)

func TestKeySeparatesSchemesAndSplits(t *testing.T) {
	a := replay.Key("slack", []byte("1700000000"), []byte("body"))
	for name, k := range map[string][32]byte{
		"another scheme": replay.Key("sendgrid", []byte("1700000000"), []byte("body")),
		"another split":  replay.Key("slack", []byte("1700000000b"), []byte("ody")),
		"one part":       replay.Key("slack", []byte("1700000000body")),
	} {
		if k == a {
			t.Errorf("%s: same key", name)
		}
	}
	if replay.Key("slack", []byte("1700000000"), []byte("body")) != a {
		t.Error("the same request gives another key")
	}
}

// TestGuardSharedByTwoServers runs two guards, as two `serve` processes
// would, on two handles of one SQLite store: a request taken by one is a
// replay at the other, until the mark is older than Keep.
func TestGuardSharedByTwoServers(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "breachctl.db")
	open := func() *store.Store {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	one := &replay.Guard{Store: open(), Now: clock}
	two := &replay.Guard{Store: open(), Now: clock}
	key := replay.Key("slack", []byte("1"), []byte("note"))

	if _, err := one.Claim(ctx, key); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	if _, err := two.Claim(ctx, key); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("replay at the other server: %v, want ErrReplayed", err)
	}
	now = now.Add(replay.DefaultKeep - time.Second)
	if _, err := one.Claim(ctx, key); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("replay just inside Keep: %v, want ErrReplayed", err)
	}
	now = now.Add(2 * time.Second)
	forget, err := two.Claim(ctx, key)
	if err != nil {
		t.Fatalf("after Keep the mark is gone (and the signature's timestamp long stale): %v", err)
	}
	if err := forget(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := one.Claim(ctx, key); err != nil {
		t.Fatalf("a forgotten request may be sent again: %v", err)
	}
}

func TestMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	g := &replay.Guard{Store: &replay.Memory{}, Now: func() time.Time { return now }}
	key := replay.Key("sendgrid", []byte("x"))
	forget, err := g.Claim(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Claim(ctx, key); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	_ = forget(ctx)
	if _, err := g.Claim(ctx, key); err != nil {
		t.Fatalf("after forget: %v", err)
	}
	now = now.Add(replay.DefaultKeep + time.Second)
	if _, err := g.Claim(ctx, key); err != nil {
		t.Fatalf("after Keep: %v", err)
	}
}
