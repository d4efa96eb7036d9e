package mailer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/sendgridtest"
)

// An attempt whose answer was lost is found through the Email Activity API,
// with the message ID Send would have returned; another attempt of the same
// batch, or another batch, is not.
func TestActivityFindsALostAnswer(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{DropAfterAccept: 1})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	b := testBatch(3)
	b.Attempt = 2
	_, err := m.Send(context.Background(), b)
	var amb *AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("Send: %v, want ambiguous (answer dropped)", err)
	}
	taken := sink.AcceptedRequests()
	if len(taken) != 1 {
		t.Fatalf("sink took %d requests", len(taken))
	}

	a := NewActivity(testKey, ActivityOptions{BaseURL: sink.URL() + "/"})
	found, id, err := a.Taken(context.Background(), b.Key, 2)
	if err != nil || !found || id != taken[0].MessageID {
		t.Errorf("Taken(attempt 2) = %v, %q, %v; want true, %q", found, id, err, taken[0].MessageID)
	}
	for _, c := range []struct {
		key     string
		attempt int
	}{{b.Key, 1}, {b.Key, 3}, {b.Key + "x", 2}, {"INC-other/r/page-0001/part-1", 2}} {
		if found, id, err := a.Taken(context.Background(), c.key, c.attempt); err != nil || found || id != "" {
			t.Errorf("Taken(%q, %d) = %v, %q, %v; want not found", c.key, c.attempt, found, id, err)
		}
	}
	// Attempt 0 asks for the batch key alone.
	if found, _, err := a.Taken(context.Background(), b.Key, 0); err != nil || !found {
		t.Errorf("Taken(attempt 0) = %v, %v; want found", found, err)
	}
}

func TestActivityQuery(t *testing.T) {
	if got, want := ActivityQuery("INC-1/r/page-0001/part-2", 3),
		`unique_args['breachctl_batch']="INC-1/r/page-0001/part-2" AND unique_args['breachctl_attempt']="3"`; got != want {
		t.Errorf("ActivityQuery = %s\nwant %s", got, want)
	}
	// On the wire: URL-encoded, limit 1, the key and the subuser as
	// configured.
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Write([]byte(`{"messages":[]}`))
	}))
	defer srv.Close()
	a := NewActivity("SG.x", ActivityOptions{BaseURL: srv.URL, OnBehalfOf: "sub"})
	if _, _, err := a.Taken(context.Background(), "K 1", 1); err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/v3/messages" || got.URL.Query().Get("limit") != "1" ||
		got.URL.Query().Get("query") != ActivityQuery("K 1", 1) || strings.Contains(got.URL.RawQuery, `"`) ||
		got.Header.Get("Authorization") != "Bearer SG.x" || got.Header.Get("On-Behalf-Of") != "sub" {
		t.Errorf("request %s %v", got.URL, got.Header)
	}
	for _, key := range []string{"", `a"b`, `a\b`, "a'b"} {
		if _, _, err := a.Taken(context.Background(), key, 1); err == nil {
			t.Errorf("key %q: no error", key)
		}
	}
	if _, _, err := a.Taken(context.Background(), "K", -1); err == nil {
		t.Error("attempt -1: no error")
	}
}

