package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// factsFlags are the flags that describe a breach, shared by open and update.
type factsFlags struct {
	title, description, reporter  string
	detectedAt, awareAt, occurred string
	systems, categories, regions  []string
	severity                      string
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
	return c, nil
}

// incidentFile is the YAML form of the facts for `open --file`.
type incidentFile struct {
	Title          string    `yaml:"title"`
	Description    string    `yaml:"description"`
	Reporter       string    `yaml:"reporter"`
	DetectedAt     string    `yaml:"detected_at"`
	AwareAt        string    `yaml:"aware_at"`
	OccurredAt     string    `yaml:"occurred_at"`
	Systems        yamlList  `yaml:"systems"`
	DataCategories yamlList  `yaml:"data_categories"`
	Regions        yamlList  `yaml:"regions"`
	Severity       string    `yaml:"severity"`
	lines          fileLines `yaml:"-"`
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
		return incident.Facts{}, apperr.Invalidf(path, "%v", err)
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
	}
	for _, tf := range []struct {
		key string
		val string
		dst **time.Time
	}{{"detected_at", f.DetectedAt, &facts.DetectedAt}, {"occurred_at", f.OccurredAt, &facts.OccurredAt}} {
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
			if line, ok := f.lines[e.Field]; ok {
				return facts, apperr.Invalidf(fmt.Sprintf("%s:%d: %s", path, line, e.Field), "%s", e.Msg)
			}
		}
		return facts, err
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
