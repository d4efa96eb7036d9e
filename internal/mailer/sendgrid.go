package mailer

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
)

// DefaultBaseURL is SendGrid's global API host.
const DefaultBaseURL = "https://api.sendgrid.com"

const mailSendPath = "/v3/mail/send"

// SendGridOptions configures NewSendGrid. The zero value talks to the
// global API with a client suited to Concurrency senders.
type SendGridOptions struct {
	// BaseURL is the API host, default DefaultBaseURL
	// ("https://api.eu.sendgrid.com" for EU data residency, a loopback
	// sendgridtest server in tests).
	BaseURL string
	// HTTPClient replaces the default client: a 30 s overall timeout and a
	// transport that keeps Concurrency idle connections to the host.
	HTTPClient *http.Client
	// Concurrency is how many Sends are expected at once (default 16); it
	// sizes the default transport's idle pool so connections are reused.
	Concurrency int
	// OnBehalfOf sends as a subuser (the On-Behalf-Of header).
	OnBehalfOf string
	// Now is the clock used when X-RateLimit-Reset is absent. Default time.Now.
	Now func() time.Time
}

// SendGrid sends batches through SendGrid's v3 Mail Send API. It is safe for
// concurrent use. It never retries: each Send is one request, and its error
// says whether the batch was sent, not sent, or maybe sent.
type SendGrid struct {
	apiKey, baseURL, onBehalfOf string
	client                      *rest.Client
	now                         func() time.Time
	bufs                        sync.Pool // *[]byte request bodies
}

// NewSendGrid returns a SendGrid mailer using apiKey.
func NewSendGrid(apiKey string, opts SendGridOptions) *SendGrid {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, Transport: newTransport(opts.Concurrency)}
	}
	return &SendGrid{
		apiKey:     apiKey,
		baseURL:    strings.TrimRight(opts.BaseURL, "/"),
		onBehalfOf: opts.OnBehalfOf,
		client:     &rest.Client{HTTPClient: hc},
		now:        opts.Now,
	}
}

func newTransport(concurrency int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(t.MaxIdleConns, 2*concurrency)
	t.MaxIdleConnsPerHost = concurrency
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = 0
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// Send posts b as one Mail Send request. See the error types for what each
// failure means; a 2xx answer is success (202 queued, 200 in sandbox mode).
func (s *SendGrid) Send(ctx context.Context, b Batch) (Result, error) {
	if err := validate(&b); err != nil {
		return Result{}, err
	}
	p := planBatch(&b)
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	body, _ := appendMailSend((*bp)[:0], &b, &p, make([]string, 0, 8))

	var req rest.Request
	if s.onBehalfOf != "" {
		req = sendgrid.GetRequestSubuser(s.apiKey, mailSendPath, s.baseURL, s.onBehalfOf)
	} else {
		req = sendgrid.GetRequest(s.apiKey, mailSendPath, s.baseURL)
	}
	req.Method = rest.Post
	req.Body = body
	// Never set an Idempotency-Key header: net/http would then treat the POST
	// as replayable and silently resend it after some connection errors.

	// wrote is set once the whole request has been handed to the
	// connection: from then on a failure is ambiguous.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	resp, err := s.client.SendWithContext(httptrace.WithClientTrace(ctx, trace), req)
	if wrote.Load() {
		// The transport has finished reading the body; it may be reused.
		*bp = body[:0]
		s.bufs.Put(bp)
	}
	if resp == nil {
		if wrote.Load() {
			return Result{}, &AmbiguousError{Err: err}
		}
		return Result{}, &TemporaryError{Err: err}
	}

	// With an answer, its status decides, even if reading its body failed.
	return s.answer(resp, len(b.Recipients))
}

// answer turns an HTTP answer into a Result or a typed error.
func (s *SendGrid) answer(resp *rest.Response, n int) (Result, error) {
	h := http.Header(resp.Headers)
	switch st := resp.StatusCode; {
	case st/100 == 2:
		return Result{MessageID: h.Get("X-Message-Id"), Accepted: n}, nil
	case st == http.StatusTooManyRequests:
		return Result{}, &RateLimitedError{RetryAt: retryAt(h, s.now())}
	case st == http.StatusRequestTimeout || st >= 500:
		return Result{}, &TemporaryError{Status: st}
	default:
		msgs, fields := errorMessages(resp.Body)
		return Result{}, &PermanentError{Status: st, Messages: msgs, Fields: fields}
	}
}

// retryAt is when a 429 answer says to ask again: X-RateLimit-Reset, or a
// second from now when it is absent or past. Read with Header.Get: Go
// stores the key as X-Ratelimit-Reset, so looking up "X-RateLimit-Reset" in
// the map (as sendgrid-go's MakeRequestRetry does) always misses.
func retryAt(h http.Header, now time.Time) time.Time {
	if v, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
		if t := time.Unix(v, 0); t.After(now) {
			return t
		}
	}
	return now.Add(time.Second)
}

// errorMessages reads SendGrid's {"errors":[{"message","field","help"}]}
// body, redacting addresses. A body of another shape gives nothing: it is
// not quoted, in case it echoes the request.
func errorMessages(body string) (msgs, fields []string) {
	var e struct {
		Errors []struct {
			Message string  `json:"message"`
			Field   *string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &e) != nil {
		return nil, nil
	}
	for _, it := range e.Errors {
		f := ""
		if it.Field != nil {
			f = redact(*it.Field)
		}
		msgs = append(msgs, redact(it.Message))
		fields = append(fields, f)
	}
	return msgs, fields
}
