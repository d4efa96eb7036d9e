package register

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var genAt = time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)

func fixture(t *testing.T) []incident.Status {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "statuses.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sts []incident.Status
	if err := json.Unmarshal(raw, &sts); err != nil {
		t.Fatal(err)
	}
	return sts
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

// goldenLedger is what the ledger says of the fixture's notice to people:
// one batch of 1,000 was resent after its first attempt's answer was lost,
// and SendGrid turned out to have taken both.
func goldenLedger() Ledger {
	c := incident.NoticeCounts{Expected: 5000, Read: 5000, Accepted: 4990, Failed: 2, Unreachable: 8, Batches: 5,
		Retried: 1, Requests: 6, ResentRecipients: 1000, Twice: 1000}
	return Ledger{"INC-20260105-7K3QX/eu-gdpr-art34": {Counts: c, Resends: []Resend{{
		Batch: "INC-20260105-7K3QX/eu-gdpr-art34/p0-000002", Recipients: 1000, State: "accepted", Attempts: 2, Taken: 2,
		Why: []string{"attempt 1 at 2026-01-06T10:02:11Z: confirmed by event, message sg-a1 (read tcp: connection reset)",
			"attempt 2 at 2026-01-06T10:04:11Z (resent: not confirmed within 2m0s): accepted, message sg-a2"},
		MessageIDs: []string{"sg-a1", "sg-a2"},
	}}}}
}

// TestGoldenFormats: the register is a record a regulator may read; every
// change to what it says should show in review.
func TestGoldenFormats(t *testing.T) {
	reg := Build(fixture(t), goldenLedger(), genAt)
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer, Register) error
	}{
		{"register.json", func(b *bytes.Buffer, r Register) error { return WriteJSON(b, r) }},
		{"register.csv", func(b *bytes.Buffer, r Register) error { return WriteCSV(b, r) }},
		{"register.md", func(b *bytes.Buffer, r Register) error { return WriteMarkdown(b, r) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.write(&b, reg); err != nil {
				t.Fatal(err)
			}
			golden(t, f.name, b.Bytes())
		})
	}
}

func TestRecordsSayWhatHappenedAndWhy(t *testing.T) {
	reg := Build(fixture(t), nil, genAt)
	byID := map[string]Record{}
	var order []string
	for _, r := range reg.Incidents {
		byID[r.ID] = r
		order = append(order, r.ID)
	}
	if want := "INC-20260105-7K3QX INC-20260115-A1B2C INC-20260210-M4PQR INC-20260301-Z9Y8X"; strings.Join(order, " ") != want {
		t.Errorf("order %v, want oldest first: %s", order, want)
	}

	notified := byID["INC-20260105-7K3QX"]
	if notified.Outcome != OutcomeNotified || len(notified.Obligations) != 2 || notified.Obligations[0].DoneAt == nil || notified.Obligations[0].Late != "" {
		t.Errorf("notified incident: %+v", notified)
	}
	var approvers []string
	for _, d := range notified.Decisions {
		if d.Kind == "draft_approval" {
			approvers = append(approvers, d.By+"@"+d.At.Format(time.RFC3339))
		}
		if d.Kind == "note" || d.By == incident.SystemActor {
			t.Errorf("%+v is not a decision", d)
		}
	}
	if strings.Join(approvers, " ") != "slack:U0DPO@2026-01-06T10:30:00Z cli:legal@2026-01-06T10:59:00Z" {
		t.Errorf("approvals = %v", approvers)
	}
	if notified.Notices[0].Deliveries[0].MessageID != "sg-msg-7f3a" {
		t.Errorf("message ID lost: %+v", notified.Notices[0])
	}

	laptop := byID["INC-20260210-M4PQR"]
	if laptop.Outcome != OutcomeNotNotified || !containsPrefix(laptop.Reasons, "eu-gdpr-art33: obligation withdrawn") ||
		!containsPrefix(laptop.Reasons, "closed: Full-disk encryption") || !containsPrefix(laptop.Reasons, "eu-gdpr-art34 not triggered: the data was encrypted") {
		t.Errorf("not-notified incident reasons: %q", laptop.Reasons)
	}
	invoice := byID["INC-20260115-A1B2C"]
	if invoice.Outcome != OutcomeNotNotified || !containsPrefix(invoice.Reasons, "no notification obligation was triggered") ||
		containsPrefix(invoice.Reasons, "us-ca-1798.82") {
		t.Errorf("incident with no obligation: %q", invoice.Reasons)
	}

	overdue := byID["INC-20260301-Z9Y8X"]
	if overdue.Outcome != OutcomeOpen || overdue.Obligations[0].Late != "26h" || overdue.Obligations[0].DelayReasons == "" {
		t.Errorf("overdue incident: %+v", overdue.Obligations)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestCSVHasARowPerObligationAndOneForAnIncidentWithout(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, Build(fixture(t), nil, genAt)); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(&b)
	r.FieldsPerRecord = len(CSVHeader) // every row has every column
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	perIncident := map[string]int{}
	for _, row := range rows[1:] {
		perIncident[row[0]]++
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula in a spreadsheet", cell)
			}
		}
	}
	want := map[string]int{"INC-20260105-7K3QX": 2, "INC-20260115-A1B2C": 1, "INC-20260210-M4PQR": 1, "INC-20260301-Z9Y8X": 1}
	for id, n := range want {
		if perIncident[id] != n {
			t.Errorf("%s has %d rows, want %d", id, perIncident[id], n)
		}
	}
}

