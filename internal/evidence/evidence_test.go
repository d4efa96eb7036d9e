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
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

var exportedAt = time.Date(2026, 1, 9, 8, 0, 0, 0, time.UTC)

func fixtureStatus(t testing.TB) incident.Status {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st incident.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func fixtureInput(t testing.TB) Input {
	st := fixtureStatus(t)
	art33, art34 := st.Notices[0], st.Notices[1]
	return Input{
		Status: st, ExportedAt: exportedAt, ExportedBy: "cli:dpo",
		Ledger: []LedgerNotice{
			{ID: art34.ID, Rule: "eu-gdpr-art34", Audience: "individuals", SnapshotID: "snap_quick", ApprovedBy: art34.ApprovedBy, ApprovedAt: art34.ApprovedAt,
				Content: []byte(`{"id":"INC-20260105-7K3QX/eu-gdpr-art34","data":{"what_happened":"someone exported our customer records"}}`),
				Progress: LedgerProgress{Batches: 2, BatchesAccepted: 1, BatchesFailed: 1, Recipients: 4992, Accepted: 4990, Failed: 2, Unreachable: 8, Delivered: 4000, Bounced: 3,
					Requests: 2, Resent: 1, ResentRecipients: 4990, Twice: 4990},
				Batches: []LedgerBatch{
					{Key: "b-1", State: "accepted", Recipients: 4990, MessageID: "sg-batch-1", Attempts: 1, SentAt: art34.ApprovedAt.Add(time.Minute), UpdatedAt: art34.ApprovedAt.Add(time.Hour), Events: 4003, Delivered: 4000, Bounced: 3},
					{Key: "b-2", State: "failed", Recipients: 2, Error: "400 invalid personalizations", Attempts: 1, UpdatedAt: art34.ApprovedAt.Add(time.Minute)},
				},
				Resends: []LedgerResend{{Batch: "b-1", Recipients: 4990, State: "accepted", Attempts: []LedgerAttempt{
					{N: 1, StartedAt: art34.ApprovedAt.Add(30 * time.Second), EndedAt: art34.ApprovedAt.Add(50 * time.Second), Outcome: "confirmed", MessageID: "sg-batch-1-first", Error: "context canceled", ConfirmedBy: "event"},
					{N: 2, StartedAt: art34.ApprovedAt.Add(time.Minute), EndedAt: art34.ApprovedAt.Add(time.Minute), Outcome: "accepted", MessageID: "sg-batch-1", Resend: "not confirmed within 2m0s"},
				}}}},
			{ID: art33.ID, Rule: "eu-gdpr-art33", Audience: "org", ApprovedBy: art33.ApprovedBy, ApprovedAt: art33.ApprovedAt,
				Content: []byte(`{"id":"INC-20260105-7K3QX/eu-gdpr-art33"}`)},
		},
	}
}

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func build(t testing.TB, key ed25519.PrivateKey) (*Pack, []byte) {
	t.Helper()
	p, err := Build(fixtureInput(t), key)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return p, b.Bytes()
}

func verifyBytes(zipped []byte, trusted ed25519.PublicKey) (*Pack, Report, error) {
	return VerifyZip(bytes.NewReader(zipped), int64(len(zipped)), trusted, nil)
}

func TestBuildWriteVerify(t *testing.T) {
	key := testKey(1)
	p, zipped := build(t, key)
	var names []string
	for _, f := range p.Files {
		names = append(names, f.Name)
	}
	want := []string{"README.txt", "pack.json", "status.json", "timeline.json", "decisions.json", "assessment.json",
		"notices/01-eu-gdpr-art33/notice.json", "notices/01-eu-gdpr-art33/ledger.json", "notices/01-eu-gdpr-art33/content.json",
		"notices/02-eu-gdpr-art34/notice.json", "notices/02-eu-gdpr-art34/ledger.json", "notices/02-eu-gdpr-art34/content.json"}
	if !slices.Equal(names, want) {
		t.Errorf("files %v\nwant %v", names, want)
	}
	_, again := build(t, key)
	if !bytes.Equal(zipped, again) {
		t.Error("the same pack written twice gives different bytes")
	}

	got, rep, err := verifyBytes(zipped, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("a pack as written does not verify: %v", err)
	}
	if rep.Incident != "INC-20260105-7K3QX" || rep.Head != p.Manifest.Head || rep.Files != len(want) || !rep.Signed || !rep.KeyTrusted ||
		rep.ExportedBy != "cli:dpo" || !rep.ExportedAt.Equal(exportedAt) {
		t.Errorf("report %+v", rep)
	}
	if !got.ExportedAt.Equal(exportedAt) {
		t.Errorf("zip entries stamped %s, want the export time", got.ExportedAt)
	}

	// What the pack says: who decided what and when, why each obligation
	// applied, every notice as approved with its message IDs.
	var dec decisionsFile
	mustUnmarshal(t, got.File("decisions.json"), &dec)
	if len(dec.Drafts) != 1 || len(dec.Drafts[0].Approvals) != 2 || dec.Drafts[0].Approvals[1].By != "cli:legal" ||
		dec.Close == nil || !strings.HasPrefix(dec.Close.Reason, "Authority and customers notified") || dec.RiskOverride == nil {
		t.Errorf("decisions %+v", dec)
	}
	var as assessmentFile
	mustUnmarshal(t, got.File("assessment.json"), &as)
	if as.RulesetVersion != "2026.01" || len(as.Obligations) != 2 || as.Obligations[0].Citation != "GDPR Art. 33(1)" || len(as.Obligations[0].Why) == 0 ||
		len(as.NotTriggered) != 3 {
		t.Errorf("assessment %+v", as)
	}
	if !strings.Contains(string(got.File("notices/01-eu-gdpr-art33/notice.json")), "sg-msg-7f3a") ||
		!strings.Contains(string(got.File("notices/02-eu-gdpr-art34/ledger.json")), `"message_id": "sg-batch-1"`) ||
		string(got.File("notices/02-eu-gdpr-art34/content.json")) != string(fixtureInput(t).Ledger[0].Content) {
		t.Error("a notice's message IDs or content are missing")
	}
	// Who was mailed twice, and every request SendGrid took with its
	// message ID, as the ledger recorded them.
	var lf struct {
		Recorded bool `json:"recorded"`
		LedgerNotice
	}
	mustUnmarshal(t, got.File("notices/02-eu-gdpr-art34/ledger.json"), &lf)
	if p := lf.Progress; p.Twice != 4990 || p.Requests != 2 || p.Resent != 1 || len(lf.Resends) != 1 || len(lf.Resends[0].Attempts) != 2 ||
		lf.Resends[0].Attempts[0].MessageID != "sg-batch-1-first" || lf.Resends[0].Attempts[1].Resend != "not confirmed within 2m0s" {
		t.Errorf("ledger.json: %+v", lf)
	}
	if art33 := string(got.File("notices/01-eu-gdpr-art33/ledger.json")); !strings.Contains(art33, `"resends": []`) || !strings.Contains(art33, `"twice": 0`) {
		t.Errorf("a notice with no resend says so explicitly: %s", art33)
	}
	if strings.Contains(string(got.File("status.json")), "oncall@pixelcrunch.example") {
		t.Error("status.json holds the page emails' addresses")
	}

	// Unsigned, it verifies too, with nothing said about a key.
	_, unsigned := build(t, nil)
	if _, rep, err := verifyBytes(unsigned, nil); err != nil || rep.Signed {
		t.Errorf("unsigned pack: %+v, %v", rep, err)
	}
}

// TestChainByHand recomputes the head the way the README in the pack tells
// a person to, so the two cannot drift apart.
func TestChainByHand(t *testing.T) {
	p, _ := build(t, nil)
	h := sha256.Sum256([]byte("breachctl-evidence/1\nINC-20260105-7K3QX\n"))
	prev := hex.EncodeToString(h[:])
	for _, f := range p.Files {
		c := sha256.Sum256(f.Content)
		l := sha256.Sum256([]byte(prev + "\n" + f.Name + "\n" + hex.EncodeToString(c[:]) + "\n"))
		prev = hex.EncodeToString(l[:])
	}
	if "sha256:"+prev != p.Manifest.Head {
		t.Errorf("head by hand %s, manifest %s", prev, p.Manifest.Head)
	}
	if !strings.Contains(string(p.File("README.txt")), "breachctl evidence verify") {
		t.Error("the README does not say how to verify")
	}
}

// entries reads a zip's entries in order, manifest included.
func entries(t *testing.T, zipped []byte) []File {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	var out []File
	for _, zf := range z.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		out = append(out, File{Name: zf.Name, Content: b.Bytes()})
	}
	return out
}

