package rules

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// scenarioFile is the YAML contract of `breachctl assess`: keep it stable,
// extend it only by adding fields.
type scenarioFile struct {
	Role              string             `yaml:"role"`
	Sectors           []string           `yaml:"sectors"`
	OccurredAt        string             `yaml:"occurred_at"`
	DiscoveredAt      string             `yaml:"discovered_at"`
	AwareAt           string             `yaml:"aware_at"`
	DeterminedAt      string             `yaml:"determined_at"`
	DataCategories    []string           `yaml:"data_categories"`
	Encrypted         bool               `yaml:"encrypted"`
	Risk              string             `yaml:"risk"`
	RiskJustification string             `yaml:"risk_justification"`
	Circumstances     risk.Circumstances `yaml:"circumstances"`
	Affected          map[string]int     `yaml:"affected"`
	Exemptions        []string           `yaml:"exemptions"`
	NoticesSent       map[string]string  `yaml:"notices_sent"`
}

// ParseScenario reads a scenario file; every error names the file and line.
func ParseScenario(name string, raw []byte) (Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Scenario{}, yamlfile.SyntaxError(name, raw, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return Scenario{}, apperr.Invalidf(name, "a scenario is a YAML mapping (role, discovered_at, affected ...)")
	}
	var f scenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Scenario{}, apperr.Invalidf(name, "%v", err)
	}
	at := locator{name: name, root: doc.Content[0]}
	s := Scenario{
		Role: f.Role, Sectors: f.Sectors, Encrypted: f.Encrypted, Circumstances: f.Circumstances,
		Exemptions: f.Exemptions, Affected: map[string]int{},
	}
	times := []struct {
		key string
		val string
		dst *time.Time
	}{{"discovered_at", f.DiscoveredAt, &s.DiscoveredAt}, {"aware_at", f.AwareAt, &s.AwareAt}, {"determined_at", f.DeterminedAt, &s.DeterminedAt}}
	for _, t := range times {
		if t.val == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.val)
		if err != nil {
			return s, at.errorf(t.key, "", "%q is not an RFC 3339 time like 2026-03-02T09:00:00Z", t.val)
		}
		*t.dst = v.UTC()
	}
	if f.OccurredAt != "" {
		v, err := time.Parse(time.RFC3339, f.OccurredAt)
		if err != nil {
			return s, at.errorf("occurred_at", "", "%q is not an RFC 3339 time like 2026-03-01T00:00:00Z", f.OccurredAt)
		}
		v = v.UTC()
		s.OccurredAt = &v
	}
	if s.DiscoveredAt.IsZero() {
		return s, apperr.Invalidf(name+": discovered_at", "is required")
	}
	if s.Role != "" && !slices.Contains(incident.Roles, s.Role) {
		return s, at.errorf("role", "", "%q is not controller or processor", s.Role)
	}
	for _, sec := range s.Sectors {
		if !slices.Contains(Sectors, sec) {
			return s, at.errorf("sectors", sec, "unknown sector %q; known: %s", sec, strings.Join(Sectors, ", "))
		}
	}
	for _, c := range f.DataCategories {
		if !incident.IsDataCategory(c) {
			return s, at.errorf("data_categories", c, "unknown data category %q; known: %s", c, strings.Join(incident.DataCategories, ", "))
		}
	}
	s.Categories = f.DataCategories
	for _, e := range s.Exemptions {
		if !slices.Contains(ScenarioExemptions, e) {
			return s, at.errorf("exemptions", e, "%q is not one of %s", e, strings.Join(ScenarioExemptions, ", "))
		}
	}
	for _, region := range sortedKeys(f.Affected) {
		if err := incident.ValidateRegion(region); err != nil {
			return s, at.errorf("affected", region, "%s", strings.TrimPrefix(err.Error(), "regions: "))
		}
		if n := f.Affected[region]; n < 0 || int64(n) > incident.MaxAffected {
			return s, at.errorf("affected", region, "%s: %d people is not a count", region, n)
		}
		s.Affected[region] = f.Affected[region]
	}
	if err := s.Circumstances.Validate(); err != nil {
		var e *apperr.Error
		if asErr(err, &e) {
			key := strings.TrimPrefix(e.Field, "circumstances.")
			return s, at.errorf("circumstances", key, "%s: %s", e.Field, e.Msg)
		}
		return s, err
	}
	if f.Risk != "" {
		level, err := risk.ParseLevel(f.Risk)
		if err != nil {
			return s, at.errorf("risk", "", "%q is not none, low, medium or high", f.Risk)
		}
		// The scenario contract lets a file state the risk; the
		// justification, when given, is kept with the assessment.
		just := strings.TrimSpace(f.RiskJustification)
		if just == "" {
			just = "stated in the scenario " + name
		}
		s.Risk = &risk.Override{Level: level, Justification: just}
	}
	if len(f.NoticesSent) > 0 {
		s.NoticesSent = map[string]time.Time{}
		for rule, v := range f.NoticesSent {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return s, at.errorf("notices_sent", rule, "%q is not an RFC 3339 time", v)
			}
			s.NoticesSent[rule] = t.UTC()
		}
	}
	if _, err := s.normalize(); err != nil {
		return s, err
	}
	return s, nil
}

// locator finds the line of a key, or of an item or key under it.
type locator struct {
	name string
	root *yaml.Node
}

func (l locator) line(key, item string) int {
	for i := 0; i+1 < len(l.root.Content); i += 2 {
		k, v := l.root.Content[i], l.root.Content[i+1]
		if k.Value != key {
			continue
		}
		if item == "" {
			return k.Line
		}
		switch v.Kind {
		case yaml.SequenceNode:
			for _, n := range v.Content {
				if n.Value == item {
					return n.Line
				}
			}
		case yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j].Value == item {
					return v.Content[j].Line
				}
			}
		}
		return k.Line
	}
	return 0
}

func (l locator) errorf(key, item, format string, args ...any) error {
	where := l.name
	if line := l.line(key, item); line > 0 {
		where = fmt.Sprintf("%s:%d", l.name, line)
	}
	return apperr.Invalidf(where+": "+key, format, args...)
}

func asErr(err error, target **apperr.Error) bool {
	e, ok := err.(*apperr.Error)
	if ok {
		*target = e
	}
	return ok
}
