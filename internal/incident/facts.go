package incident

import (
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
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
}

const (
	maxTitle       = 200
	maxDescription = 20000
)

// Normalize trims text, puts codes in their canonical case, sorts and
// de-duplicates lists, and truncates times to
// UTC seconds so two equal sets of facts compare equal.
func (f Facts) Normalize() Facts {
	f.Title = strings.TrimSpace(f.Title)
	f.Description = strings.TrimSpace(f.Description)
	f.Reporter = strings.TrimSpace(f.Reporter)
	f.Systems = normalizeList(f.Systems, strings.ToLower)
	f.DataCategories = normalizeList(f.DataCategories, strings.ToLower)
	f.Regions = normalizeList(f.Regions, strings.ToUpper)
	if f.Severity == "" {
		f.Severity = SeverityUnassessed
	}
	f.AwareAt = utcSecond(f.AwareAt)
	f.DetectedAt = utcSecondPtr(f.DetectedAt)
	f.OccurredAt = utcSecondPtr(f.OccurredAt)
	return f
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

// Validate checks normalized facts and names the first field that is wrong.
func (f Facts) Validate() error {
	switch {
	case f.Title == "":
		return apperr.Invalidf("title", "is required")
	case len(f.Title) > maxTitle:
		return apperr.Invalidf("title", "is %d characters; at most %d", len(f.Title), maxTitle)
	case len(f.Description) > maxDescription:
		return apperr.Invalidf("description", "is %d characters; at most %d", len(f.Description), maxDescription)
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
	return nil
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
	return f.Normalize()
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
	return out
}

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
