package rules

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// Ruleset is the notification law as data: shipped in the binary, versioned,
// and extendable with files of the same shape (--rules DIR).
type Ruleset struct {
	// Version changes with every edit of the rules; it is recorded with
	// every assessment.
	Version string `yaml:"version"`
	// CategorySets name lists of alternatives, each a set of data categories
	// that must all be exposed together ("name with ssn").
	CategorySets map[string][][]string `yaml:"category_sets"`
	Rules        []Rule                `yaml:"rules"`
}

// Rule is one notification obligation in one law, for one window of time.
type Rule struct {
	ID           string `yaml:"id"`
	Jurisdiction string `yaml:"jurisdiction"`
	// Residents is where affected people must live for the rule to apply:
	// EU (the EU and EEA states), a country (CA: any province too), a
	// subdivision (US-CA), US (any US state), or ANY. Default: Jurisdiction.
	Residents  string `yaml:"residents"`
	Law        string `yaml:"law"`
	Citation   string `yaml:"citation"`
	Source     string `yaml:"source"`
	Confidence string `yaml:"confidence"` // high | medium
	// Effective limits the rule to clock starts within a window, so a law
	// that changed applies in its old form to older breaches.
	Effective Period `yaml:"effective"`
	// Role is who must notify: controller (the default), processor, or any.
	Role string `yaml:"role"`
	// Sectors: the rule applies only to an organisation in one of them.
	Sectors   []string `yaml:"sectors"`
	Notify    string   `yaml:"notify"`
	Recipient string   `yaml:"recipient"`
	Stage     string   `yaml:"stage"`
	Trigger   Trigger  `yaml:"trigger"`
	// ClockStart is awareness, discovery, determination, assessment,
	// year_end_of_discovery, or the ID of another rule whose notice starts
	// this one's clock.
	ClockStart string      `yaml:"clock_start"`
	Deadline   Deadline    `yaml:"deadline"`
	Content    []string    `yaml:"content"`
	Exemptions []Exemption `yaml:"exemptions"`
	// Late says what a notice after the deadline must carry.
	Late string `yaml:"late"`
	// OwnNotice: the law's notice to individuals must stand on its own; it
	// neither satisfies nor is satisfied by another law's notice.
	OwnNotice bool   `yaml:"own_notice"`
	Note      string `yaml:"note"`

	// Where the rule came from, to name its line in an error: the line is
	// looked up only then, since a valid ruleset never needs it.
	file  string
	src   []byte // the whole file, shared by its rules
	index int    // the rule's position in the file's rules
}

// Period is a window of dates, From inclusive and Until exclusive, in UTC.
type Period struct {
	From  Date `yaml:"from"`
	Until Date `yaml:"until"`
}

// Contains reports whether t falls in the window.
func (p Period) Contains(t time.Time) bool {
	if !p.From.IsZero() && t.Before(p.From.Time) {
		return false
	}
	if !p.Until.IsZero() && !t.Before(p.Until.Time) {
		return false
	}
	return true
}

// Date is a calendar date in YAML (2026-01-01), midnight UTC.
type Date struct{ time.Time }

func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse("2006-01-02", n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a date like 2026-01-01", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// Trigger is what must be true of the facts for the rule to apply.
type Trigger struct {
	// Risk is the lowest risk level that triggers the rule: none (any
	// breach, the default), low, medium or high.
	Risk       string     `yaml:"risk"`
	Categories Categories `yaml:"categories"`
	Count      Count      `yaml:"count"`
}

// Categories says which exposed data triggers the rule: any personal data,
// or one of several combinations.
type Categories struct {
	Any   bool       `yaml:"any"`
	AnyOf [][]string `yaml:"any_of"` // alternatives; each lists categories exposed together
	Sets  []string   `yaml:"sets"`   // names of CategorySets, adding their alternatives
}

// UnmarshalYAML accepts "any" or a mapping.
func (c *Categories) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "any" {
			return fmt.Errorf("line %d: categories is \"any\" or a mapping with any_of and sets", n.Line)
		}
		c.Any = true
		return nil
	}
	type plain Categories
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = Categories(p)
	return nil
}

// Count is a threshold on the number of affected people.
type Count struct {
	AtLeast  *int `yaml:"at_least"`
	MoreThan *int `yaml:"more_than"`
	AtMost   *int `yaml:"at_most"`
	// Of is what is counted: residents (of the rule's Residents scope, the
	// default), total (everyone affected), or largest_subdivision (the most
	// residents of any one state or province within the scope).
	Of string `yaml:"of"`
}

