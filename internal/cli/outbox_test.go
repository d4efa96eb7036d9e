package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/seal"
)

func TestKeygenPrintsAnEntryTheConfigReads(t *testing.T) {
	code, out, errOut := run(t, nil, nil, "keygen")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	entry := strings.TrimSpace(out)
	if !strings.HasPrefix(entry, "k20261121-") {
		t.Fatalf("entry %q: want the date's ID", entry)
	}
	k, err := seal.Parse(entry)
	if err != nil || !strings.HasPrefix(k.PrimaryID(), "k20261121-") {
		t.Fatalf("Parse(%q): %v", entry, err)
	}
	// The README's rotation recipe, on the day the first key was made: a
	// second key in front of the first is a keyring the config reads.
	_, second, _ := run(t, nil, nil, "keygen")
	if rotated, err := seal.Parse(strings.TrimSpace(second) + "," + entry); err != nil || len(rotated.IDs()) != 2 {
		t.Fatalf("rotating on the same day: %v", err)
	}
	code, out, _ = run(t, nil, nil, "keygen", "--id", "ops-2", "-o", "json")
	var js map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js["id"] != "ops-2" || !strings.HasPrefix(js["entry"], "ops-2:") {
		t.Fatalf("json: exit %d %q", code, out)
	}
	if code, _, errOut := run(t, nil, nil, "keygen", "--id", "bad id"); code != ExitInvalid || !strings.Contains(errOut, "--id") {
		t.Errorf("bad ID: exit %d %q", code, errOut)
	}
	code, out, _ = run(t, nil, nil, "keygen", "--token")
	if tok := strings.TrimSpace(out); code != 0 || len(tok) < 40 {
		t.Errorf("token: exit %d %q", code, out)
	}
}

func TestOutboxShowOpensSealedFiles(t *testing.T) {
	entry, _ := seal.NewEntry("k1")
	keys, _ := seal.Parse(entry)
	dir := t.TempDir()
	outbox := filepath.Join(dir, "outbox")
	b := mailer.Batch{
		Key: "INC-1/eu-gdpr-art34/page-0001/part-1", From: mailer.Address{Email: "privacy@example.com", Name: "Privacy"},
		Subject: "Notice", Text: "Dear {{recipient_name}}",
		Recipients: []mailer.Recipient{{Email: "ana@example.org", Name: "Ana", ID: "s1"}, {Email: "ben@example.org", Name: "Zoë Ångström", ID: "s2"}},
	}
	if _, err := mailer.NewSealedOutbox(outbox, keys).Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BREACHCTL_DATA_DIR": dir, "BREACHCTL_ENCRYPTION_KEYS": entry}

	code, out, errOut := run(t, nil, env, "outbox", "list")
	if code != 0 || !strings.Contains(out, "ana@example.org") || !strings.Contains(out, "Zoë Ångström") || strings.Contains(out, "=?") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	file := filepath.Join(outbox, mailer.FileName(b.Key, "s1")+mailer.SealedSuffix)
	code, out, errOut = run(t, nil, env, "outbox", "show", file)
	if code != 0 || !strings.Contains(out, "To: \"Ana\" <ana@example.org>") || !strings.Contains(out, "Dear Ana") {
		t.Fatalf("show: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, nil, env, "outbox", "show", "--dir", outbox)
	if code != 0 || strings.Count(out, "==> ") != 2 {
		t.Fatalf("show --dir: exit %d\n%s", code, out)
	}

	delete(env, "BREACHCTL_ENCRYPTION_KEYS")
	code, _, errOut = run(t, nil, env, "outbox", "show", file)
	if code != ExitInvalid || !strings.Contains(errOut, "BREACHCTL_ENCRYPTION_KEYS") {
		t.Errorf("without keys: exit %d %q", code, errOut)
	}
	if code, _, errOut := run(t, nil, env, "outbox", "show"); code != ExitInvalid {
		t.Errorf("neither files nor --dir: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
}
