package e2e_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/cli"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/register"
)

// TestRegisterAndEvidenceFromARealIncident runs two incidents on `dev`: one
// through scoping and approval to notices sent (to the people, and to the
// authority by email, into the outbox), one closed without a notice, with
// its reason. The breach register lists both with their reasons in every
// format; each incident's evidence pack verifies against Temporal; an
// edited pack does not.
func TestRegisterAndEvidenceFromARealIncident(t *testing.T) {
	dir := t.TempDir()
	notifyPath := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(notifyPath, []byte(notifyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	// Encryption on, as in production: the register and the pack read the
	// sealed history and ledger through the keys.
	// The CLI finds the server's evidence key in the data directory.
	env := map[string]string{"BREACHCTL_NOTIFY": notifyPath, "BREACHCTL_STORE": "sqlite:" + filepath.Join(dir, "breachctl.db"), "BREACHCTL_DATA_DIR": dir,
		"BREACHCTL_ENCRYPTION_KEYS": "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))}
	dev := startDevEnv(t, dir, env)
	defer dev.Stop()
	c := devCLI(t, dev, env)

	// The notified one.
	aware := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var st incident.Status
	c.ok(&st, "open", "--title", "Account database copied", "--aware-at", aware.Format(time.RFC3339),
		"--system", "accounts", "--region", "EU", "--category", "name,email,password_hash,api_key",
		"--description", "An attacker copied part of our account database.",
		"--risk", "high", "--risk-justification", "API keys allow access to customers' images")
	notified := st.ID
	csvPath := filepath.Join(dir, "affected.csv")
	writePeopleCSV(t, csvPath, affectedPeople(14), aware.Add(-time.Hour))
	c.ok(nil, "scope", notified, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"), "--source", "accounts="+csvPath)
	if code, out, errOut := c.run("approve", notified, "eu-gdpr-art34", "--watch", "--interval", "200ms",
		"--consequences", "Someone could sign in to your account.", "--measures", "We reset every password.",
		"--what-you-can-do", "Choose a new password."); code != cli.ExitNotGiven {
		// One person has no address: not given to everyone.
		t.Fatalf("approve eu-gdpr-art34: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := c.run("approve", notified, "eu-gdpr-art33", "--subject-categories", "customers", "--watch", "--interval", "200ms",
		"--consequences", "Phishing.", "--measures", "We reset every password."); code != 0 {
		t.Fatalf("approve eu-gdpr-art33: exit %d\n%s\n%s", code, out, errOut)
	}
	c.ok(&st, "show", notified)
	art33 := noticeOf(st, incident.NoticeID(notified, "eu-gdpr-art33"))
	if art33 == nil || art33.State != incident.NoticeSent || len(art33.Deliveries) != 1 || art33.Deliveries[0].MessageID == "" {
		t.Fatalf("the authority notice: %+v", art33)
	}

	// The one not notified, closed with why.
	const whyNot = "Full-disk encryption confirmed and the key was not on the device: unlikely to result in a risk"
	var quiet incident.Status
	c.ok(&quiet, "open", "--title", "Laptop lost on a train", "--aware-at", aware.Format(time.RFC3339),
		"--system", "support", "--region", "DE", "--category", "name,email", "--encrypted")
	c.ok(nil, "close", quiet.ID, "--yes", "--reason", whyNot)

	// The register, in each format.
	var reg register.Register
	c.ok(&reg, "register")
	records := map[string]register.Record{}
	for _, r := range reg.Incidents {
		records[r.ID] = r
	}
	rn, rq := records[notified], records[quiet.ID]
	if rn.Outcome != register.OutcomeNotified || len(rn.Notices) != 2 || len(rn.Obligations) == 0 || rn.RulesetVersion == "" || rn.Risk == nil ||
		!strings.Contains(strings.Join(rn.Reasons, "\n"), "API keys allow access") {
		t.Errorf("the notified incident in the register: %+v", rn)
	}
	var approvals int
	for _, d := range rn.Decisions {
		if d.Kind == "notice_approved" && d.By == "cli:e2e" && !d.At.IsZero() {
			approvals++
		}
	}
	if approvals != 2 {
		t.Errorf("approvals with who and when: %+v", rn.Decisions)
	}
	if rq.Outcome != register.OutcomeNotNotified || rq.CloseReason != whyNot || !strings.Contains(strings.Join(rq.Reasons, "\n"), "closed: "+whyNot) {
		t.Errorf("the incident not notified in the register: %+v", rq)
	}
	code, out, errOut := c.run("register", "-o", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil {
		t.Fatalf("register -o csv: exit %d %v %s", code, err, errOut)
	}
	seen := map[string]bool{}
	col := func(name string) int {
		for i, h := range rows[0] {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	for _, row := range rows[1:] {
		seen[row[0]] = true
		if row[0] == quiet.ID && (row[col("outcome")] != "not_notified" || row[col("close_reason")] != whyNot) {
			t.Errorf("CSV row of the incident not notified: %q", row)
		}
		if row[0] == notified && row[col("rule")] == "eu-gdpr-art33" && (row[col("obligation_state")] != "met" || row[col("done_at")] == "" ||
			!strings.Contains(row[col("message_ids")], art33.Deliveries[0].MessageID)) {
			t.Errorf("CSV row of the authority obligation: %q", row)
		}
	}
	if !seen[notified] || !seen[quiet.ID] {
		t.Errorf("CSV rows of %v", seen)
	}
	if code, out, _ := c.run("register", "-o", "md"); code != 0 || !strings.Contains(out, "## "+quiet.ID) || !strings.Contains(out, "not notified") ||
		!strings.Contains(out, whyNot) {
		t.Errorf("register -o md: exit %d\n%s", code, out)
	}

	// Evidence of the open, notified incident: anchored by the server,
	// which rebuilt the pack from the record and signed its head.
	pack := filepath.Join(dir, "notified.zip")
	if code, out, errOut := c.run("evidence", notified, "-o", pack); code != 0 || !strings.Contains(out, "Anchored: the server rebuilt the pack") {
		t.Fatalf("evidence: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := c.run("evidence", "verify", pack, "--incident"); code != 0 || !strings.Contains(out, "Anchored") || strings.Contains(out, "NOT ANCHORED") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	zipped, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	z, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range z.File {
		files[zf.Name] = readZipEntry(t, zf)
	}
	for name, want := range map[string]string{
		"notices/01-eu-gdpr-art34/ledger.json":  `"state": "accepted"`, // its batches, as the ledger has them
		"notices/02-eu-gdpr-art33/notice.json":  art33.Deliveries[0].MessageID,
		"notices/01-eu-gdpr-art34/content.json": "We reset every password.", // the notice as approved
		"assessment.json":                       `"citation": "GDPR Art. 33(1)`,
		"decisions.json":                        `"kind": "notice_approved"`,
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s lacks %s:\n%s", name, want, files[name])
		}
	}
	for _, p := range affectedPeople(14) {
		for name, content := range files {
			if p.email != "" && strings.Contains(content, p.email) {
				t.Errorf("%s holds %s's address", name, p.id)
			}
		}
	}

	// An edited pack is caught, by file.
	edited := filepath.Join(dir, "edited.zip")
	writeZip(t, edited, z, "notices/01-eu-gdpr-art34/ledger.json", func(s string) string { return strings.Replace(s, `"state": "accepted"`, `"state": "failed"`, 1) })
	if code, _, errOut := c.run("evidence", "verify", edited); code != cli.ExitConflict || !strings.Contains(errOut, "notices/01-eu-gdpr-art34/ledger.json") {
		t.Errorf("verify of an edited pack: exit %d %s", code, errOut)
	}

	// Evidence of the closed incident: anchored by the server too.
	closedPack := filepath.Join(dir, "quiet.zip")
	if code, out, errOut := c.run("evidence", quiet.ID, "-o", closedPack); code != 0 || !strings.Contains(out, "Anchored: the server rebuilt the pack") {
		t.Fatalf("evidence of the closed incident: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := c.run("evidence", "verify", closedPack, "--incident"); code != 0 || !strings.Contains(out, "Anchored") || strings.Contains(out, "NOT ANCHORED") {
		t.Fatalf("verify of the closed incident's pack: exit %d\n%s\n%s", code, out, errOut)
	}
}

func readZipEntry(t *testing.T, zf *zip.File) string {
	t.Helper()
	rc, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// writeZip copies a zip to path with one entry edited.
func writeZip(t *testing.T, path string, z *zip.Reader, name string, edit func(string) string) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, zf := range z.File {
		content := readZipEntry(t, zf)
		if zf.Name == name {
			if content == edit(content) {
				t.Fatalf("the edit changes nothing in %s", name)
			}
			content = edit(content)
		}
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
