package config

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/breachctl/breachctl/internal/apperr"
)

// The files of a configuration directory (BREACHCTL_CONFIG_DIR).
const (
	NotifyFile     = "notify.yaml"
	EscalationFile = "escalation.yaml"
	SlackRolesFile = "slack-roles.yaml"
	DatamapFile    = "datamap.yaml"
	RulesDirName   = "rules"
)

// ConfigFile is one file a configuration directory may hold, and the
// variable that names it when it lives elsewhere.
type ConfigFile struct {
	Name     string // in the directory
	Variable string
	Dir      bool // a directory of files (rules/)
}

// ConfigFiles are the files BREACHCTL_CONFIG_DIR may hold. Each is used when
// it is there and its variable is unset; a variable that is set wins.
// notify.yaml is looked for there even when it is missing, so that a worker
// says where it expected it (see Config.NotifyPath).
func ConfigFiles() []ConfigFile {
	return []ConfigFile{
		{Name: NotifyFile, Variable: "BREACHCTL_NOTIFY"},
		{Name: EscalationFile, Variable: "BREACHCTL_ESCALATION"},
		{Name: SlackRolesFile, Variable: "BREACHCTL_SLACK_ROLES"},
		{Name: DatamapFile, Variable: "BREACHCTL_DATAMAP"},
		{Name: RulesDirName, Variable: "BREACHCTL_RULES_DIR", Dir: true},
	}
}

// loadConfigDir fills the unset file settings from BREACHCTL_CONFIG_DIR.
func loadConfigDir(c *Config) error {
	if c.ConfigDir == "" {
		return nil
	}
	if fi, err := os.Stat(c.ConfigDir); err != nil || !fi.IsDir() {
		return apperr.Invalidf("BREACHCTL_CONFIG_DIR", "%s is not a directory that can be read (mount the configuration directory there, or unset the variable)", c.ConfigDir)
	}
	for _, f := range ConfigFiles() {
		dst := c.fileSetting(f.Variable)
		if *dst != "" || f.Name == NotifyFile { // NotifyPath looks for notify.yaml itself
			continue
		}
		path := filepath.Join(c.ConfigDir, f.Name)
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return apperr.Invalidf("BREACHCTL_CONFIG_DIR", "%s: %v", path, err)
		case fi.IsDir() != f.Dir:
			want := "a file"
			if f.Dir {
				want = "a directory"
			}
			return apperr.Invalidf("BREACHCTL_CONFIG_DIR", "%s is not %s (it would be %s)", path, want, f.Variable)
		}
		*dst = path
	}
	return nil
}

func (c *Config) fileSetting(variable string) *string {
	switch variable {
	case "BREACHCTL_NOTIFY":
		return &c.Notify
	case "BREACHCTL_ESCALATION":
		return &c.Escalation
	case "BREACHCTL_SLACK_ROLES":
		return &c.Slack.Roles
	case "BREACHCTL_DATAMAP":
		return &c.Datamap
	case "BREACHCTL_RULES_DIR":
		return &c.RulesDir
	}
	panic("config: no file setting " + variable)
}

// withPassword puts the store's password (BREACHCTL_STORE_PASSWORD) into its
// postgres:// URL, escaped by net/url, so that a password with "/", "#", "%",
// "@" or ":" in it reaches PostgreSQL unchanged. Errors never quote either
// value: both may hold a secret.
func withPassword(store, password string) (string, error) {
	u, err := url.Parse(store)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", apperr.Invalidf("BREACHCTL_STORE_PASSWORD", "is set, so BREACHCTL_STORE must be a URL like postgres://breachctl@db:5432/breachctl")
	}
	if u.User == nil || u.User.Username() == "" {
		return "", apperr.Invalidf("BREACHCTL_STORE", "names no user (postgres://USER@%s/...): BREACHCTL_STORE_PASSWORD is that user's password", u.Host)
	}
	if _, has := u.User.Password(); has {
		return "", apperr.Invalidf("BREACHCTL_STORE", "has a password in it and BREACHCTL_STORE_PASSWORD is set too: give it once, in BREACHCTL_STORE_PASSWORD")
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String(), nil
}

// CheckWorker says whether the configuration can run `breachctl worker`, a
// production process: notices go through SendGrid (SENDGRID_API_KEY), or, on
// purpose, to an outbox directory named by BREACHCTL_OUTBOX_DIR. The outbox
// in the data directory is for `breachctl dev`: a worker writing it would
// leave real notices in a directory nobody reads (or fail on a read-only
// root file system with the notice stuck).
func (c Config) CheckWorker() error {
	if c.SendGrid.APIKey != "" || c.Outbox != "" {
		return nil
	}
	return apperr.Invalidf("SENDGRID_API_KEY",
		"is not set: a worker sends notices through SendGrid. An outbox of .eml files is for `breachctl dev`; "+
			"to keep one on purpose, set BREACHCTL_OUTBOX_DIR to a writable directory (a volume, in a container)")
}
