package sources

import (
	"context"
	"errors"
	"io"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/datamap"
)

func readAll(t *testing.T, src Source) ([]Record, []Rejection) {
	t.Helper()
	var recs []Record
	var rejs []Rejection
	err := src.Read(context.Background(), func(r Record) error {
		recs = append(recs, r)
		return nil
	}, func(r Rejection) { rejs = append(rejs, r) })
	if err != nil {
		t.Fatalf("%s: Read: %v", src.Name(), err)
	}
	return recs, rejs
}

// outcome is one row's fate, for comparing whole runs in one table.
type outcome struct {
	Row    int
	ID     string // a record's person
	Reason string // a rejection's reason
}

func outcomes(recs []Record, rejs []Rejection) []outcome {
	var out []outcome
	for _, r := range recs {
		out = append(out, outcome{Row: r.Row, ID: r.Person.ID})
	}
	for _, r := range rejs {
		out = append(out, outcome{Row: r.Row, Reason: r.Reason})
	}
	slices.SortFunc(out, func(a, b outcome) int { return a.Row - b.Row })
	return out
}

func diffOutcomes(t *testing.T, got, want []outcome) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w outcome
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}
}

// The people in the test files: every email and name here must never show
// in a rejection.
var personalData = []string{"ana@", "bob@", "not-an-email", "Carl", "dora@", "Finn", "Gil", "Hal", "Kim", "John Smith", "ida@", "JOHN SMITH"}

func checkNoPersonalData(t *testing.T, rejs []Rejection) {
	t.Helper()
	for _, r := range rejs {
		for _, pd := range personalData {
			if strings.Contains(r.Reason, pd) {
				t.Errorf("row %d: the reason %q repeats personal data %q", r.Row, r.Reason, pd)
			}
		}
	}
}

const mixedCSV = `id,email,name,locale,country,region,categories,system,seen_at
u1,ana@example.com,Ana,pt-BR,br,,email;Name,uploads,2026-03-01T09:00:00Z
,bob@example.com,Bob,,DE,,,,
u3,not-an-email,Carl,,DE,,,,
u4,dora@example.com,Dora,,XX,,,,
u5,eve@example.com,Eve,,DE
u6,finn@example.com,Finn,en-,DE,,,,
u7,gil@example.com,"Gil
Two Lines
Three",de-AT,,,email|name,accounts,
u8,hal@example.com,Hal,,DE,,,,yesterday
u9,ida@example.com,Ida,,DE,,email;shoe_size,,
u10,jo@example.com,Jo,fr,,,,,
u11,kim@example.com,"Kim ""K"" Lee",,US,us-ca,email|name,,2026-03-02T10:00:00+01:00
u12,,Lee,,,,,,
u13,max@example.com,Max,,John Smith,,,,
u14,nia@example.com,Nia,,US,CALIFORNIA,,,
u15,o"x@example.com,Oli,,DE,,,,
u16,"Pat" <pat@example.com>,Pat,,DE,,,,
u17,quinn@example.com,Quinn,,DE,,,,
u18,ray@example.com,Ray,!!,DE,,,,
u19,sam@example.com,Sam,,EU,,,,
u20,tom@example.com,Tom,zz-ZZ-x,,,,,
u21,"Una@Example.com ",Una,,de,,,,
`

