package httpapi

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/internal/store"
)

// EventRecorder records Event Webhook events in the notification ledger and
// returns how many it applied (events for batches or subjects it does not
// know are ignored, not errors). *store.Store is one.
type EventRecorder interface {
	RecordEvents(ctx context.Context, events []store.DeliveryEvent) (int, error)
}

var _ EventRecorder = (*store.Store)(nil)

// eventsResult is the answer to an accepted Event Webhook request.
type eventsResult struct {
	Received int `json:"received"` // events in the request
	Recorded int `json:"recorded"` // applied by the ledger
	Skipped  int `json:"skipped"`  // not breachctl's: no batch or subject custom args
	// Replayed: this very request (same timestamp, same body) was taken
	// before; nothing was recorded again.
	Replayed bool `json:"replayed,omitempty"`
}

// sendgridEvents handles POST /sendgrid/events, SendGrid's signed Event
// Webhook. SendGrid retries a request that is not answered 2xx, so the
// statuses say what a retry can do:
//
//   - 404: not configured here (no verification key or no ledger);
//   - 401: no signature; 403: the signature or its timestamp does not
//     verify (nothing is recorded). The headers are checked before the
//     body is read: a stale or malformed signature costs no read;
//   - 413: the body is larger than MaxEventsBody (a declared length is
//     refused before reading);
//   - 503: too many bodies are being read at once (UnverifiedBudget), or
//     the replay store failed; retry;
//   - 400: the body is not an array of events;
//   - 500: the ledger failed; SendGrid sends the whole request again later,
//     so the ledger may see an event twice (SGEventID identifies it);
//   - 200: recorded, with counts; or "replayed": the same signed request
//     was taken within the last minutes, and nothing is recorded again
//     (a 2xx, so that SendGrid stops resending what was taken).
//
// Events without breachctl's custom args (other mail sent from the same
// SendGrid account) are skipped and counted. Nothing logged names an
// address or a reason (reasons can quote addresses): counts only.
func sendgridEvents(d Deps, guard *replay.Guard) http.HandlerFunc {
	log := d.logger()
	return func(w http.ResponseWriter, r *http.Request) {
		if d.Events == nil || d.WebhookVerifier == nil {
			writeError(w, http.StatusNotFound, "the SendGrid Event Webhook is not configured: set SENDGRID_WEBHOOK_PUBLIC_KEY")
			return
		}
		signature, timestamp := r.Header.Get(mailer.SignatureHeader), r.Header.Get(mailer.TimestampHeader)
		if signature == "" || timestamp == "" {
			log.Warn("sendgrid events: refused, not signed")
			writeError(w, http.StatusUnauthorized, "missing "+mailer.SignatureHeader+" or "+mailer.TimestampHeader)
			return
		}
		if err := d.WebhookVerifier.CheckHeaders(signature, timestamp); err != nil {
			log.Warn("sendgrid events: refused before reading the body", "error", err)
			writeError(w, http.StatusForbidden, "signature not valid")
			return
		}
		body, err := io.ReadAll(r.Body) // limited to MaxEventsBody by the route
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				log.Warn("sendgrid events: body too large", "limit_bytes", tooLarge.Limit)
				writeError(w, http.StatusRequestEntityTooLarge, "body larger than "+sizeText(tooLarge.Limit))
				return
			}
			log.Warn("sendgrid events: reading the body", "error", err)
			writeError(w, http.StatusBadRequest, "could not read the body")
			return
		}
		if err := d.WebhookVerifier.Verify(signature, timestamp, body); err != nil {
			log.Warn("sendgrid events: refused", "error", err, "bytes", len(body))
			writeError(w, http.StatusForbidden, "signature not valid")
			return
		}
		forget, err := guard.Claim(r.Context(), replay.Key("sendgrid", []byte(timestamp), body))
		if errors.Is(err, replay.ErrReplayed) {
			log.Warn("sendgrid events: a replayed request, not recorded again", "bytes", len(body))
			writeJSON(w, http.StatusOK, eventsResult{Replayed: true})
			return
		}
		if err != nil {
			log.Error("sendgrid events: marking the request taken failed", "error", err)
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusServiceUnavailable, "cannot take the events now; retry")
			return
		}
		taken := false
		defer func() {
			if !taken {
				// SendGrid sends a request that failed again: forget it.
				if err := forget(context.WithoutCancel(r.Context())); err != nil {
					log.Warn("sendgrid events: forgetting a failed request", "error", err)
				}
			}
		}()
		events, err := mailer.ParseEvents(body)
		if err != nil {
			// ParseEvents's errors name positions and fields, never values.
			log.Warn("sendgrid events: not events", "error", err, "bytes", len(body))
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ours, skipped := deliveryEvents(events, time.Now().UTC())
		res := eventsResult{Received: len(events), Skipped: skipped}
		if len(ours) > 0 {
			res.Recorded, err = d.Events.RecordEvents(r.Context(), ours)
			if err != nil {
				log.Error("sendgrid events: recording failed", "error", err, "received", res.Received, "skipped", res.Skipped)
				writeError(w, http.StatusInternalServerError, "could not record the events")
				return
			}
		}
		taken = true
		log.Info("sendgrid events", "received", res.Received, "recorded", res.Recorded, "skipped", res.Skipped)
		writeJSON(w, http.StatusOK, res)
	}
}

// deliveryEvents converts the events breachctl sent, in order, and counts
// the others; received stands in for a missing timestamp.
func deliveryEvents(events []mailer.Event, received time.Time) (ours []store.DeliveryEvent, skipped int) {
	ours = make([]store.DeliveryEvent, 0, len(events))
	for _, e := range events {
		de, ok := deliveryEvent(e, received)
		if !ok {
			skipped++
			continue
		}
		ours = append(ours, de)
	}
	return ours, skipped
}

// deliveryEvent converts one event; ok is false when it is not breachctl's:
// no batch custom arg, or no subject that breachctl would have set (32 hex
// digits, a snapshot key).
func deliveryEvent(e mailer.Event, received time.Time) (store.DeliveryEvent, bool) {
	batch := e.CustomArgs[mailer.ArgBatch]
	subject, ok := subjectKey(e.CustomArgs[mailer.ArgSubject])
	if batch == "" || !ok {
		return store.DeliveryEvent{}, false
	}
	name := e.Event
	if name == "bounce" && e.Type == "blocked" {
		// SendGrid reports a block (the receiving server refused the
		// message, often for the sender's reputation or the content, not
		// for the address) as a bounce of type blocked. The ledger keeps it
		// apart from a bounced address.
		name = "blocked"
	}
	at := e.Timestamp
	if at.IsZero() {
		at = received
	}
	return store.DeliveryEvent{
		Batch:     batch,
		Subject:   subject,
		Attempt:   e.BatchAttempt,
		Event:     name,
		Reason:    e.Reason,
		At:        at,
		SGEventID: e.SGEventID,
	}, true
}

func subjectKey(s string) (key [16]byte, ok bool) {
	if len(s) != 2*len(key) {
		return key, false
	}
	if _, err := hex.Decode(key[:], []byte(s)); err != nil {
		return key, false
	}
	return key, true
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
