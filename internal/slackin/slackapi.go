package slackin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/slack-go/slack"
)

// Views opens and updates modals: the part of Slack's Web API this package
// calls. SlackViews is the real one; tests fake it.
type Views interface {
	// OpenView opens a modal for the trigger of a slash command or a
	// button; a trigger expires about 3 s after Slack sent it.
	OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error
	// UpdateView replaces an open modal.
	UpdateView(ctx context.Context, viewID string, view slack.ModalViewRequest) error
}

// SlackViews calls views.open and views.update with the bot token
// (SLACK_BOT_TOKEN) of its client.
type SlackViews struct{ Client *slack.Client }

var _ Views = SlackViews{}

func (v SlackViews) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	_, err := v.Client.OpenViewContext(ctx, triggerID, view)
	return err
}

func (v SlackViews) UpdateView(ctx context.Context, viewID string, view slack.ModalViewRequest) error {
	_, err := v.Client.UpdateViewContext(ctx, view, "", "", viewID)
	return err
}

// isExpiredTrigger reports whether Slack refused a trigger ID as expired.
func isExpiredTrigger(err error) bool {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err == "expired_trigger_id"
	}
	var sep *slack.SlackErrorResponse
	return errors.As(err, &sep) && sep.Err == "expired_trigger_id"
}

// Responder posts a message to a response_url, which Slack gives with every
// slash command and button press (5 posts within 30 minutes).
type Responder interface {
	Respond(ctx context.Context, responseURL string, msg *slack.WebhookMessage) error
}

// HTTPResponder posts JSON with its client, each post bounded by Timeout.
type HTTPResponder struct {
	Client  *http.Client
	Timeout time.Duration
}

var _ Responder = HTTPResponder{}

// Respond posts msg. Its errors never quote the URL: a response_url lets
// whoever holds it post into the conversation.
func (r HTTPResponder) Respond(ctx context.Context, responseURL string, msg *slack.WebhookMessage) error {
	raw, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode the follow-up: %w", err)
	}
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(raw))
	if err != nil {
		return errors.New("post the follow-up: the response_url is malformed")
	}
	req.Header.Set("Content-Type", "application/json")
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("post the follow-up: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post the follow-up: Slack answered %s", resp.Status)
	}
	return nil
}
