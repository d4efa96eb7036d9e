package incident

import (
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/breachctl/breachctl/internal/apperr"
)

// DataCategories are the kinds of personal data the rules reason about.
var DataCategories = []string{
	"name", "email", "phone", "postal_address", "date_of_birth",
	"ssn", "drivers_license", "passport", "government_id", "taxpayer_id",
	"financial_account", "payment_card",
	"account_credentials", // username or email with a password or security answer
	"password_hash",
	"health", "health_insurance", "biometric", "genetic",
	"precise_location", "ip_address", "device_id", "usage_data",
	"media_content", "api_key", "children_data",
	"special_category", // GDPR Art. 9
}

// IsDataCategory reports whether c is a known data category.
func IsDataCategory(c string) bool { return slices.Contains(DataCategories, c) }

// euMembers are the EU member states (ISO 3166-1 alpha-2; Greece is GR).
var euMembers = []string{
	"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
	"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}

// eeaOnly are the EEA states outside the EU, which apply the GDPR too.
var eeaOnly = []string{"IS", "LI", "NO"}

// InGDPRArea reports whether a region code is the EU, the EEA or a state in
// either (a subdivision counts as its country).
func InGDPRArea(region string) bool {
	country, _, _ := strings.Cut(region, "-")
	return region == "EU" || region == "EEA" ||
		slices.Contains(euMembers, country) || slices.Contains(eeaOnly, country)
}

// ValidateRegion checks a region code: EU, EEA, an ISO 3166-1 alpha-2 country
// code, or a subdivision of one in the ISO 3166-2 shape (US-CA, CA-QC).
func ValidateRegion(region string) error {
	if region == "EU" || region == "EEA" {
		return nil
	}
	country, sub, hasSub := strings.Cut(region, "-")
	if !isCountry(country) {
		return apperr.Invalidf("regions", "%q is not EU, EEA or an ISO 3166-1 alpha-2 country code", region)
	}
	if hasSub && !validSubdivision(sub) {
		return apperr.Invalidf("regions", "%q: the subdivision after '-' must be 1 to 3 letters or digits (ISO 3166-2, e.g. US-CA)", region)
	}
	return nil
}

func isCountry(code string) bool {
	if len(code) != 2 || strings.ToUpper(code) != code {
		return false
	}
	r, err := language.ParseRegion(code)
	// ParseRegion also accepts private-use and macro-region codes; only a
	// country, as ISO 3166-1 assigns them, names where people live.
	return err == nil && r.IsCountry() && r.String() == code
}

func validSubdivision(s string) bool {
	if len(s) < 1 || len(s) > 3 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