// Deadline is how long the clock runs.
type Deadline struct {
	Hours        int `yaml:"hours"`
	CalendarDays int `yaml:"calendar_days"`
	BusinessDays int `yaml:"business_days"`
	Months       int `yaml:"months"`
	// Calendar is the holiday calendar for business days: US, BR, US-VT ...
	Calendar string `yaml:"calendar"`
	// ASAP: without undue delay; the period above, if any, is the outer limit.
	ASAP bool `yaml:"asap"`
	// Before names a rule whose notice this one must not come after; its due
	// time bounds this one's.
	Before string `yaml:"before"`
}

// Exemption is a condition in the law under which the rule does not apply.
type Exemption struct {
	// Code: encryption (the data was unintelligible and the key safe),
	// subsequent_measures, disproportionate_effort.
	Code string `yaml:"code"`
	Text string `yaml:"text"`
	// Substitute is who is told instead when the exemption applies
	// (disproportionate_effort: public).
	Substitute string `yaml:"substitute"`
}

// Allowed values, checked when a ruleset loads.
var (
	notifyKinds = []string{"authority", "individuals", "attorney_general", "consumer_reporting_agencies", "media", "controller", "public",
		"covered_entity", "owner", "other_organizations"}
	clockStarts    = []string{"awareness", "discovery", "determination", "assessment", "year_end_of_discovery"}
	roles          = []string{"controller", "processor", "any"}
	riskLevels     = []string{"none", "low", "medium", "high"}
	countOf        = []string{"residents", "total", "largest_subdivision"}
	exemptionCodes = []string{"encryption", "subsequent_measures", "disproportionate_effort"}
	confidences    = []string{"high", "medium"}
	// Sectors is every sector a rule or scenario may name.
	Sectors = incident.Sectors
)

//go:embed data/*.yaml
var builtin embed.FS

// Builtin loads the ruleset shipped in the binary.
func Builtin() (*Ruleset, error) {
	return load(builtin, "data")
}

// Load reads the built-in ruleset, then every *.yaml file of dir on top: a
// rule with the ID and effective window of a built-in one replaces it; any
// other is added. An empty dir means the built-in rules alone.
func Load(dir string) (*Ruleset, error) {
	rs, err := Builtin()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return rs, nil
	}
	extra, err := load(os.DirFS(dir), ".")
	if err != nil {
		return nil, err
	}
	rs.merge(extra)
	return rs, rs.validate()
}

func load(fsys fs.FS, dir string) (*Ruleset, error) {
	names, err := fs.Glob(fsys, filepath.ToSlash(filepath.Join(dir, "*.yaml")))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, apperr.Invalidf("--rules", "no *.yaml rule files in %s", dir)
	}
	sort.Strings(names)
	rs := &Ruleset{CategorySets: map[string][][]string{}}
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		part, err := parse(name, raw)
		if err != nil {
			return nil, err
		}
		rs.merge(part)
	}
	return rs, rs.validate()
}

func parse(name string, raw []byte) (*Ruleset, error) {
	var rs Ruleset
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, yamlfile.SyntaxError(name, raw, err)
		}
		return nil, apperr.Invalidf(name, "%v", err)
	}
	for j := range rs.Rules {
		rs.Rules[j].file, rs.Rules[j].src, rs.Rules[j].index = name, raw, j
	}
	return &rs, nil
}

// Has reports whether the ruleset has a rule with the ID.
func (rs *Ruleset) Has(id string) bool {
	return slices.ContainsFunc(rs.Rules, func(r Rule) bool { return r.ID == id })
}

func (rs *Ruleset) merge(other *Ruleset) {
	if other.Version != "" {
		if rs.Version == "" {
			rs.Version = other.Version
		} else if rs.Version != other.Version {
			rs.Version += "+" + other.Version
		}
	}
	if rs.CategorySets == nil {
		rs.CategorySets = map[string][][]string{}
	}
	for k, v := range other.CategorySets {
		rs.CategorySets[k] = v
	}
	for _, r := range other.Rules {
		i := slices.IndexFunc(rs.Rules, func(x Rule) bool { return x.ID == r.ID && x.Effective == r.Effective })
		if i >= 0 {
			rs.Rules[i] = r
		} else {
			rs.Rules = append(rs.Rules, r)
		}
	}
}

// where names a rule's file and line in errors. It parses the file again
// for the line, which only a failing rule needs.
func (r Rule) where() string {
	if r.file == "" {
		return "rule " + r.ID
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(r.src, &doc); err == nil && len(doc.Content) > 0 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if rules := root.Content[i+1]; root.Content[i].Value == "rules" && r.index < len(rules.Content) {
				return fmt.Sprintf("%s:%d: rule %s", r.file, rules.Content[r.index].Line, r.ID)
			}
		}
	}
	return r.file + ": rule " + r.ID
}

