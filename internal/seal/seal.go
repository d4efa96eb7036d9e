// Package seal encrypts what breachctl keeps at rest (store columns, outbox
// files; the Temporal payload codec in internal/codec builds on it) with
// AES-256-GCM under a keyring. The first key seals; every key opens, so a
// key is rotated by putting a new one in front and dropping the old one
// once nothing sealed under it is kept. Every sealed value names its key
// and has a random 96-bit nonce, and the key ID is authenticated with it.
//
// A value is also bound to where it is kept: the ...For functions take a
// context (the table, column and row key; the file name: see Context),
// authenticated as GCM additional data, so a sealed value copied to another
// row or file does not open there. Values sealed before contexts (format
// 1, bound to the key ID only) still open, wherever they are; each such
// opening is counted (LegacyOpens) and reported to the keyring's hook
// (OnLegacy), so an operator sees what is left to rewrite.
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
	"sync/atomic"
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
	// legacy counts values opened that were sealed without a context.
	legacy atomic.Int64
	// onLegacy, when set, hears of each of them, with the context it was
	// opened for.
	onLegacy atomic.Pointer[func(context string)]
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
		return fmt.Sprintf("encrypted with key %q, but no encryption keys are configured: this client has no encryption key (BREACHCTL_ENCRYPTION_KEYS)", e.ID)
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
	out, err = k.primary.seal(dst, plain, k.primary.aad)
	return k.primary.id, out, err
}

// OpenRaw opens what SealRaw made under key id, appending the plaintext to
// dst.
func (k *Keyring) OpenRaw(dst []byte, id string, sealed []byte) ([]byte, error) {
	kk := k.byID(id)
	if kk == nil {
		return nil, k.unknown(id)
	}
	return kk.open(dst, sealed, kk.aad)
}

// SealRawFor is SealRaw bound to a context: OpenRawFor opens it only for
// the same context.
func (k *Keyring) SealRawFor(dst, plain []byte, context string) (id string, out []byte, err error) {
	if k == nil {
		return "", nil, errors.New("no encryption keys")
	}
	out, err = k.primary.seal(dst, plain, k.primary.boundAAD(context))
	return k.primary.id, out, err
}

// OpenRawFor opens what SealRawFor made under key id for context.
func (k *Keyring) OpenRawFor(dst []byte, id string, sealed []byte, context string) ([]byte, error) {
	kk := k.byID(id)
	if kk == nil {
		return nil, k.unknown(id)
	}
	return kk.open(dst, sealed, kk.boundAAD(context))
}

// Context names where a sealed value is kept, from its parts (a table, a
// column, a row's key; a directory and a file name): each part is
// length-prefixed, so no two lists of parts make the same context.
func Context(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%d:%s;", len(p), p)
	}
	return b.String()
}

// boundAAD is the additional data of a value bound to a context: the
// format, the key ID (no NUL in it) and the context.
func (kk *key) boundAAD(context string) []byte {
	aad := make([]byte, 0, len(boundLabel)+len(kk.id)+1+len(context))
	aad = append(aad, boundLabel...)
	aad = append(aad, kk.id...)
	aad = append(aad, 0)
	return append(aad, context...)
}

const boundLabel = "breachctl-seal/2\x00"

