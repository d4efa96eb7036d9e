package mailer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SendGrid's own test vector, from sendgrid-go's helpers/eventwebhook tests
// (the same key, signature, timestamp and payload appear in SendGrid's other
// libraries): a verification key as the SendGrid console shows it, and one
// signed request. Note the payload's trailing CRLF: SendGrid signs the body
// exactly as sent.
const (
	sgPublicKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
	sgSignature = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
	sgTimestamp = "1600112502"
	sgPayload   = `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
)

func TestVerifySendGridExample(t *testing.T) {
	v, err := NewWebhookVerifier(sgPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return time.Unix(1600112502+30, 0) }
	if err := v.Verify(sgSignature, sgTimestamp, []byte(sgPayload)); err != nil {
		t.Fatalf("SendGrid's example does not verify: %v", err)
	}
	if err := v.Verify(sgSignature, sgTimestamp, []byte(strings.TrimSuffix(sgPayload, "\r\n"))); err == nil {
		t.Error("verified without the trailing CRLF: the body must be used byte for byte")
	}
	// Through the one-call API, the 2020 timestamp is stale.
	if err := VerifyEventWebhook(sgPublicKey, sgSignature, sgTimestamp, []byte(sgPayload)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a 2020 timestamp verified today: %v", err)
	}
	events, err := ParseEvents([]byte(sgPayload))
	if err != nil || len(events) != 1 || events[0].Event != "dropped" || events[0].Reason != "Bounced Address" ||
		events[0].Timestamp.Unix() != 1600112492 || events[0].CustomArgs != nil {
		t.Errorf("ParseEvents = %+v, %v", events, err)
	}
}

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
	h := sha256.Sum256(append([]byte(timestamp), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestVerifyEventWebhook(t *testing.T) {
	s := newSigner(t)
	other := newSigner(t)
	body := []byte(`[{"email":"a@example.org","event":"delivered","timestamp":1700000000,"breachctl_batch":"INC-1/r/page-0"}]` + "\r\n")
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := s.sign(t, ts, body)

	if err := VerifyEventWebhook(s.pubB64, sig, ts, body); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}

	stale := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)
	tampered := []byte(strings.Replace(string(body), "delivered", "bounce", 1))
	cases := []struct {
		name           string
		key, sig, ts   string
		body           []byte
		wantBadSigWrap bool
	}{
		{"tampered body", s.pubB64, sig, ts, tampered, true},
		{"wrong key", other.pubB64, sig, ts, body, true},
		{"altered timestamp", s.pubB64, sig, strconv.FormatInt(now.Unix()+1, 10), body, true},
		{"stale timestamp, correctly signed", s.pubB64, s.sign(t, stale, body), stale, body, true},
		{"future timestamp, correctly signed", s.pubB64, s.sign(t, future, body), future, body, true},
		{"timestamp not a number, correctly signed", s.pubB64, s.sign(t, "soon", body), "soon", body, true},
		{"signature not base64", s.pubB64, "%%%", ts, body, true},
		{"signature of another body", s.pubB64, s.sign(t, ts, tampered), ts, body, true},
		{"no signature", s.pubB64, "", ts, body, true},
		{"no timestamp", s.pubB64, sig, "", body, true},
		{"key not base64", "not base64!", sig, ts, body, false},
		{"key not a key", base64.StdEncoding.EncodeToString([]byte("junk")), sig, ts, body, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyEventWebhook(c.key, c.sig, c.ts, c.body)
			if err == nil {
				t.Fatal("verified")
			}
			if errors.Is(err, ErrBadSignature) != c.wantBadSigWrap {
				t.Errorf("errors.Is(err, ErrBadSignature) = %v: %v", !c.wantBadSigWrap, err)
			}
		})
	}

	t.Run("not an ECDSA P-256 key", func(t *testing.T) {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(pub)
		if _, err := NewWebhookVerifier(base64.StdEncoding.EncodeToString(der)); err == nil {
			t.Error("an Ed25519 key was accepted")
		}
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		der, _ = x509.MarshalPKIXPublicKey(&p384.PublicKey)
		if _, err := NewWebhookVerifier(base64.StdEncoding.EncodeToString(der)); err == nil {
			t.Error("a P-384 key was accepted")
		}
	})
	t.Run("tolerance", func(t *testing.T) {
		v, err := NewWebhookVerifier(s.pubB64)
		if err != nil {
			t.Fatal(err)
		}
		v.Tolerance = time.Hour
		if err := v.Verify(s.sign(t, stale, body), stale, body); err != nil {
			t.Errorf("10 minutes old with an hour's tolerance: %v", err)
		}
		v.Tolerance = -1
		old := "1000000000"
		if err := v.Verify(s.sign(t, old, body), old, body); err != nil {
			t.Errorf("check disabled: %v", err)
		}
	})
}

func TestParseEvents(t *testing.T) {
	body := `[
	 {"email":"a@example.org","event":"processed","timestamp":1700000000,"sg_event_id":"e1","sg_message_id":"m1.filter","smtp-id":"<x@y>","category":"breach-notice","breachctl_batch":"INC-1/r/page-0","breachctl_subject":"s-1","incident":"INC-1"},
	 {"email":"b@example.org","event":"bounce","timestamp":1700000001,"reason":"550 5.1.1 no such user","status":"5.1.1","type":"bounce","category":["a","b"],"breachctl_batch":"INC-1/r/page-0","asm_group_id":1,"pool":{"name":"p","id":1}},
	 {"email":"c@example.org","event":"deferred","timestamp":1700000002,"attempt":2,"response":"421 try later"}
	]`
	events, err := ParseEvents([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	e := events[0]
	if e.Email != "a@example.org" || e.Event != "processed" || !e.Timestamp.Equal(time.Unix(1700000000, 0)) || e.SGEventID != "e1" ||
		e.SGMessageID != "m1.filter" || len(e.Category) != 1 || e.Category[0] != "breach-notice" {
		t.Errorf("event 0 = %+v", e)
	}
	if len(e.CustomArgs) != 3 || e.CustomArgs[ArgBatch] != "INC-1/r/page-0" || e.CustomArgs[ArgSubject] != "s-1" || e.CustomArgs["incident"] != "INC-1" {
		t.Errorf("event 0 custom args = %v", e.CustomArgs)
	}
	if e := events[1]; e.Reason != "550 5.1.1 no such user" || e.Status != "5.1.1" || e.Type != "bounce" || len(e.Category) != 2 ||
		len(e.CustomArgs) != 1 {
		t.Errorf("event 1 = %+v", e)
	}
	if e := events[2]; e.Attempt != "2" || e.Response != "421 try later" || e.CustomArgs != nil || e.BatchAttempt != 0 {
		t.Errorf("event 2 = %+v", e)
	}
	if events[0].BatchAttempt != 0 {
		t.Errorf("event 0 without %s: attempt %d, want 0", ArgAttempt, events[0].BatchAttempt)
	}

	// The attempt custom arg, apart from SendGrid's own "attempt" of a
	// deferral.
	for _, c := range []struct {
		arg  string
		want int
	}{
		{`"1"`, 1}, {`"12"`, 12}, {`"0"`, 0}, {`"-1"`, 0}, {`"+3"`, 0}, {`"2x"`, 0}, {`""`, 0}, {`" 2"`, 0},
		{`"99999999999999999999"`, 0}, {`3`, 0}, // custom args are strings: a number is not ours
	} {
		body := `[{"event":"delivered","attempt":"5","breachctl_batch":"k","breachctl_attempt":` + c.arg + `}]`
		events, err := ParseEvents([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got := events[0].BatchAttempt; got != c.want || events[0].Attempt != "5" {
			t.Errorf("breachctl_attempt %s: attempt %d (SendGrid's %q), want %d", c.arg, got, events[0].Attempt, c.want)
		}
	}

	bad := []struct{ body, want string }{
		{`{"event":"x"}`, "not a JSON array"},
		{`[{"event":"x"},`, "not a JSON array"},
		{`[{"event":"delivered"}, 42]`, "event 1: not a JSON object"},
		{`[{"event":"delivered"}, {"event":"open"}, {"email":"a@example.org"}]`, "event 2: field event: missing"},
		{`[{"event":"delivered","timestamp":"yesterday"}]`, "event 0: field timestamp"},
		{`[{"event":"delivered","timestamp":1.5}]`, "event 0: field timestamp"},
		{`[{"event":"delivered","email":{"a":1}}]`, "event 0: field email"},
		{`[{"event":"delivered","category":7}]`, "event 0: field category"},
	}
	for _, c := range bad {
		_, err := ParseEvents([]byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseEvents(%s) = %v, want an error saying %q", c.body, err, c.want)
		}
	}
	if events, err := ParseEvents([]byte(`[]`)); err != nil || len(events) != 0 {
		t.Errorf("empty array: %v %v", events, err)
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(sgPayload))
	f.Add([]byte(`[{"email":"a@example.org","event":"bounce","timestamp":1700000001,"reason":"r","status":"5.1.1","category":["a"],"breachctl_batch":"k"}]`))
	f.Add([]byte(`[{"event":"deferred","attempt":2,"timestamp":1e3}]`))
	f.Add([]byte(`[null, 1, "x", {}]`))
	f.Add([]byte(`[{"event":"x","category":null,"email":null}]`))
	f.Add([]byte(`[{"event":"processed","breachctl_batch":"k","breachctl_attempt":"2","attempt":"1"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseEvents(body)
		if err != nil {
			if events != nil {
				t.Fatal("events and an error")
			}
			if !strings.HasPrefix(err.Error(), "event webhook: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		for i, e := range events {
			if e.Event == "" {
				t.Fatalf("event %d has no event name", i)
			}
			for k := range e.CustomArgs {
				if eventFields[k] {
					t.Fatalf("event %d: SendGrid field %q taken for a custom arg", i, k)
				}
			}
			if e.BatchAttempt < 0 || e.BatchAttempt > 0 && strconv.Itoa(e.BatchAttempt) != e.CustomArgs[ArgAttempt] {
				t.Fatalf("event %d: attempt %d from custom arg %q", i, e.BatchAttempt, e.CustomArgs[ArgAttempt])
			}
		}
	})
}
