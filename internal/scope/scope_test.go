package scope

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/datamap"
	"github.com/breachctl/breachctl/internal/sources"
	"github.com/breachctl/breachctl/internal/store"
)

const testMap = `company: Test API
systems:
  - id: uploads
    categories: [media_content, ip_address]
    retention: 1h
    residence: {field: country}
    region: {field: region}
    seen_at: seen_at
  - id: accounts
    categories: [name, email]
    retention: indefinite
    residence: {field: country}
    region: {field: region}
`

var window = Window{Start: time.Date(2026, 11, 19, 22, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestScopeCountsRejectsMergesAndAppliesRetention(t *testing.T) {
	dm, err := datamap.Parse("map.yaml", []byte(testMap))
	if err != nil {
		t.Fatal(err)
	}
	uploads, _ := dm.System("uploads")
	accounts, _ := dm.System("accounts")
	// Retention edges: written exactly one hour before the window began is
	// gone; one second later is still there; written at the window's end is
	// after it.
	csvRows := strings.Join([]string{
		"id,email,name,locale,country,region,seen_at",
		"u1,ana@example.com,Ana,pt-BR,BR,,2026-11-19T22:30:00Z",
		"u2,ben@example.com,Ben,de-DE,DE,,2026-11-19T21:00:00Z", // gone at the window start
		"u3,cal@example.com,Cal,en-US,US,CA,2026-11-19T21:00:01Z",
		"u4,not-an-email,Dee,en-US,US,NY,2026-11-20T01:00:00Z",
		"u5,eve@example.com,Eve,fr-FR,FR,,2026-11-20T03:00:00Z", // written at the end
		",x@example.com,X,fr-FR,FR,,2026-11-20T01:00:00Z",
	}, "\n") + "\n"
	upf := sources.FieldsFor(uploads)
	upf.FixedSystem = "uploads"
	acf := sources.FieldsFor(accounts)
	acf.FixedSystem = "accounts"
	jsonl := `{"id":"u1","email":"ana@example.com","name":"Ana","country":"BR"}
{"id":"u9","email":"zoe@example.com","name":"Zoe","country":"US","region":"CA"}
not json
`
	rep, err := Run(context.Background(), openStore(t), Request{
		Map: dm, Systems: []string{"uploads", "accounts"}, Window: window, IncidentID: "INC-20261120-AAAAA",
		Sources: []sources.Source{
			sources.CSV("uploads.csv", strings.NewReader(csvRows), upf),
			sources.JSONL("accounts.jsonl", strings.NewReader(jsonl), acf),
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// People: u1 (both sources, once), u3, u9. u2 and u5 lost nothing.
	if rep.People != 3 || rep.Duplicates != 1 || rep.NotExposed != 2 {
		t.Fatalf("people %d, duplicates %d, not exposed %d; want 3, 1, 2", rep.People, rep.Duplicates, rep.NotExposed)
	}
	if rep.ByJurisdiction["BR"] != 1 || rep.ByJurisdiction["US-CA"] != 2 || rep.ByJurisdiction["DE"] != 0 {
		t.Fatalf("by jurisdiction = %v", rep.ByJurisdiction)
	}
	// u1's categories merge across sources: media from uploads, name and
	// email from accounts.
	if rep.ByCategory["media_content"] != 2 || rep.ByCategory["email"] != 2 || rep.ByCategory["name"] != 2 {
		t.Fatalf("by category = %v", rep.ByCategory)
	}
	if rep.Rejected != 3 || rep.RejectedBy["invalid email address"] != 1 || rep.RejectedBy["missing id"] != 1 {
		t.Fatalf("rejected %d: %v", rep.Rejected, rep.RejectedBy)
	}
	rows := map[string]int{}
	for _, r := range rep.Rejections {
		rows[r.Source] += r.Row
	}
	if rows["uploads.csv"] != 5+7 || rows["accounts.jsonl"] != 3 {
		t.Fatalf("rejected rows = %+v", rep.Rejections)
	}
	var gone, late int
	for _, e := range rep.OutOfScope {
		if e.System == "uploads" && e.Category == "media_content" {
			if strings.Contains(e.Why, "deleted before the window began") {
				gone = e.People
			} else if strings.Contains(e.Why, "after the window ended") {
				late = e.People
			}
		}
	}
	if gone != 1 || late != 1 {
		t.Fatalf("out of scope = %+v", rep.OutOfScope)
	}
	if cats := rep.Categories(); strings.Join(cats, ",") != "name,email,ip_address,media_content" {
		t.Fatalf("categories = %v", cats)
	}
}

func TestParseWindow(t *testing.T) {
	w, err := ParseWindow("2026-11-19T22:00:00Z/2026-11-20T03:00:00Z")
	if err != nil || w != window {
		t.Fatalf("%v %v", w, err)
	}
	for _, bad := range []string{"", "2026-11-19T22:00:00Z", "2026-11-20T03:00:00Z/2026-11-19T22:00:00Z", "yesterday/today"} {
		if _, err := ParseWindow(bad); err == nil || !strings.Contains(err.Error(), "--window") {
			t.Errorf("ParseWindow(%q) = %v", bad, err)
		}
	}
}
