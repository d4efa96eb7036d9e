// Package httpapi is breachctl's HTTP server: health and readiness now;
// Slack endpoints and intake mount here later.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Deps are what the handlers need.
type Deps struct {
	// Ready reports whether the process can do its work (Temporal reachable).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
}

// New returns the HTTP handler.
func New(d Deps) http.Handler {
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
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