// rezip writes entries as a zip tool would after someone edited them.
func rezip(t *testing.T, files []File) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.Content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func index(files []File, name string) int {
	return slices.IndexFunc(files, func(f File) bool { return f.Name == name })
}

func editManifest(t *testing.T, files []File, edit func(*Manifest)) {
	t.Helper()
	i := index(files, ManifestName)
	var m Manifest
	mustUnmarshal(t, files[i].Content, &m)
	edit(&m)
	files[i].Content = mustJSON(m)
}

func TestVerifyNamesWhatWasChanged(t *testing.T) {
	key := testKey(1)
	trusted := key.Public().(ed25519.PublicKey)
	_, zipped := build(t, key)
	const target = "notices/02-eu-gdpr-art34/ledger.json"
	for _, tc := range []struct {
		name, file, reason string
		tamper             func([]File) []File
	}{
		{"one byte of a file edited", target, "does not match its SHA-256", func(fs []File) []File {
			i := index(fs, target)
			c := bytes.Clone(fs[i].Content)
			c[bytes.Index(c, []byte("4990"))] = '5' // 5990 accepted
			fs[i].Content = c
			return fs
		}},
		{"a file removed", "decisions.json", "not in the pack (removed?)", func(fs []File) []File {
			return slices.Delete(fs, index(fs, "decisions.json"), index(fs, "decisions.json")+1)
		}},
		{"a file added", "notices/02-eu-gdpr-art34/extra.txt", "not in the manifest (added?)", func(fs []File) []File {
			return slices.Insert(fs, index(fs, ManifestName), File{Name: "notices/02-eu-gdpr-art34/extra.txt", Content: []byte("x")})
		}},
		{"the last file removed", "notices/02-eu-gdpr-art34/content.json", "removed", func(fs []File) []File {
			return slices.Delete(fs, index(fs, "notices/02-eu-gdpr-art34/content.json"), index(fs, "notices/02-eu-gdpr-art34/content.json")+1)
		}},
		{"two files swapped in the zip", "timeline.json", "out of order", func(fs []File) []File {
			i, j := index(fs, "status.json"), index(fs, "timeline.json")
			fs[i], fs[j] = fs[j], fs[i]
			return fs
		}},
		{"two files swapped in the zip and the manifest", "timeline.json", "the chain breaks here", func(fs []File) []File {
			i, j := index(fs, "status.json"), index(fs, "timeline.json")
			fs[i], fs[j] = fs[j], fs[i]
			editManifest(t, fs, func(m *Manifest) {
				m.Records[i], m.Records[j] = m.Records[j], m.Records[i]
				m.Records[i].Seq, m.Records[j].Seq = i+1, j+1
			})
			return fs
		}},
		{"a file's hash in the manifest replaced", "status.json", "the chain breaks here", func(fs []File) []File {
			i := index(fs, "status.json")
			fs[i].Content = append(bytes.Clone(fs[i].Content), ' ')
			sum := sha256.Sum256(fs[i].Content)
			editManifest(t, fs, func(m *Manifest) {
				m.Records[i].SHA256, m.Records[i].Size = hex.EncodeToString(sum[:]), len(fs[i].Content)
			})
			return fs
		}},
		{"a file after the manifest", ManifestName, "not the last entry", func(fs []File) []File {
			return append(fs, File{Name: "late.txt", Content: []byte("x")})
		}},
		{"the manifest removed", ManifestName, "missing", func(fs []File) []File {
			return slices.Delete(fs, index(fs, ManifestName), index(fs, ManifestName)+1)
		}},
		{"the head edited", ManifestName, "is not the chain's", func(fs []File) []File {
			editManifest(t, fs, func(m *Manifest) { m.Head = HeadPrefix + strings.Repeat("0", 64) })
			return fs
		}},
		{"a path that escapes", "../evil.txt", "not a name a pack uses", func(fs []File) []File {
			return slices.Insert(fs, 0, File{Name: "../evil.txt", Content: []byte("x")})
		}},
		{"the whole chain recomputed, signature kept", ManifestName, "signature does not verify", func(fs []File) []File {
			i := index(fs, target)
			fs[i].Content = bytes.Replace(fs[i].Content, []byte("4990"), []byte("5990"), 1)
			recompute(t, fs)
			return fs
		}},
		{"re-signed with another key", ManifestName, "not by the trusted key", func(fs []File) []File {
			i := index(fs, target)
			fs[i].Content = bytes.Replace(fs[i].Content, []byte("4990"), []byte("5990"), 1)
			recompute(t, fs)
			resign(t, fs, testKey(2))
			return fs
		}},
		{"signature dropped", ManifestName, "not signed", func(fs []File) []File {
			editManifest(t, fs, func(m *Manifest) { m.Signature = nil })
			return fs
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tampered := rezip(t, tc.tamper(entries(t, zipped)))
			_, _, err := verifyBytes(tampered, trusted)
			var m *Mismatch
			if !errors.As(err, &m) {
				t.Fatalf("verify: %v; want a mismatch naming %s", err, tc.file)
			}
			if m.File != tc.file || !strings.Contains(m.Reason, tc.reason) {
				t.Errorf("mismatch %q; want %s: ...%s...", m, tc.file, tc.reason)
			}
		})
	}
}

