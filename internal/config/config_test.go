package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"USER": "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.Address != DefaultAddress || c.Temporal.Namespace != DefaultNamespace || c.TaskQueue != DefaultTaskQueue ||
		c.Actor != "cli:alice" || len(c.Reminders) != 4 || c.Retention != 30*24*time.Hour || c.Temporal.UsesTLS() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestAPIKeyImpliesTLS(t *testing.T) {
	c, err := Load(env(map[string]string{"TEMPORAL_API_KEY": "k", "TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233"}))
	if err != nil || !c.Temporal.UsesTLS() || c.Temporal.Address != "ns.acct.tmprl.cloud:7233" {
		t.Fatalf("%+v %v", c.Temporal, err)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for name, val := range map[string]string{
		"TEMPORAL_TLS":                  "maybe",
		"BREACHCTL_REMINDERS":           "48h,soon",
		"BREACHCTL_LOG_LEVEL":           "loud",
		"BREACHCTL_RETENTION":           "2h",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": "/only/the/cert.pem",
	} {
		_, err := Load(env(map[string]string{name: val}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err = %v, want one naming %s", name, val, err, name)
		}
	}
}

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2160h": 90 * 24 * time.Hour, " 1d ": 24 * time.Hour} {
		if got, err := ParseRetention(in); err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %s, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "d", "12h", "thirty days"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) accepted", bad)
		}
	}
}

func TestEncryption(t *testing.T) {
	key := "k1:" + strings.Repeat("A", 43) + "=" // 32 zero bytes
	c, err := Load(env(map[string]string{
		"BREACHCTL_ENCRYPTION_KEYS":    key,
		"BREACHCTL_CODEC_TOKEN":        "a-token-of-16-chars",
		"BREACHCTL_CODEC_CORS_ORIGINS": "http://127.0.0.1:8233, https://ui.example.com/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keys == nil || c.Temporal.Keys != c.Keys || c.Keys.PrimaryID() != "k1" {
		t.Fatalf("keys: %v, Temporal's %v", c.Keys, c.Temporal.Keys)
	}
	if got := strings.Join(c.Codec.CORSOrigins, " "); got != "http://127.0.0.1:8233 https://ui.example.com" {
		t.Errorf("origins %q", got)
	}
	for name, val := range map[string]string{
		"BREACHCTL_ENCRYPTION_KEYS":    key + ",k2:c2hvcnQ=",
		"BREACHCTL_CODEC_TOKEN":        "short",
		"BREACHCTL_CODEC_CORS_ORIGINS": "127.0.0.1:8233",
	} {
		_, err := Load(env(map[string]string{name: val}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err = %v, want one naming %s", name, val, err, name)
		}
	}
	_, err = Load(env(map[string]string{"BREACHCTL_ENCRYPTION_KEYS": key + ",k2:c2hvcnQ="}))
	if err == nil || !strings.Contains(err.Error(), `entry 2 ("k2")`) || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Errorf("a bad entry: %v", err)
	}
}

func TestIntake(t *testing.T) {
	c, err := Load(env(map[string]string{
		"BREACHCTL_INTAKE_SECRETS": " 0123456789abcdef0123 , fedcba9876543210fedc ",
		"BREACHCTL_INTAKE_TOKENS":  "tok-0123456789abcdef",
	}))
	if err != nil || !c.Intake.Enabled() || len(c.Intake.Secrets) != 2 || c.Intake.Secrets[1] != "fedcba9876543210fedc" || len(c.Intake.Tokens) != 1 {
		t.Fatalf("%+v %v", c.Intake, err)
	}
	if c, _ := Load(env(nil)); c.Intake.Enabled() {
		t.Fatal("intake on with nothing set")
	}
	_, err = Load(env(map[string]string{"BREACHCTL_INTAKE_TOKENS": "tok-0123456789abcdef,short-one"}))
	if err == nil || !strings.Contains(err.Error(), "BREACHCTL_INTAKE_TOKENS") || strings.Contains(err.Error(), "short-one") {
		t.Fatalf("short token: %v; want an error naming the variable, not the value", err)
	}
}
