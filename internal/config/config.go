// Package config reads breachctl's configuration from the environment. Only
// the composition root calls it; every other package gets its settings
// passed in. Secrets come from here and nowhere else.
package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/internal/seal"
)

// Temporal says how to reach a Temporal cluster. The variable names are the
// ones Temporal's own tools read.
type Temporal struct {
	Address          string // TEMPORAL_ADDRESS
	Namespace        string // TEMPORAL_NAMESPACE
	APIKey           string // TEMPORAL_API_KEY (secret)
	TLS              bool   // TEMPORAL_TLS; implied by an API key or a client certificate
	ClientCertPath   string // TEMPORAL_TLS_CLIENT_CERT_PATH
	ClientKeyPath    string // TEMPORAL_TLS_CLIENT_KEY_PATH
	ServerCACertPath string // TEMPORAL_TLS_SERVER_CA_CERT_PATH
	ServerName       string // TEMPORAL_TLS_SERVER_NAME
	// Keys seal every payload a client or worker sends (Config.Keys, the
	// same keyring): set in Load, so no client is built without them.
	Keys *seal.Keyring
}

// Config is everything breachctl reads from the environment.
type Config struct {
	Temporal  Temporal
	TaskQueue string              // BREACHCTL_TASK_QUEUE
	HTTPAddr  string              // BREACHCTL_HTTP_ADDR, for serve and dev
	Reminders []incident.Duration // BREACHCTL_REMINDERS, before each deadline
	LogLevel  slog.Level          // BREACHCTL_LOG_LEVEL
	Actor     string              // BREACHCTL_ACTOR: who the CLI acts as
	DataDir   string              // BREACHCTL_DATA_DIR, for dev
	Retention time.Duration       // BREACHCTL_RETENTION, for dev's namespace
	RulesDir  string              // BREACHCTL_RULES_DIR: rules on top of the built-in ones
	Datamap   string              // BREACHCTL_DATAMAP: the company's data map
	// Store is where snapshots of affected people, the notification ledger
	// and the register live: BREACHCTL_STORE, "postgres://..." or a SQLite
	// path; default breachctl.db in the data directory.
	Store string
	// SourcesDSN is the PostgreSQL database scoping queries read affected
	// people from (BREACHCTL_SOURCES_DSN, a secret).
	SourcesDSN string
	// Notify is the notify configuration: who notices come from and which
	// authorities and customers they go to (BREACHCTL_NOTIFY; default
	// notify.yaml in the data directory, if there is one).
	Notify string
	// Escalation is the escalation policies file (BREACHCTL_ESCALATION):
	// who is paged, how and after how long; without it, reminders page the
	// incident channel only.
	Escalation string
	// ConfigDir is a directory of configuration files
	// (BREACHCTL_CONFIG_DIR, e.g. a read-only mount at /etc/breachctl):
	// notify.yaml, escalation.yaml, slack-roles.yaml, datamap.yaml and
	// rules/ in it are used where their own variable is unset (see
	// ConfigFiles). Empty: none.
	ConfigDir string
	// Outbox is where the outbox mailer writes .eml files when there is no
	// SendGrid key (BREACHCTL_OUTBOX_DIR); default outbox/ in the data
	// directory, for `dev`. A worker without a SendGrid key refuses to
	// start unless it is set (CheckWorker).
	Outbox string
	// WorkerStopTimeout is how long a stopping worker lets the requests in
	// flight finish and record their outcome (BREACHCTL_WORKER_STOP_TIMEOUT,
	// default 90s: longer than the longest Mail Send request). A container's
	// stop grace period must be longer still.
	WorkerStopTimeout time.Duration
	// SendGrid sends the emails; without an API key, notices are written
	// as .eml files to the outbox in the data directory.
	SendGrid SendGrid
	Slack    Slack
	// Intake authenticates alerting systems posting alerts (POST
	// /intake/v1/...); with neither secrets nor tokens it is off.
	Intake Intake
	// Keys encrypt Temporal payloads, the store's fields that hold incident
	// text or personal data, and outbox files: BREACHCTL_ENCRYPTION_KEYS (a
	// secret), "k2:<base64 of 32 bytes>,k1:<...>", the first key seals and
	// every key opens. Nil: nothing is encrypted.
	Keys  *seal.Keyring
	Codec Codec
}