func TestCSVMixed(t *testing.T) {
	recs, rejs := readAll(t, CSV("people.csv", strings.NewReader(mixedCSV), Fields{CountryFromLocale: true}))
	diffOutcomes(t, outcomes(recs, rejs), []outcome{
		{Row: 2, ID: "u1"},
		{Row: 3, Reason: "missing id"},
		{Row: 4, Reason: "invalid email address"},
		{Row: 5, Reason: `unknown country code "XX"`},
		{Row: 6, Reason: "wrong number of columns: 5, want 9"},
		{Row: 7, Reason: `locale "en-" is not a BCP 47 language tag`},
		{Row: 8, ID: "u7"}, // three lines: the next record starts at 11
		{Row: 11, Reason: "seen_at is not an RFC 3339 time such as 2026-03-01T09:00:00Z"},
		{Row: 12, Reason: `unknown data category "shoe_size"`},
		{Row: 13, Reason: "missing country (the locale names no country)"},
		{Row: 14, ID: "u11"},
		{Row: 15, Reason: "missing country"},
		{Row: 16, Reason: "unknown country code (value not shown)"},
		{Row: 17, Reason: "region (value not shown) is not an ISO 3166-2 subdivision code"},
		{Row: 18, Reason: `malformed CSV: bare " in non-quoted-field`},
		{Row: 19, Reason: `malformed CSV: extraneous or missing " in quoted-field`},
		{Row: 20, ID: "u17"},
		{Row: 21, Reason: "locale (value not shown) is not a BCP 47 language tag"},
		{Row: 22, Reason: `unknown country code "EU"`},
		{Row: 23, Reason: "missing country (the locale is not a BCP 47 language tag)"},
		{Row: 24, ID: "u21"},
	})
	checkNoPersonalData(t, rejs)

	byID := map[string]Record{}
	for _, r := range recs {
		byID[r.Person.ID] = r
		if r.Source != "people.csv" {
			t.Errorf("%s: source %q", r.Person.ID, r.Source)
		}
	}
	u1 := byID["u1"]
	if u1.Person.Country != "BR" || !slices.Equal(u1.Person.Categories, []string{"email", "name"}) || u1.System != "uploads" ||
		!u1.SeenAt.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) || u1.Person.Locale != "pt-BR" {
		t.Errorf("u1: %+v", u1)
	}
	u7 := byID["u7"]
	if u7.Person.Country != "AT" || u7.Person.Name != "Gil\nTwo Lines\nThree" || u7.System != "accounts" || !u7.SeenAt.IsZero() {
		t.Errorf("u7 (country from the locale, a three-line name): %+v", u7)
	}
	u11 := byID["u11"]
	if u11.Person.Jurisdiction() != "US-CA" || u11.Person.Name != `Kim "K" Lee` || !u11.SeenAt.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("u11: %+v", u11)
	}
	if u21 := byID["u21"]; u21.Person.Email != "Una@Example.com" || u21.Person.Country != "DE" || u21.Person.Key() != "id:u21" {
		t.Errorf("u21 (trimmed, case kept): %+v", u21)
	}
}

func TestCSVHeader(t *testing.T) {
	// Other columns are ignored, names match without regard to case or
	// space, a byte-order mark is dropped, and Fields renames columns.
	in := "\ufeffUser ID , E-Mail,Shoe size,LAND\nu1,a@example.com,42,de\n"
	recs, rejs := readAll(t, CSV("x.csv", strings.NewReader(in), Fields{ID: "user id", Email: "e-mail", Country: "land"}))
	if len(recs) != 1 || len(rejs) != 0 || recs[0].Person.Email != "a@example.com" || recs[0].Person.Country != "DE" || recs[0].Row != 2 {
		t.Fatalf("%+v %+v", recs, rejs)
	}

	for _, c := range []struct {
		name, in string
		f        Fields
		want     string
	}{
		{"no id column", "email,country\na@example.com,DE\n", Fields{}, "x.csv:1: the header has no id column"},
		{"a header-less file", "u1,ana@example.com,DE\n", Fields{}, "x.csv:1: the header has no id column"},
		{"no country", "id,email\nu1,a@example.com\n", Fields{}, "x.csv:1: the header lacks the country column: no row could say where the person lives"},
		{"no country nor locale", "id,email\nu1,a@example.com\n", Fields{CountryFromLocale: true}, "the header lacks the country column, nor the locale column to derive the country from"},
		{"twice", "id,email,ID,country\n", Fields{}, "x.csv:1: the header names the id column twice (columns 1 and 3)"},
		{"empty", "", Fields{}, "x.csv: the file is empty"},
		{"broken header", "id,\"country\n", Fields{}, "x.csv: "},
		{"header after blank lines", "\n\nid\n", Fields{}, "x.csv:3: the header lacks the country column"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CSV("x.csv", strings.NewReader(c.in), c.f).Read(context.Background(), func(Record) error { return nil }, func(Rejection) {})
			if err == nil || !strings.Contains(err.Error(), c.want) || !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("err = %v, want an invalid-input error saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "ana@") {
				t.Errorf("the error repeats a person's data: %v", err)
			}
		})
	}
	// A fixed country needs no country column; a locale column does when
	// the country is derived from it.
	recs, _ = readAll(t, CSV("x.csv", strings.NewReader("id\nu1\n"), Fields{FixedCountry: "DE", FixedSystem: "crm"}))
	if len(recs) != 1 || recs[0].Person.Country != "DE" || recs[0].System != "crm" {
		t.Fatalf("%+v", recs)
	}
	recs, _ = readAll(t, CSV("x.csv", strings.NewReader("id,lang\nu1,pt-BR\n"), Fields{Locale: "lang", Country: NoColumn, CountryFromLocale: true}))
	if len(recs) != 1 || recs[0].Person.Country != "BR" {
		t.Fatalf("%+v", recs)
	}
}

