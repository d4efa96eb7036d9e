package mailer

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/seal"
)

func TestSealedOutboxHidesAddresses(t *testing.T) {
	entry, err := seal.NewEntry("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.Parse(entry)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "outbox")
	b := testBatch(2)
	if _, err := NewSealedOutbox(dir, keys).Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.Recipients {
		path := filepath.Join(dir, FileName(b.Key, r.ID)+SealedSuffix)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(r.Email)) || bytes.Contains(raw, []byte(r.Name)) {
			t.Errorf("%s holds the recipient in the clear", filepath.Base(path))
		}
		msg, err := ReadOutboxFile(path, keys)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		if to, err := mail.ParseAddress(m.Header.Get("To")); err != nil || to.Address != r.Email {
			t.Errorf("To: %v, %v", to, err)
		}
		if _, err := ReadOutboxFile(path, nil); err == nil || !strings.Contains(err.Error(), "no encryption keys") {
			t.Errorf("reading without keys: %v", err)
		}
	}
	if plain, _ := filepath.Glob(filepath.Join(dir, "*.eml")); len(plain) != 0 {
		t.Errorf("plain files beside the sealed ones: %v", plain)
	}
}

// A sealed file is bound to its name: copied over another recipient's, it
// does not open as theirs. A file sealed before names were bound still
// opens.
func TestSealedOutboxFileDoesNotOpenUnderAnotherName(t *testing.T) {
	entry, err := seal.NewEntry("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.Parse(entry)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "outbox")
	b := testBatch(2)
	if _, err := NewSealedOutbox(dir, keys).Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, FileName(b.Key, b.Recipients[0].ID)+SealedSuffix)
	second := filepath.Join(dir, FileName(b.Key, b.Recipients[1].ID)+SealedSuffix)
	raw, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOutboxFile(second, keys); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("the first file under the second's name: %v, want ErrTampered", err)
	}
	old, err := keys.SealBytes(nil, []byte("Subject: sealed before names were bound\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := ReadOutboxFile(second, keys); err != nil || !bytes.HasPrefix(msg, []byte("Subject: sealed before")) || keys.LegacyOpens() != 1 {
		t.Fatalf("an older file: %q, %v (legacy opens %d)", msg, err, keys.LegacyOpens())
	}
}
