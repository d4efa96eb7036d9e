package incident

import (
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/risk"
)

// Severity is a person's judgement of how bad the incident is.
type Severity string

const (
	SeverityUnassessed Severity = "unassessed"
	SeverityLow        Severity = "low"
	SeverityMedium     Severity = "medium"
	SeverityHigh       Severity = "high"
	SeverityCritical   Severity = "critical"
)

// Severities lists every severity, least severe first.
var Severities = []Severity{SeverityUnassessed, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// ParseSeverity accepts a severity name in any case; empty means unassessed.
func ParseSeverity(s string) (Severity, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return SeverityUnassessed, nil
	}
	for _, v := range Severities {
		if string(v) == s {
			return v, nil
		}
	}
	return "", apperr.Invalidf("severity", "%q is not one of %s", s, joinSeverities())
}

func joinSeverities() string {
	names := make([]string, len(Severities))
	for i, s := range Severities {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Facts are what is known about a breach. They change as the investigation
// goes on; each change is recorded on the timeline.
type Facts struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Reporter    string `json:"reporter,omitempty"`
	// DetectedAt is when something was first noticed, if earlier than
	// awareness (nil means at awareness).
	DetectedAt *time.Time `json:"detected_at,omitempty"`
	// AwareAt is when the organisation became aware, with reasonable certainty,
	// that personal data was compromised: where most legal clocks start.
	AwareAt time.Time `json:"aware_at"`
	// OccurredAt is when the breach itself happened, if known.
	OccurredAt     *time.Time `json:"occurred_at,omitempty"`
	Systems        []string   `json:"systems,omitempty"`
	DataCategories []string   `json:"data_categories,omitempty"`
	// Regions are where the affected people live: EU, EEA, ISO 3166-1 country
	// codes (DE) or ISO 3166-2 subdivisions (US-CA).
	Regions  []string `json:"regions,omitempty"`
	Severity Severity `json:"severity"`

	// What the rules need beyond the first report; all optional.

	// Role is controller (the default) or processor for the data affected.
	Role    string   `json:"role,omitempty"`
	Sectors []string `json:"sectors,omitempty"`
	// DeterminedAt is when it was determined that a breach occurred (US
	// laws, SEC materiality); nil means at detection.
	DeterminedAt *time.Time `json:"determined_at,omitempty"`
	// Affected counts the affected people per region, where known; a region
	// in Regions without a count here is affected but not yet counted.
	Affected []Residents `json:"affected,omitempty"`
	// Encrypted: the data was unintelligible to the attacker and the key
	// not compromised.
	Encrypted     bool               `json:"encrypted,omitempty"`
	Risk          *risk.Override     `json:"risk,omitempty"`
	Circumstances risk.Circumstances `json:"circumstances,omitzero"`
	// Exemptions claimed under the law: subsequent_measures,
	// disproportionate_effort.
	Exemptions []string `json:"exemptions,omitempty"`
}

// Residents is how many affected people live in one region.
type Residents struct {
	Region string `json:"region"`
	Count  int    `json:"count"`
}

// Roles, sectors and exemption claims the rules know.
var (
	Roles           = []string{"controller", "processor"}
	Sectors         = []string{"health", "financial_ny", "public_company", "essential_entity", "health_app"}
	ExemptionClaims = []string{"subsequent_measures", "disproportionate_effort"}
)

const (
	maxTitle       = 200
	maxDescription = 20000
)

// MaxAffected is the most people one count of affected residents may give:
// more than live on Earth, and small enough that the counts of every region
// add up without overflowing.
const MaxAffected int64 = 10_000_000_000

// Normalize trims text, puts codes in their canonical case, sorts and
// de-duplicates lists, and truncates times to
// UTC seconds so two equal sets of facts compare equal.
func (f Facts) Normalize() Facts {
	f.Title = strings.TrimSpace(oneLine(f.Title))
	f.Description = strings.TrimSpace(f.Description)
	f.Reporter = strings.TrimSpace(oneLine(f.Reporter))
	f.Systems = normalizeList(f.Systems, strings.ToLower)
	f.DataCategories = normalizeList(f.DataCategories, strings.ToLower)
	f.Regions = normalizeList(f.Regions, strings.ToUpper)
	if f.Severity == "" {
		f.Severity = SeverityUnassessed
	}
	f.AwareAt = utcSecond(f.AwareAt)
	f.DetectedAt = utcSecondPtr(f.DetectedAt)
	f.OccurredAt = utcSecondPtr(f.OccurredAt)
	f.DeterminedAt = utcSecondPtr(f.DeterminedAt)
	f.Role = strings.ToLower(strings.TrimSpace(f.Role))
	if f.Role == "controller" {
		f.Role = "" // the default, written once
	}
	f.Sectors = normalizeList(f.Sectors, strings.ToLower)
	f.Exemptions = normalizeList(f.Exemptions, strings.ToLower)
	f.Affected = normalizeResidents(f.Affected)
	if len(f.Affected) > 0 {
		// Every counted region is an affected region.
		for _, r := range f.Affected {
			f.Regions = append(f.Regions, r.Region)
		}
		f.Regions = normalizeList(f.Regions, strings.ToUpper)
	}
	if f.Risk != nil {
		o := *f.Risk
		o.Justification = strings.TrimSpace(o.Justification)
		f.Risk = &o
	}
	return f
}

// normalizeResidents upper-cases regions, sums duplicates and sorts.
func normalizeResidents(in []Residents) []Residents {
	if len(in) == 0 {
		return nil
	}
	byRegion := map[string]int{}
	for _, r := range in {
		byRegion[strings.ToUpper(strings.TrimSpace(r.Region))] += r.Count
	}
	out := make([]Residents, 0, len(byRegion))
	for region, n := range byRegion {
		out = append(out, Residents{Region: region, Count: n})
	}
	slices.SortFunc(out, func(a, b Residents) int { return strings.Compare(a.Region, b.Region) })
	return out
}

// AffectedTotal is the number of affected people counted so far.
func (f Facts) AffectedTotal() int {
	n := 0
	for _, r := range f.Affected {
		n += r.Count
	}
	return n
}

func utcSecondPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := utcSecond(*t)
	return &v
}