func TestCSVStops(t *testing.T) {
	in := csvHeader + "u1,a@example.com,A,,DE,,,,\nu2,b@example.com,B,,DE,,,,\n"
	// An emit error stops the read and comes back as is.
	stop := errors.New("store full")
	n := 0
	err := CSV("x.csv", strings.NewReader(in), Fields{}).Read(context.Background(), func(Record) error { n++; return stop }, func(Rejection) {})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v after %d records", err, n)
	}
	// A cancelled context stops it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = CSV("x.csv", strings.NewReader(in), Fields{}).Read(ctx, func(Record) error { return nil }, func(Rejection) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
	// An I/O error stops it, after the rows read before it.
	broken := io.MultiReader(strings.NewReader(in), iotest.ErrReader(errors.New("disk on fire")))
	n = 0
	err = CSV("x.csv", broken, Fields{}).Read(context.Background(), func(Record) error { n++; return nil }, func(Rejection) {})
	if err == nil || !strings.Contains(err.Error(), "x.csv: disk on fire") || n != 2 {
		t.Fatalf("I/O error: err = %v after %d records", err, n)
	}
}

const mixedJSONL = `{"id":"u1","email":"ana@example.com","name":"Ana","country":"BR","categories":["email","name"],"system":"uploads","seen_at":"2026-03-01T09:00:00Z"}
{"id":"u2", this is not json
   
[1,2]
{"id":42,"email":"bob@example.com","locale":"de-DE","extra":{"nested":[1,{"x":"}"}],"n":-1.5e3,"t":true}}
{"id":"u6","email":{"a":1},"country":"DE"}
{"id":"u7","email":"not-an-email","country":"DE"}
{"id":"u\u00e9","name":"Z\"oe","country":"DE","categories":"email|name","region":null}
{"id":"u9","country":"DE","categories":[1]}
{"id":null,"country":"DE"}
{"id":"u11","country":"John Smith"}
{"id":"u12","country":"DE","name":true}
{"id":"u13","country":"DE","seen_at":"2026-03-01"}
"just a string"
{}
  {"id":"u16" , "country" : "us" , "region" : "US-NY" , "categories" : [ "email" , "name" ] }  
{"id":"u17","locale":"fr","email":"kim@example.com"}
{"id":"u18","country":"DE"}`