// Codec is the endpoint that decrypts payloads for the Temporal UI and CLI
// (POST /codec/decode and /codec/encode on the HTTP server).
type Codec struct {
	// Token is the bearer token a caller must present
	// (BREACHCTL_CODEC_TOKEN, a secret); without it, or without Keys, the
	// endpoint is off: it would decrypt for anyone who reaches the port.
	Token string
	// CORSOrigins are the Temporal UI origins a browser may call it from
	// (BREACHCTL_CODEC_CORS_ORIGINS, comma-separated); dev adds its own UI.
	CORSOrigins []string
}

// MinCodecToken is the shortest BREACHCTL_CODEC_TOKEN accepted.
const MinCodecToken = 16

// Slack is how breachctl talks with Slack.
type Slack struct {
	SigningSecret string // SLACK_SIGNING_SECRET (secret): turns the /slack endpoints on
	BotToken      string // SLACK_BOT_TOKEN (secret)
	// AppToken (xapp-..., SLACK_APP_TOKEN, secret) turns on Socket Mode:
	// Slack's requests arrive over a websocket breachctl opens, for
	// installations with no public endpoint.
	AppToken string
	Roles    string // BREACHCTL_SLACK_ROLES: the file mapping Slack users to roles
	APIURL   string // SLACK_API_URL: another Web API base (a loopback server in tests)
	// Responders are Slack user IDs invited to every incident channel
	// (BREACHCTL_SLACK_RESPONDERS, comma-separated).
	Responders []string
}

// SendGrid is how to reach SendGrid.
type SendGrid struct {
	APIKey  string // SENDGRID_API_KEY (secret)
	BaseURL string // SENDGRID_BASE_URL: https://api.eu.sendgrid.com for EU data residency
	// WebhookPublicKey verifies the Event Webhook's signatures
	// (SENDGRID_WEBHOOK_PUBLIC_KEY); without it the endpoint is off.
	WebhookPublicKey string
}

// NotifyPath is the notify configuration to read, and whether it was named
// explicitly (a missing explicit file is an error; a missing default is not).
func (c Config) NotifyPath() (path string, explicit bool) {
	if c.Notify != "" {
		return c.Notify, true
	}
	if c.ConfigDir != "" {
		return filepath.Join(c.ConfigDir, NotifyFile), false
	}
	return filepath.Join(c.DataDir, NotifyFile), false
}

// OutboxDir is where the outbox mailer writes .eml files: BREACHCTL_OUTBOX_DIR,
// or outbox/ in the data directory.
func (c Config) OutboxDir() string {
	if c.Outbox != "" {
		return c.Outbox
	}
	return filepath.Join(c.DataDir, "outbox")
}

// StoreDSN is the store to open: the configured one, or the SQLite file in
// the data directory.
func (c Config) StoreDSN() string {
	if c.Store != "" {
		return c.Store
	}
	return "sqlite:" + filepath.Join(c.DataDir, "breachctl.db")
}

// Dev are the options of `breachctl dev` beyond the environment.
type Dev struct {
	DataDir   string
	IP        string
	Port      int // Temporal frontend gRPC; 0 picks a free port
	UIPort    int // Temporal Web UI; 0 picks a free port, -1 disables it
	HTTPAddr  string
	Retention time.Duration
	// NoWorker leaves the worker out, for workers run apart (`breachctl
	// worker`) that a test can kill -9 without the server.
	NoWorker bool
}

// Defaults.
const (
	DefaultAddress   = "127.0.0.1:7233"
	DefaultNamespace = "breachctl"
	DefaultTaskQueue = "breachctl"
	DefaultHTTPAddr  = "127.0.0.1:8080"
	DefaultDataDir   = ".breachctl"
	// DefaultRetention keeps closed incidents' histories long enough for a
	// breach register review; the register itself keeps them for good.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultWorkerStopTimeout outlasts the longest Mail Send request
	// (the SendGrid client's timeout) with room to record its outcome.
	DefaultWorkerStopTimeout = 90 * time.Second
)

