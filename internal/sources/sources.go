package sources

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/datamap"
	"github.com/breachctl/breachctl/internal/subjects"
)

// Record is one affected person as a source read them.
type Record struct {
	Source string // the source's name (file name, "postgres")
	// Row is where the person is, as a person would count: the line in a
	// CSV file where the record starts (the header is line 1), the line in
	// a JSONL file, the row number in a PostgreSQL result.
	Row    int
	System string          // the system the row comes from; "" if the source does not say
	Person subjects.Person // normalized and valid
	SeenAt time.Time       // when the data about the person was written; zero if unknown
}

// Rejection is a row a source could not use. Reason never repeats the row's
// personal data: it names what is wrong ("invalid email address") and
// quotes a value only when it is a short code ("unknown country code
// \"XX\"").
type Rejection struct {
	Source string
	Row    int
	Reason string
}

// Source streams the affected people out of one export or query.
type Source interface {
	Name() string
	// Read streams every good record to emit and every bad row to reject, in
	// order; a bad row never stops the others. It returns early only on ctx
	// cancellation, an emit error (returned as is), or an unreadable input
	// (an I/O error, a CSV whose header lacks the id column...).
	Read(ctx context.Context, emit func(Record) error, reject func(Rejection)) error
}

// NoColumn as a Fields name says the source has no such column.
const NoColumn = "-"

// Fields names the columns (CSV header names, JSON keys, PostgreSQL result
// columns) a source reads. An empty name means the default: id, email,
// name, locale, country, region, categories, system, seen_at. Only the id
// column is required; an absent column reads as empty.
type Fields struct {
	ID, Email, Name, Locale, Country, Region, Categories, System, SeenAt string
	// CountryFromLocale derives the country from the locale's region (de-DE
	// → DE) where the country column is empty.
	CountryFromLocale bool
	// FixedCountry, FixedRegion and FixedSystem, when set, are every row's
	// country, region (the part after the dash: CA for US-CA) and system,
	// and the matching columns are not read.
	FixedCountry, FixedRegion, FixedSystem string
}

// FieldsFor is how to read the people of one system of a data map: its
// residence, region and seen_at columns. It leaves the system column alone:
// set FixedSystem to sys.ID when a file is that one system's export (a
// PostgreSQL query over several systems names each row's in its system
// column).
func FieldsFor(sys datamap.System) Fields {
	f := Fields{SeenAt: sys.SeenAt}
	r := sys.Residence
	switch {
	case r.Fixed != "":
		f.Country, f.FixedCountry = NoColumn, r.Fixed
	case r.Field != "":
		f.Country = r.Field
	default: // the locale alone
		f.Country = NoColumn
	}
	if r.Locale != "" && r.Fixed == "" {
		f.Locale, f.CountryFromLocale = r.Locale, true
	}
	f.Region = sys.Region.Field
	if sys.Region.Fixed != "" {
		f.Region, f.FixedRegion = NoColumn, sys.Region.Fixed
	}
	return f
}

// WindowArgs are the arguments of a query that follows the Postgres
// contract: $1 the start of the exposure window, $2 its end, $3 the system
// ids.
func WindowArgs(from, until time.Time, systems []string) []any {
	return []any{from, until, systems}
}

// Column indexes in a row; the order of slot names below.
const (
	colID = iota
	colEmail
	colName
	colLocale
	colCountry
	colRegion
	colCategories
	colSystem
	colSeenAt
	numCols
)

var defaultNames = [numCols]string{"id", "email", "name", "locale", "country", "region", "categories", "system", "seen_at"}

// names lists the column name of each slot, with defaults applied and
// fixed values taking their column's place ("" for none).
func (f Fields) names() [numCols]string {
	n := [numCols]string{f.ID, f.Email, f.Name, f.Locale, f.Country, f.Region, f.Categories, f.System, f.SeenAt}
	for i := range n {
		n[i] = strings.TrimSpace(n[i])
		switch n[i] {
		case "":
			n[i] = defaultNames[i]
		case NoColumn:
			n[i] = ""
		}
	}
	if f.FixedCountry != "" {
		n[colCountry] = ""
	}
	if f.FixedRegion != "" {
		n[colRegion] = ""
	}
	if f.FixedSystem != "" {
		n[colSystem] = ""
	}
	return n
}

// row is one input row, as strings; a list or a time where the source has
// typed values (JSON arrays, PostgreSQL text[] and timestamptz).
type row struct {
	v       [numCols]string
	cats    []string // the categories as a list; nil to split v[colCategories]
	catList bool
	seenAt  time.Time
	seenSet bool
}

func (r *row) reset() { *r = row{cats: r.cats[:0]} }

// builder turns rows into people, with the caches that keep it fast.
type builder struct {
	f       Fields
	source  string
	locales map[string]localeInfo
	split   []string // reused: Normalize copies the categories
	// badSeenAt is the reason for a time that does not parse, naming the
	// column as the data map does (uploaded_at), not the field (seen_at).
	badSeenAt string
}

type localeInfo struct {
	valid   bool   // Person.Validate accepts it
	country string // the country it names, if any
}

// maxCachedLocales bounds the locale cache so memory stays flat on a file
// of garbage locales (a real file has a few dozen).
const maxCachedLocales = 1024