func TestJSONLMixed(t *testing.T) {
	recs, rejs := readAll(t, JSONL("people.jsonl", strings.NewReader(mixedJSONL), Fields{CountryFromLocale: true}))
	diffOutcomes(t, outcomes(recs, rejs), []outcome{
		{Row: 1, ID: "u1"},
		{Row: 2, Reason: "line 2 is not valid JSON"},
		{Row: 4, Reason: "line 4 is not a JSON object"},
		{Row: 5, ID: "42"},
		{Row: 6, Reason: "line 6 has email as an object; want a string"},
		{Row: 7, Reason: "invalid email address"},
		{Row: 8, ID: "ué"},
		{Row: 9, Reason: "line 9 has categories with an item that is not a string"},
		{Row: 10, Reason: "missing id"},
		{Row: 11, Reason: "unknown country code (value not shown)"},
		{Row: 12, Reason: "line 12 has name as a boolean; want a string"},
		{Row: 13, Reason: "seen_at is not an RFC 3339 time such as 2026-03-01T09:00:00Z"},
		{Row: 14, Reason: "line 14 is not a JSON object"},
		{Row: 15, Reason: "missing id"},
		{Row: 16, ID: "u16"},
		{Row: 17, Reason: "missing country (the locale names no country)"},
		{Row: 18, ID: "u18"}, // no newline at the end
	})
	checkNoPersonalData(t, rejs)
	byID := map[string]Record{}
	for _, r := range recs {
		byID[r.Person.ID] = r
	}
	if r := byID["u1"]; !slices.Equal(r.Person.Categories, []string{"email", "name"}) || r.System != "uploads" || r.SeenAt.IsZero() {
		t.Errorf("u1: %+v", r)
	}
	if r := byID["42"]; r.Person.Country != "DE" || r.Person.Email != "bob@example.com" {
		t.Errorf("42 (a numeric id, country from the locale): %+v", r)
	}
	if r := byID["ué"]; r.Person.Name != `Z"oe` || !slices.Equal(r.Person.Categories, []string{"email", "name"}) || r.Person.Region != "" {
		t.Errorf("ué (escapes, categories as a string): %+v", r)
	}
	if r := byID["u16"]; r.Person.Jurisdiction() != "US-NY" || len(r.Person.Categories) != 2 {
		t.Errorf("u16 (spaces everywhere): %+v", r)
	}
}

func TestJSONLLongLine(t *testing.T) {
	long := `{"id":"u2","country":"DE","name":"` + strings.Repeat("x", maxLine) + `"}`
	mid := `{"id":"u3","country":"DE","name":"` + strings.Repeat("y", 200_000) + `"}` // longer than the buffer, shorter than the limit
	in := `{"id":"u1","country":"DE"}` + "\n" + long + "\n" + mid + "\n" + `{"id":"u4","country":"DE"}` + "\n"
	recs, rejs := readAll(t, JSONL("x.jsonl", iotest.HalfReader(strings.NewReader(in)), Fields{}))
	diffOutcomes(t, outcomes(recs, rejs), []outcome{
		{Row: 1, ID: "u1"},
		{Row: 2, Reason: "line 2 is longer than 1048576 bytes"},
		{Row: 3, ID: "u3"},
		{Row: 4, ID: "u4"},
	})
	if len(recs) == 3 && len(recs[1].Person.Name) != 200_000 {
		t.Errorf("the long name has %d bytes", len(recs[1].Person.Name))
	}
}