// TestLedgerCountsAndResends: the ledger's counts replace the incident's
// (one number, one source) and every format shows the people mailed twice
// next to those accepted, with why.
func TestLedgerCountsAndResends(t *testing.T) {
	sts := fixture(t)
	i := slices.IndexFunc(sts, func(s incident.Status) bool { return s.ID == "INC-20260105-7K3QX" })
	before := sts[i].Notices[1].Counts
	reg := Build(sts, goldenLedger(), genAt)
	if sts[i].Notices[1].Counts != before {
		t.Error("Build changed the caller's status")
	}
	var n Notice
	for _, r := range reg.Incidents {
		for _, x := range r.Notices {
			if x.ID == "INC-20260105-7K3QX/eu-gdpr-art34" {
				n = x
			}
		}
	}
	if n.Counts.Twice != 1000 || n.Counts.Requests != 6 || len(n.Resends) != 1 || n.Resends[0].Verdict() != "mailed twice" {
		t.Fatalf("notice %+v", n)
	}
	var j, c, m bytes.Buffer
	if err := WriteJSON(&j, reg); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&c, reg); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&m, reg); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		j.String(): {`"twice": 1000`, `"requests": 6`, `"resends": [`, "not confirmed within 2m0s"},
		c.String(): {"not confirmed within 2m0s", "message sg-a2"},
		m.String(): {"| 4990 | 6 | 1 (1000 people) | 1000 | 0 |", "mailed twice: attempt 1"},
	} {
		for _, w := range want {
			if !strings.Contains(name, w) {
				t.Errorf("lacks %q", w)
			}
		}
	}
	rows, err := csv.NewReader(strings.NewReader(c.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, row := range rows[1:] {
		if row[col["notice_id"]] == "INC-20260105-7K3QX/eu-gdpr-art34" &&
			(row[col["mailed_twice"]] != "1000" || row[col["resent_people"]] != "1000" || row[col["requests"]] != "6") {
			t.Errorf("csv row %v", row)
		}
	}
}

// TestNoticesNotGivenSayWhy: a failed notice, one given to only some of
// the people it owes, and a refused email to an authority each say why in
// the register's reasons, and count as no notification.
func TestNoticesNotGivenSayWhy(t *testing.T) {
	sts := fixture(t)
	st := sts[slices.IndexFunc(sts, func(s incident.Status) bool { return s.ID == "INC-20260105-7K3QX" })]
	st.Notices = slices.Clone(st.Notices)
	st.Notices[0].State, st.Notices[0].Deliveries = incident.NoticeSent, []incident.OrgDelivery{{Recipient: "Berlin DPA", Error: "403 The from address does not match a verified Sender Identity"}}
	st.Notices[1].State, st.Notices[1].Error = incident.NoticeIncomplete, "SendGrid refused 2 batches: 400 invalid personalizations"
	st.Notices[1].Counts = incident.NoticeCounts{Expected: 4, Read: 4, Failed: 4}
	r := NewRecord(st, nil, genAt)
	why := strings.Join(r.Reasons, "\n")
	for _, w := range []string{
		"INC-20260105-7K3QX/eu-gdpr-art33: email to Berlin DPA not accepted: 403 The from address",
		"INC-20260105-7K3QX/eu-gdpr-art34: notice not given to 4 people in scope (4 refused, 0 without a usable address): SendGrid refused",
	} {
		if !strings.Contains(why, w) {
			t.Errorf("reasons lack %q:\n%s", w, why)
		}
	}
	st.Notices[1].State = incident.NoticeFailed
	st.Notices[1].Error = "render: missing what_happened"
	if why := strings.Join(NewRecord(st, nil, genAt).Reasons, "\n"); !strings.Contains(why, "eu-gdpr-art34: notice failed: render: missing what_happened") {
		t.Errorf("failed notice: %s", why)
	}
}

func TestEmptyRegister(t *testing.T) {
	reg := Build(nil, nil, genAt)
	var j, c, m bytes.Buffer
	if err := WriteJSON(&j, reg); err != nil || !strings.Contains(j.String(), `"incidents": []`) {
		t.Errorf("json: %v %s", err, j.String())
	}
	if err := WriteCSV(&c, reg); err != nil || strings.Count(c.String(), "\n") != 1 {
		t.Errorf("csv: %v %q", err, c.String())
	}
	if err := WriteMarkdown(&m, reg); err != nil || !strings.Contains(m.String(), "0 incidents") {
		t.Errorf("md: %v %s", err, m.String())
	}
}

// TestPure keeps the register a plain function of incident statuses.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.temporal.io/", "github.com/slack-go/", "github.com/sendgrid/", "net/http", "github.com/jackc/", "database/sql"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("register depends on %s", dep)
			}
		}
	}
}
