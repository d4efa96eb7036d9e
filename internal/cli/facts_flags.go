package cli

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// factsFlags are the flags that describe a breach, shared by open and update.
type factsFlags struct {
	title, description, reporter  string
	detectedAt, awareAt, occurred string
	systems, categories, regions  []string
	severity                      string

	role, determinedAt, riskLevel, riskWhy string
	sectors, affected, exemptions          []string
	encrypted                              bool
}

func (f *factsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.title, "title", "", "short title of the incident (no personal data)")
	fs.StringVar(&f.description, "description", "", "what happened, as known")
	fs.StringVar(&f.reporter, "reporter", "", "who reported it")
	fs.StringVar(&f.detectedAt, "detected-at", "", "when it was first noticed (RFC 3339, e.g. 2026-11-20T08:30:00Z)")
	fs.StringVar(&f.awareAt, "aware-at", "", "when the organisation became aware of the breach; most legal clocks start here (RFC 3339)")
	fs.StringVar(&f.occurred, "occurred-at", "", "when the breach happened, if known (RFC 3339)")
	fs.StringArrayVar(&f.systems, "system", nil, "affected system (repeat or comma-separate)")
	fs.StringArrayVar(&f.categories, "category", nil, "data category exposed, e.g. email, media_content (repeat or comma-separate)")
	fs.StringArrayVar(&f.regions, "region", nil, "where affected people live: EU, DE, US-CA ... (repeat or comma-separate)")
	fs.StringVar(&f.severity, "severity", "", "low, medium, high or critical")
	fs.StringVar(&f.role, "role", "", "controller (default) or processor of the data affected")
	fs.StringArrayVar(&f.sectors, "sector", nil, "sector with its own rules: health, financial_ny, public_company, essential_entity, health_app")
	fs.StringVar(&f.determinedAt, "determined-at", "", "when it was determined that a breach occurred (US laws, SEC materiality; RFC 3339)")
	fs.StringArrayVar(&f.affected, "affected", nil, "people affected per region, e.g. DE=1200 (repeat or comma-separate)")
	fs.BoolVar(&f.encrypted, "encrypted", false, "the data was unintelligible to the attacker and the key not compromised")
	fs.StringVar(&f.riskLevel, "risk", "", "override the computed risk: none, low, medium or high (needs --risk-justification)")
	fs.StringVar(&f.riskWhy, "risk-justification", "", "why the risk is overridden, kept on the record")
	fs.StringArrayVar(&f.exemptions, "exemption", nil, "claim an exemption: subsequent_measures, disproportionate_effort")
}

// parseAffected reads REGION=COUNT pairs.
func parseAffected(values []string) ([]incident.Residents, error) {
	var out []incident.Residents
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			region, count, ok := strings.Cut(part, "=")
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if !ok || err != nil || n < 0 {
				return nil, apperr.Invalidf("--affected", "%q is not REGION=COUNT like DE=1200", part)
			}
			out = append(out, incident.Residents{Region: strings.ToUpper(strings.TrimSpace(region)), Count: n})
		}
	}
	return out, nil
}

// parseTime reads an RFC 3339 time for a named flag.
func parseTime(flag, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return nil, apperr.Invalidf(flag, "%q is not an RFC 3339 time like 2026-11-20T09:00:00Z", v)
	}
	t = t.UTC()
	return &t, nil
}

// change returns the facts the flags set, as a partial change; fs tells which
// flags were given, so an empty --system can clear a list.
func (f *factsFlags) change(fs *pflag.FlagSet) (incident.FactsChange, error) {
	var c incident.FactsChange
	set := func(name string) bool { return fs.Changed(name) }
	if set("title") {
		c.Title = &f.title
	}
	if set("description") {
		c.Description = &f.description
	}
	if set("reporter") {
		c.Reporter = &f.reporter
	}
	for _, tf := range []struct {
		flag string
		val  string
		dst  **time.Time
	}{{"detected-at", f.detectedAt, &c.DetectedAt}, {"aware-at", f.awareAt, &c.AwareAt}, {"occurred-at", f.occurred, &c.OccurredAt}} {
		if set(tf.flag) {
			t, err := parseTime("--"+tf.flag, tf.val)
			if err != nil {
				return c, err
			}
			if t == nil {
				return c, apperr.Invalidf("--"+tf.flag, "needs a time")
			}
			*tf.dst = t
		}
	}
	if set("system") {
		c.Systems = &f.systems
	}
	if set("category") {
		c.DataCategories = &f.categories
	}
	if set("region") {
		c.Regions = &f.regions
	}
	if set("severity") {
		sev, err := incident.ParseSeverity(f.severity)
		if err != nil {
			return c, apperr.Invalidf("--severity", "%q is not low, medium, high or critical", f.severity)
		}
		c.Severity = &sev
	}
	if set("role") {
		c.Role = &f.role
	}
	if set("sector") {
		c.Sectors = &f.sectors
	}
	if set("determined-at") {
		t, err := parseTime("--determined-at", f.determinedAt)
		if err != nil || t == nil {
			return c, apperr.Invalidf("--determined-at", "%q is not an RFC 3339 time like 2026-11-20T09:00:00Z", f.determinedAt)
		}
		c.DeterminedAt = t
	}
	if set("affected") {
		a, err := parseAffected(f.affected)
		if err != nil {
			return c, err
		}
		c.Affected = &a
	}
	if set("encrypted") {
		c.Encrypted = &f.encrypted
	}
	if set("risk") || set("risk-justification") {
		level, err := risk.ParseLevel(f.riskLevel)
		if err != nil {
			return c, apperr.Invalidf("--risk", "%q is not none, low, medium or high", f.riskLevel)
		}
		if strings.TrimSpace(f.riskWhy) == "" {
			return c, apperr.Invalidf("--risk-justification", "overriding the computed risk needs a written justification")
		}
		c.Risk = &risk.Override{Level: level, Justification: f.riskWhy}
	}
	if set("exemption") {
		c.Exemptions = &f.exemptions
	}
	return c, nil
}