// recompute rebuilds the manifest's chain and head over edited files, as
// someone covering their tracks would.
func recompute(t *testing.T, fs []File) {
	t.Helper()
	editManifest(t, fs, func(m *Manifest) {
		prev := genesis(m.Incident)
		for i := range m.Records {
			f := fs[i]
			sum := sha256.Sum256(f.Content)
			prev = link(prev, f.Name, sum)
			m.Records[i].SHA256, m.Records[i].Size, m.Records[i].Chain = hex.EncodeToString(sum[:]), len(f.Content), hex.EncodeToString(prev[:])
		}
		m.Head = HeadPrefix + hex.EncodeToString(prev[:])
	})
}

func resign(t *testing.T, fs []File, key ed25519.PrivateKey) {
	t.Helper()
	editManifest(t, fs, func(m *Manifest) {
		pub := key.Public().(ed25519.PublicKey)
		m.Signature.PublicKey = b64(pub)
		m.Signature.Value = b64(ed25519.Sign(key, signedMessage(m.Incident, m.Head)))
	})
}

func TestEditInPlaceIsNamed(t *testing.T) {
	_, zipped := build(t, nil)
	z, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	zf := z.File[3] // timeline.json
	off, err := zf.DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Clone(zipped)
	edited[off+int64(zf.CompressedSize64/2)] ^= 0x20
	_, _, err = verifyBytes(edited, nil)
	var m *Mismatch
	if !errors.As(err, &m) || m.File != "timeline.json" {
		t.Errorf("a byte flipped inside timeline.json: %v", err)
	}
}

