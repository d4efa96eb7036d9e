package httpapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/internal/store"
)

// fakeRecorder records what it is given; RecordEventsFn, when set, answers.
type fakeRecorder struct {
	RecordEventsFn func(ctx context.Context, events []store.DeliveryEvent) (int, error)
	calls          [][]store.DeliveryEvent
}

var _ EventRecorder = (*fakeRecorder)(nil)

func (f *fakeRecorder) RecordEvents(ctx context.Context, events []store.DeliveryEvent) (int, error) {
	f.calls = append(f.calls, events)
	if f.RecordEventsFn != nil {
		return f.RecordEventsFn(ctx, events)
	}
	return len(events), nil
}

// signer signs requests as SendGrid does: ECDSA P-256 over SHA-256 of the
// timestamp followed by the body (see internal/mailer/webhook_test.go).
type signer struct {
	priv   *ecdsa.PrivateKey
	pubB64 string
}

func newSigner(t *testing.T) signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return signer{priv, base64.StdEncoding.EncodeToString(der)}
}

func (s signer) sign(t *testing.T, timestamp string, body []byte) string {
	t.Helper()
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func (s signer) verifier(t *testing.T) *mailer.WebhookVerifier {
	t.Helper()
	v, err := mailer.NewWebhookVerifier(s.pubB64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	subjectA = "00112233445566778899aabbccddeeff"
	subjectB = "FFEEDDCCBBAA99887766554433221100"
	batch    = "INC-20261123-ABCDE/eu-gdpr-art34/page-0003/part-2"
	// Reasons quote addresses; neither may reach a log.
	bounceReason  = "550 5.1.1 <anna@example.org>: Recipient address rejected"
	blockedReason = "554 5.7.1 Service unavailable; Client host blocked for bert@example.org"
)

var (
	keyA = [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	keyB = [16]byte{0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00}
)

func event(fields map[string]any) map[string]any { return fields }

func eventsBody(t *testing.T, events ...map[string]any) []byte {
	t.Helper()
	if events == nil {
		events = []map[string]any{}
	}
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\r', '\n') // SendGrid's bodies end in CRLF, and it is signed
}

func ours(name, subject string, extra map[string]any) map[string]any {
	e := map[string]any{
		"email": "anna@example.org", "event": name, "timestamp": 1700000000,
		"sg_event_id": "ev-" + name + "-" + subject, "sg_message_id": "m1.filter",
		mailer.ArgBatch: batch, mailer.ArgSubject: subject, "incident": "INC-20261123-ABCDE",
	}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

func TestSendGridEvents(t *testing.T) {
	s := newSigner(t)
	other := newSigner(t)
	at := time.Unix(1700000000, 0).UTC()

	mixed := eventsBody(t,
		ours("delivered", subjectA, nil),
		ours("bounce", subjectB, map[string]any{"type": "blocked", "reason": blockedReason, "status": "5.7.1"}),
		event(map[string]any{"email": "carl@example.org", "event": "delivered", "timestamp": 1700000001}), // other mail of the account
		ours("bounce", subjectA, map[string]any{"type": "bounce", "reason": bounceReason, "status": "5.1.1"}),
		ours("deferred", "s-1", nil), // a subject breachctl would not set
		event(map[string]any{"email": "dora@example.org", "event": "open", mailer.ArgSubject: subjectA}), // no batch
		ours("dropped", subjectB, map[string]any{"reason": "Bounced Address", mailer.ArgBatch: ""}),      // empty batch
	)
	mixedWant := []store.DeliveryEvent{
		{Batch: batch, Subject: keyA, Event: "delivered", At: at, SGEventID: "ev-delivered-" + subjectA},
		{Batch: batch, Subject: keyB, Event: "blocked", Reason: blockedReason, At: at, SGEventID: "ev-bounce-" + subjectB},
		{Batch: batch, Subject: keyA, Event: "bounce", Reason: bounceReason, At: at, SGEventID: "ev-bounce-" + subjectA},
	}
	foreign := eventsBody(t,
		event(map[string]any{"email": "carl@example.org", "event": "delivered", "timestamp": 1700000001, "campaign": "spring"}),
		event(map[string]any{"email": "dora@example.org", "event": "bounce", "type": "blocked", "reason": blockedReason}),
	)

	type request struct {
		body      []byte
		timestamp string // "" for now
		signer    *signer
		signature string // overrides signing
		noHeaders bool
	}
	cases := []struct {
		name     string
		req      request
		record   func(context.Context, []store.DeliveryEvent) (int, error)
		status   int
		want     []store.DeliveryEvent // what the recorder got; nil when it must not be called
		response string
	}{
		{
			name: "records ours, skips the rest", req: request{body: mixed},
			status: 200, want: mixedWant, response: `{"received":7,"recorded":3,"skipped":4}`,
		},
		{
			name: "recorded is what the ledger applied", req: request{body: mixed},
			record: func(context.Context, []store.DeliveryEvent) (int, error) { return 1, nil },
			status: 200, want: mixedWant, response: `{"received":7,"recorded":1,"skipped":4}`,
		},
		{
			name: "only foreign events: nothing to record", req: request{body: foreign},
			status: 200, response: `{"received":2,"recorded":0,"skipped":2}`,
		},
		{
			name: "no events", req: request{body: eventsBody(t)},
			status: 200, response: `{"received":0,"recorded":0,"skipped":0}`,
		},
		{
			name: "recorder fails: 500, SendGrid retries", req: request{body: mixed},
			record: func(context.Context, []store.DeliveryEvent) (int, error) {
				return 0, errors.New("ledger: database is locked")
			},
			status: 500, want: mixedWant, response: `{"error":"could not record the events"}`,
		},
		{
			name: "signed by another key", req: request{body: mixed, signer: &other},
			status: 403, response: `{"error":"signature not valid"}`,
		},
		{
			name: "signature of another body", req: request{body: mixed, signature: s.sign(t, strconv.FormatInt(time.Now().Unix(), 10), foreign)},
			status: 403, response: `{"error":"signature not valid"}`,
		},
		{
			name: "stale timestamp, correctly signed", req: request{body: mixed, timestamp: strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)},
			status: 403, response: `{"error":"signature not valid"}`,
		},
		{
			name: "no signature", req: request{body: mixed, noHeaders: true},
			status: 401, response: `{"error":"missing X-Twilio-Email-Event-Webhook-Signature or X-Twilio-Email-Event-Webhook-Timestamp"}`,
		},
		{
			name: "body over the limit", req: request{body: append(append([]byte(`["`), bytes.Repeat([]byte("x"), MaxEventsBody)...), `"]`...)},
			status: 413, response: `{"error":"body larger than 4 MiB"}`,
		},
		{
			name: "not events, correctly signed", req: request{body: []byte(`{"event":"delivered"}`)},
			status: 400, response: `{"error":"event webhook: body is not a JSON array of events: json: cannot unmarshal object into Go value of type []json.RawMessage"}`,
		},
		{
			name: "an event without a name", req: request{body: []byte(`[{"email":"anna@example.org"}]`)},
			status: 400, response: `{"error":"event webhook: event 0: field event: missing"}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &fakeRecorder{RecordEventsFn: c.record}
			var logs bytes.Buffer
			h := New(Deps{
				Events:          rec,
				WebhookVerifier: s.verifier(t),
				Logger:          slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			req := httptest.NewRequest(http.MethodPost, "/sendgrid/events", bytes.NewReader(c.req.body))
			req.Header.Set("Content-Type", "application/json")
			if !c.req.noHeaders {
				ts := c.req.timestamp
				if ts == "" {
					ts = strconv.FormatInt(time.Now().Unix(), 10)
				}
				sig := c.req.signature
				if sig == "" {
					by := s
					if c.req.signer != nil {
						by = *c.req.signer
					}
					sig = by.sign(t, ts, c.req.body)
				}
				req.Header.Set(mailer.SignatureHeader, sig)
				req.Header.Set(mailer.TimestampHeader, ts)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)

			if w.Code != c.status {
				t.Errorf("status %d, want %d (%s)", w.Code, c.status, w.Body)
			}
			if got := strings.TrimSpace(w.Body.String()); got != c.response {
				t.Errorf("response %s, want %s", got, c.response)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			switch {
			case c.want == nil && len(rec.calls) > 0:
				t.Errorf("recorder called with %+v", rec.calls)
			case c.want != nil && len(rec.calls) != 1:
				t.Errorf("recorder called %d times, want once", len(rec.calls))
			case c.want != nil && !reflect.DeepEqual(rec.calls[0], c.want):
				t.Errorf("recorded\n%+v\nwant\n%+v", rec.calls[0], c.want)
			}
			if logs.Len() == 0 {
				t.Error("nothing logged")
			}
			for _, secret := range []string{"@", "Recipient address rejected", "Client host blocked", "Bounced Address"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the log holds %q:\n%s", secret, logs.String())
				}
			}
		})
	}
}

func TestSendGridEventsNotConfigured(t *testing.T) {
	s := newSigner(t)
	for _, d := range []Deps{
		{},
		{Events: &fakeRecorder{}},
		{WebhookVerifier: s.verifier(t)},
	} {
		body := eventsBody(t, ours("delivered", subjectA, nil))
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req := httptest.NewRequest(http.MethodPost, "/sendgrid/events", bytes.NewReader(body))
		req.Header.Set(mailer.SignatureHeader, s.sign(t, ts, body))
		req.Header.Set(mailer.TimestampHeader, ts)
		w := httptest.NewRecorder()
		New(d).ServeHTTP(w, req)
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "SENDGRID_WEBHOOK_PUBLIC_KEY") {
			t.Errorf("events %v, verifier %v: %d %s", d.Events != nil, d.WebhookVerifier != nil, w.Code, w.Body)
		}
		if rec, ok := d.Events.(*fakeRecorder); ok && len(rec.calls) > 0 {
			t.Error("recorded without a verifier")
		}
	}
}

func TestSendGridEventsOnlyPOST(t *testing.T) {
	s := newSigner(t)
	h := New(Deps{Events: &fakeRecorder{}, WebhookVerifier: s.verifier(t)})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sendgrid/events", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}

func TestDeliveryEvent(t *testing.T) {
	received := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	args := map[string]string{mailer.ArgBatch: "b", mailer.ArgSubject: subjectA}
	cases := []struct {
		name string
		in   mailer.Event
		want store.DeliveryEvent
		ok   bool
	}{
		{"delivered", mailer.Event{Event: "delivered", Timestamp: time.Unix(5, 0), SGEventID: "e", CustomArgs: args},
			store.DeliveryEvent{Batch: "b", Subject: keyA, Event: "delivered", At: time.Unix(5, 0), SGEventID: "e"}, true},
		{"blocked bounce", mailer.Event{Event: "bounce", Type: "blocked", Reason: "r", CustomArgs: args},
			store.DeliveryEvent{Batch: "b", Subject: keyA, Event: "blocked", Reason: "r", At: received}, true},
		{"bounce", mailer.Event{Event: "bounce", Type: "bounce", Reason: "r", CustomArgs: args},
			store.DeliveryEvent{Batch: "b", Subject: keyA, Event: "bounce", Reason: "r", At: received}, true},
		{"bounce without a type", mailer.Event{Event: "bounce", CustomArgs: args},
			store.DeliveryEvent{Batch: "b", Subject: keyA, Event: "bounce", At: received}, true},
		{"numbered attempt", mailer.Event{Event: "delivered", Timestamp: time.Unix(5, 0), CustomArgs: args, BatchAttempt: 2},
			store.DeliveryEvent{Batch: "b", Subject: keyA, Attempt: 2, Event: "delivered", At: time.Unix(5, 0)}, true},
		{"upper-case hex", mailer.Event{Event: "open", CustomArgs: map[string]string{mailer.ArgBatch: "b", mailer.ArgSubject: subjectB}},
			store.DeliveryEvent{Batch: "b", Subject: keyB, Event: "open", At: received}, true},
		{"no custom args", mailer.Event{Event: "delivered"}, store.DeliveryEvent{}, false},
		{"no batch", mailer.Event{Event: "delivered", CustomArgs: map[string]string{mailer.ArgSubject: subjectA}}, store.DeliveryEvent{}, false},
		{"no subject", mailer.Event{Event: "delivered", CustomArgs: map[string]string{mailer.ArgBatch: "b"}}, store.DeliveryEvent{}, false},
		{"short subject", mailer.Event{Event: "delivered", CustomArgs: map[string]string{mailer.ArgBatch: "b", mailer.ArgSubject: subjectA[:30]}}, store.DeliveryEvent{}, false},
		{"subject not hex", mailer.Event{Event: "delivered", CustomArgs: map[string]string{mailer.ArgBatch: "b", mailer.ArgSubject: "zz" + subjectA[2:]}}, store.DeliveryEvent{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := deliveryEvent(c.in, received)
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Errorf("deliveryEvent = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// TestSendGridEventsReplayed posts one signed batch to two servers sharing
// a replay guard, as two `serve` processes on one store: it is recorded
// once; the replay is answered 200 "replayed" (so SendGrid stops sending
// it) and records nothing. A request the ledger failed is forgotten, so
// SendGrid's retry of it is recorded.
func TestSendGridEventsReplayed(t *testing.T) {
	s := newSigner(t)
	guard := &replay.Guard{Store: &replay.Memory{}}
	fail := true
	rec := &fakeRecorder{RecordEventsFn: func(_ context.Context, ev []store.DeliveryEvent) (int, error) {
		if fail {
			return 0, errors.New("ledger down")
		}
		return len(ev), nil
	}}
	servers := []http.Handler{
		New(Deps{Events: rec, WebhookVerifier: s.verifier(t), Replay: guard}),
		New(Deps{Events: rec, WebhookVerifier: s.verifier(t), Replay: guard}),
	}
	body := eventsBody(t, ours("delivered", subjectA, nil))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := s.sign(t, ts, body)
	post := func(h http.Handler) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/sendgrid/events", bytes.NewReader(body))
		req.Header.Set(mailer.SignatureHeader, sig)
		req.Header.Set(mailer.TimestampHeader, ts)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	if code, _ := post(servers[0]); code != http.StatusInternalServerError {
		t.Fatalf("ledger down: %d", code)
	}
	fail = false
	for i, want := range []string{
		`{"received":1,"recorded":1,"skipped":0}`,
		`{"received":0,"recorded":0,"skipped":0,"replayed":true}`,
		`{"received":0,"recorded":0,"skipped":0,"replayed":true}`,
	} {
		code, got := post(servers[(i+1)%2])
		if code != http.StatusOK || got != want {
			t.Errorf("delivery %d: %d %s, want 200 %s", i+2, code, got, want)
		}
	}
	if len(rec.calls) != 2 {
		t.Errorf("the ledger was given the batch %d times, want 2 (the failed one and its retry)", len(rec.calls))
	}
}
