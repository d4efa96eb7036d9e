package mailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SendGrid's Email Activity API, asked whether it took an attempt of a
// batch whose Mail Send answer was lost (an *AmbiguousError): GET
// /v3/messages?limit=1&query=<q>, where q is SendGrid's query language over
// the custom args every request carries:
//
//	unique_args['breachctl_batch']="<key>" AND unique_args['breachctl_attempt']="<n>"
//
// (custom_args are queried as unique_args; the query is URL-encoded; limit is
// 1 to 1,000). This follows SendGrid's published description of the
// endpoint (sendgrid/sendgrid-oai, spec/paths/email_activity.json) and its
// "Filter all messages" and "Getting Started with the Email Activity Feed
// API" pages. The API needs a paid add-on ("additional email activity
// history") and an API key with Email Activity access; without them SendGrid
// answers 403 (or 404), which Taken reports as ErrNoActivityAccess so that
// the caller falls back on the Event Webhook and its wait. The feed lags the
// send (seconds to minutes): "not found" is not "not sent" until the
// caller's wait is over.

const messagesPath = "/v3/messages"

// DefaultActivityTimeout bounds one Email Activity request.
const DefaultActivityTimeout = 10 * time.Second

// ErrNoActivityAccess is what Taken's error is (errors.Is) when SendGrid
// answers 403 or 404: the account lacks the Email Activity add-on, or the
// API key lacks Email Activity access.
var ErrNoActivityAccess = errors.New("sendgrid: the account has no Email Activity API access (a paid add-on, and an API key with Email Activity read access)")

// NoActivityAccessError is the error for ErrNoActivityAccess, with the
// status SendGrid answered.
type NoActivityAccessError struct {
	Status int
}

func (e *NoActivityAccessError) Error() string {
	return fmt.Sprintf("%s: status %d", ErrNoActivityAccess.Error(), e.Status)
}

func (e *NoActivityAccessError) Is(target error) bool { return target == ErrNoActivityAccess }

// ActivityError is any other failure of an Email Activity query: no answer
// (Status 0, Err set: a timeout, a refused connection), a 5xx, or a 4xx with
// SendGrid's messages (401: the key is wrong; 400: the query). It says
// nothing about whether the batch was sent.
type ActivityError struct {
	Status   int
	Messages []string // SendGrid's, addresses redacted
	Err      error
}

func (e *ActivityError) Error() string {
	var sb strings.Builder
	sb.WriteString("sendgrid email activity: ")
	switch {
	case e.Err != nil:
		sb.WriteString(e.Err.Error())
	default:
		fmt.Fprintf(&sb, "status %d", e.Status)
	}
	for _, m := range e.Messages {
		sb.WriteString(": ")
		sb.WriteString(m)
	}
	return sb.String()
}

func (e *ActivityError) Unwrap() error { return e.Err }

// Retryable reports whether asking again may succeed: no answer (or one
// that could not be read), a 408 or a 5xx.
func (e *ActivityError) Retryable() bool {
	return e.Err != nil || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// ActivityOptions configures NewActivity. The zero value asks the global API.
type ActivityOptions struct {
	// BaseURL is the API host, default DefaultBaseURL (as SendGridOptions).
	BaseURL string
	// HTTPClient replaces the default client (one whose overall timeout is
	// Timeout).
	HTTPClient *http.Client
	// Timeout bounds each request, default DefaultActivityTimeout.
	Timeout time.Duration
	// OnBehalfOf asks as a subuser (the On-Behalf-Of header).
	OnBehalfOf string
	// Now is the clock used when a 429's X-RateLimit-Reset is absent.
	Now func() time.Time
}

// Activity asks SendGrid's Email Activity API whether an attempt of a batch
// was taken. It is safe for concurrent use.
type Activity struct {
	apiKey, baseURL, onBehalfOf string
	client                      *http.Client
	timeout                     time.Duration
	now                         func() time.Time
}

var _ ActivityLookup = (*Activity)(nil)

// NewActivity returns an Email Activity client using apiKey.
func NewActivity(apiKey string, opts ActivityOptions) *Activity {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultActivityTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: opts.Timeout, Transport: newTransport(2)}
	}
	return &Activity{
		apiKey:     apiKey,
		baseURL:    strings.TrimRight(opts.BaseURL, "/"),
		onBehalfOf: opts.OnBehalfOf,
		client:     hc,
		timeout:    opts.Timeout,
		now:        opts.Now,
	}
}

// ActivityQuery is the Email Activity query for an attempt of a batch; an
// attempt of 0 (a batch sent without breachctl_attempt) asks for the batch
// key alone.
func ActivityQuery(batchKey string, attempt int) string {
	q := "unique_args['" + ArgBatch + "']=\"" + batchKey + "\""
	if attempt > 0 {
		q += " AND unique_args['" + ArgAttempt + "']=\"" + strconv.Itoa(attempt) + "\""
	}
	return q
}

// Taken reports whether SendGrid lists a message of that attempt of the
// batch, and then the X-Message-Id of the request that carried it (the part
// of the listed msg_id before its first dot), as Send would have returned.
// Errors: *RateLimitedError (429: ask again at RetryAt),
// *NoActivityAccessError (errors.Is ErrNoActivityAccess: 403 or 404), and
// *ActivityError for the rest (Retryable: no answer, a timeout, a 5xx).
func (a *Activity) Taken(ctx context.Context, batchKey string, attempt int) (bool, string, error) {
	if batchKey == "" || strings.ContainsAny(batchKey, "\"\\'") {
		// The query language's quoting of these is not documented: refuse
		// rather than ask a question SendGrid may read otherwise.
		return false, "", errors.New("sendgrid email activity: the batch key is empty or has a quote or backslash, which a query cannot carry")
	}
	if attempt < 0 {
		return false, "", fmt.Errorf("sendgrid email activity: attempt %d is negative", attempt)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	u := a.baseURL + messagesPath + "?" + url.Values{"limit": {"1"}, "query": {ActivityQuery(batchKey, attempt)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, "", fmt.Errorf("sendgrid email activity: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.apiKey)
	req.Header.Set("Accept", "application/json")
	if a.onBehalfOf != "" {
		req.Header.Set("On-Behalf-Of", a.onBehalfOf)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return false, "", &ActivityError{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch st := resp.StatusCode; {
	case st == http.StatusOK:
		if err != nil {
			return false, "", &ActivityError{Err: fmt.Errorf("reading the answer: %w", err)}
		}
		var r struct {
			Messages []struct {
				MsgID string `json:"msg_id"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Messages == nil {
			return false, "", &ActivityError{Status: st, Err: errors.New("the answer is not a list of messages")}
		}
		if len(r.Messages) == 0 {
			return false, "", nil
		}
		id, _, _ := strings.Cut(r.Messages[0].MsgID, ".")
		return true, id, nil
	case st == http.StatusTooManyRequests:
		return false, "", &RateLimitedError{RetryAt: retryAt(resp.Header, a.now())}
	case st == http.StatusForbidden || st == http.StatusNotFound:
		return false, "", &NoActivityAccessError{Status: st}
	default:
		msgs, _ := errorMessages(string(body))
		return false, "", &ActivityError{Status: st, Messages: msgs}
	}
}
