package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/mailer"
)

// countingBody is an endless body that counts what the server read of it.
type countingBody struct{ read atomic.Int64 }

func (c *countingBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.read.Add(int64(len(p)))
	return len(p), nil
}

// TestOversizedUnauthenticatedBodies posts bodies far over each signed
// route's limit, unauthenticated: a declared length is refused without a
// byte read; a body of unknown length is cut at the limit; a stale or
// malformed SendGrid signature is refused before the body is read.
func TestOversizedUnauthenticatedBodies(t *testing.T) {
	s := newSigner(t)
	rec := &fakeRecorder{}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
	h := New(Deps{Events: rec, WebhookVerifier: s.verifier(t), Slack: ok, Intake: ok})
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	sig := s.sign(t, now, []byte("[]"))
	cases := []struct {
		name, path    string
		length        int64 // -1: unknown (chunked)
		ts, sig       string
		status        int
		maxRead       int64
		readSomething bool
	}{
		{"events, 40 MiB declared", "/sendgrid/events", 40 << 20, now, sig, 413, 0, false},
		{"events, unknown length", "/sendgrid/events", -1, now, sig, 413, MaxEventsBody + 1, true},
		{"events, stale timestamp", "/sendgrid/events", -1, stale, sig, 403, 0, false},
		{"events, signature not base64", "/sendgrid/events", -1, now, "not base64!", 403, 0, false},
		{"slack, 40 MiB declared", "/slack/commands", 40 << 20, now, sig, 413, 0, false},
		{"slack, unknown length", "/slack/interactions", -1, now, sig, 413, MaxSlackBody + 1, true},
		{"intake, 40 MiB declared", "/intake/v1/alerts", 40 << 20, now, sig, 413, 0, false},
		{"intake, unknown length", "/intake/v1/alertmanager", -1, now, sig, 413, MaxIntakeBody + 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := &countingBody{}
			req := httptest.NewRequest(http.MethodPost, c.path, io.NopCloser(body))
			req.ContentLength = c.length
			req.Header.Set(mailer.SignatureHeader, c.sig)
			req.Header.Set(mailer.TimestampHeader, c.ts)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Errorf("status %d, want %d (%s)", w.Code, c.status, w.Body)
			}
			if n := body.read.Load(); n > c.maxRead || (n == 0) == c.readSomething {
				t.Errorf("the server read %d bytes, want at most %d", n, c.maxRead)
			}
		})
	}
	if len(rec.calls) != 0 {
		t.Errorf("recorded %d times", len(rec.calls))
	}
}

// blockingBody gives nothing until released.
type blockingBody struct{ release chan struct{} }

func (b blockingBody) Read(p []byte) (int, error) {
	<-b.release
	return 0, io.EOF
}

// TestUnverifiedBudget holds one unauthenticated body half read: another
// that would take the budget over waits, then gets 503 with Retry-After;
// once the first is done, there is room again.
func TestUnverifiedBudget(t *testing.T) {
	s := newSigner(t)
	h := New(Deps{Events: &fakeRecorder{}, WebhookVerifier: s.verifier(t), UnverifiedBudget: MaxEventsBody})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	request := func(body io.Reader, length int64) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/sendgrid/events", body)
		req.ContentLength = length
		req.Header.Set(mailer.SignatureHeader, s.sign(t, ts, []byte("[]")))
		req.Header.Set(mailer.TimestampHeader, ts)
		return req
	}
	release := make(chan struct{})
	done := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request(blockingBody{release}, MaxEventsBody))
		done <- w.Code
	}()
	// Wait until the first holds the budget: a second, small request
	// cannot get in.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request(strings.NewReader("[]"), 2).WithContext(ctx))
		cancel()
		if w.Code == http.StatusServiceUnavailable {
			if w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			break
		}
		if w.Code != http.StatusOK {
			t.Fatalf("status %d while the first has not started (%s)", w.Code, w.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if code := <-done; code != http.StatusForbidden {
		t.Errorf("the held request: status %d, want 403 (its body is not what was signed)", code)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(strings.NewReader("[]"), 2))
	if w.Code != http.StatusOK {
		t.Errorf("after the first is done: status %d, want 200 (%s)", w.Code, w.Body)
	}
}

// TestSlowClientsAreCut is a slowloris on loopback: clients that send their
// headers, or their body, a byte at a time would take ten seconds; the
// server (with short timeouts) hangs up on each long before. Each client
// stops by itself: it gives up after its last byte or at its deadline.
func TestSlowClientsAreCut(t *testing.T) {
	s := newSigner(t)
	srv := NewServer(New(Deps{Events: &fakeRecorder{}, WebhookVerifier: s.verifier(t)}),
		Timeouts{ReadHeader: 200 * time.Millisecond, Read: 500 * time.Millisecond, Write: time.Second, Idle: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	ts := strconv.FormatInt(time.Now().Unix(), 10)
	cases := []struct {
		name, head, trickle string
	}{
		{"slow headers", "POST /sendgrid/events HTTP/1.1\r\nHost: breachctl\r\n", strings.Repeat("X-Slow: 1\r\n", 20)},
		{"slow body", "POST /sendgrid/events HTTP/1.1\r\nHost: breachctl\r\nContent-Length: 200\r\n" +
			mailer.SignatureHeader + ": " + s.sign(t, ts, []byte("[]")) + "\r\n" + mailer.TimestampHeader + ": " + ts + "\r\n\r\n",
			"[" + strings.Repeat(" ", 198) + "]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(15 * time.Second)) // the test's own bound
			if _, err := io.WriteString(conn, c.head); err != nil {
				t.Fatal(err)
			}
			sent := make(chan int, 1)
			go func() { // 50 ms a byte: ten seconds for 200 bytes
				n := 0
				for ; n < len(c.trickle); n++ {
					time.Sleep(50 * time.Millisecond)
					if _, err := conn.Write([]byte{c.trickle[n]}); err != nil {
						break
					}
				}
				sent <- n
			}()
			// The server answers (an error status) or just hangs up; either
			// way the connection ends.
			got, err := io.ReadAll(bufio.NewReader(conn))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept the connection to the test's deadline (%q so far)", got)
			}
			if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 4")) {
				t.Errorf("answer %q, want a 4xx or nothing", got)
			}
			_ = conn.Close()
			if n := <-sent; n >= len(c.trickle) {
				t.Errorf("the client sent all %d bytes before the server hung up", n)
			}
		})
	}
}
