package register

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
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

// TestGoldenFormats: the register is a record a regulator may read; every
// change to what it says should show in review.
func TestGoldenFormats(t *testing.T) {
	reg := Build(fixture(t), genAt)
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
	reg := Build(fixture(t), genAt)
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
	if err := WriteCSV(&b, Build(fixture(t), genAt)); err != nil {
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

func TestEmptyRegister(t *testing.T) {
	reg := Build(nil, genAt)
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
