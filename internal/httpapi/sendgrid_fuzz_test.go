package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/replay"
)

// FuzzSendGridEvents posts any body to the Event Webhook, signed: it is
// answered 200 or 400, never a server error; a 400 is a body ParseEvents
// refuses, and records nothing; a 200 accounts for every event, recorded or
// skipped, and records only events with a batch and a subject key. The same
// body with its signature damaged is refused with 403 and records nothing;
// the same signed request again is a replay: nothing recorded twice (200
// "replayed" after a 200; a 400 again after a 400, whose mark is
// forgotten).
func FuzzSendGridEvents(f *testing.F) {
	ev := func(fields map[string]any) []byte {
		b, err := json.Marshal([]map[string]any{fields})
		if err != nil {
			f.Fatal(err)
		}
		return append(b, '\r', '\n')
	}
	f.Add(ev(ours("delivered", subjectA, nil)), uint8(0))
	f.Add(ev(ours("bounce", subjectB, map[string]any{"type": "blocked", "reason": blockedReason})), uint8(1))
	f.Add(ev(map[string]any{"email": "x@example.org", "event": "open", "timestamp": 1700000000}), uint8(2))
	f.Add(ev(ours("deferred", "not-hex-not-hex-not-hex-not-hex!", map[string]any{"attempt": "2"})), uint8(3))
	f.Add([]byte(`[{"event":"processed","breachctl_batch":"b","breachctl_subject":"00112233445566778899AABBCCDDEEFF","timestamp":"x"}]`), uint8(4))
	f.Add([]byte(`[null, 1, "x", {}]`), uint8(5))
	f.Add([]byte(`{}`), uint8(6))
	f.Add([]byte(``), uint8(7))
	f.Fuzz(func(t *testing.T, body []byte, flip uint8) {
		s := newSigner(t)
		rec := &fakeRecorder{}
		h := sendgridEvents(Deps{Events: rec, WebhookVerifier: s.verifier(t)}, &replay.Guard{Store: &replay.Memory{}})
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		post := func(sig string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/sendgrid/events", bytes.NewReader(body))
			req.Header.Set(mailer.SignatureHeader, sig)
			req.Header.Set(mailer.TimestampHeader, ts)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}
		sig := s.sign(t, ts, body)
		raw, _ := base64.StdEncoding.DecodeString(sig)
		raw[int(flip)%len(raw)] ^= 1 << (flip % 8)
		if w := post(base64.StdEncoding.EncodeToString(raw)); w.Code != http.StatusForbidden || len(rec.calls) != 0 {
			t.Fatalf("damaged signature: status %d, %d calls", w.Code, len(rec.calls))
		}

		w := post(sig)
		events, perr := mailer.ParseEvents(body)
		switch w.Code {
		case http.StatusBadRequest:
			if perr == nil || len(rec.calls) != 0 {
				t.Fatalf("400 for a body ParseEvents reads (%v), %d calls", perr, len(rec.calls))
			}
			if again := post(sig); again.Code != http.StatusBadRequest {
				t.Fatalf("the refused request again: status %d, want 400 again", again.Code)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if perr != nil {
			t.Fatalf("200 for a body ParseEvents refuses: %v", perr)
		}
		var res eventsResult
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("answer %q: %v", w.Body, err)
		}
		recorded := 0
		for _, c := range rec.calls {
			recorded += len(c)
			for _, de := range c {
				if de.Batch == "" || de.Event == "" || de.At.IsZero() {
					t.Fatalf("recorded %+v", de)
				}
			}
		}
		if res.Received != len(events) || res.Recorded != recorded || res.Recorded+res.Skipped != res.Received || res.Replayed {
			t.Fatalf("result %+v for %d events, %d recorded", res, len(events), recorded)
		}
		calls := len(rec.calls)
		again := post(sig)
		var replayed eventsResult
		_ = json.Unmarshal(again.Body.Bytes(), &replayed)
		if again.Code != http.StatusOK || !replayed.Replayed || replayed.Recorded != 0 || len(rec.calls) != calls {
			t.Fatalf("replay: status %d %s, %d calls before, %d after", again.Code, again.Body, calls, len(rec.calls))
		}
	})
}

// FuzzSubjectKey: a subject key is exactly 32 hex digits, in either case,
// and reads as the bytes they spell.
func FuzzSubjectKey(f *testing.F) {
	for _, s := range []string{subjectA, subjectB, "", "0011", subjectA + "00", "0g112233445566778899aabbccddeeff", "００112233445566778899aabbccddee"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, ok := subjectKey(s)
		isHex := len(s) == 32 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
		if ok != isHex {
			t.Fatalf("subjectKey(%q) ok = %v", s, ok)
		}
		if ok && hex.EncodeToString(key[:]) != strings.ToLower(s) {
			t.Fatalf("subjectKey(%q) = %x", s, key)
		}
	})
}
