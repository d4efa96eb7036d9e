// Package seal encrypts what breachctl keeps at rest (store columns, outbox
// files; the Temporal payload codec in internal/codec builds on it) with
// AES-256-GCM under a keyring. The first key seals; every key opens, so a
// key is rotated by putting a new one in front and dropping the old one
// once nothing sealed under it is kept. Every sealed value names its key
// and has a random 96-bit nonce, and the key ID is authenticated with it.
//
// It imports only the standard library, so the store and the mailer can
// use it without linking Temporal.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// Sizes of what Seal adds to a value.
const (
	nonceSize = 12
	tagSize   = 16
	maxIDLen  = 64
)

// Keyring holds the keys. A nil *Keyring is "encryption off": it seals
// nothing (SealBytes and SealString return their input as it is) and opens
// plain values, but refuses sealed ones with an error that says so.
type Keyring struct {
	primary *key
	keys    []*key
}

type key struct {
	id   string
	aad  []byte // the ID, authenticated with every value
	aead cipher.AEAD
}

// Parse reads a keyring: comma-separated ID:KEY entries, KEY the base64 of
// 32 random bytes, the first entry the key that seals. An empty string is
// no keyring (nil, nil). Errors name the entry by position and ID and never
// quote key material.
func Parse(s string) (*Keyring, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	k := &Keyring{}
	seen := map[string]int{}
	for i, entry := range strings.Split(s, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		id, material, ok := strings.Cut(entry, ":")
		if !ok || entry == "" {
			return nil, fmt.Errorf("entry %d: want ID:KEY (like k1:<base64 of 32 bytes>; `breachctl keygen` makes one)", n)
		}
		id = strings.TrimSpace(id)
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("entry %d: %w", n, err)
		}
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("entry %d (%q): the key ID is used twice (entries %d and %d)", n, id, first, n)
		}
		seen[id] = n
		raw, err := decodeKey(strings.TrimSpace(material))
		if err != nil {
			return nil, fmt.Errorf("entry %d (%q): the key is not base64", n, id)
		}
		if len(raw) != KeySize {
			return nil, fmt.Errorf("entry %d (%q): the key is %d bytes, want %d (AES-256)", n, id, len(raw), KeySize)
		}
		kk, err := newKey(id, raw)
		if err != nil {
			return nil, fmt.Errorf("entry %d (%q): %w", n, id, err)
		}
		k.keys = append(k.keys, kk)
	}
	k.primary = k.keys[0]
	return k, nil
}

