package datamap

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// Map is a company's data map.
type Map struct {
	File    string // the name it was parsed under, for errors
	Company string
	All     []System // every system, in file order
}

// System is one system that holds personal data.
type System struct {
	ID          string
	Description string
	Store       string   // where the data lives (PostgreSQL, S3, Stripe), free text
	Categories  []string // breachctl data categories, as written
	// Retention is how long the system keeps data after it was written;
	// zero when Indefinite.
	Retention  time.Duration
	Indefinite bool
	Residence  Residence
	Region     Region
	SeenAt     string // column: when the data about the person was written; "" if none
	Note       string
	Line       int // where the system starts in its file
}

// Residence says how to tell where a person in a system lives: the Field
// column (an ISO 3166-1 alpha-2 code), else the region of the Locale column's
// BCP 47 locale; or Fixed, one country for everyone.
type Residence struct {
	Field  string
	Locale string
	Fixed  string
}

// Region says where to find a person's ISO 3166-2 subdivision: the Field
// column, or Fixed (CA for US-CA, with a fixed residence of US).
type Region struct {
	Field string
	Fixed string
}

// Held reports whether data written at seenAt was still held at t: always
// for a system that keeps data indefinitely or when seenAt is unknown (zero),
// else from seenAt until seenAt+Retention (exclusive).
func (s System) Held(seenAt, t time.Time) bool {
	if s.Indefinite || seenAt.IsZero() {
		return true
	}
	return !t.Before(seenAt) && t.Before(seenAt.Add(s.Retention))
}

// RetentionText is the retention as the map would write it.
func (s System) RetentionText() string {
	if s.Indefinite {
		return "indefinite"
	}
	text, _ := incident.Duration(s.Retention).MarshalText() // readable, and exact where that needs seconds
	return string(text)
}

// System returns the system with the given id.
func (m *Map) System(id string) (System, bool) {
	for _, s := range m.All {
		if s.ID == id {
			return s, true
		}
	}
	return System{}, false
}

// IDs lists the system ids in file order.
func (m *Map) IDs() []string {
	ids := make([]string, len(m.All))
	for i, s := range m.All {
		ids[i] = s.ID
	}
	return ids
}

// Systems returns the systems with the given ids, in the order given and
// once each; an unknown id is an error that lists the known ones.
func (m *Map) Systems(ids []string) ([]System, error) {
	out := make([]System, 0, len(ids))
	var unknown []string
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		s, ok := m.System(id)
		if !ok {
			unknown = append(unknown, strconv.Quote(id))
			continue
		}
		out = append(out, s)
	}
	if len(unknown) > 0 {
		what := "system"
		if len(unknown) > 1 {
			what = "systems"
		}
		return nil, apperr.Invalidf("systems", "unknown %s %s: the data map %s names %s",
			what, strings.Join(unknown, ", "), m.File, strings.Join(m.IDs(), ", "))
	}
	return out, nil
}

// Load reads and parses a data map file.
func Load(path string) (*Map, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "data map")
	}
	return Parse(path, raw)
}

var (
	topKeys    = []string{"company", "systems"}
	systemKeys = []string{"id", "description", "store", "categories", "retention", "residence", "region", "seen_at", "note"}
	idPattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	daysRE     = regexp.MustCompile(`^([0-9]+)d$`)
)

// maxRetention bounds a retention so seenAt+Retention cannot overflow; a
// longer one should be written as indefinite.
const maxRetention = 100 * 365 * 24 * time.Hour

