package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a request's HMAC signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">", with one v1 per
// secret the sender signs with.
const SignatureHeader = "X-Breachctl-Signature"

// Sign returns the SignatureHeader value for body sent at t with secret.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// errUnauthorized is what every failed check answers with (401); the
// message says which check, never a secret.
type errUnauthorized struct{ msg string }

func (e *errUnauthorized) Error() string { return e.msg }

func unauthorized(msg string) error { return &errUnauthorized{msg} }

// verifySignature checks a SignatureHeader value against body and the
// secrets, and that its timestamp is within tolerance of now. It returns
// the hash that identifies the signed request, for the replay check.
func verifySignature(header string, body []byte, secrets []string, now time.Time, tolerance time.Duration) ([32]byte, error) {
	if len(secrets) == 0 {
		return [32]byte{}, unauthorized("signed requests are not accepted here (no BREACHCTL_INTAKE_SECRETS): use a bearer token")
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	switch {
	case ts == "" || err != nil:
		return [32]byte{}, unauthorized(SignatureHeader + " has no t=<unix seconds>")
	case len(sigs) == 0:
		return [32]byte{}, unauthorized(SignatureHeader + " has no v1=<64 hex digits>")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return [32]byte{}, unauthorized("the signature's timestamp is more than " + tolerance.String() + " from the server's clock")
	}
	ok := false
	for _, secret := range secrets {
		want := mac(secret, ts, body)
		for _, sig := range sigs {
			ok = hmac.Equal(want, sig) || ok // every comparison made: no early exit
		}
	}
	if !ok {
		return [32]byte{}, unauthorized("the signature does not match the body")
	}
	return sha256.Sum256(append([]byte(ts+"."), body...)), nil
}

// verifyBearer checks an Authorization header against the tokens, in time
// that does not depend on how much of a token matched: both sides are
// hashed to one length first, and every token is compared.
func verifyBearer(header string, tokens []string) error {
	if len(tokens) == 0 {
		return unauthorized("bearer tokens are not accepted here (no BREACHCTL_INTAKE_TOKENS): sign the request")
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return unauthorized("the Authorization header is not Bearer <token>")
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, t := range tokens {
		want := sha256.Sum256([]byte(t))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return unauthorized("the bearer token is not valid")
	}
	return nil
}

var errNoCredentials = errors.New("missing " + SignatureHeader + " or Authorization: Bearer <token>")
