package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A chain alone can be recomputed by whoever edits the files, and a note
// on the timeline can be added by whoever may add notes. A pack is anchored
// where only the server can write: at export, a worker rebuilds the pack
// from the incident's record in Temporal and the notification ledger in
// the store, and signs the head it built, with the export, under its own
// Ed25519 key (made on its first start, kept 0600 in the data directory;
// `breachctl evidence server-key` prints the public one). The signed record
// is the result of an EvidenceExport workflow, so Temporal keeps it too.
// A pack edited after export has another head, which the server never
// signed; one edited before, the server refuses to sign.

// AnchorFormat names what a server anchor signs.
const AnchorFormat = "breachctl-evidence-anchor/1"

// ServerAnchor is the server's signed record of one export.
type ServerAnchor struct {
	Format     string    `json:"format"`
	Incident   string    `json:"incident"`
	Head       string    `json:"head"`
	Files      int       `json:"files"`
	ExportedAt time.Time `json:"exported_at"`
	ExportedBy string    `json:"exported_by"`
	SignedAt   time.Time `json:"signed_at"`
	// PublicKey is the server's Ed25519 public key, base64; Signature is
	// of AnchorMessage, base64.
	PublicKey string `json:"public_key"`
	Signature string `json:"signature"`
}

// AnchorMessage is what the server signs: every field but the key and the
// signature, one per line.
func (a ServerAnchor) AnchorMessage() []byte {
	return []byte(strings.Join([]string{AnchorFormat, a.Incident, a.Head, fmt.Sprint(a.Files),
		a.ExportedAt.UTC().Format(time.RFC3339Nano), a.ExportedBy, a.SignedAt.UTC().Format(time.RFC3339Nano)}, "\n") + "\n")
}

// SignAnchor signs the export of a pack whose head the server built.
func SignAnchor(key ed25519.PrivateKey, p *Pack, exportedBy string, signedAt time.Time) (ServerAnchor, error) {
	if len(key) != ed25519.PrivateKeySize {
		return ServerAnchor{}, fmt.Errorf("evidence anchor: signing key of %d bytes", len(key))
	}
	a := ServerAnchor{
		Format: AnchorFormat, Incident: p.Manifest.Incident, Head: p.Manifest.Head, Files: len(p.Files),
		ExportedAt: p.ExportedAt.UTC(), ExportedBy: exportedBy, SignedAt: signedAt.UTC().Truncate(time.Second),
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
	}
	a.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, a.AnchorMessage()))
	return a, nil
}

// checkAnchor checks an anchor against the pack it is in: its signature
// under the key it names, and that it is of this pack. It returns the key.
func (a *ServerAnchor) check(m Manifest, files int, info packInfo) (ed25519.PublicKey, error) {
	pub, err := base64.StdEncoding.DecodeString(a.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize || a.Format != AnchorFormat {
		return nil, mismatch(ManifestName, "its server anchor names no Ed25519 public key")
	}
	sig, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, a.AnchorMessage(), sig) {
		return nil, mismatch(ManifestName, "the server's signature does not verify: the anchor was edited")
	}
	switch {
	case a.Incident != m.Incident || a.Head != m.Head:
		return nil, mismatch(ManifestName, "the server anchored head %s of %s, not this pack's %s: the files were changed after export", a.Head, a.Incident, m.Head)
	case a.Files != files || !a.ExportedAt.Equal(info.ExportedAt) || a.ExportedBy != info.ExportedBy:
		return nil, mismatch("pack.json", "the server anchored an export by %s at %s of %d files; this pack says otherwise", a.ExportedBy, a.ExportedAt.Format(time.RFC3339), a.Files)
	}
	return pub, nil
}

// Server key files, in the data directory of dev or a worker.
const (
	ServerKeyFile       = "evidence-server.key"
	ServerPublicKeyFile = "evidence-server.pub"
)

// LoadOrCreateServerKey reads the server's evidence key from dir, or makes
// one on first start: the seed in ServerKeyFile (0600; a key file anyone
// else can read is refused), the public key in ServerPublicKeyFile.
func LoadOrCreateServerKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, ServerKeyFile)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("evidence server key: %w", err)
		}
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateServerKey(dir) // another process made it first
		}
		if err != nil {
			return nil, fmt.Errorf("evidence server key: %w", err)
		}
		_, err = f.WriteString(base64.StdEncoding.EncodeToString(key.Seed()) + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("evidence server key: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, ServerPublicKeyFile), []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("evidence server key: %w", err)
		}
		return key, nil
	case err != nil:
		return nil, fmt.Errorf("evidence server key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("evidence server key %s is readable by others (mode %o): chmod 600 it", path, fi.Mode().Perm())
	}
	seed, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("evidence server key %s: not the base64 of a 32-byte Ed25519 seed", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ReadServerPublicKey reads the public key a server wrote into dir; nil
// when there is none.
func ReadServerPublicKey(dir string) (ed25519.PublicKey, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ServerPublicKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pub, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s: not the base64 of an Ed25519 public key", filepath.Join(dir, ServerPublicKeyFile))
	}
	return pub, nil
}
