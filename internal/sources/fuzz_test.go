package sources

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/subjects"
)

// collect reads a source and checks the contract every run must keep: rows
// strictly increasing, each row once, either emitted or rejected, with a
// reason.
func collect(t *testing.T, src Source) ([]outcome, error) {
	t.Helper()
	var out []outcome
	last := 0
	note := func(o outcome) {
		if o.Row <= last {
			t.Fatalf("row %d after row %d: rows must be reported once each, in order", o.Row, last)
		}
		last = o.Row
		out = append(out, o)
	}
	err := src.Read(context.Background(), func(r Record) error {
		if r.Person.ID == "" || r.Person.Country == "" {
			t.Fatalf("emitted an invalid person at row %d: %+v", r.Row, r.Person)
		}
		if err := r.Person.Validate(); err != nil {
			t.Fatalf("emitted a person Validate refuses at row %d: %v", r.Row, err)
		}
		note(outcome{Row: r.Row, ID: r.Person.ID})
		return nil
	}, func(r Rejection) {
		if r.Reason == "" {
			t.Fatalf("rejected row %d without a reason", r.Row)
		}
		note(outcome{Row: r.Row, Reason: r.Reason})
	})
	return out, err
}

// FuzzCSVRow puts one record of any fields (written as a spreadsheet would,
// quoted where needed, line breaks and all) between two good rows: it must be
// emitted or rejected exactly once, at its line, and the rows around it
// must be unharmed.
func FuzzCSVRow(f *testing.F) {
	f.Add("u1", "ana@example.com", "Ana", "pt-BR", "BR", "", "email;name", "uploads", "2026-03-01T09:00:00Z", 0)
	f.Add("", "x", "Multi\nline\r\nname", "!!", "XX", "CALIFORNIA", "shoe_size|", "", "yesterday", 2)
	f.Add("u\"1", "a@b", "\"quoted\"", "de-DE", "", "us-ca", ";;", "s", "2026-03-01T09:00:00+01:00", -3)
	f.Add(" u1 ", " a.b+c@example.co.uk ", "", "en-US", " us ", " ny ", "EMAIL", "x", "", 1)
	f.Fuzz(func(t *testing.T, id, email, name, locale, country, region, cats, system, seenAt string, extra int) {
		rec := []string{id, email, name, locale, country, region, cats, system, seenAt}
		// A few more or fewer columns than the header, too.
		switch {
		case extra > 0:
			rec = append(rec, make([]string, extra%4)...)
		case extra < 0:
			rec = rec[:len(rec)-(-extra)%4]
		}
		var row bytes.Buffer
		w := csv.NewWriter(&row)
		_ = w.Write(rec)
		w.Flush()
		in := csvHeader + "g1,g1@example.com,Good,,DE,,,,\n" + row.String() + "g2,g2@example.com,Good,,DE,,,,\n"
		got, err := collect(t, CSV("fuzz.csv", strings.NewReader(in), Fields{CountryFromLocale: true}))
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		next := 3 + strings.Count(row.String(), "\n")
		if len(got) != 3 || got[0] != (outcome{Row: 2, ID: "g1"}) || got[1].Row != 3 || got[2] != (outcome{Row: next, ID: "g2"}) {
			t.Fatalf("outcomes %+v, want g1 at 2, the fuzzed row at 3, g2 at %d\ninput: %q", got, next, in)
		}
		if got[1].ID != "" && got[1].ID != strings.TrimSpace(id) {
			t.Fatalf("the fuzzed row came out as %q, from id %q", got[1].ID, id)
		}
		if len(rec) != 9 {
			return
		}
		// The verdict must be Person.Validate's, fast paths or not.
		crlf := strings.NewReplacer("\r\n", "\n") // encoding/csv drops \r before \n
		p := subjects.Person{ID: crlf.Replace(id), Email: crlf.Replace(email), Name: crlf.Replace(name),
			Locale: strings.TrimSpace(crlf.Replace(locale)), Country: crlf.Replace(country), Region: crlf.Replace(region),
			Categories: strings.FieldsFunc(crlf.Replace(cats), func(r rune) bool { return r == ';' || r == '|' })}
		if strings.TrimSpace(p.Country) == "" && p.Locale != "" {
			if c, ok := subjects.CountryFromLocale(p.Locale); ok {
				p.Country = c
			}
		}
		verr := p.Normalize().Validate()
		_, terr := time.Parse(time.RFC3339, strings.TrimSpace(crlf.Replace(seenAt)))
		timeOK := strings.TrimSpace(seenAt) == "" || terr == nil
		if emitted := got[1].ID != ""; emitted != (verr == nil && timeOK) {
			t.Fatalf("row %q: emitted = %v (%q), but Validate says %v and the time is ok = %v", row.String(), emitted, got[1].Reason, verr, timeOK)
		}
		if verr != nil && !strings.HasPrefix(got[1].Reason, "missing country (") && got[1].Reason != redact(verr.Error()) {
			t.Fatalf("row %q: reason %q, Validate says %q", row.String(), got[1].Reason, verr)
		}
	})
}

