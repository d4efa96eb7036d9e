package mailer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed Event Webhook request.
const (
	SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// DefaultWebhookTolerance is how far the signed timestamp may be from now
// (either way) before VerifyEventWebhook refuses it as stale or replayed.
// SendGrid documents no window; five minutes is the common choice for signed
// webhooks. See WebhookVerifier to choose another.
const DefaultWebhookTolerance = 5 * time.Minute

// ErrBadSignature is returned (wrapped) when a webhook request is not
// signed by the key, or its timestamp is out of the window.
var ErrBadSignature = errors.New("event webhook: signature not valid")

// VerifyEventWebhook checks a signed Event Webhook request: signature and
// timestamp are the X-Twilio-Email-Event-Webhook-Signature and -Timestamp
// headers, body the raw request body, byte for byte as received, and
// publicKeyBase64 the verification key as SendGrid shows it (base64 of the
// DER-encoded PKIX public key, ECDSA P-256). SendGrid signs SHA-256 of the
// timestamp followed by the body; the signature is base64 of an ASN.1 DER
// ECDSA signature. The timestamp must be within DefaultWebhookTolerance of
// now.
func VerifyEventWebhook(publicKeyBase64 string, signature, timestamp string, body []byte) error {
	v, err := NewWebhookVerifier(publicKeyBase64)
	if err != nil {
		return err
	}
	return v.Verify(signature, timestamp, body)
}

// WebhookVerifier verifies signed Event Webhook requests with one public
// key, parsed once.
type WebhookVerifier struct {
	key *ecdsa.PublicKey
	// Tolerance is how far the timestamp may be from Now; 0 means
	// DefaultWebhookTolerance, negative disables the check.
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewWebhookVerifier parses SendGrid's verification key (base64 DER PKIX,
// ECDSA P-256).
func NewWebhookVerifier(publicKeyBase64 string) (*WebhookVerifier, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicKeyBase64))
	if err != nil {
		return nil, fmt.Errorf("event webhook: public key is not base64: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("event webhook: public key: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("event webhook: public key is not an ECDSA P-256 key")
	}
	return &WebhookVerifier{key: key}, nil
}

// Verify checks one request; see VerifyEventWebhook.
func (v *WebhookVerifier) Verify(signature, timestamp string, body []byte) error {
	if signature == "" || timestamp == "" {
		return fmt.Errorf("%w: signature or timestamp header missing", ErrBadSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	if !ecdsa.VerifyASN1(v.key, h.Sum(nil), sig) {
		return ErrBadSignature
	}
	return v.CheckHeaders(signature, timestamp)
}

// CheckHeaders checks what can be checked without the body: both headers
// present, the signature base64, the timestamp Unix seconds within the
// tolerance. A server calls it before reading a body it cannot yet trust;
// Verify calls it too.
func (v *WebhookVerifier) CheckHeaders(signature, timestamp string) error {
	if signature == "" || timestamp == "" {
		return fmt.Errorf("%w: signature or timestamp header missing", ErrBadSignature)
	}
	if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature)); err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	if v.Tolerance < 0 {
		return nil
	}
	tol := v.Tolerance
	if tol == 0 {
		tol = DefaultWebhookTolerance
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, timestamp)
	}
	if d := now().Sub(time.Unix(secs, 0)); d > tol || d < -tol {
		return fmt.Errorf("%w: timestamp is %s from now, outside ±%s", ErrBadSignature, d.Round(time.Second), tol)
	}
	return nil
}

// Event is one Event Webhook event. SendGrid sends the custom_args of the
// message's request and personalization as top-level fields; the ones that
// are not SendGrid's own fields are collected in CustomArgs
// (breachctl_batch, breachctl_subject, incident, ...).
type Event struct {
	Email       string
	Event       string // processed, dropped, delivered, deferred, bounce, open, click, spamreport, unsubscribe, ...
	Timestamp   time.Time
	SGEventID   string
	SGMessageID string
	Reason      string // dropped, bounce, deferred: why
	Status      string // bounce: the SMTP status code, e.g. "5.0.0"
	Type        string // bounce: "bounce" or "blocked"
	Response    string // delivered, deferred: the receiving server's answer
	Attempt     string // deferred: the attempt number
	Category    []string
	CustomArgs  map[string]string
	// BatchAttempt is which send attempt of its batch the message was, from
	// the custom arg breachctl_attempt (ArgAttempt); 0 when the message
	// carried none (sent before attempts were numbered) or it is not a
	// positive whole number. Attempt, above, is SendGrid's own delivery
	// attempt of a deferral.
	BatchAttempt int
}

