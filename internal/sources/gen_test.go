package sources

import (
	"bufio"
	"context"
	"io"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachctl/breachctl/internal/testpg"
)

// The generator makes realistic affected people for benchmarks and tests:
// deterministic, any number of rows, written as CSV, JSONL or loaded into
// PostgreSQL. One row in badEvery has an invalid email address, so the
// rejection path is measured too.

type person struct {
	id, email, name, locale, country, region string
	cats                                     []string
	system                                   string
	seenAt                                   time.Time
}

type generator struct {
	rng      *mrand.Rand
	n        int
	badEvery int
}

func newGenerator(badEvery int) *generator {
	return &generator{rng: mrand.New(mrand.NewPCG(1, 2)), badEvery: badEvery}
}

var (
	firstNames = []string{"Ana", "Bruno", "Chloé", "Dmitri", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kaito", "Lena", "Mateo", "Noor", "Olga", "Priya"}
	lastNames  = []string{"Silva", "Müller", "Dubois", "Ivanov", "Yılmaz", "Adeyemi", "O'Brien", "Tanaka", "García", "Schmidt", "Kowalski", "Rossi", "Nguyen", "Khan"}
	domains    = []string{"example.com", "mail.example.org", "example.co.uk", "example.de", "examplemail.com.br"}
	// locale, country: an empty country is derived from the locale.
	places    = [][2]string{{"de-DE", "DE"}, {"fr-FR", "FR"}, {"pt-BR", "BR"}, {"en-US", "US"}, {"en-GB", "GB"}, {"es-ES", ""}, {"it-IT", ""}, {"en-CA", "CA"}, {"ja-JP", "JP"}, {"nl-NL", "NL"}}
	usStates  = []string{"CA", "NY", "TX", "WA", "MA", "IL"}
	catSets   = [][]string{{"email", "name"}, {"email"}, {"email", "name", "ip_address"}, {"media_content", "ip_address"}, nil}
	systemIDs = []string{"uploads", "accounts", "support"}
	epoch     = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
)

func (g *generator) next(p *person) {
	g.n++
	r := g.rng
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	place := places[r.IntN(len(places))]
	*p = person{
		id:      "u" + strconv.Itoa(g.n),
		name:    first + " " + last,
		email:   strings.ToLower(first[:1]) + "." + strconv.Itoa(g.n) + "@" + domains[r.IntN(len(domains))],
		locale:  place[0],
		country: place[1],
		cats:    catSets[r.IntN(len(catSets))],
		system:  systemIDs[r.IntN(len(systemIDs))],
		seenAt:  epoch.Add(time.Duration(r.IntN(30*24*3600)) * time.Second),
	}
	if p.country == "US" {
		p.region = usStates[r.IntN(len(usStates))]
	}
	if g.badEvery > 0 && g.n%g.badEvery == 0 {
		p.email = "not an address"
	}
}

const csvHeader = "id,email,name,locale,country,region,categories,system,seen_at\n"

// writeCSV writes n generated people as CSV, names quoted as a spreadsheet
// would (one name in 50 has a line break in it).
func writeCSV(w io.Writer, n, badEvery int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(csvHeader)
	g := newGenerator(badEvery)
	var p person
	var b []byte
	for range n {
		g.next(&p)
		b = append(b[:0], p.id...)
		b = append(b, ',')
		b = append(b, p.email...)
		b = append(b, ',', '"')
		b = append(b, p.name...)
		if g.n%50 == 0 {
			b = append(b, "\nc/o Example"...)
		}
		b = append(b, '"', ',')
		b = append(b, p.locale...)
		b = append(b, ',')
		b = append(b, p.country...)
		b = append(b, ',')
		b = append(b, p.region...)
		b = append(b, ',')
		b = append(b, strings.Join(p.cats, ";")...)
		b = append(b, ',')
		b = append(b, p.system...)
		b = append(b, ',')
		b = p.seenAt.AppendFormat(b, time.RFC3339)
		b = append(b, '\n')
		bw.Write(b)
	}
	return bw.Flush()
}

// writeJSONL writes n generated people as JSON Lines.
func writeJSONL(w io.Writer, n, badEvery int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	g := newGenerator(badEvery)
	var p person
	var b []byte
	for range n {
		g.next(&p)
		b = append(b[:0], `{"id":`...)
		b = strconv.AppendQuote(b, p.id)
		b = append(b, `,"email":`...)
		b = strconv.AppendQuote(b, p.email)
		b = append(b, `,"name":`...)
		b = strconv.AppendQuote(b, p.name)
		b = append(b, `,"locale":`...)
		b = strconv.AppendQuote(b, p.locale)
		b = append(b, `,"country":`...)
		b = strconv.AppendQuote(b, p.country)
		if p.region != "" {
			b = append(b, `,"region":`...)
			b = strconv.AppendQuote(b, p.region)
		}
		b = append(b, `,"categories":[`...)
		for i, c := range p.cats {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, c)
		}
		b = append(b, `],"system":`...)
		b = strconv.AppendQuote(b, p.system)
		b = append(b, `,"seen_at":"`...)
		b = p.seenAt.AppendFormat(b, time.RFC3339)
		b = append(b, "\"}\n"...)
		bw.Write(b)
	}
	return bw.Flush()
}