func newBuilder(source string, f Fields) *builder {
	return &builder{f: f, source: source, locales: map[string]localeInfo{},
		badSeenAt: f.names()[colSeenAt] + " is not an RFC 3339 time such as 2026-03-01T09:00:00Z"}
}

func (b *builder) locale(l string) localeInfo {
	if li, ok := b.locales[l]; ok {
		return li
	}
	var li localeInfo
	// Person.Validate is the authority on locales: ask it.
	li.valid = subjects.Person{ID: "probe", Country: "DE", Locale: l}.Validate() == nil
	if li.valid {
		li.country, _ = subjects.CountryFromLocale(l)
	}
	if len(b.locales) < maxCachedLocales && len(l) <= 64 {
		b.locales[strings.Clone(l)] = li // not a slice that would pin its whole line
	}
	return li
}

// build makes a record of r, or says why it cannot.
func (b *builder) build(r *row, line int) (Record, string) {
	f := &b.f
	p := subjects.Person{
		ID:      r.v[colID],
		Email:   r.v[colEmail],
		Name:    r.v[colName],
		Locale:  strings.TrimSpace(r.v[colLocale]),
		Country: r.v[colCountry],
		Region:  r.v[colRegion],
	}
	if f.FixedCountry != "" {
		p.Country = f.FixedCountry
	}
	if f.FixedRegion != "" {
		p.Region = f.FixedRegion
	}
	var whyNoCountry string // why the locale gave no country, for the reason
	if f.CountryFromLocale && p.Locale != "" && strings.TrimSpace(p.Country) == "" {
		switch li := b.locale(p.Locale); {
		case li.country != "":
			p.Country = li.country
		case li.valid:
			whyNoCountry = "missing country (the locale names no country)"
		default:
			whyNoCountry = "missing country (the locale is not a BCP 47 language tag)"
		}
	}
	if r.catList {
		p.Categories = r.cats
	} else if c := r.v[colCategories]; c != "" {
		b.split = splitCategories(b.split[:0], c)
		p.Categories = b.split
	}
	p = p.Normalize()

	// Person.Validate decides; two checks it would repeat slowly are done
	// here first, and the fields they cleared are left out of its copy.
	q := p
	if plainAddress(q.Email) {
		q.Email = "" // net/mail accepts it unchanged; skip the slow parse
	}
	if q.Locale != "" && b.locale(q.Locale).valid {
		q.Locale = ""
	}
	if err := q.Validate(); err != nil {
		msg := err.Error()
		if msg == "missing country" && whyNoCountry != "" {
			msg = whyNoCountry
		}
		return Record{}, redact(msg)
	}

	rec := Record{Source: b.source, Row: line, System: f.FixedSystem, Person: p}
	if rec.System == "" {
		rec.System = strings.TrimSpace(r.v[colSystem])
	}
	switch {
	case r.seenSet:
		rec.SeenAt = r.seenAt
	case r.v[colSeenAt] != "":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(r.v[colSeenAt]))
		if err != nil {
			return Record{}, b.badSeenAt
		}
		rec.SeenAt = t
	}
	return rec, ""
}

// splitCategories splits "email;name" or "email|name" into dst.
func splitCategories(dst []string, s string) []string {
	for {
		i := strings.IndexAny(s, ";|")
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+1:]
	}
}

// redact keeps a value quoted in a reason only when it looks like the code
// the field should hold; anything else (a name or an address in the wrong
// column) is replaced, so rejection reports never carry personal data.
func redact(msg string) string {
	i := strings.IndexByte(msg, '"')
	if i < 0 {
		return msg
	}
	quoted, err := strconv.QuotedPrefix(msg[i:])
	if err != nil {
		return msg[:i] + "(value not shown)"
	}
	value, _ := strconv.Unquote(quoted)
	limit := 20
	switch {
	case strings.HasPrefix(msg, "unknown country code"):
		limit = 3
	case strings.HasPrefix(msg, "region"):
		limit = 3
	case strings.HasPrefix(msg, "locale"):
		limit = 35 // BCP 47 tags with script, region and variant
	case strings.HasPrefix(msg, "unknown data category"):
		limit = 32
	}
	if isCode(value, limit) {
		return msg
	}
	return msg[:i] + "(value not shown)" + msg[i+len(quoted):]
}

func isCode(s string, limit int) bool {
	if s == "" || len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// atext are the characters of an RFC 5322 atom that are plain ASCII.
var atext = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-/=?^_`{|}~" {
		t[c] = true
	}
	return t
}()

// plainAddress reports whether s is local@domain with both parts dot-atoms
// of ASCII atom characters (no leading, trailing or double dot): the shape
// of nearly every real address, and one net/mail.ParseAddress accepts with
// Address == s (FuzzPlainAddress checks that). Anything else goes to the
// slow, exact check in Person.Validate, so this only saves time; it never
// changes what is valid.
func plainAddress(s string) bool {
	at := -1
	boundary := true // at the start of an atom: a dot or @ here is wrong
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case atext[c]:
			boundary = false
		case c == '.' && !boundary:
			boundary = true
		case c == '@' && !boundary && at < 0:
			at, boundary = i, true
		default:
			return false
		}
	}
	return at > 0 && !boundary
}
