package slackin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode takes Slack's slash commands and interactions over a Socket
// Mode websocket instead of HTTP, for installations Slack cannot reach. The
// client is built by the composition root from the app-level token
// (SLACK_APP_TOKEN, xapp-...) and the bot token:
//
//	api := slack.New(botToken, slack.OptionAppLevelToken(appToken))
//	err := h.RunSocketMode(ctx, socketmode.New(api))
//
// Each envelope is answered by the same code as an HTTP request: it is
// rebuilt as the form Slack would have posted and dispatched without the
// signature check (the connection itself is authenticated by the app-level
// token). What the HTTP path would have written becomes the envelope's
// acknowledgement: a JSON body is its payload (the immediate answer to a
// slash command, response_action errors of a form), an empty 200 a plain
// acknowledgement. Work carried on after the answer runs as over HTTP, and
// Handler.Wait waits for it.
//
// Slack sends an envelope again (retry_attempt > 0) when it missed the
// ack. The handler remembers the IDs of the last maxSeenEnvelopes envelopes
// it took, across reconnections, and answers one it has already taken with
// a plain ack instead of acting twice (two incidents, two notes).
//
// RunSocketMode returns nil when ctx ends, after the envelopes in hand are
// acknowledged, and an error when the client gives up (a revoked or invalid
// app-level token). It reconnects by itself when Slack asks it to.
func (h *Handler) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(ctx) }()

	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for {
		select {
		case <-ctx.Done():
			<-runErr // the connection is closed when we return
			return nil
		case err := <-runErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case evt := <-client.Events:
			switch evt.Type {
			case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive:
				if evt.Request == nil {
					continue
				}
				// A form may be opened while Slack waits: answer each
				// envelope on its own so one does not hold up the next.
				inFlight.Go(func() { h.envelope(ctx, client, evt.Type, evt.Request) })
			default:
				h.socketEvent(ctx, client, evt)
			}
		}
	}
}

// envelope answers one slash command or interaction and acknowledges it.
func (h *Handler) envelope(ctx context.Context, client *socketmode.Client, typ socketmode.EventType, req *socketmode.Request) {
	ack := func(payload any) {
		if err := client.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
			h.log.Warn("slack socket mode ack failed", "type", string(typ), "envelope", req.EnvelopeID, "error", err.Error())
			if payload != nil {
				// Too big, most likely: a plain ack at least stops Slack
				// from sending the envelope again.
				_ = client.AckCtx(ctx, req.EnvelopeID, nil)
			}
		}
	}
	if !h.seen.add(req.EnvelopeID) {
		h.log.Info("slack socket mode envelope already handled", "envelope", req.EnvelopeID)
		ack(nil)
		return
	}
	if int64(len(req.Payload)) > h.cfg.MaxBody {
		h.log.Warn("slack request refused", "transport", "socket mode", "reason", "body too large")
		ack(nil)
		return
	}
	var form url.Values
	switch typ {
	case socketmode.EventTypeSlashCommand:
		f, err := commandForm(req.Payload)
		if err != nil {
			h.log.Warn("slack request refused", "transport", "socket mode", "reason", "slash command payload is not an object")
			ack(nil)
			return
		}
		form = f
	default:
		form = url.Values{"payload": {string(req.Payload)}}
	}

	rec := httptest.NewRecorder()
	h.dispatch(rec, form)
	body := rec.Body.Bytes()
	switch {
	case rec.Code != http.StatusOK:
		h.log.Warn("slack request refused", "transport", "socket mode", "type", string(typ), "status", rec.Code)
		ack(nil)
	case len(body) == 0:
		ack(nil)
	case !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || !json.Valid(body):
		h.log.Warn("slack answer dropped", "transport", "socket mode", "type", string(typ), "reason", "not JSON")
		ack(nil)
	case !req.AcceptsResponsePayload:
		// Slack would ignore it (button presses): answers go to response_url.
		ack(nil)
	default:
		ack(json.RawMessage(body))
	}
}

// maxSeenEnvelopes is how many envelope IDs the handler remembers. Slack
// retries within minutes, a few times, so the last few hundred are plenty.
const maxSeenEnvelopes = 512

// seenEnvelopes is a bounded set of envelope IDs, safe for concurrent use:
// when it is full, the oldest ID is forgotten.
type seenEnvelopes struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string // in the order added; next is the oldest once full
	next int
}

func newSeenEnvelopes(n int) *seenEnvelopes {
	return &seenEnvelopes{ids: make(map[string]struct{}, n), ring: make([]string, 0, n)}
}

// add records id and reports whether it was new. An empty ID is always
// new: there is nothing to tell it apart by.
func (s *seenEnvelopes) add(id string) bool {
	if id == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, id)
	} else {
		delete(s.ids, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % len(s.ring)
	}
	s.ids[id] = struct{}{}
	return true
}

// commandForm rebuilds the form Slack posts for a slash command from the
// JSON object it sends over Socket Mode: strings as they are, other values
// ("is_enterprise_install": false) as their JSON text.
func commandForm(payload json.RawMessage) (url.Values, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("null payload")
	}
	form := url.Values{}
	for k, raw := range fields {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			form.Set(k, s)
			continue
		}
		form.Set(k, string(raw))
	}
	return form, nil
}

// socketEvent logs the life of the connection (never a payload: it can hold
// what people typed) and acknowledges envelopes that are not ours, so Slack
// does not send them again.
func (h *Handler) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		h.log.Info("slack socket mode connecting")
	case socketmode.EventTypeConnected:
		if c, ok := evt.Data.(*socketmode.ConnectedEvent); ok {
			h.log.Info("slack socket mode connected", "connection", c.ConnectionCount)
		}
	case socketmode.EventTypeHello:
		if evt.Request != nil {
			h.log.Info("slack socket mode ready", "app", evt.Request.ConnectionInfo.AppID, "connections", evt.Request.NumConnections)
		}
	case socketmode.EventTypeDisconnect:
		h.log.Info("slack socket mode disconnect requested")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		h.log.Warn("slack socket mode trouble", "event", string(evt.Type), "error", eventError(evt.Data))
	case socketmode.EventTypeInvalidAuth:
		h.log.Error("slack socket mode refused the app-level token")
	case socketmode.EventTypeErrorBadMessage:
		h.log.Warn("slack socket mode message not understood", "error", eventError(evt.Data))
		if bad, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(bad.Message, &env) == nil && env.EnvelopeID != "" {
				_ = client.AckCtx(ctx, env.EnvelopeID, nil)
			}
		}
	default:
		// Events API and whatever Slack adds: this app subscribes to none.
		h.log.Info("slack socket mode event not ours", "event", string(evt.Type))
		if evt.Request != nil && evt.Request.EnvelopeID != "" {
			_ = client.AckCtx(ctx, evt.Request.EnvelopeID, nil)
		}
	}
}

// eventError is the cause carried by a socketmode event, for the log.
func eventError(data any) string {
	switch d := data.(type) {
	case error: // *slack.ConnectionErrorEvent, *slack.IncomingEventError
		return d.Error()
	case *socketmode.ErrorBadMessage:
		return d.Cause.Error()
	case *socketmode.ErrorWriteFailed:
		return d.Cause.Error()
	}
	return "unknown"
}