// incidentFile is the YAML form of the facts for `open --file`.
type incidentFile struct {
	Title          string   `yaml:"title"`
	Description    string   `yaml:"description"`
	Reporter       string   `yaml:"reporter"`
	DetectedAt     string   `yaml:"detected_at"`
	AwareAt        string   `yaml:"aware_at"`
	OccurredAt     string   `yaml:"occurred_at"`
	Systems        yamlList `yaml:"systems"`
	DataCategories yamlList `yaml:"data_categories"`
	Regions        yamlList `yaml:"regions"`
	Severity       string   `yaml:"severity"`

	Role              string             `yaml:"role"`
	Sectors           yamlList           `yaml:"sectors"`
	DeterminedAt      string             `yaml:"determined_at"`
	Affected          map[string]int     `yaml:"affected"`
	Encrypted         bool               `yaml:"encrypted"`
	Risk              string             `yaml:"risk"`
	RiskJustification string             `yaml:"risk_justification"`
	Circumstances     risk.Circumstances `yaml:"circumstances"`
	Exemptions        yamlList           `yaml:"exemptions"`

	lines fileLines `yaml:"-"`
}

type yamlList []string

type fileLines map[string]int

// readIncidentFile reads facts from YAML; an error names the file and line.
func readIncidentFile(path string) (incident.Facts, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return incident.Facts{}, apperr.Wrap(apperr.Invalid, err, "--file")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return incident.Facts{}, yamlfile.SyntaxError(path, raw, err)
	}
	var f incidentFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return incident.Facts{}, apperr.Invalidf(path, "%v", err)
	}
	f.lines = keyLines(&doc)
	facts := incident.Facts{
		Title: f.Title, Description: f.Description, Reporter: f.Reporter,
		Systems: f.Systems, DataCategories: f.DataCategories, Regions: f.Regions,
		Role: f.Role, Sectors: f.Sectors, Encrypted: f.Encrypted, Circumstances: f.Circumstances, Exemptions: f.Exemptions,
	}
	for region, n := range f.Affected {
		facts.Affected = append(facts.Affected, incident.Residents{Region: region, Count: n})
	}
	if f.Risk != "" {
		level, err := risk.ParseLevel(f.Risk)
		if err != nil {
			return facts, apperr.Invalidf(f.where(path, "risk"), "%q is not none, low, medium or high", f.Risk)
		}
		facts.Risk = &risk.Override{Level: level, Justification: f.RiskJustification}
	}
	for _, tf := range []struct {
		key string
		val string
		dst **time.Time
	}{{"detected_at", f.DetectedAt, &facts.DetectedAt}, {"occurred_at", f.OccurredAt, &facts.OccurredAt}, {"determined_at", f.DeterminedAt, &facts.DeterminedAt}} {
		t, err := parseTime(f.where(path, tf.key), tf.val)
		if err != nil {
			return facts, err
		}
		*tf.dst = t
	}
	aware, err := parseTime(f.where(path, "aware_at"), f.AwareAt)
	if err != nil {
		return facts, err
	}
	if aware != nil {
		facts.AwareAt = *aware
	}
	if f.Severity != "" {
		sev, err := incident.ParseSeverity(f.Severity)
		if err != nil {
			return facts, apperr.Invalidf(f.where(path, "severity"), "%q is not low, medium, high or critical", f.Severity)
		}
		facts.Severity = sev
	}
	if err := facts.Normalize().Validate(); err != nil {
		var e *apperr.Error
		if asAppErr(err, &e) && e.Field != "" {
			key, _, _ := strings.Cut(e.Field, ".") // circumstances.confidentiality is under circumstances
			if line, ok := f.lines[key]; ok {
				return facts, apperr.Invalidf(fmt.Sprintf("%s:%d: %s", path, line, e.Field), "%s", e.Msg)
			}
			return facts, apperr.Invalidf(path+": "+e.Field, "%s", e.Msg)
		}
		return facts, apperr.Invalidf(path, "%v", err)
	}
	return facts, nil
}

func (f incidentFile) where(path, key string) string {
	if line, ok := f.lines[key]; ok {
		return fmt.Sprintf("%s:%d: %s", path, line, key)
	}
	return path + ": " + key
}

// keyLines maps each top-level key of a YAML mapping to its line.
func keyLines(doc *yaml.Node) fileLines {
	lines := fileLines{}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return lines
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		lines[m.Content[i].Value] = m.Content[i].Line
	}
	return lines
}

// UnmarshalYAML accepts a list or a single comma-separated string.
func (l *yamlList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = yamlList{n.Value}
		return nil
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
		return nil
	}
	return fmt.Errorf("line %d: want a list of strings", n.Line)
}