// The feed lags the send: not listed until the index delay has passed.
func TestActivityIndexDelay(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(2_000_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sink := newSink(t, sendgridtest.Options{Now: clock, Activity: sendgridtest.ActivityOptions{IndexDelay: time.Minute}})
	b := testBatch(2)
	b.Attempt = 1
	res, err := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()}).Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	a := NewActivity(testKey, ActivityOptions{BaseURL: sink.URL()})
	if found, _, err := a.Taken(context.Background(), b.Key, 1); err != nil || found {
		t.Errorf("at once: found %v, %v; want not yet listed", found, err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if found, id, err := a.Taken(context.Background(), b.Key, 1); err != nil || !found || id != res.MessageID {
		t.Errorf("a minute on: %v %q %v, want found with %q", found, id, err, res.MessageID)
	}
}

func TestActivityErrors(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	clock := func() time.Time { return now }

	t.Run("no add-on", func(t *testing.T) {
		for _, access := range []sendgridtest.ActivityAccess{sendgridtest.ActivityForbidden, sendgridtest.ActivityNotFound} {
			sink := newSink(t, sendgridtest.Options{Activity: sendgridtest.ActivityOptions{Access: access}})
			_, _, err := NewActivity(testKey, ActivityOptions{BaseURL: sink.URL()}).Taken(context.Background(), "K", 1)
			var na *NoActivityAccessError
			if !errors.Is(err, ErrNoActivityAccess) || !errors.As(err, &na) || !strings.Contains(err.Error(), "no Email Activity API access") {
				t.Errorf("access %d: %v, want ErrNoActivityAccess", access, err)
			}
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{Now: clock, Activity: sendgridtest.ActivityOptions{RateLimit: 1, RateWindow: time.Minute}})
		a := NewActivity(testKey, ActivityOptions{BaseURL: sink.URL(), Now: clock})
		if _, _, err := a.Taken(context.Background(), "K", 1); err != nil {
			t.Fatal(err)
		}
		_, _, err := a.Taken(context.Background(), "K", 1)
		var rl *RateLimitedError
		if !errors.As(err, &rl) || !rl.RetryAt.Equal(time.Unix(2_000_000_040, 0)) {
			t.Errorf("second query in the window: %v, want rate limited until the window's end", err)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{})
		_, _, err := NewActivity("SG.wrong", ActivityOptions{BaseURL: sink.URL()}).Taken(context.Background(), "K", 1)
		var ae *ActivityError
		if !errors.As(err, &ae) || ae.Status != 401 || ae.Retryable() || !strings.Contains(err.Error(), "authorization grant") {
			t.Errorf("wrong key: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		_, _, err := NewActivity(testKey, ActivityOptions{BaseURL: srv.URL, Timeout: 50 * time.Millisecond}).Taken(context.Background(), "K", 1)
		var ae *ActivityError
		if !errors.As(err, &ae) || !ae.Retryable() || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("hung server: %v, want a retryable timeout", err)
		}
	})
	t.Run("server error and garbage", func(t *testing.T) {
		for _, c := range []struct {
			status int
			body   string
		}{{503, `{"errors":[{"message":"unavailable"}]}`}, {200, `<html>`}, {200, `{}`}} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			_, _, err := NewActivity(testKey, ActivityOptions{BaseURL: srv.URL}).Taken(context.Background(), "K", 1)
			var ae *ActivityError
			if !errors.As(err, &ae) || !ae.Retryable() {
				t.Errorf("%d %s: %v, want a retryable ActivityError", c.status, c.body, err)
			}
			srv.Close()
		}
	})
}

// The case the lookup is for, as a killed worker meets it: SendGrid takes
// the request and spends its latency; the sender gives up (its context
// ends) before the answer. The send is ambiguous, the sink counts it taken
// and abandoned, and the Email Activity API confirms it with the message ID.
func TestActivityConfirmsAnAbandonedSend(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{Latency: time.Minute})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	b := testBatch(5)
	b.Attempt = 1
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for sink.Recipients() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // taken: now the sender goes away
	}()
	_, err := m.Send(ctx, b)
	var amb *AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("Send: %v, want ambiguous", err)
	}
	for sink.Stats().Abandoned == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if st := sink.Stats(); st.Accepted != 1 || st.Abandoned != 1 || sink.Recipients() != 5 {
		t.Errorf("sink stats %+v, %d recipients; want 1 taken (abandoned), 5 recipients", st, sink.Recipients())
	}
	found, id, err := NewActivity(testKey, ActivityOptions{BaseURL: sink.URL()}).Taken(context.Background(), b.Key, 1)
	if err != nil || !found || id != sink.AcceptedRequests()[0].MessageID {
		t.Errorf("Taken = %v %q %v, want found with the request's X-Message-Id", found, id, err)
	}
}