// Load reads the configuration; an error names the variable that is wrong.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		Temporal: Temporal{
			Address:          orDefault(getenv("TEMPORAL_ADDRESS"), DefaultAddress),
			Namespace:        orDefault(getenv("TEMPORAL_NAMESPACE"), DefaultNamespace),
			APIKey:           getenv("TEMPORAL_API_KEY"),
			ClientCertPath:   getenv("TEMPORAL_TLS_CLIENT_CERT_PATH"),
			ClientKeyPath:    getenv("TEMPORAL_TLS_CLIENT_KEY_PATH"),
			ServerCACertPath: getenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
			ServerName:       getenv("TEMPORAL_TLS_SERVER_NAME"),
		},
		TaskQueue:  orDefault(getenv("BREACHCTL_TASK_QUEUE"), DefaultTaskQueue),
		HTTPAddr:   orDefault(getenv("BREACHCTL_HTTP_ADDR"), DefaultHTTPAddr),
		Reminders:  rules.DefaultReminders,
		LogLevel:   slog.LevelInfo,
		Actor:      getenv("BREACHCTL_ACTOR"),
		DataDir:    orDefault(getenv("BREACHCTL_DATA_DIR"), DefaultDataDir),
		Retention:  DefaultRetention,
		RulesDir:   getenv("BREACHCTL_RULES_DIR"),
		Datamap:    getenv("BREACHCTL_DATAMAP"),
		Store:      getenv("BREACHCTL_STORE"),
		SourcesDSN: getenv("BREACHCTL_SOURCES_DSN"),
		Notify:     getenv("BREACHCTL_NOTIFY"),
		Escalation: getenv("BREACHCTL_ESCALATION"),
		ConfigDir:  strings.TrimSpace(getenv("BREACHCTL_CONFIG_DIR")),
		Outbox:     strings.TrimSpace(getenv("BREACHCTL_OUTBOX_DIR")),
		// The longest Mail Send request plus room to record it.
		WorkerStopTimeout: DefaultWorkerStopTimeout,
		SendGrid: SendGrid{
			APIKey:           strings.TrimSpace(getenv("SENDGRID_API_KEY")),
			BaseURL:          strings.TrimSpace(getenv("SENDGRID_BASE_URL")),
			WebhookPublicKey: strings.TrimSpace(getenv("SENDGRID_WEBHOOK_PUBLIC_KEY")),
		},
		Slack: Slack{
			SigningSecret: strings.TrimSpace(getenv("SLACK_SIGNING_SECRET")),
			BotToken:      strings.TrimSpace(getenv("SLACK_BOT_TOKEN")),
			AppToken:      strings.TrimSpace(getenv("SLACK_APP_TOKEN")),
			Roles:         strings.TrimSpace(getenv("BREACHCTL_SLACK_ROLES")),
			APIURL:        strings.TrimSpace(getenv("SLACK_API_URL")),
			Responders:    strings.FieldsFunc(getenv("BREACHCTL_SLACK_RESPONDERS"), func(r rune) bool { return r == ',' || r == ' ' }),
		},
	}
	if v := getenv("TEMPORAL_TLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, apperr.Invalidf("TEMPORAL_TLS", "%q is not true or false", v)
		}
		c.Temporal.TLS = b
	}
	if (c.Temporal.ClientCertPath == "") != (c.Temporal.ClientKeyPath == "") {
		return c, apperr.Invalidf("TEMPORAL_TLS_CLIENT_CERT_PATH", "and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together")
	}
	if v := getenv("BREACHCTL_REMINDERS"); v != "" {
		r, err := incident.ParseOffsets(v)
		if err != nil {
			return c, apperr.Invalidf("BREACHCTL_REMINDERS", "%v", err)
		}
		c.Reminders = r
	}
	if v := getenv("BREACHCTL_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, apperr.Invalidf("BREACHCTL_LOG_LEVEL", "%q is not debug, info, warn or error", v)
		}
	}
	if v := getenv("BREACHCTL_RETENTION"); v != "" {
		d, err := ParseRetention(v)
		if err != nil {
			return c, apperr.Invalidf("BREACHCTL_RETENTION", "%v", err)
		}
		c.Retention = d
	}
	if v := getenv("BREACHCTL_WORKER_STOP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return c, apperr.Invalidf("BREACHCTL_WORKER_STOP_TIMEOUT", "%q is not a positive duration like 90s or 2m", v)
		}
		c.WorkerStopTimeout = d
	}
	if pw := getenv("BREACHCTL_STORE_PASSWORD"); pw != "" {
		dsn, err := withPassword(c.Store, pw)
		if err != nil {
			return c, err
		}
		c.Store = dsn
	}
	if err := loadConfigDir(&c); err != nil {
		return c, err
	}
	if err := loadEncryption(&c, getenv); err != nil {
		return c, err
	}
	if err := loadIntake(&c, getenv); err != nil {
		return c, err
	}
	if c.Actor == "" {
		c.Actor = "cli:" + currentUser(getenv)
	}
	return c, nil
}

