package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/breachctl/breachctl/internal/apperr"
)

func TestTargetSaysDevOnlyForTheLocalDefault(t *testing.T) {
	cases := []struct {
		address string
		dev     bool
	}{
		{"127.0.0.1:7233", true},
		{"localhost:7233", true},
		{"[::1]:7233", true},
		{"127.0.0.1:7234", false}, // a server of one's own, or dev on another port: the address says which
		{"temporal-frontend.temporal.svc:7233", false},
		{"prod.a1b2c.tmprl.cloud:7233", false},
		{"no-port", false},
	}
	for _, c := range cases {
		tg := Target{Address: c.address, Namespace: "breachctl"}
		err := tg.Unreachable(errors.New("connection refused"))
		msg := err.Error()
		if tg.Dev() != c.dev || !strings.Contains(msg, c.address) || !strings.Contains(msg, "namespace breachctl") ||
			strings.Contains(msg, "breachctl dev") != c.dev || strings.Contains(msg, "the Temporal cluster at") == c.dev ||
			!apperr.Is(err, apperr.Unavailable) {
			t.Errorf("%s: dev %v, %q", c.address, tg.Dev(), msg)
		}
	}
}

// TestOneMappingForTheConnection: a missing namespace or an unreachable
// frontend is the same kind (so the same exit code) whether Dial meets it
// (worker, serve, every command) or a request does (list, show).
func TestOneMappingForTheConnection(t *testing.T) {
	cluster := Target{Address: "temporal.internal:7233", Namespace: "prod"}
	o := NewIncidents(nil, nil, "breachctl", cluster.Address, cluster.Namespace)
	missing := serviceerror.NewNamespaceNotFound("prod")
	down := serviceerror.NewUnavailable("connection refused")
	for _, c := range []struct {
		name string
		err  error
		want []string
	}{
		{"dial, namespace missing", checkNamespace(context.Background(), func(context.Context) error { return missing }, cluster),
			[]string{"the Temporal cluster at temporal.internal:7233 (namespace prod) has no namespace prod", "temporal operator namespace create"}},
		{"list, namespace missing", o.mapError(fmt.Errorf("list: %w", missing), "", "list"),
			[]string{"the Temporal cluster at temporal.internal:7233 (namespace prod) has no namespace prod"}},
		{"dial, unreachable", checkNamespace(context.Background(), func(context.Context) error { return down }, cluster),
			[]string{"cannot reach the Temporal cluster at temporal.internal:7233 (namespace prod)"}},
		{"show, unreachable", o.mapError(down, "INC-20261121-AB12C", "show"),
			[]string{"cannot reach the Temporal cluster at temporal.internal:7233 (namespace prod)"}},
		{"query, nobody answers", o.mapError(context.DeadlineExceeded, "INC-20261121-AB12C", "progress"),
			[]string{"progress: no worker answered within 15s", "`breachctl worker`", `"breachctl"`, "temporal.internal:7233"}},
		{"query, the server's deadline", o.mapError(serviceerror.NewDeadlineExceeded("context deadline exceeded"), "INC-20261121-AB12C", "progress"),
			[]string{"no worker answered"}},
		{"overloaded", o.mapError(serviceerror.NewResourceExhausted(0, "rps limit"), "INC-20261121-AB12C", "progress"),
			[]string{"progress: the Temporal cluster at temporal.internal:7233 (namespace prod) is overloaded"}},
	} {
		if !apperr.Is(c.err, apperr.Unavailable) {
			t.Errorf("%s: kind %s (%v), want unavailable", c.name, apperr.KindOf(c.err), c.err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(c.err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, c.err, w)
			}
		}
		if strings.Contains(c.err.Error(), "breachctl dev") {
			t.Errorf("%s: a cluster is told about dev: %q", c.name, c.err)
		}
	}
	if err := checkNamespace(context.Background(), func(context.Context) error { return nil }, cluster); err != nil {
		t.Errorf("a namespace that exists: %v", err)
	}
	// Allowed to use the namespace but not to describe it: not Dial's
	// business to refuse.
	if err := checkNamespace(context.Background(), func(context.Context) error { return serviceerror.NewPermissionDenied("no", "") }, cluster); err != nil {
		t.Errorf("describe refused: %v", err)
	}

	dev := NewIncidents(nil, nil, "breachctl", "127.0.0.1:7233", "breachctl")
	dev.AnswerTimeout = 2 * time.Second
	if err := dev.mapError(context.DeadlineExceeded, "", "show"); !strings.Contains(err.Error(), "is `breachctl dev`") {
		t.Errorf("dev, nobody answers: %q", err)
	}
	if err := dev.mapError(serviceerror.NewNamespaceNotFound("breachctl"), "", "list"); !strings.Contains(err.Error(), "Temporal at 127.0.0.1:7233 (namespace breachctl) has no namespace breachctl") {
		t.Errorf("dev, namespace missing: %q", err)
	}
}
