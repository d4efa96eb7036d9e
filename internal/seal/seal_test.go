package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func mustEntry(t *testing.T, id string) string {
	t.Helper()
	e, err := NewEntry(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustParse(t *testing.T, s string) *Keyring {
	t.Helper()
	k, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseNamesTheBadEntry(t *testing.T) {
	good := mustEntry(t, "k1")
	short := "k2:" + base64.StdEncoding.EncodeToString(make([]byte, 16))
	for _, tc := range []struct{ in, want string }{
		{good + "," + short, `entry 2 ("k2"): the key is 16 bytes, want 32`},
		{"k3:not*base64!," + good, `entry 1 ("k3"): the key is not base64`},
		{good + "," + strings.Replace(mustEntry(t, "k9"), "k9", "k1", 1), `entry 2 ("k1"): the key ID is used twice (entries 1 and 2)`},
		{"nocolon", "entry 1: want ID:KEY"},
		{good + ",", "entry 2: want ID:KEY"},
		{"bad id:" + base64.StdEncoding.EncodeToString(make([]byte, 32)), `entry 1: the key ID "bad id" may hold only`},
	} {
		_, err := Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.SplitN(good, ":", 2)[1]) {
			t.Errorf("the error quotes key material: %v", err)
		}
	}
	if k, err := Parse("  "); k != nil || err != nil {
		t.Errorf("Parse of nothing = %v, %v; want no keyring", k, err)
	}
	// URL-safe and unpadded base64 are accepted: what other tools print.
	raw := bytes.Repeat([]byte{0xfb}, 32)
	if _, err := Parse("k1:" + base64.RawURLEncoding.EncodeToString(raw)); err != nil {
		t.Errorf("unpadded URL-safe base64: %v", err)
	}
}

func TestBytesRoundTripAndRotation(t *testing.T) {
	old := mustEntry(t, "k1")
	k1 := mustParse(t, old)
	plain := []byte(`{"email":"ana@example.com"}`)
	sealed, err := k1.SealBytes(nil, plain)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || bytes.Contains(sealed, []byte("ana@")) || len(sealed) != len(plain)+Overhead(2) {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := k1.SealBytes(nil, plain)
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}

	// A new key in front seals; the old one still opens.
	k2 := mustParse(t, mustEntry(t, "k2")+","+old)
	if k2.PrimaryID() != "k2" {
		t.Fatalf("primary %q", k2.PrimaryID())
	}
	got, err := k2.OpenBytes(nil, sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("old value under the rotated keyring: %q, %v", got, err)
	}
	newer, _ := k2.SealBytes(nil, plain)
	_, err = k1.OpenBytes(nil, newer)
	var unknown *UnknownKeyError
	if !errors.As(err, &unknown) || unknown.ID != "k2" || !strings.Contains(err.Error(), `"k2"`) {
		t.Fatalf("opening under a keyring without k2: %v", err)
	}

	// In place, as the store reads pages.
	buf := append([]byte(nil), sealed...)
	got, err = k1.OpenInPlace(buf)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenInPlace: %q, %v", got, err)
	}
	// Plain values written before encryption pass through.
	if got, err := k1.OpenBytes(nil, plain); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("plain value: %q, %v", got, err)
	}
	var none *Keyring
	if got, _ := none.SealBytes(nil, plain); !bytes.Equal(got, plain) {
		t.Errorf("nil keyring sealed: %q", got)
	}
	if _, err := none.OpenBytes(nil, sealed); !errors.As(err, &unknown) || !unknown.NoKeys ||
		!strings.Contains(err.Error(), "no encryption keys are configured") {
		t.Errorf("nil keyring opening a sealed value: %v", err)
	}
}

func TestTamperedValuesFail(t *testing.T) {
	k := mustParse(t, mustEntry(t, "k1"))
	sealed, _ := k.SealBytes(nil, []byte("Bucket exposed"))
	for i := len(blobMagic) + 3; i < len(sealed); i++ { // past the magic and the ID
		b := append([]byte(nil), sealed...)
		b[i] ^= 1
		if _, err := k.OpenBytes(nil, b); !errors.Is(err, ErrTampered) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	if _, err := k.OpenBytes(nil, sealed[:len(sealed)-1]); !errors.Is(err, ErrTampered) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := k.OpenBytes(nil, sealed[:len(blobMagic)+2]); !errors.Is(err, ErrTampered) {
		t.Errorf("cut inside the ID: %v", err)
	}
	// The same key under another ID does not open it: the ID is authenticated.
	material := strings.SplitN(mustEntry(t, "x"), ":", 2)[1]
	a := mustParse(t, "a:"+material)
	b := mustParse(t, "b:"+material+",a:"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
	s, _ := a.SealBytes(nil, []byte("x"))
	if _, err := b.OpenBytes(nil, s); !errors.Is(err, ErrTampered) {
		t.Errorf("another key under the ID: %v", err)
	}
}

func TestStrings(t *testing.T) {
	k := mustParse(t, mustEntry(t, "k1"))
	s, err := k.SealString("Ransomware on the billing cluster")
	if err != nil || !IsSealedString(s) || strings.Contains(s, "billing") || strings.ContainsRune(s, 0) {
		t.Fatalf("SealString = %q, %v", s, err)
	}
	if got, err := k.OpenString(s); err != nil || got != "Ransomware on the billing cluster" {
		t.Fatalf("OpenString = %q, %v", got, err)
	}
	if got, _ := k.SealString(""); got != "" {
		t.Errorf("empty string sealed to %q", got)
	}
	if got, err := k.OpenString("written before encryption"); err != nil || got != "written before encryption" {
		t.Errorf("plain string: %q, %v", got, err)
	}
	if _, err := k.OpenString(stringPrefix + "!!"); !errors.Is(err, ErrTampered) {
		t.Errorf("bad base64: %v", err)
	}
}

func BenchmarkOpenInPlace(b *testing.B) {
	k, _ := Parse("k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	sealed, _ := k.SealBytes(nil, make([]byte, 130))
	buf := make([]byte, len(sealed))
	b.SetBytes(130)
	for range b.N {
		copy(buf, sealed)
		if _, err := k.OpenInPlace(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealBytes(b *testing.B) {
	k, _ := Parse("k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	plain := make([]byte, 130)
	buf := make([]byte, 0, len(plain)+Overhead(2))
	b.SetBytes(int64(len(plain)))
	for range b.N {
		if _, err := k.SealBytes(buf[:0], plain); err != nil {
			b.Fatal(err)
		}
	}
}
