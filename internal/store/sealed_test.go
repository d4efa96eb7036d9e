package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/seal"
)

func testKeyring(t testing.TB, entries ...string) *seal.Keyring {
	t.Helper()
	k, err := seal.Parse(strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealedTestsKey is the key of BREACHCTL_TEST_STORE_SEALED runs: one for
// the process, so a store reopened reads what it wrote.
var sealedTestsKey = func() string {
	e, err := seal.NewEntry("test")
	if err != nil {
		panic(err)
	}
	return e
}()

func newEntry(t testing.TB, id string) string {
	t.Helper()
	e, err := seal.NewEntry(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The values a sealed store must never show in its files or columns.
const (
	secretDescription = "Scoped from the crm-export-QX17 file"
	secretEmail       = "ana.sealedtest@example.com"
	secretContent     = "Notice text about the Quokka-7 bucket"
	secretApprover    = "slack:dpo-ZK42"
	secretBatchError  = "400 invalid address zed.sealedtest@example.com"
	secretBounce      = "550 mailbox bo.sealedtest@example.com unknown"
)

var secrets = []string{secretDescription, secretEmail, secretContent, secretApprover, secretBatchError, secretBounce}

// writeSecrets puts every sealed column's secret into s, and reads each
// back through the API.
func writeSecrets(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	w, err := s.NewSnapshot(ctx, "INC-SEAL", secretDescription)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"email":"` + secretEmail + `","name":"Ana"}`)
	if _, _, err := w.Add(ctx, []Subject{
		{Key: key(1), Jurisdiction: "DE", Categories: 1, Locale: "de", Payload: payload},
		{Key: key(2), Jurisdiction: "FR", Categories: 2, Locale: "fr"}, // no payload
	}); err != nil {
		t.Fatal(err)
	}
	info, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Description != secretDescription {
		t.Errorf("Commit's description %q", info.Description)
	}
	got := readAll(t, s, info.ID, 10)
	if len(got) != 2 || !bytes.Equal(got[0].Payload, payload) || len(got[1].Payload) != 0 {
		t.Fatalf("payloads read back: %+v", got)
	}
	if infos, err := s.Snapshots(ctx, "INC-SEAL"); err != nil || len(infos) != 1 || infos[0].Description != secretDescription {
		t.Fatalf("Snapshots: %+v, %v", infos, err)
	}

	n := testNotice("INC-SEAL", "eu-gdpr-art34", "individuals")
	n.Content, n.ApprovedBy = []byte(`{"text":"`+secretContent+`"}`), secretApprover
	stored := createNotice(t, s, n)
	if !bytes.Equal(stored.Content, n.Content) || stored.ApprovedBy != secretApprover {
		t.Fatalf("CreateNotice returned %q by %q", stored.Content, stored.ApprovedBy)
	}
	again := createNotice(t, s, n) // idempotent: reads the stored one back
	if !sameNotice(again, stored) {
		t.Fatalf("again: %+v", again)
	}
	claim(t, s, n.ID, []BatchClaim{{Key: "seal-b1", Subjects: keys(1, 1)}, {Key: "seal-b2", Subjects: keys(2, 2)}},
		[]Unreachable{{Key: key(3), Reason: "no_address"}})
	must(t, s.MarkBatch(ctx, "seal-b1", BatchAccepted, "msg-1", "", time.Time{}))
	must(t, s.MarkBatch(ctx, "seal-b2", BatchFailed, "", secretBatchError, time.Time{}))
	if _, err := s.RecordEvents(ctx, []DeliveryEvent{{Batch: "seal-b1", Subject: key(1), Event: "bounce", Reason: secretBounce}}); err != nil {
		t.Fatal(err)
	}
	// The same event again changes nothing: the stored reason is compared opened.
	if _, err := s.RecordEvents(ctx, []DeliveryEvent{{Batch: "seal-b1", Subject: key(1), Event: "bounce", Reason: secretBounce}}); err != nil {
		t.Fatal(err)
	}

	if got, err := s.Notice(ctx, n.ID); err != nil || !bytes.Equal(got.Content, n.Content) || got.ApprovedBy != secretApprover {
		t.Fatalf("Notice: %+v, %v", got, err)
	}
	if b, err := s.Batch(ctx, "seal-b2"); err != nil || b.Error != secretBatchError {
		t.Fatalf("Batch: %+v, %v", b, err)
	}
	st := claim(t, s, n.ID, []BatchClaim{{Key: "seal-b2", Subjects: keys(2, 2)}}, nil) // a retried page
	if st[0].Error != secretBatchError {
		t.Fatalf("Claim's status of a failed batch: %+v", st[0])
	}
	if r := recipientState(t, s, "INC-SEAL", "individuals", key(1)); r.State != "bounced" || r.Reason != secretBounce {
		t.Fatalf("bounced recipient: %+v", r)
	}
	if r := recipientState(t, s, "INC-SEAL", "individuals", key(2)); r.State != "failed" || r.Reason != secretBatchError {
		t.Fatalf("recipient of the failed batch: %+v", r)
	}
	if r := recipientState(t, s, "INC-SEAL", "individuals", key(3)); r.State != "unreachable" || r.Reason != "no_address" {
		t.Fatalf("unreachable recipient: %+v", r)
	}
	if rep, err := s.NoticeReport(ctx, n.ID); err != nil || !bytes.Equal(rep.Notice.Content, n.Content) {
		t.Fatalf("NoticeReport: %+v, %v", rep, err)
	}
}

// sealedColumns reads every sealed column's raw values.
func sealedColumns(t *testing.T, s *Store) []string {
	t.Helper()
	qs := []string{
		`SELECT payload FROM snapshot_subjects`,
		`SELECT description FROM snapshots`,
		`SELECT content FROM notices`,
		`SELECT approved_by FROM notices`,
		`SELECT error FROM notice_batches WHERE error <> ''`,
		`SELECT reason FROM notice_recipients WHERE reason IS NOT NULL`,
	}
	var out []string
	for _, q := range qs {
		var vals []string
		switch db := s.db.(type) {
		case *sqliteDB:
			rows, err := db.w.Query(q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for rows.Next() {
				var v []byte
				must(t, rows.Scan(&v))
				vals = append(vals, string(v))
			}
			must(t, rows.Err())
			rows.Close()
		case *pgDB:
			rows, err := db.pool.Query(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for rows.Next() {
				var v []byte
				must(t, rows.Scan(&v))
				vals = append(vals, string(v))
			}
			must(t, rows.Err())
		}
		if len(vals) == 0 {
			t.Fatalf("%s: no rows", q)
		}
		out = append(out, vals...)
	}
	return out
}

func TestSealedColumnsRoundTripAndAreNotReadable(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s, err := Open(context.Background(), dsn, WithKeys(testKeyring(t, newEntry(t, "k1"))))
		if err != nil {
			t.Fatal(err)
		}
		writeSecrets(t, s)
		for _, v := range sealedColumns(t, s) {
			if !seal.IsSealed([]byte(v)) && !seal.IsSealedString(v) {
				t.Errorf("a column holds %q, not sealed", v)
			}
		}
		must(t, s.Close())
		path, ok := strings.CutPrefix(dsn, "sqlite:")
		if !ok {
			return
		}
		// Every file SQLite wrote: the database, its WAL and shared memory.
		files, err := filepath.Glob(path + "*")
		if err != nil || len(files) == 0 {
			t.Fatalf("files %v: %v", files, err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range secrets {
				if bytes.Contains(raw, []byte(secret)) {
					t.Errorf("%s holds %q", filepath.Base(f), secret)
				}
			}
		}
	})
}

func TestPlainRowsReadAfterEncryptionIsOn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		old := newEntry(t, "k1")
		plain, err := Open(ctx, dsn)
		must(t, err)
		w, err := plain.NewSnapshot(ctx, "INC-OLD", "written plain")
		must(t, err)
		_, _, err = w.Add(ctx, []Subject{subject(1, "DE", 1)})
		must(t, err)
		before, err := w.Commit(ctx)
		must(t, err)
		n := createNotice(t, plain, testNotice("INC-OLD", "r", "individuals"))
		must(t, plain.Close())

		// Keys on: the plain rows still read; new rows are sealed.
		sealed, err := Open(ctx, dsn, WithKeys(testKeyring(t, old)))
		must(t, err)
		if got := readAll(t, sealed, before.ID, 10); len(got) != 1 || string(got[0].Payload) != "p1" {
			t.Fatalf("plain payload under keys: %+v", got)
		}
		if got, err := sealed.Notice(ctx, n.ID); err != nil || !bytes.Equal(got.Content, n.Content) || got.ApprovedBy != n.ApprovedBy {
			t.Fatalf("plain notice under keys: %+v, %v", got, err)
		}
		w, err = sealed.NewSnapshot(ctx, "INC-NEW", "written sealed")
		must(t, err)
		_, _, err = w.Add(ctx, []Subject{subject(2, "FR", 1)})
		must(t, err)
		after, err := w.Commit(ctx)
		must(t, err)
		must(t, sealed.Close())

		// A key put in front: both older kinds of row still read.
		rotated, err := Open(ctx, dsn, WithKeys(testKeyring(t, newEntry(t, "k2"), old)))
		must(t, err)
		for id, want := range map[string]string{before.ID: "p1", after.ID: "p2"} {
			if got := readAll(t, rotated, id, 10); len(got) != 1 || string(got[0].Payload) != want {
				t.Fatalf("after rotation, snapshot %s: %+v", id, got)
			}
		}
		must(t, rotated.Close())

		// Without the key, a sealed row is an error naming it, not garbage.
		for name, k := range map[string]*seal.Keyring{"no keys": nil, "another key": testKeyring(t, newEntry(t, "k9"))} {
			s, err := Open(ctx, dsn, WithKeys(k))
			must(t, err)
			_, err = s.ReadSnapshot(ctx, after.ID, [16]byte{}, 10)
			var unknown *seal.UnknownKeyError
			if !errors.As(err, &unknown) || unknown.ID != "k1" || !strings.Contains(err.Error(), `"k1"`) {
				t.Errorf("%s: reading a sealed snapshot: %v", name, err)
			}
			if _, err := s.Snapshot(ctx, after.ID); !errors.As(err, &unknown) {
				t.Errorf("%s: a sealed description: %v", name, err)
			}
			must(t, s.Close())
		}
	})
}
