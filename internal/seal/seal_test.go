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

// A value bound to where it is kept opens there and nowhere else: moved to
// another row, column or file it does not authenticate. Values sealed
// before contexts still open, counted and reported.
func TestContextBindsAValueToWhereItIsKept(t *testing.T) {
	k := mustParse(t, mustEntry(t, "k1"))
	var heard []string
	k.OnLegacy(func(c string) { heard = append(heard, c) })
	row1 := Context("notices", "content", "notice/INC-1/a")
	row2 := Context("notices", "content", "notice/INC-2/a")

	b, err := k.SealBytesFor(nil, []byte("secret"), row1)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := k.OpenBytesFor(nil, b, row1); err != nil || string(p) != "secret" {
		t.Fatalf("own row: %q, %v", p, err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"another row": func() ([]byte, error) { return k.OpenBytesFor(nil, b, row2) },
		"another column": func() ([]byte, error) {
			return k.OpenBytesFor(nil, b, Context("notices", "approved_by", "notice/INC-1/a"))
		},
		"no context":      func() ([]byte, error) { return k.OpenBytes(nil, b) },
		"in place, moved": func() ([]byte, error) { return k.OpenInPlaceFor(bytes.Clone(b), row2) },
		"in place, none":  func() ([]byte, error) { return k.OpenInPlace(bytes.Clone(b)) },
	} {
		if _, err := open(); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v, want ErrTampered", name, err)
		}
	}
	if p, err := k.OpenInPlaceFor(bytes.Clone(b), row1); err != nil || string(p) != "secret" {
		t.Fatalf("in place: %q, %v", p, err)
	}

	s, err := k.SealStringFor("Alice", row1)
	if err != nil || !IsSealedString(s) {
		t.Fatal(s, err)
	}
	if p, err := k.OpenStringFor(s, row1); err != nil || p != "Alice" {
		t.Fatalf("string: %q, %v", p, err)
	}
	if _, err := k.OpenStringFor(s, row2); !errors.Is(err, ErrTampered) {
		t.Fatalf("string moved: %v", err)
	}

	id, raw, err := k.SealRawFor(nil, []byte("r"), row1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.OpenRawFor(nil, id, raw, row2); !errors.Is(err, ErrTampered) {
		t.Fatalf("raw moved: %v", err)
	}
	if p, err := k.OpenRawFor(nil, id, raw, row1); err != nil || string(p) != "r" {
		t.Fatalf("raw: %q %v", p, err)
	}
	if k.LegacyOpens() != 0 || len(heard) != 0 {
		t.Fatalf("bound values counted as legacy: %d %v", k.LegacyOpens(), heard)
	}

	// Sealed before contexts: opens for any context, and is counted.
	old, _ := k.SealBytes(nil, []byte("old"))
	oldS, _ := k.SealString("old text")
	if p, err := k.OpenBytesFor(nil, old, row2); err != nil || string(p) != "old" {
		t.Fatalf("legacy: %q %v", p, err)
	}
	if p, err := k.OpenStringFor(oldS, row1); err != nil || p != "old text" {
		t.Fatalf("legacy string: %q %v", p, err)
	}
	if k.LegacyOpens() != 2 || len(heard) != 2 || heard[0] != row2 || heard[1] != row1 {
		t.Fatalf("legacy opens: %d %v", k.LegacyOpens(), heard)
	}
	// Plain values pass, counted as nothing.
	if p, err := k.OpenBytesFor(nil, []byte(`{"a":1}`), row1); err != nil || string(p) != `{"a":1}` || k.LegacyOpens() != 2 {
		t.Fatalf("plain: %q %v", p, err)
	}
	// Contexts cannot be confused by where the parts split.
	if Context("ab", "c") == Context("a", "bc") || Context("a;", "b") == Context("a", ";b") {
		t.Fatal("contexts collide")
	}
	// A nil keyring seals nothing, bound or not.
	var none *Keyring
	if p, _ := none.SealBytesFor(nil, []byte("x"), row1); string(p) != "x" {
		t.Fatal(p)
	}
	if _, err := none.OpenBytesFor(nil, b, row1); err == nil {
		t.Fatal("a nil keyring opened a sealed value")
	}
}