// FuzzCSVFile feeds any bytes: Read must not panic, must report each row
// once, in order, and account for every record encoding/csv sees.
func FuzzCSVFile(f *testing.F) {
	f.Add([]byte(mixedCSV))
	f.Add([]byte(csvHeader + "u1,\"unterminated\nu2,b@example.com,B,,DE,,,,\n"))
	f.Add([]byte("id,country\n\n\nu1,DE\n\"u2\"x,DE\nu3,DE"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := collect(t, CSV("fuzz.csv", bytes.NewReader(in), Fields{CountryFromLocale: true}))
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Read: %v (a header problem must be an invalid-input error)", err)
			}
			return
		}
		// Count the records as encoding/csv sees them, the header aside.
		r := csv.NewReader(bytes.NewReader(in))
		r.FieldsPerRecord = -1
		want := -1
		for {
			_, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			want++
		}
		if len(got) != want {
			t.Fatalf("%d outcomes for %d records\ninput: %q", len(got), want, in)
		}
	})
}

// FuzzJSONLLine puts any text (one line or several) between two good lines:
// every non-blank line in it must be emitted or rejected exactly once at its
// line number, and what is emitted must agree with encoding/json.
func FuzzJSONLLine(f *testing.F) {
	for _, l := range strings.Split(mixedJSONL, "\n") {
		f.Add(l)
	}
	f.Add(`{"id":"\ud83d\ude00","country":"DE","x":[{"a":"]"},"\\"]}`)
	f.Add("{\"id\":\"a\xffb\",\"country\":\"DE\"}")
	f.Add(`{"id":1e400,"country":"DE"}`)
	f.Fuzz(func(t *testing.T, text string) {
		if strings.ContainsRune(text, '\r') {
			text = strings.ReplaceAll(text, "\r", "") // \r\n line ends are trimmed; a lone \r is not a line break
		}
		in := `{"id":"g1","country":"DE"}` + "\n" + text + "\n" + `{"id":"g2","country":"DE"}`
		got, err := collect(t, JSONL("fuzz.jsonl", strings.NewReader(in), Fields{CountryFromLocale: true}))
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		lines := strings.Split(text, "\n")
		var want []int
		for i, l := range lines {
			if len(trimSpace([]byte(l))) > 0 {
				want = append(want, 2+i)
			}
		}
		if len(got) != len(want)+2 || got[0] != (outcome{Row: 1, ID: "g1"}) || got[len(got)-1] != (outcome{Row: len(lines) + 2, ID: "g2"}) {
			t.Fatalf("outcomes %+v for input %q", got, in)
		}
		for i, o := range got[1 : len(got)-1] {
			if o.Row != want[i] {
				t.Fatalf("outcome %+v, want row %d", o, want[i])
			}
			line := []byte(lines[o.Row-2])
			var m map[string]json.RawMessage
			if err := json.Unmarshal(line, &m); err != nil || m == nil {
				if o.ID != "" {
					t.Fatalf("line %q is no JSON object to encoding/json (%v), yet it was read as %q", line, err, o.ID)
				}
				continue
			}
			if o.ID == "" {
				continue
			}
			var id string
			raw := bytes.TrimSpace(m["id"])
			if len(raw) > 0 && raw[0] == '"' {
				_ = json.Unmarshal(raw, &id)
			} else {
				id = string(raw)
			}
			if strings.TrimSpace(id) != o.ID {
				t.Fatalf("line %q: read id %q, encoding/json says %q", line, o.ID, id)
			}
		}
	})
}
