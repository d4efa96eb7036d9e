package app

import (
	"bytes"
	"context"
	"errors"
	"github.com/breachctl/breachctl/internal/seal"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/notifyconfig"
	"github.com/breachctl/breachctl/internal/rules"
)

func loadConfig(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// With a SendGrid key and no notify file, the worker starts (no error, so no
// crash loop), says at start what is missing, and every notice is refused
// before anything is sent, naming the file it expected.
func TestKeyWithoutNotifyFileStartsAndRefusesNotices(t *testing.T) {
	dir := t.TempDir() // a mounted configuration directory without notify.yaml
	cfg := loadConfig(t, map[string]string{"SENDGRID_API_KEY": "SG.test", "BREACHCTL_CONFIG_DIR": dir})
	rs, err := rules.Load("")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := loadNotify(cfg, rs)
	if err != nil {
		t.Fatalf("a missing notify.yaml in the configuration directory stops the worker: %v", err)
	}
	var logs bytes.Buffer
	m, err := newMailer(cfg, nc, NewLogger(&logs, 0))
	if err != nil {
		t.Fatalf("newMailer: %v; want the worker to start", err)
	}
	want := filepath.Join(dir, config.NotifyFile)
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "no notify configuration") || !strings.Contains(logs.String(), want) {
		t.Errorf("start-up log does not say what is missing:\n%s", logs.String())
	}
	_, err = m.Send(context.Background(), mailer.Batch{Key: "INC-1/eu-gdpr-art34/page-0000/part-0"})
	var permanent *mailer.PermanentError
	if !errors.As(err, &permanent) {
		t.Fatalf("Send = %v; want a permanent refusal, so the batch is recorded failed and not retried", err)
	}
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "BREACHCTL_NOTIFY") {
		t.Errorf("the refusal does not say what to do: %v", err)
	}

	// A file named explicitly that is not there is still an error at start.
	cfg = loadConfig(t, map[string]string{"SENDGRID_API_KEY": "SG.test", "BREACHCTL_NOTIFY": filepath.Join(dir, "typo.yaml")})
	if _, err := loadNotify(cfg, rs); err == nil {
		t.Error("an explicit BREACHCTL_NOTIFY that does not exist is accepted")
	}
}

// Without a key, an outbox that cannot be written (a read-only root file
// system in a container) fails at start with what to do, instead of leaving
// every notice stuck at "sending 0".
func TestOutboxMustBeWritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Under a file, so not even root can make it.
	cfg := loadConfig(t, map[string]string{"BREACHCTL_OUTBOX_DIR": filepath.Join(file, "outbox")})
	var logs bytes.Buffer
	_, err := newMailer(cfg, notifyconfig.Default(), NewLogger(&logs, 0))
	if err == nil || !strings.Contains(err.Error(), "BREACHCTL_OUTBOX_DIR") || !strings.Contains(err.Error(), "SENDGRID_API_KEY") {
		t.Fatalf("unwritable outbox: %v", err)
	}

	out := filepath.Join(t.TempDir(), "outbox")
	cfg = loadConfig(t, map[string]string{"BREACHCTL_OUTBOX_DIR": out})
	m, err := newMailer(cfg, notifyconfig.Default(), NewLogger(&logs, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*mailer.Outbox); !ok {
		t.Fatalf("mailer %T, want the outbox", m)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("the writability check left %d files in the outbox", len(entries))
	}
}

func TestLegacyKindNamesOnlyThePlace(t *testing.T) {
	for in, want := range map[string]string{
		seal.Context("notices", "content", "INC-1/eu-gdpr-art34"): "notices",
		seal.Context("/var/lib/breachctl/outbox", "x.eml.sealed"): "/var/lib/breachctl/outbox",
		"": "unknown", "9:ab": "unknown", "x:y": "unknown",
	} {
		if got := legacyKind(in); got != want {
			t.Errorf("legacyKind(%q) = %q, want %q", in, got, want)
		}
	}
}