func TestFieldsFor(t *testing.T) {
	m, err := datamap.Parse("m.yaml", []byte(`company: X
systems:
  - id: a
    categories: [email]
    retention: 1h
    residence: {field: account_country, locale: lang}
    region: {field: state}
    seen_at: uploaded_at
  - id: b
    categories: [email]
    retention: 1h
    residence: {locale: lang}
  - id: c
    categories: [email]
    retention: 1h
    residence: {fixed: US}
    region: {fixed: US-CA}
  - id: d
    categories: [email]
    retention: 1h
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Fields{
		"a": {Country: "account_country", Locale: "lang", CountryFromLocale: true, Region: "state", SeenAt: "uploaded_at"},
		"b": {Country: NoColumn, Locale: "lang", CountryFromLocale: true},
		"c": {Country: NoColumn, FixedCountry: "US", Region: NoColumn, FixedRegion: "CA"},
		"d": {Country: "country"},
	}
	for id, w := range want {
		s, _ := m.System(id)
		if got := FieldsFor(s); got != w {
			t.Errorf("FieldsFor(%s) = %+v, want %+v", id, got, w)
		}
	}
	// The fields read an export as the map describes it.
	s, _ := m.System("a")
	in := "id,account_country,lang,state,uploaded_at,country\nu1,,en-US,US-TX,2026-03-01T00:00:00Z,FR\nu2,BR,pt-PT,,,\n"
	recs, rejs := readAll(t, CSV("a.csv", strings.NewReader(in), FieldsFor(s)))
	if len(rejs) != 0 || recs[0].Person.Jurisdiction() != "US-TX" || recs[0].SeenAt.IsZero() || recs[1].Person.Country != "BR" {
		t.Fatalf("%+v %+v", recs, rejs)
	}
	s, _ = m.System("c")
	recs, _ = readAll(t, CSV("c.csv", strings.NewReader("id,country,region\nu1,FR,NY\n"), FieldsFor(s)))
	if recs[0].Person.Jurisdiction() != "US-CA" {
		t.Fatalf("fixed residence: %+v", recs[0].Person)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`unknown country code "XX"`:                   `unknown country code "XX"`,
		`unknown country code "JOHN SMITH"`:           `unknown country code (value not shown)`,
		`unknown country code "ANNA"`:                 `unknown country code (value not shown)`,
		`locale "zh-Hant-TW" is not a BCP 47 tag`:     `locale "zh-Hant-TW" is not a BCP 47 tag`,
		`locale "a@b.c" is not a BCP 47 tag`:          `locale (value not shown) is not a BCP 47 tag`,
		`unknown data category "shoe_size"`:           `unknown data category "shoe_size"`,
		`unknown data category "ana@example.com"`:     `unknown data category (value not shown)`,
		`region "CALIFORNIA" is not an ISO 3166-2...`: `region (value not shown) is not an ISO 3166-2...`,
		"missing id":    "missing id",
		`broken "quote`: `broken (value not shown)`,
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlainAddress(t *testing.T) {
	for s, want := range map[string]bool{
		"ana@example.com": true, "first.last+tag@mail.example.co.uk": true, "o'brien@example.ie": true,
		"a@b": true, "x_y-z@1.2.3.4": true, "{weird}~!#$%&*/=?^`|@example.com": true,
		"": false, "@example.com": false, "ana@": false, "ana": false, "a@@b": false, "a@b@c": false,
		".a@b": false, "a.@b": false, "a..b@c": false, "a@.b": false, "a@b.": false, "a@b..c": false,
		"a b@c": false, "Ana <a@b>": false, `"a"@b`: false, "a@[1.2.3.4]": false, "jörg@example.de": false,
		"a@b,c": false, "a(comment)@b": false,
	} {
		if got := plainAddress(s); got != want {
			t.Errorf("plainAddress(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzPlainAddress checks the fast email check never accepts what
// Person.Validate's net/mail check would refuse: it may only save time.
func FuzzPlainAddress(f *testing.F) {
	for _, s := range []string{"ana@example.com", "a.b@c", "a..b@c", "<a@b>", "a@b ", "a@b(c)", "\"a\"@b", "a@[b]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !plainAddress(s) {
			return
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Address != s || !strings.Contains(a.Address, "@") {
			t.Fatalf("plainAddress(%q) but net/mail says %v, %v", s, a, err)
		}
	})
}

// A time that does not parse is named by its column, as the data map
// calls it, not by the field it fills.
func TestBadTimeNamesItsColumn(t *testing.T) {
	_, rejs := readAll(t, CSV("people.csv", strings.NewReader("id,email,country,uploaded_at\n1,a@example.com,DE,yesterday\n"), Fields{SeenAt: "uploaded_at"}))
	if len(rejs) != 1 || rejs[0].Reason != "uploaded_at is not an RFC 3339 time such as 2026-03-01T09:00:00Z" {
		t.Fatalf("rejections %+v", rejs)
	}
}