// Detected is when the breach was detected: DetectedAt, or AwareAt when the
// two are the same moment.
func (f Facts) Detected() time.Time {
	if f.DetectedAt != nil {
		return *f.DetectedAt
	}
	return f.AwareAt
}

func utcSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

func normalizeList(in []string, canon func(string) string) []string {
	var out []string
	for _, s := range in {
		// A comma-separated value is as good as a repeated flag.
		for _, part := range strings.Split(s, ",") {
			if part = canon(strings.TrimSpace(part)); part != "" {
				out = append(out, part)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate checks normalized facts and names the first field that is wrong:
// what every way in (CLI, Slack, intake, an update) asks of new facts.
func (f Facts) Validate() error {
	if err := f.validateText(); err != nil {
		return err
	}
	return f.ValidateRecorded()
}

// validateText refuses control characters in the texts people write.
func (f Facts) validateText() error {
	for _, c := range []struct {
		field, value string
		multiline    bool
	}{{"title", f.Title, false}, {"reporter", f.Reporter, false}, {"description", f.Description, true}} {
		if err := checkText(c.field, c.value, c.multiline); err != nil {
			return err
		}
	}
	if f.Risk != nil {
		if err := CheckText("risk_justification", f.Risk.Justification); err != nil {
			return err
		}
	}
	return nil
}

// ValidateRecorded checks facts an incident already holds, as a workflow
// run checks them when it starts (also on replay) and an assessment does:
// what Validate asked before it refused control characters, so incidents
// opened before that keep running.
func (f Facts) ValidateRecorded() error {
	switch {
	case f.Title == "":
		return apperr.Invalidf("title", "is required")
	case len(f.Title) > maxTitle:
		return apperr.Invalidf("title", "is %d characters; at most %d", len(f.Title), maxTitle)
	case len(f.Description) > maxDescription:
		return apperr.Invalidf("description", "is %d characters; at most %d", len(f.Description), maxDescription)
	}
	switch {
	case f.AwareAt.IsZero():
		return apperr.Invalidf("aware_at", "is required: when the organisation became aware of the breach")
	case f.Detected().After(f.AwareAt):
		return apperr.Invalidf("detected_at", "%s is after aware_at %s: awareness cannot come before detection",
			f.Detected().Format(time.RFC3339), f.AwareAt.Format(time.RFC3339))
	case f.OccurredAt != nil && f.OccurredAt.After(f.Detected()):
		return apperr.Invalidf("occurred_at", "%s is after detection at %s",
			f.OccurredAt.Format(time.RFC3339), f.Detected().Format(time.RFC3339))
	}
	if _, err := ParseSeverity(string(f.Severity)); err != nil {
		return err
	}
	for _, c := range f.DataCategories {
		if !IsDataCategory(c) {
			return apperr.Invalidf("data_categories", "unknown category %q; known: %s", c, strings.Join(DataCategories, ", "))
		}
	}
	for _, r := range f.Regions {
		if err := ValidateRegion(r); err != nil {
			return err
		}
	}
	for _, s := range f.Systems {
		if !validSystemName(s) {
			return apperr.Invalidf("systems", "%q: use letters, digits, '-', '_' or '.'", s)
		}
	}
	if f.Role != "" && !slices.Contains(Roles, f.Role) {
		return apperr.Invalidf("role", "%q is not controller or processor", f.Role)
	}
	for _, s := range f.Sectors {
		if !slices.Contains(Sectors, s) {
			return apperr.Invalidf("sectors", "unknown sector %q; known: %s", s, strings.Join(Sectors, ", "))
		}
	}
	for _, e := range f.Exemptions {
		if !slices.Contains(ExemptionClaims, e) {
			return apperr.Invalidf("exemptions", "%q is not one of %s", e, strings.Join(ExemptionClaims, ", "))
		}
	}
	if f.DeterminedAt != nil && f.DeterminedAt.Before(f.Detected()) {
		return apperr.Invalidf("determined_at", "%s is before detection at %s",
			f.DeterminedAt.Format(time.RFC3339), f.Detected().Format(time.RFC3339))
	}
	for _, r := range f.Affected {
		if err := ValidateRegion(r.Region); err != nil {
			return apperr.Invalidf("affected", "%v", err)
		}
		if r.Count < 0 || int64(r.Count) > MaxAffected {
			return apperr.Invalidf("affected", "%s: %d people is not a count", r.Region, r.Count)
		}
	}
	if f.Risk != nil {
		if _, err := risk.ParseLevel(string(f.Risk.Level)); err != nil {
			return apperr.Invalidf("risk", "%q is not none, low, medium or high", f.Risk.Level)
		}
		if f.Risk.Justification == "" {
			return apperr.Invalidf("risk_justification", "overriding the computed risk needs a written justification, which is kept")
		}
	}
	return f.Circumstances.Validate()
}

func validSystemName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// FactsChange is a partial change of the facts: nil fields stay as they are.
type FactsChange struct {
	Title          *string    `json:"title,omitempty"`
	Description    *string    `json:"description,omitempty"`
	Reporter       *string    `json:"reporter,omitempty"`
	DetectedAt     *time.Time `json:"detected_at,omitempty"`
	AwareAt        *time.Time `json:"aware_at,omitempty"`
	OccurredAt     *time.Time `json:"occurred_at,omitempty"`
	Systems        *[]string  `json:"systems,omitempty"`
	DataCategories *[]string  `json:"data_categories,omitempty"`
	Regions        *[]string  `json:"regions,omitempty"`
	Severity       *Severity  `json:"severity,omitempty"`

	Role          *string             `json:"role,omitempty"`
	Sectors       *[]string           `json:"sectors,omitempty"`
	DeterminedAt  *time.Time          `json:"determined_at,omitempty"`
	Affected      *[]Residents        `json:"affected,omitempty"`
	Encrypted     *bool               `json:"encrypted,omitempty"`
	Risk          *risk.Override      `json:"risk,omitempty"`
	Circumstances *risk.Circumstances `json:"circumstances,omitempty"`
	Exemptions    *[]string           `json:"exemptions,omitempty"`
	// ReplaceAffected makes Affected the whole list (a scoping), instead of
	// setting the counts of the regions it names.
	ReplaceAffected bool `json:"replace_affected,omitempty"`
}

// IsEmpty reports whether the change changes nothing.
func (c FactsChange) IsEmpty() bool { return c == FactsChange{} }

// Apply returns the facts with the change applied, normalized.
func (c FactsChange) Apply(f Facts) Facts {
	if c.Title != nil {
		f.Title = *c.Title
	}
	if c.Description != nil {
		f.Description = *c.Description
	}
	if c.Reporter != nil {
		f.Reporter = *c.Reporter
	}
	if c.DetectedAt != nil {
		t := *c.DetectedAt
		f.DetectedAt = &t
	}
	if c.AwareAt != nil {
		f.AwareAt = *c.AwareAt
	}
	if c.OccurredAt != nil {
		t := *c.OccurredAt
		f.OccurredAt = &t
	}
	if c.Systems != nil {
		f.Systems = slices.Clone(*c.Systems)
	}
	if c.DataCategories != nil {
		f.DataCategories = slices.Clone(*c.DataCategories)
	}
	if c.Regions != nil {
		f.Regions = slices.Clone(*c.Regions)
	}
	if c.Severity != nil {
		f.Severity = *c.Severity
	}
	if c.Role != nil {
		f.Role = *c.Role
	}
	if c.Sectors != nil {
		f.Sectors = slices.Clone(*c.Sectors)
	}
	if c.DeterminedAt != nil {
		t := *c.DeterminedAt
		f.DeterminedAt = &t
	}
	if c.Affected != nil {
		if c.ReplaceAffected {
			f.Affected = slices.Clone(*c.Affected)
		} else {
			f.Affected = mergeResidents(f.Affected, *c.Affected)
		}
	}
	if c.Encrypted != nil {
		f.Encrypted = *c.Encrypted
	}
	if c.Risk != nil {
		o := *c.Risk
		f.Risk = &o
		if o.Level == "" {
			f.Risk = nil // an empty level takes the override back
		}
	}
	if c.Circumstances != nil {
		f.Circumstances = *c.Circumstances
	}
	if c.Exemptions != nil {
		f.Exemptions = slices.Clone(*c.Exemptions)
	}
	return f.Normalize()
}

// mergeResidents sets the counts of the regions given, keeping the others:
// scoping reports one region's count at a time.
func mergeResidents(old, set []Residents) []Residents {
	out := slices.Clone(old)
	for _, r := range set {
		region := strings.ToUpper(strings.TrimSpace(r.Region))
		i := slices.IndexFunc(out, func(x Residents) bool { return strings.EqualFold(x.Region, region) })
		if i >= 0 {
			out[i].Count = r.Count
		} else {
			out = append(out, Residents{Region: region, Count: r.Count})
		}
	}
	return out
}

// ChangedFields names the fields that differ between two sets of facts, in a
// fixed order, for the timeline. It never includes values: a description or a
// title may carry personal data.
func ChangedFields(before, after Facts) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("title", before.Title != after.Title)
	add("description", before.Description != after.Description)
	add("reporter", before.Reporter != after.Reporter)
	add("detected_at", !equalTimePtr(before.DetectedAt, after.DetectedAt))
	add("aware_at", !before.AwareAt.Equal(after.AwareAt))
	add("occurred_at", !equalTimePtr(before.OccurredAt, after.OccurredAt))
	add("systems", !slices.Equal(before.Systems, after.Systems))
	add("data_categories", !slices.Equal(before.DataCategories, after.DataCategories))
	add("regions", !slices.Equal(before.Regions, after.Regions))
	add("severity", before.Severity != after.Severity)
	add("role", before.Role != after.Role)
	add("sectors", !slices.Equal(before.Sectors, after.Sectors))
	add("determined_at", !equalTimePtr(before.DeterminedAt, after.DeterminedAt))
	add("affected", !slices.Equal(before.Affected, after.Affected))
	add("encrypted", before.Encrypted != after.Encrypted)
	add("risk", !equalOverride(before.Risk, after.Risk))
	add("circumstances", before.Circumstances != after.Circumstances)
	add("exemptions", !slices.Equal(before.Exemptions, after.Exemptions))
	return out
}

func equalOverride(a, b *risk.Override) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
