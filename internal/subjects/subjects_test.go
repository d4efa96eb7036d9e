package subjects

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := Person{ID: "u1", Email: "ana@example.com", Country: "br", Locale: "pt-BR", Categories: []string{"Email", "name"}}.Normalize()
	if err := ok.Validate(); err != nil || ok.Jurisdiction() != "BR" || ok.Key() != "id:u1" {
		t.Fatalf("%+v: %v", ok, err)
	}
	ca := Person{ID: "u2", Country: "US", Region: "us-ca"}.Normalize()
	if err := ca.Validate(); err != nil || ca.Jurisdiction() != "US-CA" {
		t.Fatalf("%+v: %v", ca, err)
	}
	bad := map[string]Person{
		"missing id":      {Email: "a@b.c", Country: "DE"},
		"invalid email":   {ID: "x", Email: "not-an-email", Country: "DE"},
		"missing country": {ID: "x"},
		"unknown country": {ID: "x", Country: "XX"},
		"region":          {ID: "x", Country: "US", Region: "CALIF"},
		"locale":          {ID: "x", Country: "DE", Locale: "!!"},
		"data category":   {ID: "x", Country: "DE", Categories: []string{"shoe_size"}},
	}
	for want, p := range bad {
		err := p.Normalize().Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want one saying %q", p, err, want)
		}
		if err != nil && p.Email != "" && strings.Contains(err.Error(), p.Email) {
			t.Errorf("the rejection repeats the email address: %v", err)
		}
	}
}

func TestCountryFromLocale(t *testing.T) {
	for locale, want := range map[string]string{"de-DE": "DE", "pt-BR": "BR", "en-US": "US", "fr": ""} {
		got, ok := CountryFromLocale(locale)
		if got != want || ok != (want != "") {
			t.Errorf("CountryFromLocale(%q) = %q, %v", locale, got, ok)
		}
	}
}