func (kk *key) seal(dst, plain, aad []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	if _, err := rand.Read(dst[n:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	// The key ID (and the context, when bound) is authenticated: a value
	// cannot be passed off as sealed under another entry, or as another
	// row's.
	return kk.aead.Seal(dst, dst[n:n+nonceSize], plain, aad), nil
}

func (kk *key) open(dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, fmt.Errorf("key %q: %w", kk.id, ErrTampered)
	}
	out, err := kk.aead.Open(dst, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", kk.id, ErrTampered)
	}
	return out, nil
}

// LegacyOpens is how many values sealed without a context (before
// contexts) this keyring has opened.
func (k *Keyring) LegacyOpens() int64 {
	if k == nil {
		return 0
	}
	return k.legacy.Load()
}

// OnLegacy sets fn to hear of each value opened that was sealed without a
// context, with the context it was read for (never the value). fn must be
// cheap and safe for concurrent use; nil stops it.
func (k *Keyring) OnLegacy(fn func(context string)) {
	if k == nil {
		return
	}
	if fn == nil {
		k.onLegacy.Store(nil)
		return
	}
	k.onLegacy.Store(&fn)
}

func (k *Keyring) legacyOpened(context string) {
	k.legacy.Add(1)
	if fn := k.onLegacy.Load(); fn != nil {
		(*fn)(context)
	}
}

// --- bytes: a self-describing blob for binary columns and files

// blobMagic starts every sealed blob: format 1, bound to the key ID only;
// boundMagic, format 2, bound to a context too. 0xFF never occurs in UTF-8,
// so no plain JSON or text value, as written before encryption, starts
// with either.
var (
	blobMagic  = []byte{0xFF, 'b', 'c', '1'}
	boundMagic = []byte{0xFF, 'b', 'c', '2'}
)

// Overhead is how many bytes SealBytes (or SealBytesFor) adds to a value
// sealed under a key whose ID is idLen long.
func Overhead(idLen int) int { return len(blobMagic) + 1 + idLen + nonceSize + tagSize }

// IsSealed reports whether b is a sealed blob rather than a plain value.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, blobMagic) || bytes.HasPrefix(b, boundMagic) }

// SealBytes appends plain, sealed under the primary key, to dst: magic,
// the key ID's length and the key ID, nonce, ciphertext and tag. A nil
// Keyring appends plain as it is. Prefer SealBytesFor, which binds the
// value to where it is kept.
func (k *Keyring) SealBytes(dst, plain []byte) ([]byte, error) {
	if k == nil {
		return append(dst, plain...), nil
	}
	return k.sealBlob(dst, plain, blobMagic, k.primary.aad)
}

// SealBytesFor is SealBytes bound to context (see Context): it opens only
// for the same context.
func (k *Keyring) SealBytesFor(dst, plain []byte, context string) ([]byte, error) {
	if k == nil {
		return append(dst, plain...), nil
	}
	return k.sealBlob(dst, plain, boundMagic, k.primary.boundAAD(context))
}

func (k *Keyring) sealBlob(dst, plain, magic, aad []byte) ([]byte, error) {
	dst = append(dst, magic...)
	dst = append(dst, byte(len(k.primary.id)))
	dst = append(dst, k.primary.id...)
	return k.primary.seal(dst, plain, aad)
}

// OpenBytes returns the plaintext of a blob SealBytes sealed, appended to
// dst, or a plain value (one written before encryption was turned on) as
// it is. A blob bound to a context does not open here: OpenBytesFor.
func (k *Keyring) OpenBytes(dst, b []byte) ([]byte, error) {
	if !IsSealed(b) {
		return append(dst, b...), nil
	}
	kk, body, aad, err := k.blob(b, nil)
	if err != nil {
		return nil, err
	}
	return kk.open(dst, body, aad)
}

// OpenBytesFor opens a blob SealBytesFor sealed for context, or one
// SealBytes sealed before contexts (counted, see LegacyOpens), or returns
// a plain value as it is.
func (k *Keyring) OpenBytesFor(dst, b []byte, context string) ([]byte, error) {
	if !IsSealed(b) {
		return append(dst, b...), nil
	}
	kk, body, aad, err := k.blob(b, &context)
	if err != nil {
		return nil, err
	}
	return kk.open(dst, body, aad)
}

// OpenInPlace is OpenBytes writing the plaintext over b's own storage: no
// allocation, for the notifier's path through a million payloads. b is
// garbage afterwards, whatever the result.
func (k *Keyring) OpenInPlace(b []byte) ([]byte, error) { return k.openInPlace(b, nil) }

// OpenInPlaceFor is OpenBytesFor writing the plaintext over b's storage.
func (k *Keyring) OpenInPlaceFor(b []byte, context string) ([]byte, error) {
	return k.openInPlace(b, &context)
}

func (k *Keyring) openInPlace(b []byte, context *string) ([]byte, error) {
	if !IsSealed(b) {
		return b, nil
	}
	kk, body, aad, err := k.blob(b, context)
	if err != nil {
		return nil, err
	}
	// GCM decrypts in place when dst is the ciphertext's start.
	return kk.open(body[nonceSize:nonceSize], body, aad)
}

// blob finds a sealed blob's key, body and additional data. context nil:
// the caller has none, and only a format 1 blob opens; else a format 2
// blob must be bound to *context, and a format 1 blob opens as a legacy
// one.
func (k *Keyring) blob(b []byte, context *string) (kk *key, body, aad []byte, err error) {
	bound := bytes.HasPrefix(b, boundMagic)
	id, body, err := splitBlob(b)
	if err != nil {
		return nil, nil, nil, err
	}
	if kk = k.byID(id); kk == nil {
		return nil, nil, nil, k.unknown(id)
	}
	switch {
	case bound && context == nil:
		return nil, nil, nil, fmt.Errorf("key %q: the value is bound to where it is kept, and was read without saying where: %w", id, ErrTampered)
	case bound:
		return kk, body, kk.boundAAD(*context), nil
	case context != nil:
		k.legacyOpened(*context)
	}
	return kk, body, kk.aad, nil
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
// nothing), and a nil Keyring returns s as it is. Prefer SealStringFor.
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

// SealStringFor is SealString bound to context (see Context).
func (k *Keyring) SealStringFor(s, context string) (string, error) {
	if k == nil || s == "" {
		return s, nil
	}
	b, err := k.SealBytesFor(nil, []byte(s), context)
	if err != nil {
		return "", err
	}
	return stringPrefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// OpenString returns the plaintext of a string SealString sealed, or a
// plain one as it is.
func (k *Keyring) OpenString(s string) (string, error) { return k.openString(s, nil) }

// OpenStringFor opens a string SealStringFor sealed for context, or one
// SealString sealed before contexts (counted, see LegacyOpens), or returns
// a plain one as it is.
func (k *Keyring) OpenStringFor(s, context string) (string, error) { return k.openString(s, &context) }

func (k *Keyring) openString(s string, context *string) (string, error) {
	if !IsSealedString(s) {
		return s, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s[len(stringPrefix):])
	if err != nil || !IsSealed(b) {
		return "", fmt.Errorf("sealed text is not valid: %w", ErrTampered)
	}
	p, err := k.openInPlace(b, context)
	if err != nil {
		return "", err
	}
	return string(p), nil
}