func loadEncryption(c *Config, getenv func(string) string) error {
	keys, err := seal.Parse(getenv("BREACHCTL_ENCRYPTION_KEYS"))
	if err != nil {
		return apperr.Invalidf("BREACHCTL_ENCRYPTION_KEYS", "%v", err)
	}
	c.Keys, c.Temporal.Keys = keys, keys
	c.Codec.Token = strings.TrimSpace(getenv("BREACHCTL_CODEC_TOKEN"))
	if n := len(c.Codec.Token); n > 0 && n < MinCodecToken {
		return apperr.Invalidf("BREACHCTL_CODEC_TOKEN", "%d characters, at least %d (breachctl keygen --token makes one)", n, MinCodecToken)
	}
	for i, o := range strings.Split(getenv("BREACHCTL_CODEC_CORS_ORIGINS"), ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return apperr.Invalidf("BREACHCTL_CODEC_CORS_ORIGINS", "entry %d, %q, is not an origin like https://temporal-ui.example.com", i+1, o)
		}
		c.Codec.CORSOrigins = append(c.Codec.CORSOrigins, u.Scheme+"://"+u.Host)
	}
	return nil
}

// ParseRetention reads a retention period: a Go duration ("720h") or whole
// days ("30d"). At least a day, as Temporal requires.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days like 30d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration like 30d or 720h", s)
		}
		d = v
	}
	if d < 24*time.Hour {
		return 0, fmt.Errorf("%q is under a day; Temporal keeps closed workflows at least a day", s)
	}
	return d, nil
}

// UsesTLS reports whether the connection to Temporal must use TLS.
func (t Temporal) UsesTLS() bool {
	return t.TLS || t.APIKey != "" || t.ClientCertPath != "" || t.ServerCACertPath != ""
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

func currentUser(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "unknown"
}

// Intake is how alerting systems authenticate to the HTTP intake. Both
// lists take several values, comma-separated, so a secret or token can be
// rotated: add the new one, move the senders over, remove the old one.
type Intake struct {
	Secrets []string // BREACHCTL_INTAKE_SECRETS (secret): HMAC-SHA256 signing secrets
	Tokens  []string // BREACHCTL_INTAKE_TOKENS (secret): bearer tokens
}

// Enabled reports whether the intake endpoints are on.
func (i Intake) Enabled() bool { return len(i.Secrets) > 0 || len(i.Tokens) > 0 }

// MinIntakeSecret is the shortest intake secret or token accepted: a
// short one could be guessed.
const MinIntakeSecret = 16

func loadIntake(c *Config, getenv func(string) string) error {
	// getenv is called with each name written out: TestEnvExample finds
	// the variables breachctl reads by looking for such calls.
	for _, v := range []struct {
		name, value string
		dst         *[]string
	}{
		{"BREACHCTL_INTAKE_SECRETS", getenv("BREACHCTL_INTAKE_SECRETS"), &c.Intake.Secrets},
		{"BREACHCTL_INTAKE_TOKENS", getenv("BREACHCTL_INTAKE_TOKENS"), &c.Intake.Tokens},
	} {
		for i, s := range strings.Split(v.value, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if len(s) < MinIntakeSecret {
				// The message never quotes the value: it is a secret.
				return apperr.Invalidf(v.name, "entry %d is %d characters, at least %d (openssl rand -hex 32 makes one)", i+1, len(s), MinIntakeSecret)
			}
			*v.dst = append(*v.dst, s)
		}
	}
	return nil
}