// Parse reads a data map; name is the file name used in errors.
func Parse(name string, raw []byte) (*Map, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, yamlfile.SyntaxError(name, raw, err)
	}
	p := parser{file: name}
	if len(doc.Content) == 0 {
		return nil, apperr.Invalidf(name, "the data map is empty: it needs company and systems")
	}
	root := yamlfile.Deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "the data map must be a mapping with company and systems")
	}
	m := &Map{File: name}
	var systems *yaml.Node
	err := p.mapping(root, "the data map", topKeys, func(key string, v *yaml.Node) error {
		switch key {
		case "company":
			s, err := p.text(v, "company")
			m.Company = s
			return err
		case "systems":
			systems = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(m.Company) == "" {
		return nil, p.errf(root, "company is required: the company that runs these systems")
	}
	if systems == nil {
		return nil, p.errf(root, "systems is required: the systems that hold personal data")
	}
	if systems.Kind != yaml.SequenceNode || len(systems.Content) == 0 {
		return nil, p.errf(systems, "systems must be a list of at least one system")
	}
	seen := map[string]int{}
	for _, n := range systems.Content {
		s, err := p.system(yamlfile.Deref(n))
		if err != nil {
			return nil, err
		}
		if line, dup := seen[s.ID]; dup {
			return nil, p.errf(n, "system id %q is already used at line %d", s.ID, line)
		}
		seen[s.ID] = s.Line
		m.All = append(m.All, s)
	}
	return m, nil
}

type parser struct{ file string }

func (p parser) errf(n *yaml.Node, format string, args ...any) error {
	return apperr.Invalidf(fmt.Sprintf("%s:%d", p.file, n.Line), format, args...)
}

// mapping walks a mapping's keys in order, rejecting unknown and repeated ones.
func (p parser) mapping(n *yaml.Node, what string, known []string, each func(key string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping (%s)", what, strings.Join(known, ", "))
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := yamlfile.Deref(n.Content[i]), yamlfile.Deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return p.errf(k, "%s: a key must be a plain word", what)
		}
		if !slices.Contains(known, k.Value) {
			return p.errf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if line, dup := lines[k.Value]; dup {
			return p.errf(k, "%s: %s is already given at line %d", what, k.Value, line)
		}
		lines[k.Value] = k.Line
		if err := each(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func (p parser) text(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n, "%s must be text", what)
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return strings.TrimSpace(n.Value), nil
}

func (p parser) column(n *yaml.Node, what string) (string, error) {
	s, err := p.text(n, what)
	if err == nil && s == "" {
		err = p.errf(n, "%s must name a column", what)
	}
	return s, err
}

func (p parser) system(n *yaml.Node) (System, error) {
	s := System{Line: n.Line, Residence: Residence{Field: "country"}}
	if n.Kind != yaml.MappingNode {
		return s, p.errf(n, "a system must be a mapping (%s)", strings.Join(systemKeys, ", "))
	}
	// The id first, so every other error can name the system.
	what := "system"
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := yamlfile.Deref(n.Content[i]); k.Value == "id" {
			v := yamlfile.Deref(n.Content[i+1])
			id, err := p.text(v, "system id")
			if err != nil {
				return s, err
			}
			if !idPattern.MatchString(id) {
				return s, p.errf(v, "system id %q must be letters, digits, '-', '_' or '.'", id)
			}
			s.ID, what = id, "system "+id
		}
	}
	var categories, retention *yaml.Node
	err := p.mapping(n, what, systemKeys, func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "description":
			s.Description, err = p.text(v, what+": description")
		case "store":
			s.Store, err = p.text(v, what+": store")
		case "note":
			s.Note, err = p.text(v, what+": note")
		case "seen_at":
			s.SeenAt, err = p.column(v, what+": seen_at")
		case "categories":
			categories = v
			s.Categories, err = p.categories(v, what)
		case "retention":
			retention = v
			s.Retention, s.Indefinite, err = p.retention(v, what)
		case "residence":
			s.Residence, err = p.residence(v, what)
		case "region":
			s.Region, err = p.region(v, what)
		}
		return err
	})
	if err != nil {
		return s, err
	}
	switch {
	case s.ID == "":
		return s, p.errf(n, "a system needs an id")
	case categories == nil:
		return s, p.errf(n, "%s: categories is required: the data categories the system holds (%s)", what, strings.Join(incident.DataCategories, ", "))
	case retention == nil:
		return s, p.errf(n, "%s: retention is required: how long the system keeps data (24h, 30d, indefinite)", what)
	}
	if s.Region.Fixed != "" {
		if s.Residence.Fixed == "" {
			return s, p.errf(n, "%s: a fixed region needs a fixed residence (residence: {fixed: US}, region: {fixed: US-CA})", what)
		}
		c, r, ok := strings.Cut(s.Region.Fixed, "-")
		if !ok {
			c, r = s.Residence.Fixed, s.Region.Fixed
		}
		if c != s.Residence.Fixed || incident.ValidateRegion(c+"-"+r) != nil {
			return s, p.errf(n, "%s: region %q is not a subdivision of %s (write it as %s-XX)", what, s.Region.Fixed, s.Residence.Fixed, s.Residence.Fixed)
		}
		s.Region.Fixed = r
	}
	return s, nil
}

func (p parser) categories(n *yaml.Node, what string) ([]string, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.errf(n, "%s: categories must be a list of data categories, e.g. [name, email]", what)
	}
	var out []string
	for _, c := range n.Content {
		c = yamlfile.Deref(c)
		v, err := p.text(c, what+": a category")
		if err != nil {
			return nil, err
		}
		if !incident.IsDataCategory(v) {
			return nil, p.errf(c, "%s: unknown data category %q (known: %s)", what, v, strings.Join(incident.DataCategories, ", "))
		}
		if slices.Contains(out, v) {
			return nil, p.errf(c, "%s: category %s is listed twice", what, v)
		}
		out = append(out, v)
	}
	return out, nil
}

