// Package httpapi is breachctl's HTTP server: health and readiness,
// SendGrid's Event Webhook (POST /sendgrid/events), and the mount points of
// Slack (/slack/...) and the alert intake (/intake/v1/...).
package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/replay"
)

// Deps are what the handlers need.
type Deps struct {
	// Ready reports whether the process can do its work (Temporal reachable).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// Slack answers Slack's slash commands and interactions; nil leaves
	// the /slack endpoints off.
	Slack http.Handler
	// Events records SendGrid Event Webhook events in the notification
	// ledger (the store). With WebhookVerifier, it enables POST
	// /sendgrid/events; without either, that route answers 404.
	Events EventRecorder
	// WebhookVerifier checks the Event Webhook's signature
	// (SENDGRID_WEBHOOK_PUBLIC_KEY).
	WebhookVerifier *mailer.WebhookVerifier
	// Codec decrypts payloads for the Temporal UI (POST /codec/decode and
	// /codec/encode, token required); nil leaves /codec off.
	Codec *Codec
	// Intake takes alerts from alerting systems (POST /intake/v1/alerts and
	// /intake/v1/alertmanager); nil leaves those routes answering 404.
	Intake http.Handler
	// Replay marks each Event Webhook request taken, so a replay is not
	// counted twice: the guard on the store that Slack and the intake
	// share. Nil means one in this process's memory.
	Replay *replay.Guard
	// UnverifiedBudget overrides UnverifiedBudget (tests).
	UnverifiedBudget int64
}

func (d Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// New returns the HTTP handler. Each route that reads a body before it can
// authenticate it has its body limit and a share of one budget (limits.go).
func New(d Deps) http.Handler {
	guard := d.Replay
	if guard == nil {
		guard = &replay.Guard{Store: &replay.Memory{}}
	}
	unverified := newBudget(cmp.Or(d.UnverifiedBudget, UnverifiedBudget))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if d.Ready != nil {
			if err := d.Ready(ctx); err != nil {
				if d.Logger != nil {
					d.Logger.Warn("not ready", "error", err)
				}
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "temporal unreachable"})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("POST /sendgrid/events", limitBody(d.logger(), MaxEventsBody, unverified, sendgridEvents(d, guard)))
	slack := d.Slack
	if slack == nil {
		slack = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN"})
		})
	}
	slack = limitBody(d.logger(), MaxSlackBody, unverified, slack)
	mux.Handle("POST /slack/commands", slack)
	mux.Handle("POST /slack/interactions", slack)
	codecRoutes(mux, d.Codec)
	intake := d.Intake
	if intake == nil {
		intake = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "intake is not configured: set BREACHCTL_INTAKE_SECRETS or BREACHCTL_INTAKE_TOKENS"})
		})
	}
	intake = limitBody(d.logger(), MaxIntakeBody, unverified, intake)
	mux.Handle("POST /intake/v1/alerts", intake)
	mux.Handle("POST /intake/v1/alertmanager", intake)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
