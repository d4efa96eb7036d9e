package datamap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
)

const good = `company: Pixelcrunch (image-compression API)
systems:
  - id: uploads
    description: Images uploaded for compression
    categories: [media_content, ip_address]
    retention: 1h
    residence: {field: country}
    region: {field: region}
    seen_at: uploaded_at
  - id: accounts
    categories:
      - name
      - email
    retention: indefinite
    residence: {field: country, locale: locale}
  - id: support.mail
    categories: [email]
    retention: 30d
    residence: {locale: lang}
  - id: de_shop
    categories: [postal_address]
    retention: 90m
    residence: {fixed: DE}
  - id: ca_clinic
    categories: [health]
    retention: 2h30m
    residence: {fixed: US}
    region: {fixed: US-CA}
  - id: logs
    categories: [ip_address]
    retention: 7d
`

func TestParse(t *testing.T) {
	m, err := Parse("map.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if m.Company != "Pixelcrunch (image-compression API)" || !slices.Equal(m.IDs(), []string{"uploads", "accounts", "support.mail", "de_shop", "ca_clinic", "logs"}) {
		t.Fatalf("%+v", m)
	}
	want := map[string]System{
		"uploads": {ID: "uploads", Description: "Images uploaded for compression", Categories: []string{"media_content", "ip_address"},
			Retention: time.Hour, Residence: Residence{Field: "country"}, Region: Region{Field: "region"}, SeenAt: "uploaded_at", Line: 3},
		"accounts":     {ID: "accounts", Categories: []string{"name", "email"}, Indefinite: true, Residence: Residence{Field: "country", Locale: "locale"}, Line: 10},
		"support.mail": {ID: "support.mail", Categories: []string{"email"}, Retention: 30 * 24 * time.Hour, Residence: Residence{Locale: "lang"}, Line: 16},
		"de_shop":      {ID: "de_shop", Categories: []string{"postal_address"}, Retention: 90 * time.Minute, Residence: Residence{Fixed: "DE"}, Line: 20},
		"ca_clinic":    {ID: "ca_clinic", Categories: []string{"health"}, Retention: 150 * time.Minute, Residence: Residence{Fixed: "US"}, Region: Region{Fixed: "CA"}, Line: 24},
		// No residence: the export carries a country column.
		"logs": {ID: "logs", Categories: []string{"ip_address"}, Retention: 7 * 24 * time.Hour, Residence: Residence{Field: "country"}, Line: 29},
	}
	for id, w := range want {
		got, ok := m.System(id)
		if !ok || !equalSystem(got, w) {
			t.Errorf("System(%q) =\n %+v, want\n %+v", id, got, w)
		}
	}
	if _, ok := m.System("nope"); ok {
		t.Error("System(nope) found something")
	}
}

func equalSystem(a, b System) bool {
	return slices.Equal(a.Categories, b.Categories) && a.ID == b.ID && a.Description == b.Description &&
		a.Store == b.Store && a.Retention == b.Retention && a.Indefinite == b.Indefinite && a.Residence == b.Residence &&
		a.Region == b.Region && a.SeenAt == b.SeenAt && a.Note == b.Note && a.Line == b.Line
}