func (p parser) retention(n *yaml.Node, what string) (time.Duration, bool, error) {
	s, err := p.text(n, what+": retention")
	if err != nil {
		return 0, false, err
	}
	bad := func(why string) error {
		return p.errf(n, "%s: retention %q %s: write a Go duration (90m, 24h), whole days (30d) or indefinite", what, s, why)
	}
	if s == "indefinite" {
		return 0, true, nil
	}
	var d time.Duration
	if m := daysRE.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > int(maxRetention/(24*time.Hour)) {
			return 0, false, bad("is too long")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var v incident.Duration // a Go duration, or days and one ("4d4h", as RetentionText writes it)
		if err := v.UnmarshalText([]byte(s)); err != nil {
			return 0, false, bad("is not a duration")
		}
		d = time.Duration(v)
	}
	switch {
	case d <= 0:
		return 0, false, bad("must be positive")
	case d > maxRetention:
		return 0, false, bad("is too long (more than 100 years is indefinite)")
	}
	return d, false, nil
}

func (p parser) residence(n *yaml.Node, what string) (Residence, error) {
	var r Residence
	shapes := "{field: <column>}, {locale: <column>}, {field: <column>, locale: <column>} or {fixed: <country code>}"
	err := p.mapping(n, what+": residence", []string{"field", "locale", "fixed"}, func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "field":
			r.Field, err = p.column(v, what+": residence.field")
		case "locale":
			r.Locale, err = p.column(v, what+": residence.locale")
		case "fixed":
			r.Fixed, err = p.text(v, what+": residence.fixed")
			if err == nil && !isCountry(r.Fixed) {
				err = p.errf(v, "%s: residence.fixed %q is not an ISO 3166-1 alpha-2 country code (DE, US)", what, r.Fixed)
			}
		}
		return err
	})
	switch {
	case err != nil:
		return r, err
	case r.Fixed != "" && (r.Field != "" || r.Locale != ""):
		return r, p.errf(n, "%s: residence is fixed or read from columns, not both: %s", what, shapes)
	case r == Residence{}:
		return r, p.errf(n, "%s: residence must be %s", what, shapes)
	}
	return r, nil
}

func (p parser) region(n *yaml.Node, what string) (Region, error) {
	var r Region
	err := p.mapping(n, what+": region", []string{"field", "fixed"}, func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "field":
			r.Field, err = p.column(v, what+": region.field")
		case "fixed":
			r.Fixed, err = p.text(v, what+": region.fixed")
		}
		return err
	})
	switch {
	case err != nil:
		return r, err
	case (r.Field == "") == (r.Fixed == ""):
		return r, p.errf(n, "%s: region must be {field: <column>} or {fixed: <ISO 3166-2 code>}", what)
	}
	return r, nil
}

func isCountry(code string) bool {
	return incident.ValidateRegion(code) == nil && !strings.Contains(code, "-") && code != "EU" && code != "EEA"
}
