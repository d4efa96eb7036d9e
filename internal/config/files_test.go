package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Passwords that broke a store URL written by hand ("postgres://u:%s@...").
var awkwardPasswords = []string{
	"a/b", "a#b", "100%", "p@ss:word?x", "s p&a=c+e;", "%2F", `q"u'o\te`, "ünï/cødé#%",
}

func TestStorePasswordEscaped(t *testing.T) {
	for _, pw := range awkwardPasswords {
		c, err := Load(env(map[string]string{
			"BREACHCTL_STORE":          "postgres://breachctl@postgresql:5432/breachctl?sslmode=disable",
			"BREACHCTL_STORE_PASSWORD": pw,
		}))
		if err != nil {
			t.Fatalf("%q: %v", pw, err)
		}
		// pgx, which the store opens the URL with, must read back exactly
		// the password, user, host and database.
		pc, err := pgxpool.ParseConfig(c.StoreDSN())
		if err != nil {
			t.Fatalf("%q: pgx cannot parse %q: %v", pw, c.StoreDSN(), err)
		}
		cc := pc.ConnConfig
		if cc.Password != pw || cc.User != "breachctl" || cc.Host != "postgresql" || cc.Port != 5432 || cc.Database != "breachctl" {
			t.Errorf("%q: pgx reads password %q user %q host %q:%d database %q", pw, cc.Password, cc.User, cc.Host, cc.Port, cc.Database)
		}
		if cc.TLSConfig != nil {
			t.Errorf("%q: sslmode=disable was lost", pw)
		}
	}
}

func TestStorePasswordErrors(t *testing.T) {
	for _, tc := range []struct{ store, want string }{
		{"", "BREACHCTL_STORE_PASSWORD"},
		{"sqlite:/data/breachctl.db", "BREACHCTL_STORE_PASSWORD"},
		{"postgres://postgresql:5432/breachctl", "names no user"},
		{"postgres://breachctl:inline@postgresql/breachctl", "give it once"},
	} {
		_, err := Load(env(map[string]string{"BREACHCTL_STORE": tc.store, "BREACHCTL_STORE_PASSWORD": "s3cr#t/pw"}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("store %q: err = %v, want one saying %q", tc.store, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cr#t") || strings.Contains(err.Error(), "inline") {
			t.Errorf("store %q: the error quotes a password: %v", tc.store, err)
		}
	}
}

func TestWorkerStopTimeout(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.WorkerStopTimeout != 90*time.Second {
		t.Fatalf("default %s, %v; want 90s", c.WorkerStopTimeout, err)
	}
	if c, err = Load(env(map[string]string{"BREACHCTL_WORKER_STOP_TIMEOUT": "2m30s"})); err != nil || c.WorkerStopTimeout != 150*time.Second {
		t.Fatalf("2m30s: %s, %v", c.WorkerStopTimeout, err)
	}
	for _, bad := range []string{"90", "-1s", "0s", "soon"} {
		if _, err := Load(env(map[string]string{"BREACHCTL_WORKER_STOP_TIMEOUT": bad})); err == nil || !strings.Contains(err.Error(), "BREACHCTL_WORKER_STOP_TIMEOUT") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestCheckWorker(t *testing.T) {
	c, _ := Load(env(nil))
	err := c.CheckWorker()
	if err == nil || !strings.Contains(err.Error(), "SENDGRID_API_KEY") || !strings.Contains(err.Error(), "breachctl dev") ||
		!strings.Contains(err.Error(), "BREACHCTL_OUTBOX_DIR") {
		t.Fatalf("no key, no outbox: %v; want a refusal naming SENDGRID_API_KEY, dev and BREACHCTL_OUTBOX_DIR", err)
	}
	if c, _ := Load(env(map[string]string{"SENDGRID_API_KEY": "SG.x"})); c.CheckWorker() != nil {
		t.Fatal("a key is refused")
	}
	c, _ = Load(env(map[string]string{"BREACHCTL_OUTBOX_DIR": "/var/lib/breachctl/outbox"}))
	if c.CheckWorker() != nil || c.OutboxDir() != "/var/lib/breachctl/outbox" {
		t.Fatalf("an explicit outbox: %v, %s", c.CheckWorker(), c.OutboxDir())
	}
	if c, _ := Load(env(map[string]string{"BREACHCTL_DATA_DIR": "/d"})); c.OutboxDir() != filepath.Join("/d", "outbox") {
		t.Fatalf("dev's outbox: %s", c.OutboxDir())
	}
}

func TestConfigDir(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{EscalationFile, SlackRolesFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, RulesDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{"BREACHCTL_CONFIG_DIR": dir, "BREACHCTL_SLACK_ROLES": "/elsewhere/roles.yaml"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Escalation != filepath.Join(dir, EscalationFile) || c.RulesDir != filepath.Join(dir, RulesDirName) {
		t.Errorf("escalation %q, rules %q: the directory's files are not used", c.Escalation, c.RulesDir)
	}
	if c.Slack.Roles != "/elsewhere/roles.yaml" {
		t.Errorf("slack roles %q: the variable must win over the directory", c.Slack.Roles)
	}
	if c.Datamap != "" {
		t.Errorf("datamap %q: a file that is not there is not used", c.Datamap)
	}
	// notify.yaml is looked for in the directory, missing or not, and not
	// as an explicit file: without it a worker runs and says so.
	if p, explicit := c.NotifyPath(); p != filepath.Join(dir, NotifyFile) || explicit {
		t.Errorf("NotifyPath = %q, %v", p, explicit)
	}
	if c, _ := Load(env(map[string]string{"BREACHCTL_CONFIG_DIR": dir, "BREACHCTL_NOTIFY": "/n.yaml"})); func() bool { p, e := c.NotifyPath(); return p != "/n.yaml" || !e }() {
		t.Error("BREACHCTL_NOTIFY must win over the directory")
	}

	if _, err := Load(env(map[string]string{"BREACHCTL_CONFIG_DIR": filepath.Join(dir, "missing")})); err == nil || !strings.Contains(err.Error(), "BREACHCTL_CONFIG_DIR") {
		t.Errorf("a missing directory: %v", err)
	}
	bad := t.TempDir()
	if err := os.Mkdir(filepath.Join(bad, EscalationFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(env(map[string]string{"BREACHCTL_CONFIG_DIR": bad})); err == nil || !strings.Contains(err.Error(), "BREACHCTL_ESCALATION") {
		t.Errorf("escalation.yaml a directory: %v", err)
	}
}