func TestSystems(t *testing.T) {
	m, err := Parse("map.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Systems([]string{"logs", "uploads", "logs"})
	if err != nil || len(got) != 2 || got[0].ID != "logs" || got[1].ID != "uploads" {
		t.Fatalf("Systems = %+v, %v", got, err)
	}
	_, err = m.Systems([]string{"uploads", "upload", "billing"})
	if err == nil || !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("unknown ids: err = %v", err)
	}
	for _, want := range []string{`"upload", "billing"`, "map.yaml", "uploads, accounts, support.mail, de_shop, ca_clinic, logs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestHeld(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	hour := System{Retention: time.Hour}
	for _, c := range []struct {
		sys    System
		seenAt time.Time
		want   bool
	}{
		{hour, at.Add(-90 * time.Minute), false}, // uploaded at 09:00, deleted by 10:00
		{hour, at.Add(-time.Hour), false},        // deleted at exactly 10:30
		{hour, at.Add(-59 * time.Minute), true},
		{hour, at, true},
		{hour, at.Add(time.Minute), false}, // written after the exposure
		{hour, time.Time{}, true},          // unknown: assume held
		{System{Indefinite: true}, at.Add(-10 * 365 * 24 * time.Hour), true},
	} {
		if got := c.sys.Held(c.seenAt, at); got != c.want {
			t.Errorf("%s retention, seen %v: Held = %v, want %v", c.sys.RetentionText(), c.seenAt, got, c.want)
		}
	}
}

// TestBadMaps checks that every mistake is reported with the file and the
// line to fix.
func TestBadMaps(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown top key", "company: X\nsistems: []\n", `bad.yaml:2: unknown key "sistems" in the data map (known: company, systems)`},
		{"unknown system key", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retension: 1h\n",
			`bad.yaml:5: unknown key "retension" in system a (known: id, description, store, categories, retention, residence, region, seen_at, note)`},
		{"unknown category", "company: X\nsystems:\n  - id: a\n    categories:\n      - email\n      - shoe_size\n    retention: 1h\n",
			`bad.yaml:6: system a: unknown data category "shoe_size" (known: name, email,`},
		{"bad retention", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: two weeks\n",
			`bad.yaml:5: system a: retention "two weeks" is not a duration: write a Go duration (90m, 24h), whole days (30d) or indefinite`},
		{"negative retention", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: -1h\n", `bad.yaml:5: system a: retention "-1h" must be positive`},
		{"zero days", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 0d\n", `bad.yaml:5: system a: retention "0d" must be positive`},
		{"forever in days", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 99999999999999999999d\n", `bad.yaml:5: system a: retention "99999999999999999999d" is too long`},
		{"duplicate id", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n  - id: a\n    categories: [email]\n    retention: 1h\n",
			`bad.yaml:6: system id "a" is already used at line 3`},
		{"missing retention", "company: X\nsystems:\n  - id: a\n    categories: [email]\n", `bad.yaml:3: system a: retention is required`},
		{"missing categories", "company: X\nsystems:\n  - id: a\n    retention: 1h\n", `bad.yaml:3: system a: categories is required`},
		{"empty categories", "company: X\nsystems:\n  - id: a\n    categories: []\n    retention: 1h\n", `bad.yaml:4: system a: categories must be a list`},
		{"twice", "company: X\nsystems:\n  - id: a\n    categories: [email, email]\n    retention: 1h\n", `bad.yaml:4: system a: category email is listed twice`},
		{"missing id", "company: X\nsystems:\n  - categories: [email]\n    retention: 1h\n", `bad.yaml:3: a system needs an id`},
		{"bad id", "company: X\nsystems:\n  - id: my system\n", `bad.yaml:3: system id "my system" must be letters, digits`},
		{"repeated key", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    retention: 2h\n", `bad.yaml:6: system a: retention is already given at line 5`},
		{"residence shape", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    residence: {column: country}\n",
			`bad.yaml:6: unknown key "column" in system a: residence (known: field, locale, fixed)`},
		{"residence both", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    residence: {fixed: DE, field: country}\n", `bad.yaml:6: system a: residence is fixed or read from columns, not both`},
		{"residence scalar", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    residence: country\n", `bad.yaml:6: system a: residence must be a mapping`},
		{"residence fixed EU", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    residence:\n      fixed: EU\n", `bad.yaml:7: system a: residence.fixed "EU" is not an ISO 3166-1 alpha-2 country code`},
		{"region fixed without fixed residence", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    region: {fixed: US-CA}\n", `bad.yaml:3: system a: a fixed region needs a fixed residence`},
		{"region of another country", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    residence: {fixed: DE}\n    region: {fixed: US-CA}\n", `bad.yaml:3: system a: region "US-CA" is not a subdivision of DE`},
		{"empty column", "company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n    seen_at: \"\"\n", `bad.yaml:6: system a: seen_at must name a column`},
		{"no company", "systems:\n  - id: a\n    categories: [email]\n    retention: 1h\n", `bad.yaml:1: company is required`},
		{"no systems", "company: X\n", `bad.yaml:1: systems is required`},
		{"systems not a list", "company: X\nsystems: {a: 1}\n", `bad.yaml:2: systems must be a list of at least one system`},
		{"syntax", "company: X\nsystems:\n  - id: a\n    retention: 1h: 2\n", `bad.yaml:4: mapping values are not allowed in this context`},
		{"empty", "", `bad.yaml: the data map is empty`},
		{"not a mapping", "- a\n- b\n", `bad.yaml:1: the data map must be a mapping`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant one containing %q", err, c.want)
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("kind = %s, want invalid", apperr.KindOf(err))
			}
		})
	}
}

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../../examples/datamaps/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		m, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, s := range m.All {
			if s.Description == "" {
				t.Errorf("%s:%d: system %s has no description", f, s.Line, s.ID)
			}
		}
	}
	// What the examples promise in their descriptions.
	for file, want := range map[string]map[string]string{
		"image-compression.yaml":    {"uploads": "1h"},
		"background-removal.yaml":   {"images": "1h", "logs": "720h"},
		"media-processing-api.yaml": {"media": "24h", "accounts": "indefinite"},
		"generic-api.yaml":          {"logs": "744h"},
		"video-analysis-api.yaml":   {"sessions": "24h"},
	} {
		m, err := Load(filepath.Join("../../examples/datamaps", file))
		if err != nil {
			t.Fatal(err)
		}
		for id, ret := range want {
			s, ok := m.System(id)
			got := "missing"
			if ok {
				got = s.Retention.String()
				if s.Indefinite {
					got = "indefinite"
				}
			}
			if !strings.HasPrefix(got, ret) {
				t.Errorf("%s: %s retention = %s, want %s", file, id, got, ret)
			}
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: 1h\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse("fuzz.yaml", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if m.Company == "" || len(m.All) == 0 {
			t.Fatalf("accepted a map without company or systems: %+v", m)
		}
		for _, s := range m.All {
			if s.ID == "" || len(s.Categories) == 0 || (s.Retention <= 0) == !s.Indefinite {
				t.Fatalf("accepted an incomplete system: %+v", s)
			}
		}
	})
}

// TestDocExample keeps the example in doc.go a map that parses.
func TestDocExample(t *testing.T) {
	raw, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var example []string
	in := false
	for _, l := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(l, "//\tcompany:"):
			in = true
		case in && !strings.HasPrefix(l, "//\t"):
			in = false
		}
		if in {
			example = append(example, strings.TrimPrefix(l, "//\t"))
		}
	}
	m, err := Parse("doc.go example", []byte(strings.Join(example, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.All) != 3 || m.All[0].Note == "" || m.All[0].Store == "" {
		t.Errorf("%+v", m)
	}
}