const peopleTable = `CREATE TABLE people (
	id text, email text, name text, locale text, country char(2), region text,
	categories text[], system text, seen_at timestamptz)`

// loadPeople creates the people table and copies n generated people into it.
func loadPeople(ctx context.Context, pool *pgxpool.Pool, n, badEvery int) error {
	if _, err := pool.Exec(ctx, peopleTable); err != nil {
		return err
	}
	g := newGenerator(badEvery)
	var p person
	i := 0
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"people"},
		[]string{"id", "email", "name", "locale", "country", "region", "categories", "system", "seen_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			g.next(&p)
			return []any{p.id, p.email, p.name, p.locale, nullable(p.country), nullable(p.region), p.cats, p.system, p.seenAt}, nil
		}))
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "ANALYZE people")
	return err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// testDB is a pool on a throwaway database, dropped when the test ends.
func testDB(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), testpg.DB(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func TestGeneratorRoundTrip(t *testing.T) {
	var csvBuf, jsonBuf strings.Builder
	if err := writeCSV(&csvBuf, 1000, 100); err != nil {
		t.Fatal(err)
	}
	if err := writeJSONL(&jsonBuf, 1000, 100); err != nil {
		t.Fatal(err)
	}
	f := Fields{CountryFromLocale: true}
	for _, src := range []Source{CSV("gen.csv", strings.NewReader(csvBuf.String()), f), JSONL("gen.jsonl", strings.NewReader(jsonBuf.String()), f)} {
		got, rej := readAll(t, src)
		if len(got) != 990 || len(rej) != 10 {
			t.Fatalf("%s: %d records, %d rejections; want 990 and 10", src.Name(), len(got), len(rej))
		}
		for _, r := range rej {
			if r.Reason != "invalid email address" {
				t.Errorf("%s: %+v", src.Name(), r)
			}
		}
		if got[0].Person.ID != "u1" || got[0].SeenAt.IsZero() || got[0].System == "" {
			t.Errorf("%s: first record %+v", src.Name(), got[0])
		}
	}
	// Rows must be line numbers, counting the names with a line break (one
	// in 50): record k starts at line 1 + k + those among records 1..k-1.
	csvRows, csvRej := readAll(t, CSV("gen.csv", strings.NewReader(csvBuf.String()), f))
	if last := csvRows[len(csvRows)-1]; last.Person.ID != "u999" || last.Row != 1+999+19 {
		t.Errorf("last record %s at line %d, want u999 at %d", last.Person.ID, last.Row, 1+999+19)
	}
	if last := csvRej[len(csvRej)-1]; last.Row != 1+1000+19 {
		t.Errorf("last rejection at line %d, want %d", last.Row, 1+1000+19)
	}
}