// decodeKey accepts standard or URL-safe base64, padded or not: what
// openssl, Go and shell tools print.
func decodeKey(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// checkID keeps IDs short and plain: they are written next to every sealed
// value and in Temporal payload metadata.
func checkID(id string) error {
	if id == "" {
		return errors.New("the key ID is empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("the key ID is %d characters, at most %d", len(id), maxIDLen)
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("the key ID %q may hold only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

func newKey(id string, raw []byte) (*key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &key{id: id, aad: []byte(id), aead: aead}, nil
}

// NewEntry makes a new random key and returns it as a keyring entry,
// "ID:BASE64".
func NewEntry(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(raw), nil
}

// PrimaryID is the ID of the key that seals.
func (k *Keyring) PrimaryID() string {
	if k == nil {
		return ""
	}
	return k.primary.id
}

// IDs are the key IDs, the sealing one first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, kk := range k.keys {
		ids[i] = kk.id
	}
	return ids
}

func (k *Keyring) byID(id string) *key {
	if k == nil {
		return nil
	}
	for _, kk := range k.keys {
		if kk.id == id {
			return kk
		}
	}
	return nil
}

// UnknownKeyError is returned for a value sealed under a key the keyring
// does not hold (or when there is no keyring).
type UnknownKeyError struct {
	ID      string
	NoKeys  bool // encryption is off: no keyring at all
	HaveIDs []string
}

func (e *UnknownKeyError) Error() string {
	if e.NoKeys {
		return fmt.Sprintf("encrypted with key %q, but no encryption keys are configured", e.ID)
	}
	return fmt.Sprintf("encrypted with key %q, which is not among the configured keys %v", e.ID, e.HaveIDs)
}

func (k *Keyring) unknown(id string) error {
	return &UnknownKeyError{ID: id, NoKeys: k == nil, HaveIDs: k.IDs()}
}

// ErrTampered is wrapped by the error for a sealed value that does not
// authenticate: altered, truncated, or sealed under another key of the
// same ID.
var ErrTampered = errors.New("sealed value does not authenticate (altered, or another key under the same ID)")

// --- raw: nonce || ciphertext || tag, the key ID kept beside it

// SealRaw seals plain under the primary key and appends nonce, ciphertext
// and tag to dst. The caller keeps the returned key ID with it.
func (k *Keyring) SealRaw(dst, plain []byte) (id string, out []byte, err error) {
	if k == nil {
		return "", nil, errors.New("no encryption keys")
	}
	out, err = k.primary.seal(dst, plain)
	return k.primary.id, out, err
}

// OpenRaw opens what SealRaw made under key id, appending the plaintext to
// dst.
func (k *Keyring) OpenRaw(dst []byte, id string, sealed []byte) ([]byte, error) {
	kk := k.byID(id)
	if kk == nil {
		return nil, k.unknown(id)
	}
	return kk.open(dst, sealed)
}

func (kk *key) seal(dst, plain []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	if _, err := rand.Read(dst[n:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	// The key ID is authenticated: a value cannot be passed off as sealed
	// under another entry.
	return kk.aead.Seal(dst, dst[n:n+nonceSize], plain, kk.aad), nil
}

func (kk *key) open(dst, sealed []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, fmt.Errorf("key %q: %w", kk.id, ErrTampered)
	}
	out, err := kk.aead.Open(dst, sealed[:nonceSize], sealed[nonceSize:], kk.aad)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", kk.id, ErrTampered)
	}
	return out, nil
}

// --- bytes: a self-describing blob for binary columns and files

// blobMagic starts every sealed blob. 0xFF never occurs in UTF-8, so no
// plain JSON or text value, as written before encryption, starts with it.
var blobMagic = []byte{0xFF, 'b', 'c', '1'}

// Overhead is how many bytes SealBytes adds to a value sealed under a key
// whose ID is idLen long.
func Overhead(idLen int) int { return len(blobMagic) + 1 + idLen + nonceSize + tagSize }

// IsSealed reports whether b is a sealed blob rather than a plain value.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, blobMagic) }

// SealBytes appends plain, sealed under the primary key, to dst: magic,
// the key ID's length and the key ID, nonce, ciphertext and tag. A nil
// Keyring appends plain as it is.
func (k *Keyring) SealBytes(dst, plain []byte) ([]byte, error) {
	if k == nil {
		return append(dst, plain...), nil
	}
	dst = append(dst, blobMagic...)
	dst = append(dst, byte(len(k.primary.id)))
	dst = append(dst, k.primary.id...)
	return k.primary.seal(dst, plain)
}

// OpenBytes returns the plaintext of a sealed blob, appended to dst, or a
// plain value (one written before encryption was turned on) as it is.
func (k *Keyring) OpenBytes(dst, b []byte) ([]byte, error) {
	if !IsSealed(b) {
		return append(dst, b...), nil
	}
	id, body, err := splitBlob(b)
	if err != nil {
		return nil, err
	}
	return k.OpenRaw(dst, id, body)
}

// OpenInPlace is OpenBytes writing the plaintext over b's own storage: no
// allocation, for the notifier's path through a million payloads. b is
// garbage afterwards, whatever the result.
func (k *Keyring) OpenInPlace(b []byte) ([]byte, error) {
	if !IsSealed(b) {
		return b, nil
	}
	id, body, err := splitBlob(b)
	if err != nil {
		return nil, err
	}
	kk := k.byID(id)
	if kk == nil {
		return nil, k.unknown(id)
	}
	// GCM decrypts in place when dst is the ciphertext's start.
	return kk.open(body[nonceSize:nonceSize], body)
}

func splitBlob(b []byte) (id string, body []byte, err error) {
	rest := b[len(blobMagic):]
	if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
		return "", nil, fmt.Errorf("sealed value cut short: %w", ErrTampered)
	}
	n := int(rest[0])
	return string(rest[1 : 1+n]), rest[1+n:], nil
}

// --- strings: for text columns, which must stay valid UTF-8 without NULs

// stringPrefix starts every sealed string. The text form is the prefix and
// the base64 of a sealed blob.
const stringPrefix = "sealed:v1:"

// IsSealedString reports whether s is a sealed string.
func IsSealedString(s string) bool { return strings.HasPrefix(s, stringPrefix) }

// SealString seals a text value. The empty string stays empty (it tells
// nothing), and a nil Keyring returns s as it is.
func (k *Keyring) SealString(s string) (string, error) {
	if k == nil || s == "" {
		return s, nil
	}
	b, err := k.SealBytes(nil, []byte(s))
	if err != nil {
		return "", err
	}
	return stringPrefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// OpenString returns the plaintext of a sealed string, or a plain one as
// it is.
func (k *Keyring) OpenString(s string) (string, error) {
	if !IsSealedString(s) {
		return s, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s[len(stringPrefix):])
	if err != nil || !IsSealed(b) {
		return "", fmt.Errorf("sealed text is not valid: %w", ErrTampered)
	}
	p, err := k.OpenInPlace(b)
	if err != nil {
		return "", err
	}
	return string(p), nil
}
