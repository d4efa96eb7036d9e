package mailer

import (
	"bytes"
	"context"
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
