package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// What a request may cost the server before it is authenticated.
//
// Every signed endpoint (SendGrid's webhook, Slack's requests, the
// intake's HMAC) signs the body, so its signature can only be checked once
// the body is read. Each such route therefore has a body limit sized to
// what its sender really sends (a larger Content-Length is refused before a
// byte is read; a chunked body is cut at the limit), and all of them
// together hold at most UnverifiedBudget bytes at once: a request that
// would go over it waits briefly for room, then gets 503 and Retry-After
// (SendGrid and alerting systems retry). The codec checks its token before
// it reads anything, so only then does it read its larger bodies, on a
// longer read deadline. Server timeouts (Timeouts) bound how long any
// request, slow or not, can hold a connection.

// Body limits per endpoint.
const (
	// MaxEventsBody bounds an Event Webhook request. SendGrid posts a
	// batch every 30 seconds or when it reaches 768 KB, whichever comes
	// first (SendGrid's Event Webhook documentation); 4 MiB is five times
	// that.
	MaxEventsBody = 4 << 20
	// MaxSlackBody bounds a Slack request: an interaction payload carries
	// the whole view of a form (at most 100 blocks of 3,000 characters).
	MaxSlackBody = 1 << 20
	// MaxIntakeBody bounds an alert: an Alertmanager group of hundreds of
	// alerts fits.
	MaxIntakeBody = 1 << 20
	// UnverifiedBudget is how many body bytes all requests not yet
	// authenticated may hold at once.
	UnverifiedBudget = 64 << 20
	// budgetWait is how long a request waits for room in the budget.
	budgetWait = 5 * time.Second
)

// Timeouts are the HTTP server's: no request holds a connection for ever,
// however slowly it sends its headers or body or reads the answer.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included. The codec
	// endpoint extends it for a request whose token it has checked.
	Read time.Duration
	// Write bounds the handler and writing its answer, from the end of
	// the headers: longer than the slowest handler (the intake waits up to
	// 30 s for another request opening the same incident, then opens it).
	Write time.Duration
	// Idle bounds a kept-alive connection between requests.
	Idle time.Duration
}

// DefaultTimeouts are the server's timeouts.
var DefaultTimeouts = Timeouts{
	ReadHeader: 5 * time.Second,
	Read:       30 * time.Second,
	Write:      2 * time.Minute,
	Idle:       time.Minute,
}

// NewServer is the HTTP server of `serve` and `dev` for handler h.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
}

// budget is a count of bytes that requests take and give back.
type budget struct {
	mu   sync.Mutex
	left int64
	wake chan struct{} // closed when bytes are given back
}

func newBudget(n int64) *budget { return &budget{left: n, wake: make(chan struct{})} }

// take waits until n bytes are free and takes them, or gives up when ctx
// ends.
func (b *budget) take(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.left >= n {
			b.left -= n
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.left += n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// errBusy is the answer when the budget has no room.
var errBusy = errors.New("too many requests being read; retry")

// limitBody caps the body of every request to h at limit: a declared
// Content-Length over it is refused at once, a body that runs over it
// fails its read (413 from the handler). With a budget, the request holds
// its share of it (its Content-Length, or the limit when unknown) while h
// runs.
func limitBody(log *slog.Logger, limit int64, b *budget, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			log.Warn("request refused before reading its body: too large", "path", r.URL.Path, "content_length", r.ContentLength, "limit_bytes", limit)
			writeError(w, http.StatusRequestEntityTooLarge, "body larger than "+sizeText(limit))
			return
		}
		if b != nil {
			share := limit
			if r.ContentLength >= 0 {
				share = r.ContentLength
			}
			ctx, cancel := context.WithTimeout(r.Context(), budgetWait)
			err := b.take(ctx, share)
			cancel()
			if err != nil {
				log.Warn("request refused: too many bodies being read", "path", r.URL.Path)
				w.Header().Set("Retry-After", strconv.Itoa(int(budgetWait/time.Second)))
				writeError(w, http.StatusServiceUnavailable, errBusy.Error())
				return
			}
			defer b.give(share)
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

func sizeText(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
