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
