package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// Mismatch is why a pack does not verify, naming the first file that does
// not match (the manifest, for the head and the signature).
type Mismatch struct {
	File   string
	Reason string
}

func (m *Mismatch) Error() string {
	if m.File == "" {
		return m.Reason
	}
	return m.File + ": " + m.Reason
}

func mismatch(file, format string, args ...any) *Mismatch {
	return &Mismatch{File: file, Reason: fmt.Sprintf(format, args...)}
}

// Limits on what a verifier reads, so a hostile zip (a bomb, a million
// entries) costs bounded memory. A real pack is far below them: its largest
// file is a notice's ledger, about 300 bytes per thousand people.
const (
	maxEntries   = 10_000
	maxFileSize  = 32 << 20
	maxTotalSize = 256 << 20
)

// Read reads a pack's zip: its files in the order they are stored and its
// manifest, which must be the last entry. It checks the zip's structure,
// not the hashes: Verify does. Every error is a *Mismatch.
func Read(r io.ReaderAt, size int64) (*Pack, error) {
	z, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are checked below
		return nil, mismatch("", "not a zip archive: %v", err)
	}
	if len(z.File) == 0 {
		return nil, mismatch(ManifestName, "missing: the zip is empty")
	}
	if len(z.File) > maxEntries {
		return nil, mismatch("", "%d entries: more than a pack ever has (%d)", len(z.File), maxEntries)
	}
	p := &Pack{}
	seen := map[string]bool{}
	total := 0
	var manifest []byte
	for i, zf := range z.File {
		name := zf.Name
		last := i == len(z.File)-1
		switch {
		case name == ManifestName && !last:
			return nil, mismatch(name, "is not the last entry of the zip (files were added after it)")
		case name != ManifestName && !validName(name):
			return nil, mismatch(name, "is not a name a pack uses")
		case seen[name]:
			return nil, mismatch(name, "is in the zip twice")
		}
		seen[name] = true
		content, err := readEntry(zf)
		if err != nil {
			return nil, mismatch(name, "%v", err)
		}
		if total += len(content); total > maxTotalSize {
			return nil, mismatch(name, "the files add up to more than %d bytes", maxTotalSize)
		}
		if last && name == ManifestName {
			manifest = content
			p.ExportedAt = zf.Modified.UTC()
			continue
		}
		p.Files = append(p.Files, File{Name: name, Content: content})
	}
	if manifest == nil {
		return nil, mismatch(ManifestName, "missing: it must be the last entry of the zip")
	}
	dec := json.NewDecoder(bytes.NewReader(manifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.Manifest); err != nil {
		return nil, mismatch(ManifestName, "not a manifest: %v", err)
	}
	return p, nil
}

func readEntry(zf *zip.File) ([]byte, error) {
	if zf.UncompressedSize64 > maxFileSize {
		return nil, fmt.Errorf("%d bytes: larger than a pack's file can be (%d)", zf.UncompressedSize64, maxFileSize)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", err)
	}
	defer rc.Close()
	content, err := io.ReadAll(io.LimitReader(rc, maxFileSize+1))
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return nil, errors.New("its bytes do not match the zip's checksum (edited in place?)")
	case err != nil:
		return nil, fmt.Errorf("cannot be read: %v", err)
	case len(content) > maxFileSize:
		return nil, fmt.Errorf("larger than a pack's file can be (%d bytes)", maxFileSize)
	}
	return content, nil
}

// Report says what a verified pack is.
type Report struct {
	Incident   string    `json:"incident"`
	Head       string    `json:"head"`
	Files      int       `json:"files"`
	ExportedAt time.Time `json:"exported_at"`
	ExportedBy string    `json:"exported_by"`
	Signed     bool      `json:"signed"`
	SignerKey  string    `json:"signer_key,omitempty"` // base64 Ed25519 public key
	// KeyTrusted: the signature was checked against a key the verifier
	// gave, not only the one the pack names.
	KeyTrusted bool `json:"key_trusted"`
	// Anchored: the server signed this head at export (ServerAnchor);
	// ServerKey is the key it signed with, ServerKeyTrusted that the
	// verifier gave that key. Without an anchor the checks prove only
	// that the files agree with each other.
	Anchored         bool          `json:"anchored"`
	ServerKey        string        `json:"server_key,omitempty"`
	ServerKeyTrusted bool          `json:"server_key_trusted"`
	Anchor           *ServerAnchor `json:"server_anchor,omitempty"`
}

// Unanchored is what a pack without the server's anchor proves, in words
// a verifier prints.
const Unanchored = "NOT ANCHORED: no server signed this pack's head, so these checks prove only that its files agree " +
	"with each other and with the chain; whoever edits the files can recompute the chain (packs exported before server anchors are all so)"