// Fields of an event that are SendGrid's own, not custom_args.
var eventFields = map[string]bool{
	"email": true, "event": true, "timestamp": true, "sg_event_id": true, "sg_message_id": true,
	"reason": true, "status": true, "type": true, "response": true, "attempt": true, "category": true,
	"smtp-id": true, "ip": true, "tls": true, "cert_err": true, "useragent": true, "url": true,
	"url_offset": true, "asm_group_id": true, "marketing_campaign_id": true, "marketing_campaign_name": true,
	"pool": true, "sg_machine_open": true, "bounce_classification": true, "sg_template_id": true,
	"sg_template_name": true, "send_at": true, "sg_content_type": true,
}

// ParseEvents parses an Event Webhook body: a JSON array of event objects.
// An element that is not an object, or whose known fields have the wrong
// type, fails the whole body with an error naming its index.
func ParseEvents(body []byte) ([]Event, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("event webhook: body is not a JSON array of events: %w", err)
	}
	events := make([]Event, len(raw))
	for i, r := range raw {
		if err := parseEvent(r, &events[i]); err != nil {
			return nil, fmt.Errorf("event webhook: event %d: %w", i, err)
		}
	}
	return events, nil
}

func parseEvent(raw json.RawMessage, e *Event) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return errors.New("not a JSON object")
	}
	str := func(k string, dst *string) error {
		v, ok := m[k]
		if !ok || bytes.Equal(v, []byte("null")) {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			// A few fields are numbers in some events (attempt, status).
			var n json.Number
			if json.Unmarshal(v, &n) == nil {
				*dst = n.String()
				return nil
			}
			return fmt.Errorf("field %s: want a string", k)
		}
		return nil
	}
	for _, f := range []struct {
		k   string
		dst *string
	}{
		{"email", &e.Email}, {"event", &e.Event}, {"sg_event_id", &e.SGEventID}, {"sg_message_id", &e.SGMessageID},
		{"reason", &e.Reason}, {"status", &e.Status}, {"type", &e.Type}, {"response", &e.Response}, {"attempt", &e.Attempt},
	} {
		if err := str(f.k, f.dst); err != nil {
			return err
		}
	}
	if e.Event == "" {
		return errors.New("field event: missing")
	}
	if v, ok := m["timestamp"]; ok {
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			return errors.New("field timestamp: want Unix seconds")
		}
		secs, err := n.Int64()
		if err != nil {
			return errors.New("field timestamp: want whole Unix seconds")
		}
		e.Timestamp = time.Unix(secs, 0).UTC()
	}
	if v, ok := m["category"]; ok && !bytes.Equal(v, []byte("null")) {
		// A string for one category, an array for several.
		var one string
		if json.Unmarshal(v, &one) == nil {
			e.Category = []string{one}
		} else if json.Unmarshal(v, &e.Category) != nil {
			return errors.New("field category: want a string or an array of strings")
		}
	}
	for k, v := range m {
		if eventFields[k] {
			continue
		}
		// custom_args are strings; anything else SendGrid adds (numbers,
		// objects) is not ours and is skipped.
		var s string
		if json.Unmarshal(v, &s) == nil {
			if e.CustomArgs == nil {
				e.CustomArgs = make(map[string]string)
			}
			e.CustomArgs[k] = s
		}
	}
	e.BatchAttempt = batchAttempt(e.CustomArgs[ArgAttempt])
	return nil
}

// batchAttempt reads the breachctl_attempt custom arg: a positive decimal
// number, or 0 for anything else.
func batchAttempt(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || s[0] == '+' {
		return 0
	}
	return n
}
