// Package subjects holds the people affected by a breach, as scoping reads
// them: who they are, where they live, which data about them was exposed.
// Plain Go, no I/O; a Person never reaches a log or a workflow history.
package subjects

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/breachctl/breachctl/internal/incident"
)

// Person is one affected person.
type Person struct {
	ID     string `json:"id"`
	Email  string `json:"email,omitempty"`
	Name   string `json:"name,omitempty"`
	Locale string `json:"locale,omitempty"` // BCP 47: de-DE, pt-BR
	// Country is ISO 3166-1 alpha-2; Region the ISO 3166-2 subdivision code
	// after the dash (CA for US-CA), where the rules need it.
	Country    string   `json:"country"`
	Region     string   `json:"region,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

// Jurisdiction is where the person lives, as the rules count it: US-CA for a
// Californian, CA-QC for a Quebecer, the country elsewhere.
func (p Person) Jurisdiction() string {
	if p.Region != "" && (p.Country == "US" || p.Country == "CA") {
		return p.Country + "-" + p.Region
	}
	return p.Country
}

// Key identifies a person across sources: the same ID, or else the same
// email address, is the same person.
func (p Person) Key() string {
	if p.ID != "" {
		return "id:" + p.ID
	}
	return "email:" + strings.ToLower(p.Email)
}

// Normalize trims fields and puts codes in canonical case.
func (p Person) Normalize() Person {
	p.ID = strings.TrimSpace(p.ID)
	p.Email = strings.TrimSpace(p.Email)
	p.Name = strings.TrimSpace(p.Name)
	p.Locale = strings.TrimSpace(p.Locale)
	p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
	p.Region = strings.ToUpper(strings.TrimSpace(p.Region))
	if c, r, ok := strings.Cut(p.Region, "-"); ok && c == p.Country {
		p.Region = r // "US-CA" given as the region
	}
	if len(p.Categories) > 0 {
		cats := make([]string, 0, len(p.Categories))
		for _, c := range p.Categories {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" {
				cats = append(cats, c)
			}
		}
		slices.Sort(cats)
		p.Categories = slices.Compact(cats)
	}
	return p
}

// Validate checks a normalized person; the error says what is wrong without
// repeating the value (rejection reports must not carry personal data).
func (p Person) Validate() error {
	if p.ID == "" {
		return fmt.Errorf("missing id")
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || !strings.Contains(a.Address, "@") {
			return fmt.Errorf("invalid email address")
		}
	}
	if p.Country == "" {
		return fmt.Errorf("missing country")
	}
	if err := incident.ValidateRegion(p.Country); err != nil || strings.Contains(p.Country, "-") || p.Country == "EU" || p.Country == "EEA" {
		return fmt.Errorf("unknown country code %q", p.Country)
	}
	if p.Region != "" {
		if err := incident.ValidateRegion(p.Country + "-" + p.Region); err != nil {
			return fmt.Errorf("region %q is not an ISO 3166-2 subdivision code", p.Region)
		}
	}
	if p.Locale != "" {
		if _, err := language.Parse(p.Locale); err != nil {
			return fmt.Errorf("locale %q is not a BCP 47 language tag", p.Locale)
		}
	}
	for _, c := range p.Categories {
		if !incident.IsDataCategory(c) {
			return fmt.Errorf("unknown data category %q", c)
		}
	}
	return nil
}

// CountryFromLocale derives a country from a locale's region (de-DE → DE),
// for systems that know the language but not the address.
func CountryFromLocale(locale string) (string, bool) {
	tag, err := language.Parse(locale)
	if err != nil {
		return "", false
	}
	region, conf := tag.Region()
	if conf < language.High || !region.IsCountry() {
		return "", false
	}
	return region.String(), true
}
