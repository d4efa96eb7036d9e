package cli

import (
	"time"

	"encoding/json"
	"fmt"
	"github.com/breachctl/breachctl/internal/incident"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/scope"
)

// TestScopeOfflineCountsExactly runs the offline command on a file with bad
// rows and duplicates mixed in, and checks every count and rejection.
func TestScopeOfflineCountsExactly(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,email,name,locale,country,region,uploaded_at\n")
	regions := []string{"DE,", "US,CA", "BR,", "US,NY"}
	people, bad := 0, 0
	for i := 1; i <= 20000; i++ {
		id := fmt.Sprint(i)
		email := "p" + id + "@example.com"
		switch {
		case i%500 == 0:
			email = "broken" // every 500th row: invalid email
			bad++
		case i%250 == 0:
			id, email = fmt.Sprint(i-1), fmt.Sprintf("p%d@example.com", i-1) // a duplicate of the row before
		default:
			people++
		}
		fmt.Fprintf(&b, "%s,%s,Person,en-US,%s,2026-11-19T23:00:00Z\n", id, email, regions[i%len(regions)])
	}
	b.WriteString("x1,a@example.com,Short,en-US\n") // wrong column count, line 20002
	bad++
	path := filepath.Join(dir, "affected.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, nil, "scope", "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"),
		"--source", "uploads="+path, "--systems", "uploads", "--window", "2026-11-19T22:00:00Z/2026-11-20T03:00:00Z",
		"--rejects", filepath.Join(dir, "rejects.csv"), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep scope.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.People != people || rep.Rejected != bad || rep.Duplicates != 40 {
		t.Fatalf("people %d rejected %d duplicates %d; want %d %d 40", rep.People, rep.Rejected, rep.Duplicates, people, bad)
	}
	total := 0
	for _, n := range rep.ByJurisdiction {
		total += n
	}
	if total != people || rep.ByJurisdiction["US-CA"] == 0 || rep.ByCategory["media_content"] != people {
		t.Fatalf("by jurisdiction %v, by category %v", rep.ByJurisdiction, rep.ByCategory)
	}
	last := rep.Rejections[len(rep.Rejections)-1]
	if last.Row != 20002 || !strings.Contains(last.Reason, "wrong number of columns") {
		t.Fatalf("last rejection = %+v", last)
	}
	rejects, err := os.ReadFile(filepath.Join(dir, "rejects.csv"))
	if err != nil || strings.Count(string(rejects), "\n") != bad+1 || strings.Contains(string(rejects), "broken") {
		t.Fatalf("rejects file (%d lines) should list every rejected row without its data: %v", strings.Count(string(rejects), "\n"), err)
	}
}

// A system named in --systems that no source reads gives a warning: its
// people would silently not be counted.
func TestScopeWarnsOfASystemWithoutSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uploads.csv")
	if err := os.WriteFile(path, []byte("id,email,name,locale,country,region,uploaded_at\n1,a@example.com,A,en-US,DE,,2026-11-19T23:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"scope", "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"),
		"--source", "uploads=" + path, "--window", "2026-11-19T22:00:00Z/2026-11-20T03:00:00Z"}
	code, _, errOut := run(t, nil, nil, append(args, "--systems", "uploads,accounts")...)
	if code != 0 || !strings.Contains(errOut, "warning: no --source reads system accounts") || strings.Contains(errOut, "system uploads") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, _, errOut := run(t, nil, nil, append(args, "--systems", "uploads")...); strings.Contains(errOut, "warning") {
		t.Fatalf("every system read: %s", errOut)
	}
}

// TestScopeTellsTheIncidentWhatItNeeds: scoping an incident passes the
// store it wrote the snapshot to (so the incident can refuse one its
// workers cannot read), the rows read and those outside the window (so a
// scoping that finds nobody says why), and --confirm.
func TestScopeTellsTheIncidentWhatItNeeds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uploads.csv")
	if err := os.WriteFile(path, []byte("id,email,name,locale,country,region,uploaded_at\n1,a@example.com,A,en-US,DE,,2026-11-19T23:00:00Z\n2,b@example.com,B,en-US,DE,,2026-11-21T23:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const id = "INC-20261120-7K3QX"
	aware := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	detected := time.Date(2026, 11, 19, 22, 0, 0, 0, time.UTC)
	svc := &fakeIncidents{
		show: func(string) (incident.Status, error) {
			return incident.Status{ID: id, Facts: incident.Facts{Title: "x", AwareAt: aware, DetectedAt: &detected, Systems: []string{"uploads"}}}, nil
		},
		scope: func(string, incident.SnapshotRef) (incident.Status, error) { return incident.Status{ID: id}, nil },
	}
	storePath := filepath.Join(dir, "store.db")
	args := []string{"scope", id, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"),
		"--source", "uploads=" + path, "--store", "sqlite:" + storePath}
	for _, confirm := range []bool{false, true} {
		a := args
		if confirm {
			a = append(a, "--confirm")
		}
		if code, _, errOut := run(t, svc, nil, a...); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		req := svc.scopeRequests[len(svc.scopeRequests)-1]
		if req.Store != "sqlite:"+storePath || req.Rows != 2 || req.Confirm != confirm || req.Snapshot.ID == "" {
			t.Errorf("--confirm %t: the incident was asked %+v", confirm, req)
		}
	}
}
