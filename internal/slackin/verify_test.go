package slackin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breachctl/breachctl/internal/replay"
)

// Slack's published example ("Verifying requests from Slack").
const (
	docsTimestamp = "1531420618"
	docsBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	docsSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func docsRequest(body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", docsTimestamp)
	req.Header.Set("X-Slack-Signature", docsSignature)
	return req
}

// TestDocsExampleSignature checks the published example against a fixed
// clock. slack-go reads the system clock, so the test runs in a synctest
// bubble, whose fake clock is moved to the example's moment.
func TestDocsExampleSignature(t *testing.T) {
	if got := sign(testSecret, docsTimestamp, docsBody); got != docsSignature {
		t.Fatalf("the test's signer disagrees with Slack's example: %s", got)
	}
	synctest.Test(t, func(t *testing.T) {
		example := time.Unix(1531420618, 0)
		time.Sleep(time.Until(example.Add(30 * time.Second))) // 30 s after Slack signed it
		r := newRig(t)

		rec := httptest.NewRecorder()
		r.h.ServeHTTP(rec, docsRequest(docsBody))
		if rec.Code != http.StatusOK {
			t.Fatalf("docs example: status %d, want 200 (%s)", rec.Code, rec.Body)
		}
		// The example is /webhook-collect: verified, then declined.
		if !strings.Contains(rec.Body.String(), "answers `/breach` only") {
			t.Errorf("docs example answer = %s", rec.Body)
		}

		rec = httptest.NewRecorder()
		r.h.ServeHTTP(rec, docsRequest(strings.Replace(docsBody, "roadrunner", "coyote", 1)))
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("tampered body: status %d, want 401", rec.Code)
		}

		time.Sleep(6 * time.Minute) // the same request, replayed later
		rec = httptest.NewRecorder()
		r.h.ServeHTTP(rec, docsRequest(docsBody))
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("replayed after 6 min: status %d, want 401", rec.Code)
		}
		synctest.Wait()
		if calls := r.inc.Calls(); len(calls) != 0 {
			t.Errorf("incident service called: %+v", calls)
		}
	})
}

func TestVerification(t *testing.T) {
	body := slash("UADMIN", "note "+testID+" found the bucket")
	now := time.Now()
	tests := []struct {
		name string
		req  func() *http.Request
		want int
	}{
		{"fresh and signed", func() *http.Request { return signedRequest(testSecret, now, body) }, http.StatusOK},
		{"signed with another secret", func() *http.Request { return signedRequest("another-secret", now, body) }, http.StatusUnauthorized},
		{"replayed: 6 minutes old", func() *http.Request { return signedRequest(testSecret, now.Add(-6*time.Minute), body) }, http.StatusUnauthorized},
		{"from the future", func() *http.Request { return signedRequest(testSecret, now.Add(6*time.Minute), body) }, http.StatusUnauthorized},
		{"no signature", func() *http.Request {
			r := signedRequest(testSecret, now, body)
			r.Header.Del("X-Slack-Signature")
			return r
		}, http.StatusUnauthorized},
		{"no timestamp", func() *http.Request {
			r := signedRequest(testSecret, now, body)
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}, http.StatusUnauthorized},
		{"signature not hex", func() *http.Request {
			r := signedRequest(testSecret, now, body)
			r.Header.Set("X-Slack-Signature", "v0=zz")
			return r
		}, http.StatusUnauthorized},
		{"body changed after signing", func() *http.Request {
			r := signedRequest(testSecret, now, body)
			r.Body = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body+"x")).Body
			return r
		}, http.StatusUnauthorized},
		{"too large", func() *http.Request {
			return signedRequest(testSecret, now, body+"&pad="+strings.Repeat("a", DefaultMaxBody))
		}, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			rec := httptest.NewRecorder()
			r.h.ServeHTTP(rec, tt.req())
			r.wait(t)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			calls := r.inc.Calls()
			if tt.want == http.StatusOK && len(calls) != 1 {
				t.Errorf("accepted request made %d calls, want 1", len(calls))
			}
			if tt.want != http.StatusOK && (len(calls) != 0 || len(r.resp.Posts()) != 0) {
				t.Errorf("refused request did something: calls %+v, posts %d", calls, len(r.resp.Posts()))
			}
		})
	}
}

func TestMethodAndForm(t *testing.T) {
	r := newRig(t)
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/slack/commands", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", rec.Code)
	}
	if rec := r.serve(t, "foo=bar"); rec.Code != http.StatusBadRequest {
		t.Errorf("neither command nor payload: status %d", rec.Code)
	}
	if rec := r.serve(t, "payload=%7Bnot+json"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad payload: status %d", rec.Code)
	}
}

func TestNewNeedsSecret(t *testing.T) {
	if _, err := New(Config{Incidents: newFakeIncidents(), Views: &fakeViews{}}); err == nil {
		t.Error("New without a signing secret succeeded")
	}
}

// TestReplayedRequestsRefused sends one signed `/breach note` three times,
// to two handlers sharing one replay guard, as two `serve` processes on one
// store do: the first adds the note, the replays get 401 and change nothing.
func TestReplayedRequestsRefused(t *testing.T) {
	guard := &replay.Guard{Store: &replay.Memory{}}
	inc := newFakeIncidents()
	var handlers []*Handler
	for range 2 {
		h, err := New(Config{SigningSecret: testSecret, Incidents: inc, Views: &fakeViews{}, Roles: testRoles,
			Responder: &fakeResponder{}, Replay: guard})
		if err != nil {
			t.Fatal(err)
		}
		handlers = append(handlers, h)
	}
	body := slash("UADMIN", "note "+testID+" found the bucket")
	now := time.Now()
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized, http.StatusUnauthorized} {
		h := handlers[i%2]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(testSecret, now, body))
		if rec.Code != want {
			t.Errorf("delivery %d: status %d, want %d (%s)", i+1, rec.Code, want, rec.Body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	var notes int
	for _, c := range inc.Calls() {
		if c.Op == "note" {
			notes++
		}
	}
	if notes != 1 {
		t.Errorf("%d notes added, want 1: %+v", notes, inc.Calls())
	}
	// The same command typed again is another request (Slack signs it at
	// another second): it is taken.
	rec := httptest.NewRecorder()
	handlers[1].ServeHTTP(rec, signedRequest(testSecret, now.Add(time.Second), body))
	if rec.Code != http.StatusOK {
		t.Errorf("the command sent anew: status %d, want 200", rec.Code)
	}
}
