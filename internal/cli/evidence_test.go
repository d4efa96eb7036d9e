package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/seal"
	"github.com/breachctl/breachctl/internal/store"
)

// evidenceWorld is an incident with a notice in a real SQLite ledger, and a
// fake service whose timeline takes notes.
type evidenceWorld struct {
	dir    string
	env    map[string]string
	svc    *fakeIncidents
	status incident.Status
	notes  []string
}

func newEvidenceWorld(t *testing.T) *evidenceWorld {
	t.Helper()
	w := &evidenceWorld{dir: t.TempDir()}
	dsn := "sqlite:" + filepath.Join(w.dir, "breachctl.db")
	// A sealed store: the pack holds the notice as approved, not as stored.
	keyring := "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, seal.KeySize))
	w.env = map[string]string{"BREACHCTL_STORE": dsn, "BREACHCTL_ACTOR": "cli:dpo", "BREACHCTL_ENCRYPTION_KEYS": keyring}
	keys, err := seal.Parse(keyring)
	if err != nil {
		t.Fatal(err)
	}
	st := statusFor(incident.Facts{Title: "Database copied", AwareAt: now.Add(-time.Hour), Regions: []string{"DE"}})
	noticeID := incident.NoticeID(st.ID, "eu-gdpr-art33")
	st.Notices = []incident.Notice{{ID: noticeID, Rules: []string{"eu-gdpr-art33"}, Notify: "authority", State: incident.NoticeSent,
		ApprovedBy: "cli:dpo", ApprovedAt: now, Deliveries: []incident.OrgDelivery{{Recipient: "DPA", MessageID: "sg-msg-1", SentAt: now}}}}
	w.status = st

	ctx := context.Background()
	s, err := store.Open(ctx, dsn, store.WithKeys(keys))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateNotice(ctx, store.NoticeRecord{ID: noticeID, IncidentID: st.ID, Rule: "eu-gdpr-art33", Audience: "org",
		Content: []byte(`{"what_happened":"copied"}`), ApprovedBy: "cli:dpo", ApprovedAt: now}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	w.svc = &fakeIncidents{
		show: func(id string) (incident.Status, error) { return w.status, nil },
		note: func(id, text, actor string) (incident.Entry, error) {
			w.notes = append(w.notes, text)
			e := w.status.Timeline.Append(now, incident.EntryNote, actor, "", text)
			return e, nil
		},
	}
	return w
}

func TestEvidenceExportAndVerify(t *testing.T) {
	w := newEvidenceWorld(t)
	pack := filepath.Join(w.dir, "pack.zip")
	code, out, errOut := run(t, w.svc, w.env, "evidence", w.status.ID, "-o", pack)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if len(w.notes) != 1 || !strings.HasPrefix(w.notes[0], "Evidence pack exported: chain head sha256:") || !strings.Contains(out, w.notes[0][len("Evidence pack exported: chain head "):]) {
		t.Fatalf("the head on the timeline: notes %q, output\n%s", w.notes, out)
	}
	if !strings.Contains(out, "Not signed") || !strings.Contains(out, "Head recorded on the timeline") {
		t.Errorf("export output:\n%s", out)
	}
	zipped, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	content, err := fs.ReadFile(z, "notices/01-eu-gdpr-art33/content.json")
	if err != nil || string(content) != `{"what_happened":"copied"}` {
		t.Errorf("the notice's content from the ledger: %q %v", content, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(w.dir, ".evidence-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	code, out, errOut = run(t, w.svc, w.env, "evidence", "verify", pack)
	if code != 0 || !strings.Contains(out, "OK") || !strings.Contains(out, "Head recorded on the timeline") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run(t, w.svc, w.env, "evidence", "verify", pack, "-o", "json")
	var res verifyResult
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || !res.OK || res.Anchor == nil || res.Anchor.Entry == nil {
		t.Fatalf("verify -o json: exit %d %v\n%s", code, err, out)
	}

	// Without Temporal: the pack's own checks, and a say that the rest was not done.
	if code, out, _ := run(t, nil, w.env, "evidence", "verify", pack); code != 0 || !strings.Contains(out, "Not checked against the incident") {
		t.Errorf("verify with Temporal down: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, nil, w.env, "evidence", "verify", pack, "--incident"); code != ExitUnavailable {
		t.Errorf("verify --incident with Temporal down: exit %d", code)
	}

	// One byte of one file changed: named, exit 4.
	edited := rewriteEntry(t, zipped, "timeline.json", func(b []byte) []byte {
		return bytes.Replace(b, []byte("Incident opened"), []byte("Incident 0pened"), 1)
	})
	bad := filepath.Join(w.dir, "edited.zip")
	if err := os.WriteFile(bad, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, w.svc, w.env, "evidence", "verify", bad, "-o", "json")
	if code != ExitConflict || !strings.Contains(errOut, "timeline.json") {
		t.Errorf("edited pack: exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.OK || res.File != "timeline.json" {
		t.Errorf("edited pack -o json: %+v %v", res, err)
	}

	// The timeline without the note (another incident's pack passed off,
	// or a rebuilt one): refused.
	w.status.Timeline = w.status.Timeline[:len(w.status.Timeline)-1]
	if code, _, errOut := run(t, w.svc, w.env, "evidence", "verify", pack); code != ExitConflict || !strings.Contains(errOut, "not recorded on the timeline") {
		t.Errorf("head not on the timeline: exit %d %s", code, errOut)
	}
}

func TestEvidenceSignedAndClosed(t *testing.T) {
	w := newEvidenceWorld(t)
	closed := now
	w.status.State, w.status.ClosedAt, w.status.CloseReason = incident.StateClosed, &closed, "notified"

	_, keys, _ := run(t, nil, nil, "evidence", "keygen")
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(keys), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	if env[envEvidenceSigningKey] == "" || env[envEvidencePublicKey] == "" {
		t.Fatalf("keygen printed %q", keys)
	}
	w.env[envEvidenceSigningKey] = env[envEvidenceSigningKey]
	pack := filepath.Join(w.dir, "signed.zip")
	code, out, errOut := run(t, w.svc, w.env, "evidence", w.status.ID, "-o", pack)
	if code != 0 || len(w.notes) != 0 || !strings.Contains(out, "Signed with Ed25519 key "+env[envEvidencePublicKey]) || !strings.Contains(out, "is closed") {
		t.Fatalf("export of a closed incident: exit %d, notes %q\n%s%s", code, w.notes, out, errOut)
	}
	code, out, errOut = run(t, w.svc, w.env, "evidence", "verify", pack, "--public-key", env[envEvidencePublicKey], "--incident")
	if code != 0 || !strings.Contains(out, "trusted Ed25519 key") || !strings.Contains(out, "is closed and the pack is its record") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	_, other, _ := run(t, nil, nil, "evidence", "keygen")
	otherPub := strings.TrimPrefix(strings.Split(strings.TrimSpace(other), "\n")[1], envEvidencePublicKey+"=")
	if code, _, errOut := run(t, w.svc, map[string]string{envEvidencePublicKey: otherPub}, "evidence", "verify", pack, "--offline"); code != ExitConflict || !strings.Contains(errOut, "not by the trusted key") {
		t.Errorf("another trusted key: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, w.svc, nil, "evidence", "verify", pack, "--public-key", "short"); code != ExitInvalid {
		t.Errorf("a bad public key: exit %d %s", code, errOut)
	}
	if code, _, _ := run(t, w.svc, map[string]string{envEvidenceSigningKey: "bm90IGEga2V5"}, "evidence", w.status.ID, "-o", pack); code != ExitInvalid {
		t.Errorf("a bad signing key: exit %d", code)
	}
}

// rewriteEntry edits one file of a zip and writes the zip again, as someone
// with a zip tool would.
func rewriteEntry(t *testing.T, zipped []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, zf := range z.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		var content bytes.Buffer
		if _, err := content.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		c := content.Bytes()
		if zf.Name == name {
			if c2 := edit(c); !bytes.Equal(c, c2) {
				c = c2
			} else {
				t.Fatalf("the edit changed nothing in %s", name)
			}
		}
		fw, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(c)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