func (rs *Ruleset) validate() error {
	if rs.Version == "" {
		return apperr.Invalidf("version", "the ruleset has no version")
	}
	ids := map[string]bool{}
	for _, r := range rs.Rules {
		ids[r.ID] = true
	}
	for name, alts := range rs.CategorySets {
		for _, alt := range alts {
			for _, c := range alt {
				if !incident.IsDataCategory(c) {
					return apperr.Invalidf("category_sets."+name, "unknown data category %q", c)
				}
			}
		}
	}
	for _, r := range rs.Rules {
		if err := r.validate(rs, ids); err != nil {
			// Name the file and line now that there is something to point at.
			if e, ok := err.(*apperr.Error); ok {
				if rest, found := strings.CutPrefix(e.Field, "rule "+r.ID); found {
					e.Field = r.where() + rest
				}
			}
			return err
		}
	}
	return nil
}

func oneOf(field, v string, allowed []string, where string) error {
	if !slices.Contains(allowed, v) {
		return apperr.Invalidf(where+": "+field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	return nil
}

func (r Rule) validate(rs *Ruleset, ids map[string]bool) error {
	w := "rule " + r.ID // Ruleset.validate adds the file and line on error
	switch {
	case r.ID == "":
		return apperr.Invalidf(w+": id", "is required")
	case r.Jurisdiction == "":
		return apperr.Invalidf(w+": jurisdiction", "is required")
	case r.Citation == "":
		return apperr.Invalidf(w+": citation", "is required: every rule cites its law")
	}
	if err := oneOf("notify", r.Notify, notifyKinds, w); err != nil {
		return err
	}
	if err := oneOf("confidence", r.Confidence, confidences, w); err != nil {
		return err
	}
	if r.Role != "" {
		if err := oneOf("role", r.Role, roles, w); err != nil {
			return err
		}
	}
	for _, s := range r.Sectors {
		if err := oneOf("sectors", s, Sectors, w); err != nil {
			return err
		}
	}
	if r.Trigger.Risk != "" {
		if err := oneOf("trigger.risk", r.Trigger.Risk, riskLevels, w); err != nil {
			return err
		}
	}
	if r.Trigger.Count.Of != "" {
		if err := oneOf("trigger.count.of", r.Trigger.Count.Of, countOf, w); err != nil {
			return err
		}
	}
	if !slices.Contains(clockStarts, r.ClockStart) && !ids[r.ClockStart] {
		return apperr.Invalidf(w+": clock_start", "%q is neither one of %s nor the ID of another rule", r.ClockStart, strings.Join(clockStarts, ", "))
	}
	if r.Deadline.Before != "" && !ids[r.Deadline.Before] {
		return apperr.Invalidf(w+": deadline.before", "%q is not the ID of a rule", r.Deadline.Before)
	}
	d := r.Deadline
	periods := 0
	for _, v := range []int{d.Hours, d.CalendarDays, d.BusinessDays, d.Months} {
		if v < 0 {
			return apperr.Invalidf(w+": deadline", "a period cannot be negative")
		}
		if v > 0 {
			periods++
		}
	}
	if periods > 1 {
		return apperr.Invalidf(w+": deadline", "give one of hours, calendar_days, business_days or months")
	}
	if periods == 0 && !d.ASAP && d.Before == "" {
		return apperr.Invalidf(w+": deadline", "needs a period, asap or before")
	}
	if d.BusinessDays > 0 {
		if _, ok := calendars[d.Calendar]; !ok {
			return apperr.Invalidf(w+": deadline.calendar", "%q is not a known holiday calendar (%s)", d.Calendar, strings.Join(CalendarNames(), ", "))
		}
	}
	if err := r.Trigger.Categories.validate(rs, w); err != nil {
		return err
	}
	if r.Residents != "" && r.Residents != "ANY" && r.Residents != "US" {
		if err := incident.ValidateRegion(r.Residents); err != nil {
			return apperr.Invalidf(w+": residents", "%v", err)
		}
	}
	for _, e := range r.Exemptions {
		if err := oneOf("exemptions.code", e.Code, exemptionCodes, w); err != nil {
			return err
		}
	}
	return nil
}

func (c Categories) validate(rs *Ruleset, w string) error {
	if c.Any && (len(c.AnyOf) > 0 || len(c.Sets) > 0) {
		return apperr.Invalidf(w+": trigger.categories", "is either any or a list of alternatives, not both")
	}
	for _, alt := range c.AnyOf {
		if len(alt) == 0 {
			return apperr.Invalidf(w+": trigger.categories.any_of", "an alternative lists no category")
		}
		for _, cat := range alt {
			if !incident.IsDataCategory(cat) {
				return apperr.Invalidf(w+": trigger.categories", "unknown data category %q", cat)
			}
		}
	}
	for _, s := range c.Sets {
		if _, ok := rs.CategorySets[s]; !ok {
			return apperr.Invalidf(w+": trigger.categories.sets", "no category set %q", s)
		}
	}
	return nil
}