// Verify checks every file against its hash in the manifest, the chain
// through them in order, the head, pack.json against the manifest, and the
// signature: against trusted when given (then a pack must be signed by
// it), else against the key the pack names, which proves only that the
// head was not changed after signing. The error is a *Mismatch naming the
// first file that does not match.
//
// server, when given, is the server's evidence key: the pack must then be
// anchored under it. Without it an anchor is checked under the key it
// names, which proves the head was not changed after the server signed
// it, by whatever server holds that key.
func (p *Pack) Verify(trusted, server ed25519.PublicKey) (Report, error) {
	m := p.Manifest
	if m.Format != Format {
		return Report{}, mismatch(ManifestName, "format %q; this breachctl reads %q", m.Format, Format)
	}
	if id, err := incident.ParseID(m.Incident); err != nil || id != m.Incident {
		return Report{}, mismatch(ManifestName, "%q is not an incident ID", m.Incident)
	}
	if len(m.Records) == 0 {
		return Report{}, mismatch(ManifestName, "lists no files")
	}
	listed := map[string]int{}
	for i, rec := range m.Records {
		if _, dup := listed[rec.Name]; dup {
			return Report{}, mismatch(ManifestName, "lists %s twice", rec.Name)
		}
		listed[rec.Name] = i
	}
	present := map[string]bool{}
	for _, f := range p.Files {
		present[f.Name] = true
	}
	prev := genesis(m.Incident)
	for i, rec := range m.Records {
		if i >= len(p.Files) {
			return Report{}, mismatch(rec.Name, "listed in the manifest but not in the pack (removed?)")
		}
		f := p.Files[i]
		if f.Name != rec.Name {
			at, ok := listed[f.Name]
			switch {
			case !ok:
				return Report{}, mismatch(f.Name, "in the pack but not in the manifest (added?)")
			case !present[rec.Name]:
				return Report{}, mismatch(rec.Name, "listed in the manifest but not in the pack (removed?)")
			}
			return Report{}, mismatch(f.Name, "out of order: entry %d of the zip, file %d of the manifest (reordered?)", i+1, at+1)
		}
		if rec.Seq != i+1 {
			return Report{}, mismatch(f.Name, "numbered %d in the manifest, at place %d", rec.Seq, i+1)
		}
		sum := sha256.Sum256(f.Content)
		if hex.EncodeToString(sum[:]) != rec.SHA256 || len(f.Content) != rec.Size {
			return Report{}, mismatch(f.Name, "its content does not match its SHA-256 in the manifest (edited?)")
		}
		prev = link(prev, f.Name, sum)
		if hex.EncodeToString(prev[:]) != rec.Chain {
			return Report{}, mismatch(f.Name, "the chain breaks here: the manifest was edited, or files before it were reordered, removed or added")
		}
	}
	if len(p.Files) > len(m.Records) {
		return Report{}, mismatch(p.Files[len(m.Records)].Name, "in the pack but not in the manifest (added?)")
	}
	head := HeadPrefix + hex.EncodeToString(prev[:])
	if m.Head != head {
		return Report{}, mismatch(ManifestName, "its head %q is not the chain's %s", m.Head, head)
	}

	var info packInfo
	if err := json.Unmarshal(p.File("pack.json"), &info); err != nil {
		return Report{}, mismatch("pack.json", "missing or not JSON: %v", err)
	}
	if info.Incident != m.Incident || info.Format != Format {
		return Report{}, mismatch("pack.json", "names incident %q (%s), the manifest %q", info.Incident, info.Format, m.Incident)
	}
	r := Report{Incident: m.Incident, Head: head, Files: len(p.Files), ExportedAt: info.ExportedAt, ExportedBy: info.ExportedBy}

	switch a := m.Anchor; {
	case a == nil && server != nil:
		return r, mismatch(ManifestName, "not anchored by the server, and the server's key was given to check it against: %s", Unanchored)
	case a != nil:
		pub, err := a.check(m, len(p.Files), info)
		if err != nil {
			return r, err
		}
		if server != nil && !bytes.Equal(pub, server) {
			return r, mismatch(ManifestName, "anchored by server key %s, not by the given server key %s", a.PublicKey, base64.StdEncoding.EncodeToString(server))
		}
		r.Anchored, r.ServerKey, r.ServerKeyTrusted, r.Anchor = true, a.PublicKey, server != nil, a
	}

	s := m.Signature
	if s == nil {
		if trusted != nil {
			return r, mismatch(ManifestName, "not signed, and a public key was given to check it against")
		}
		return r, nil
	}
	pub, err := base64.StdEncoding.DecodeString(s.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize || s.Algorithm != "ed25519" {
		return r, mismatch(ManifestName, "its signature names no Ed25519 public key")
	}
	sig, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, signedMessage(m.Incident, m.Head), sig) {
		return r, mismatch(ManifestName, "the signature does not verify: the head changed after signing, or the signature is not of this pack")
	}
	if trusted != nil && !bytes.Equal(pub, trusted) {
		return r, mismatch(ManifestName, "signed by key %s, not by the trusted key %s", s.PublicKey, base64.StdEncoding.EncodeToString(trusted))
	}
	r.Signed, r.SignerKey, r.KeyTrusted = true, s.PublicKey, trusted != nil
	return r, nil
}

