package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/evidence/fromstore"
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
	server *activities.Evidence
	// recordOverride is the incident as the server reads it, when a test
	// has it differ from what the CLI reads.
	recordOverride *incident.Status
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

	// The server: the worker's anchoring, as it runs, over the same store.
	w.server = &activities.Evidence{
		Key:    ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize)),
		Status: func(context.Context, string) (incident.Status, error) { return w.serverStatus(), nil },
		Ledger: func(ctx context.Context, id string) ([]evidence.LedgerNotice, error) {
			s, err := store.Open(ctx, dsn, store.WithKeys(keys))
			if err != nil {
				return nil, err
			}
			defer s.Close()
			return fromstore.ReadLedger(ctx, s, id)
		},
		Now: func() time.Time { return now },
	}
	w.env[envEvidenceServerKey] = base64.StdEncoding.EncodeToString(w.server.Key.Public().(ed25519.PublicKey))
	w.svc = &fakeIncidents{
		show: func(id string) (incident.Status, error) { return w.status, nil },
		note: func(id, text, actor string) (incident.Entry, error) {
			w.notes = append(w.notes, text)
			e := w.status.Timeline.Append(now, incident.EntryNote, actor, "", text)
			return e, nil
		},
		anchor: func(in activities.EvidenceInput) (evidence.ServerAnchor, error) {
			res, err := w.server.AnchorEvidence(context.Background(), in)
			if err != nil {
				return evidence.ServerAnchor{}, apperr.New(apperr.Conflict, "the server did not anchor the pack: %v", err)
			}
			return res.Anchor, nil
		},
	}
	return w
}

// serverStatus is the incident as the worker reads it: the same as the
// CLI's, unless a test has the two disagree.
func (w *evidenceWorld) serverStatus() incident.Status {
	if w.recordOverride != nil {
		return *w.recordOverride
	}
	return w.status
}

func TestEvidenceExportAndVerify(t *testing.T) {
	w := newEvidenceWorld(t)
	pack := filepath.Join(w.dir, "pack.zip")
	code, out, errOut := run(t, w.svc, w.env, "evidence", w.status.ID, "-o", pack)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if len(w.notes) != 0 || !strings.Contains(out, "Anchored: the server rebuilt the pack from the record and signed its head") {
		t.Fatalf("export: notes %q, output\n%s", w.notes, out)
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
	if code != 0 || !strings.Contains(out, "OK") || !strings.Contains(out, "Anchored: the server with the trusted key") ||
		!strings.Contains(out, "Temporal has the server's record of this export") || !strings.Contains(out, "timeline is the start of the incident's") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run(t, w.svc, w.env, "evidence", "verify", pack, "-o", "json")
	var res verifyResult
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || !res.OK || !res.Anchored || !res.InTemporal || res.Anchor == nil {
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

	// -o json is a mistake here: no zip called json.
	if code, _, errOut := run(t, w.svc, w.env, "evidence", w.status.ID, "-o", "json"); code != ExitInvalid || !strings.Contains(errOut, "not a format") {
		t.Errorf("-o json: exit %d %s", code, errOut)
	}
	if _, err := os.Stat("json"); err == nil {
		t.Error("a zip named json was written")
	}
}

// A pack the server's record does not give (someone changed what the CLI
// reads, or built the pack from files of their own) is not anchored: the
// worker rebuilds another head and refuses, and no pack is written unless
// asked for unanchored, which verify then reports as proving only its own
// consistency, and refuses where the server's key is given.
func TestEvidenceTheServerDoesNotAnchorAnotherRecord(t *testing.T) {
	w := newEvidenceWorld(t)
	record := w.status
	record.CloseReason = "what the server has"
	record.Facts.Title = "Database copied, as recorded"
	w.recordOverride = &record
	pack := filepath.Join(w.dir, "forged.zip")
	code, _, errOut := run(t, w.svc, w.env, "evidence", w.status.ID, "-o", pack)
	if code == 0 || !strings.Contains(errOut, "the one the server builds from the incident's record") || !strings.Contains(errOut, "no pack written") {
		t.Fatalf("export of a record the server does not have: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(pack); err == nil {
		t.Fatal("a pack was written")
	}
	code, out, errOut := run(t, w.svc, w.env, "evidence", w.status.ID, "-o", pack, "--unanchored")
	if code != 0 || !strings.Contains(errOut, "warning: the pack is not anchored") || !strings.Contains(out, "NOT ANCHORED") {
		t.Fatalf("--unanchored: exit %d\n%s%s", code, out, errOut)
	}
	noServerKey := map[string]string{}
	for k, v := range w.env {
		if k != envEvidenceServerKey {
			noServerKey[k] = v
		}
	}
	noServerKey["BREACHCTL_DATA_DIR"] = w.dir // no server key file there
	if code, out, _ := run(t, w.svc, noServerKey, "evidence", "verify", pack); code != 0 || !strings.Contains(out, "NOT ANCHORED") || !strings.Contains(out, "prove only that its files agree") {
		t.Errorf("an unanchored pack: exit %d\n%s", code, out)
	}
	if code, _, errOut := run(t, w.svc, w.env, "evidence", "verify", pack); code != ExitConflict || !strings.Contains(errOut, "not anchored by the server") {
		t.Errorf("an unanchored pack where the server's key is known: exit %d %s", code, errOut)
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
	if code != 0 || len(w.notes) != 0 || !strings.Contains(out, "Signed by the exporter with Ed25519 key "+env[envEvidencePublicKey]) || !strings.Contains(out, "Anchored") {
		t.Fatalf("export of a closed incident: exit %d, notes %q\n%s%s", code, w.notes, out, errOut)
	}
	code, out, errOut = run(t, w.svc, w.env, "evidence", "verify", pack, "--public-key", env[envEvidencePublicKey], "--incident")
	if code != 0 || !strings.Contains(out, "trusted Ed25519 key") || !strings.Contains(out, "is closed; the pack's timeline and status.json are its record") {
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

// The server's key: made once in the data directory, printed by
// `evidence server-key`.
func TestEvidenceServerKeyIsPrinted(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"BREACHCTL_DATA_DIR": dir}
	if code, _, errOut := run(t, nil, env, "evidence", "server-key"); code != ExitNotFound || !strings.Contains(errOut, "makes one there on its first start") {
		t.Fatalf("no key yet: exit %d %s", code, errOut)
	}
	key, err := evidence.LoadOrCreateServerKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, nil, env, "evidence", "server-key")
	if code != 0 || strings.TrimSpace(out) != base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("server-key: exit %d %q", code, out)
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
