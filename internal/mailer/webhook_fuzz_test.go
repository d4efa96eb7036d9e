package mailer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fuzzKey is one key for a whole fuzzing run: a signature the fuzzer writes
// by itself cannot be valid under it.
var fuzzKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// FuzzWebhookVerify: a request signed with the key and a timestamp of now
// verifies; with one bit of the signature flipped, one byte of the body
// changed or another timestamp it does not. A signature the fuzzer wrote
// never verifies. A correctly signed timestamp verifies if and only if it
// is Unix seconds within the tolerance of now.
func FuzzWebhookVerify(f *testing.F) {
	f.Add([]byte(sgPayload), sgTimestamp, sgSignature, uint16(0))
	f.Add([]byte(`[{"email":"a@example.org","event":"delivered","timestamp":1700000000}]`+"\r\n"), "1700000299", "", uint16(77))
	f.Add([]byte(""), "1699999700", "%%%", uint16(1))
	f.Add([]byte("[]"), " 1700000000", "MEUCIQ==", uint16(9))
	f.Add([]byte("x"), "+1700000000", "\n", uint16(600))
	f.Add([]byte("x"), "9223372036854775807", "AAAA", uint16(3))
	now := time.Unix(1700000000, 0)
	const tsNow = "1700000000"
	f.Fuzz(func(t *testing.T, body []byte, ts, sigText string, flip uint16) {
		key := fuzzKey()
		v := &WebhookVerifier{key: &key.PublicKey, Now: func() time.Time { return now }}
		sign := func(ts string, body []byte) []byte {
			h := sha256.New()
			h.Write([]byte(ts))
			h.Write(body)
			sig, err := ecdsa.SignASN1(rand.Reader, key, h.Sum(nil))
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}
		refused := func(what, sig, ts string, body []byte) {
			t.Helper()
			if err := v.Verify(sig, ts, body); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("%s: Verify = %v, want ErrBadSignature", what, err)
			}
		}
		sig := sign(tsNow, body)
		good := base64.StdEncoding.EncodeToString(sig)
		if err := v.Verify(good, tsNow, body); err != nil {
			t.Fatalf("signed now, refused: %v", err)
		}
		mutated := append([]byte(nil), sig...)
		bit := int(flip) % (8 * len(mutated))
		mutated[bit/8] ^= 1 << (bit % 8)
		refused("a bit of the signature flipped", base64.StdEncoding.EncodeToString(mutated), tsNow, body)
		changed := append([]byte(nil), body...)
		if len(changed) == 0 {
			changed = []byte{byte(flip)}
		} else {
			changed[int(flip)%len(changed)] ^= 1 << (flip % 8)
		}
		refused("the body changed", good, tsNow, changed)
		if ts != tsNow {
			refused("another timestamp", good, ts, body)
		}
		refused("a signature not made with the key", sigText, tsNow, body)

		err := v.Verify(base64.StdEncoding.EncodeToString(sign(ts, body)), ts, body)
		secs, perr := strconv.ParseInt(ts, 10, 64)
		d := now.Sub(time.Unix(secs, 0))
		fresh := ts != "" && perr == nil && d <= DefaultWebhookTolerance && d >= -DefaultWebhookTolerance
		if (err == nil) != fresh {
			t.Fatalf("timestamp %q signed, fresh = %v: Verify = %v", ts, fresh, err)
		}
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("timestamp %q: %v does not wrap ErrBadSignature", ts, err)
		}
	})
}