// A note anyone may add ("Evidence pack exported: chain head ...") anchors
// nothing: a forged pack with one on the timeline is reported unanchored,
// and fails where the server's key is given.
func TestAForgedNoteAnchorsNothing(t *testing.T) {
	_, zipped := build(t, nil)
	fs := entries(t, zipped)
	i := index(fs, "notices/02-eu-gdpr-art34/ledger.json")
	fs[i].Content = bytes.Replace(fs[i].Content, []byte("4990"), []byte("5990"), 1)
	recompute(t, fs)
	forgedZip := rezip(t, fs)
	forged, rep, err := verifyBytes(forgedZip, nil)
	if err != nil || rep.Anchored {
		t.Fatalf("a recomputed chain is consistent, and no more: %+v, %v", rep, err)
	}
	live := fixtureStatus(t)
	live.State = incident.StateOpen
	live.Timeline = append(live.Timeline, incident.Entry{Seq: len(live.Timeline) + 1, At: exportedAt, Kind: incident.EntryNote, Actor: "slack:eve", Text: AnchorText(forged.Manifest.Head)})
	a, err := CheckAnchor(forged, live)
	if err != nil || a.Entry == nil {
		t.Fatalf("consistency against the live incident: %+v, %v", a, err)
	}
	// The note is reported as what it is; nothing here says anchored.
	if _, _, err := VerifyZip(bytes.NewReader(forgedZip), int64(len(forgedZip)), nil, serverKey.Public().(ed25519.PublicKey)); err == nil ||
		!strings.Contains(err.Error(), "not anchored by the server") {
		t.Fatalf("a forged pack where the server's key is given: %v", err)
	}
}

