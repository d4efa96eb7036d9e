package subjects

import (
	"reflect"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/incident"
)

// FuzzPerson normalizes and validates a person of any fields, as a source
// row gives them. Normalize is idempotent; a valid person lives in a
// jurisdiction the rules accept and has a key; a refusal says why without
// quoting the email address or the name.
func FuzzPerson(f *testing.F) {
	f.Add("u1", "ana@example.com", "Ana", "pt-BR", "br", "", "Email;name")
	f.Add("u2", "", "", "", "US", "us-ca", "")
	f.Add(" ", "Ana <ana@example.com>", "Ana Lima", "!!", "XX", "CALIF", "shoe_size")
	f.Add("u3", "a@b", "Name", "de-DE", "EU", "", ";;")
	f.Add("u4", "ana@example.com", "ana@example.com", "en", "CA", "CA-QC", "EMAIL; email")
	f.Add("u5", "x@example.org", "", "und-XK", "", "-", "health")
	f.Fuzz(func(t *testing.T, id, email, name, locale, country, region, cats string) {
		p := Person{ID: id, Email: email, Name: name, Locale: locale, Country: country, Region: region,
			Categories: strings.FieldsFunc(cats, func(r rune) bool { return r == ';' })}
		n := p.Normalize()
		if again := n.Normalize(); !reflect.DeepEqual(again, n) {
			t.Fatalf("Normalize is not idempotent: %+v, then %+v", n, again)
		}
		err := n.Validate()
		if err == nil {
			if rerr := incident.ValidateRegion(n.Jurisdiction()); rerr != nil {
				t.Fatalf("valid person %+v lives in %q: %v", n, n.Jurisdiction(), rerr)
			}
			if n.Key() == "id:" || n.Key() == "email:" {
				t.Fatalf("valid person %+v without a key", n)
			}
			return
		}
		msg := err.Error()
		if msg == "" {
			t.Fatal("an empty reason")
		}
		quoted := n.Country + n.Region + n.Locale + strings.Join(n.Categories, "")
		for _, private := range []string{n.Email, n.Name} {
			if len(private) >= 3 && strings.Contains(msg, private) && !strings.Contains(quoted, private) &&
				!strings.Contains("missing id invalid email address missing country unknown country code", private) {
				t.Fatalf("the reason %q quotes %q", msg, private)
			}
		}
	})
}

// FuzzCountryFromLocale: a country read from a locale is one a person may
// live in, as Validate sees it.
func FuzzCountryFromLocale(f *testing.F) {
	for _, s := range []string{"de-DE", "pt-BR", "en", "zh-Hant-TW", "und-XK", "en-150", "es-419", "en-001", "x-private", "de-AQ", "en-ZZ", "sr-Latn-XK", "en-EU"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, locale string) {
		c, ok := CountryFromLocale(locale)
		if !ok {
			return
		}
		if err := (Person{ID: "x", Country: c, Locale: locale}).Normalize().Validate(); err != nil {
			t.Fatalf("locale %q gives country %q, which Validate refuses: %v", locale, c, err)
		}
	})
}
