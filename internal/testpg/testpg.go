// Package testpg gives tests a throwaway PostgreSQL database on the machine's
// server. Only tests import it.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// AdminDSN is the server tests create their databases on:
// BREACHCTL_TEST_POSTGRES, or the machine's PostgreSQL with trust auth. CI
// has PostgreSQL; a test that cannot reach it fails rather than skips, so a
// green run means PostgreSQL was tested.
func AdminDSN() string {
	if dsn := os.Getenv("BREACHCTL_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// DB creates a database for one test, drops it when the test ends, and
// returns its DSN.
func DB(tb testing.TB) string {
	tb.Helper()
	admin := AdminDSN()
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("BREACHCTL_TEST_POSTGRES must be a postgres:// URL to an admin database, got %q", admin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("PostgreSQL is not reachable at %s (set BREACHCTL_TEST_POSTGRES to an admin DSN, or start it: "+
			"pg_ctlcluster --skip-systemctl-redirect 15 main start): %v", u.Host, err)
	}
	defer conn.Close(ctx)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "breachctl_test_" + hex.EncodeToString(rnd[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