var serverKey = testKey(9)

// anchored builds the fixture's pack anchored by the server, as an export
// does.
func anchored(t testing.TB) []byte {
	t.Helper()
	p, err := Build(fixtureInput(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := SignAnchor(serverKey, p, "cli:dpo", exportedAt.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p.Manifest.Anchor = &a
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Each edit the issue found passing (ledger.json accepted 4990 -> 7000,
// content.json, decisions.json, assessment.json), with the chain
// recomputed to cover it, now fails: the server anchored another head.
func TestEditsOfAnAnchoredPackFail(t *testing.T) {
	zipped := anchored(t)
	server := serverKey.Public().(ed25519.PublicKey)
	if _, rep, err := VerifyZip(bytes.NewReader(zipped), int64(len(zipped)), nil, server); err != nil || !rep.Anchored || !rep.ServerKeyTrusted {
		t.Fatalf("the pack as exported: %+v, %v", rep, err)
	}
	for _, c := range []struct{ file, from, to string }{
		{"notices/02-eu-gdpr-art34/ledger.json", `"accepted": 4990`, `"accepted": 7000`},
		{"notices/02-eu-gdpr-art34/content.json", "customer records", "nothing much"},
		{"decisions.json", "cli:", "cli:someone-else-"},
		{"assessment.json", `"high"`, `"low"`},
	} {
		fs := entries(t, zipped)
		i := index(fs, c.file)
		if i < 0 || !bytes.Contains(fs[i].Content, []byte(c.from)) {
			t.Fatalf("%s has no %q", c.file, c.from)
		}
		fs[i].Content = bytes.Replace(fs[i].Content, []byte(c.from), []byte(c.to), 1)
		recompute(t, fs)
		edited := rezip(t, fs)
		for _, key := range []ed25519.PublicKey{nil, server} {
			_, _, err := VerifyZip(bytes.NewReader(edited), int64(len(edited)), nil, key)
			var m *Mismatch
			if !errors.As(err, &m) || !strings.Contains(m.Reason, "the files were changed after export") {
				t.Errorf("%s edited (server key %v): %v", c.file, key != nil, err)
			}
		}
		// The anchor re-signed by anyone else's key fails where the
		// server's key is given.
		editManifest(t, fs, func(m *Manifest) {
			p := &Pack{Manifest: *m, Files: fs[:len(fs)-1], ExportedAt: exportedAt}
			p.Manifest.Anchor = nil
			a, _ := SignAnchor(testKey(7), p, "cli:dpo", exportedAt)
			m.Anchor = &a
		})
		resigned := rezip(t, fs)
		if _, _, err := VerifyZip(bytes.NewReader(resigned), int64(len(resigned)), nil, server); err == nil || !strings.Contains(err.Error(), "not by the given server key") {
			t.Errorf("%s edited and re-anchored by another key: %v", c.file, err)
		}
	}
	// The anchor itself edited (another export time) does not verify.
	fs := entries(t, zipped)
	editManifest(t, fs, func(m *Manifest) { m.Anchor.ExportedBy = "cli:eve" })
	if _, _, err := verifyBytes(rezip(t, fs), nil); err == nil || !strings.Contains(err.Error(), "the anchor was edited") {
		t.Errorf("anchor edited: %v", err)
	}
}

func TestServerKeyIsMadeOnceAndKeptPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateServerKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, ServerKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi.Mode(), err)
	}
	k2, err := LoadOrCreateServerKey(dir)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second start: another key (%v)", err)
	}
	pub, err := ReadServerPublicKey(dir)
	if err != nil || !pub.Equal(k1.Public()) {
		t.Fatalf("public key file: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, ServerKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateServerKey(dir); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("a key others can read: %v", err)
	}
}

func TestAnchorOfAClosedIncidentIsItsRecord(t *testing.T) {
	p, _ := build(t, nil)
	live := fixtureStatus(t) // closed: its timeline took no note
	live.PageEmails = nil    // queues are not part of the record
	if a, err := CheckAnchor(p, live); err != nil || !a.MatchesRecord {
		t.Fatalf("closed incident, pack as exported: %+v, %v", a, err)
	}
	changed := fixtureStatus(t)
	changed.CloseReason = "something else"
	_, err := CheckAnchor(p, changed)
	var m *Mismatch
	if !errors.As(err, &m) || m.File != "status.json" || !strings.Contains(m.Reason, "close_reason") {
		t.Errorf("record differs: %v", err)
	}
	edited := fixtureStatus(t)
	edited.Timeline[2].Text = "Acknowledged by someone else"
	if _, err := CheckAnchor(p, edited); !errors.As(err, &m) || m.File != "timeline.json" || !strings.Contains(m.Reason, "entry 3") {
		t.Errorf("timeline differs: %v", err)
	}
	other := fixtureStatus(t)
	other.ID = "INC-20260105-AAAAA"
	if _, err := CheckAnchor(p, other); err == nil {
		t.Error("a pack checked against another incident")
	}
}

// TestOldPacksStillVerify: a pack exported before the ledger's attempts
// (testdata/pack-2026-01.zip, written by the code of January 2026, signed
// with testKey(1)) verifies as it did: fields are added to the format,
// never renamed.
func TestOldPacksStillVerify(t *testing.T) {
	zipped, err := os.ReadFile(filepath.Join("testdata", "pack-2026-01.zip"))
	if err != nil {
		t.Fatal(err)
	}
	p, rep, err := verifyBytes(zipped, testKey(1).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("an old pack no longer verifies: %v", err)
	}
	if rep.Incident != "INC-20260105-7K3QX" || !rep.KeyTrusted || rep.Files != 12 || rep.Anchored {
		t.Errorf("report %+v (an old pack has no server anchor)", rep)
	}
	if _, _, err := VerifyZip(bytes.NewReader(zipped), int64(len(zipped)), nil, serverKey.Public().(ed25519.PublicKey)); err == nil {
		t.Error("an old pack passed as anchored by the server")
	}
	var lf struct {
		Recorded bool `json:"recorded"`
		LedgerNotice
	}
	mustUnmarshal(t, p.File("notices/02-eu-gdpr-art34/ledger.json"), &lf)
	if !lf.Recorded || lf.Progress.Accepted != 4990 || lf.Resends != nil {
		t.Errorf("the old ledger.json reads as %+v", lf)
	}
	if _, err := CheckAnchor(p, fixtureStatus(t)); err != nil {
		t.Errorf("the old pack against its incident: %v", err)
	}
}

func TestNoticeMissingFromTheLedgerIsSaid(t *testing.T) {
	in := fixtureInput(t)
	in.Ledger = in.Ledger[:1] // art34 only
	p, err := Build(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.File("notices/01-eu-gdpr-art33/ledger.json")); !strings.Contains(got, `"recorded": false`) {
		t.Errorf("ledger.json of a notice the ledger lacks: %s", got)
	}
	if p.File("notices/01-eu-gdpr-art33/content.json") != nil {
		t.Error("content.json invented for a notice the ledger lacks")
	}
}

func FuzzVerify(f *testing.F) {
	_, zipped := build(f, testKey(1))
	_, unsigned := build(f, nil)
	f.Add(zipped)
	f.Add(anchored(f))
	f.Add(unsigned)
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	live := fixtureStatus(f)
	trusted := testKey(1).Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var m *Mismatch
			if !errors.As(err, &m) {
				t.Fatalf("Read error %T is not a *Mismatch: %v", err, err)
			}
			return
		}
		_, _ = p.Verify(nil, nil)
		_, _ = p.Verify(trusted, serverKey.Public().(ed25519.PublicKey))
		_, _ = CheckAnchor(p, live)
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
}

// TestPure keeps the package free of I/O clients: it is given readers and
// writers and statuses, nothing else.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.temporal.io/", "github.com/slack-go/", "github.com/sendgrid/", "net/http", "github.com/jackc/", "database/sql"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("evidence depends on %s", dep)
			}
		}
	}
}