// VerifyZip reads and verifies a pack's zip.
func VerifyZip(r io.ReaderAt, size int64, trusted, server ed25519.PublicKey) (*Pack, Report, error) {
	p, err := Read(r, size)
	if err != nil {
		return nil, Report{}, err
	}
	rep, err := p.Verify(trusted, server)
	return p, rep, err
}

// Anchor is what the incident as Temporal has it now says of a verified
// pack. It is consistency, not an anchor: the server's signature is.
type Anchor struct {
	// TimelineMatches: the pack's timeline is the start of the incident's.
	TimelineMatches bool `json:"timeline_matches"`
	// MatchesRecord: the incident is closed and status.json is its record
	// in Temporal exactly. The other files are not compared: only the
	// server's anchor covers them.
	MatchesRecord bool `json:"matches_record,omitempty"`
	// Entry is the note that an export before server anchors wrote.
	// Anyone who may add a note could have written it: it anchors nothing.
	Entry *incident.Entry `json:"entry,omitempty"`
}

// CheckAnchor checks a verified pack against the incident as Temporal has
// it now (live): the pack's timeline must be the start of the live one,
// and for a closed incident status.json must be its record. The error is
// a *Mismatch.
func CheckAnchor(p *Pack, live incident.Status) (Anchor, error) {
	m := p.Manifest
	if live.ID != m.Incident {
		return Anchor{}, mismatch(ManifestName, "names incident %s; the record checked is %s", m.Incident, live.ID)
	}
	var timeline []incident.Entry
	if err := json.Unmarshal(p.File("timeline.json"), &timeline); err != nil {
		return Anchor{}, mismatch("timeline.json", "not a timeline: %v", err)
	}
	if len(timeline) > len(live.Timeline) {
		return Anchor{}, mismatch("timeline.json", "has %d entries; the incident's timeline in Temporal has %d", len(timeline), len(live.Timeline))
	}
	for i, e := range timeline {
		if !bytes.Equal(mustJSON(e), mustJSON(live.Timeline[i])) {
			return Anchor{}, mismatch("timeline.json", "entry %d differs from the incident's timeline in Temporal", i+1)
		}
	}
	a := Anchor{TimelineMatches: true}
	want := AnchorText(m.Head)
	for i, e := range live.Timeline {
		if e.Kind == incident.EntryNote && e.Text == want {
			a.Entry = &live.Timeline[i]
			break
		}
	}
	if live.State != incident.StateClosed {
		return a, nil
	}
	// Byte for byte: status.json was written by StatusRecord, and the
	// record of a closed incident does not change.
	record := StatusRecord(live)
	if !bytes.Equal(p.File("status.json"), record) {
		return Anchor{}, mismatch("status.json", "differs from the incident's record in Temporal at %s", firstDiff(p.File("status.json"), record))
	}
	a.MatchesRecord = true
	return a, nil
}

// firstDiff names the first JSON path at which two documents differ, for a
// message a person can act on.
func firstDiff(a, b []byte) string {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return "the top level"
	}
	if path, ok := diff(x, y, ""); ok {
		return strings.TrimPrefix(path, ".")
	}
	return "its layout (the same values, written differently)"
}

func diff(a, b any, path string) (string, bool) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return path, true
		}
		var keys []string
		for k := range x {
			keys = append(keys, k)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if p, ok := diff(x[k], y[k], path+"."+k); ok {
				return p, true
			}
		}
		return "", false
	case []any:
		y, ok := b.([]any)
		if !ok {
			return path, true
		}
		for i := range max(len(x), len(y)) {
			p := fmt.Sprintf("%s[%d]", path, i)
			if i >= len(x) || i >= len(y) {
				return p, true
			}
			if p, ok := diff(x[i], y[i], p); ok {
				return p, true
			}
		}
		return "", false
	}
	if a != b {
		return path, true
	}
	return "", false
}
