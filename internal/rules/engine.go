package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
)

// Scenario is what the rules need to know about a breach.
type Scenario struct {
	Role         string // controller (default) or processor
	Sectors      []string
	OccurredAt   *time.Time
	DiscoveredAt time.Time
	AwareAt      time.Time // zero: DiscoveredAt
	DeterminedAt time.Time // zero: DiscoveredAt
	Categories   []string
	Encrypted    bool
	// Risk overrides the computed risk, with a justification.
	Risk          *risk.Override
	Circumstances risk.Circumstances
	// Affected counts residents per region; Unknown marks a region where
	// people are affected but not yet counted.
	Affected   map[string]int
	Exemptions []string
	// NoticesSent says when notices went out, by rule: they start the clocks
	// of rules that run from another notice.
	NoticesSent map[string]time.Time
}

// Unknown is the count of a region whose affected people are not counted yet.
const Unknown = -1

// FromFacts turns an incident's facts into a scenario: detection is
// discovery; a region without a count is affected but not yet counted.
func FromFacts(f incident.Facts) Scenario {
	s := Scenario{
		Role: f.Role, Sectors: f.Sectors, OccurredAt: f.OccurredAt,
		DiscoveredAt: f.Detected(), AwareAt: f.AwareAt, Categories: f.DataCategories,
		Encrypted: f.Encrypted, Risk: f.Risk, Circumstances: f.Circumstances,
		Affected: map[string]int{}, Exemptions: f.Exemptions,
	}
	if f.DeterminedAt != nil {
		s.DeterminedAt = *f.DeterminedAt
	}
	for _, region := range f.Regions {
		s.Affected[region] = Unknown
	}
	for _, r := range f.Affected {
		s.Affected[r.Region] = r.Count
	}
	return s
}

// ScenarioExemptions are the exemption codes a person can claim.
var ScenarioExemptions = incident.ExemptionClaims

// Assessment is the answer: the risk, every obligation triggered, and every
// rule considered and not triggered, with why.
type Assessment struct {
	Risk           risk.Assessment       `json:"risk"`
	Obligations    []incident.Obligation `json:"obligations"`
	NotTriggered   []NotTriggered        `json:"not_triggered"`
	RulesetVersion string                `json:"ruleset_version"`
	// Binding is the rule with the earliest deadline, if any has one.
	Binding string `json:"binding,omitempty"`
}

// NotTriggered is a rule considered and not applied.
type NotTriggered = incident.NotTriggered

// Config tunes how obligations are laid out.
type Config struct {
	// Reminders before each deadline; nil means DefaultReminders.
	Reminders []incident.Duration
}

// DefaultReminders are the reminder offsets before each deadline.
var DefaultReminders = []incident.Duration{
	incident.Duration(48 * time.Hour), incident.Duration(24 * time.Hour),
	incident.Duration(6 * time.Hour), incident.Duration(time.Hour),
}

// normalize fills defaults and checks the scenario; errors name the field.
func (s Scenario) normalize() (Scenario, error) {
	if s.Role == "" {
		s.Role = "controller"
	}
	if s.Role != "controller" && s.Role != "processor" {
		return s, apperr.Invalidf("role", "%q is not controller or processor", s.Role)
	}
	for _, sec := range s.Sectors {
		if !slices.Contains(Sectors, sec) {
			return s, apperr.Invalidf("sectors", "unknown sector %q; known: %s", sec, strings.Join(Sectors, ", "))
		}
	}
	if s.DiscoveredAt.IsZero() {
		return s, apperr.Invalidf("discovered_at", "is required")
	}
	if s.AwareAt.IsZero() {
		s.AwareAt = s.DiscoveredAt
	}
	if s.DeterminedAt.IsZero() {
		s.DeterminedAt = s.DiscoveredAt
	}
	for _, c := range s.Categories {
		if !incident.IsDataCategory(c) {
			return s, apperr.Invalidf("data_categories", "unknown category %q", c)
		}
	}
	for _, region := range sortedKeys(s.Affected) {
		if err := incident.ValidateRegion(region); err != nil {
			return s, apperr.Invalidf("affected", "%v", err)
		}
		if n := s.Affected[region]; n < 0 && n != Unknown {
			return s, apperr.Invalidf("affected", "%s: %d people is not a count", region, n)
		}
	}
	for _, e := range s.Exemptions {
		if !slices.Contains(ScenarioExemptions, e) {
			return s, apperr.Invalidf("exemptions", "%q is not one of %s", e, strings.Join(ScenarioExemptions, ", "))
		}
	}
	return s, nil
}

// Evaluate works out every obligation the scenario triggers.
func (rs *Ruleset) Evaluate(s Scenario, cfg Config) (Assessment, error) {
	s, err := s.normalize()
	if err != nil {
		return Assessment{}, err
	}
	reminders := cfg.Reminders
	if reminders == nil {
		reminders = DefaultReminders
	}
	a := Assessment{RulesetVersion: rs.Version, Obligations: []incident.Obligation{}, NotTriggered: []NotTriggered{}}
	a.Risk, err = risk.Assess(risk.Input{
		Categories: s.Categories, Affected: s.total(), Encrypted: s.Encrypted,
		Circumstances: s.Circumstances, Override: s.Risk,
	})
	if err != nil {
		return Assessment{}, err
	}
	ev := evaluation{rs: rs, s: s, risk: a.Risk}
	for _, id := range rs.ids() {
		r, ok, why := ev.version(id)
		if _, _, regions := s.residentsOf(r.scope()); !ok && r.scope() != "ANY" && len(regions) == 0 {
			why = "no affected residents of " + scopeName(r.scope())
		}
		if !ok {
			a.NotTriggered = append(a.NotTriggered, NotTriggered{Rule: id, Jurisdiction: r.Jurisdiction, Why: why})
			continue
		}
		ob, why := ev.apply(r)
		if why != "" {
			a.NotTriggered = append(a.NotTriggered, NotTriggered{Rule: r.ID, Jurisdiction: r.Jurisdiction, Why: why})
			continue
		}
		ob.Reminders = slices.Clone(reminders)
		a.Obligations = append(a.Obligations, ob)
	}
	// The rules of jurisdictions where nobody was affected matter least to a
	// reader: they go last.
	slices.SortStableFunc(a.NotTriggered, func(x, y NotTriggered) int {
		xn, yn := strings.HasPrefix(x.Why, "no affected residents"), strings.HasPrefix(y.Why, "no affected residents")
		switch {
		case xn == yn:
			return 0
		case yn:
			return -1
		}
		return 1
	})
	resolveBefore(rs, a.Obligations)
	sortObligations(a.Obligations)
	if b, ok := binding(a.Obligations); ok {
		a.Binding = b
	}
	return a, nil
}

// scope is where the rule's residents live.
func (r Rule) scope() string {
	if r.Residents != "" {
		return r.Residents
	}
	return r.Jurisdiction
}

// ids lists each rule ID once, in file order.
func (rs *Ruleset) ids() []string {
	var out []string
	for _, r := range rs.Rules {
		if !slices.Contains(out, r.ID) {
			out = append(out, r.ID)
		}
	}
	return out
}

type evaluation struct {
	rs   *Ruleset
	s    Scenario
	risk risk.Assessment
}

// version picks the form of a rule in force at its clock start.
func (ev evaluation) version(id string) (Rule, bool, string) {
	var first Rule
	for _, r := range ev.rs.Rules {
		if r.ID != id {
			continue
		}
		if first.ID == "" {
			first = r
		}
		if r.Effective.Contains(ev.baseStart(r, 0)) {
			return r, true, ""
		}
	}
	return first, false, fmt.Sprintf("not in force on %s", ev.baseStart(first, 0).Format("2006-01-02"))
}

// baseStart is the fact time a rule's clock runs from, following rules
// whose clock starts from another's notice back to a fact.
func (ev evaluation) baseStart(r Rule, depth int) time.Time {
	switch r.ClockStart {
	case "awareness":
		return ev.s.AwareAt
	case "discovery", "year_end_of_discovery":
		return ev.s.DiscoveredAt
	case "determination", "assessment":
		return ev.s.DeterminedAt
	}
	if depth < 5 {
		for _, other := range ev.rs.Rules {
			if other.ID == r.ClockStart {
				return ev.baseStart(other, depth+1)
			}
		}
	}
	return ev.s.DiscoveredAt
}

// apply decides whether a rule applies; it returns the obligation, or why
// not.
func (ev evaluation) apply(r Rule) (incident.Obligation, string) {
	s := ev.s
	var why []string
	scope := r.scope()
	residents, known, regions := s.residentsOf(scope)
	if scope != "ANY" && len(regions) == 0 {
		return incident.Obligation{}, fmt.Sprintf("no affected residents of %s", scopeName(scope))
	}
	role := r.Role
	if role == "" {
		role = "controller"
	}
	if role != "any" && role != s.Role {
		return incident.Obligation{}, fmt.Sprintf("applies to a %s; the organisation acts as %s", role, s.Role)
	}
	if len(r.Sectors) > 0 {
		var in []string
		for _, sec := range r.Sectors {
			if slices.Contains(s.Sectors, sec) {
				in = append(in, sec)
			}
		}
		if len(in) == 0 {
			return incident.Obligation{}, fmt.Sprintf("applies only in the %s sector", strings.Join(r.Sectors, " or "))
		}
		why = append(why, "sector "+strings.Join(in, ", "))
	}

	if reason, ok := ev.countMet(r, scope, residents, known); !ok {
		return incident.Obligation{}, reason
	} else if reason != "" && (r.Trigger.Count.Of == "" || r.Trigger.Count.Of == "residents") {
		why = append(why, reason) // says the residents and the threshold at once
	} else if scope != "ANY" {
		why = append(why, describeResidents(s, regions, scope))
		if reason != "" {
			why = append(why, reason)
		}
	}

	if cats, ok := ev.categoriesMet(r); !ok {
		return incident.Obligation{}, cats
	} else {
		why = append(why, cats)
	}

	if r.Trigger.Risk != "" && r.Trigger.Risk != "none" {
		min, _ := risk.ParseLevel(r.Trigger.Risk)
		if !ev.risk.Level.AtLeast(min) {
			return incident.Obligation{}, fmt.Sprintf("risk %s; the law applies from risk %s", ev.risk.Level, min)
		}
		why = append(why, fmt.Sprintf("risk %s (at least %s)", ev.risk.Level, min))
	}

	notify, recipient := r.Notify, r.Recipient
	for _, e := range r.Exemptions {
		claimed := (e.Code == "encryption" && s.Encrypted) || slices.Contains(s.Exemptions, e.Code)
		if !claimed {
			continue
		}
		if e.Substitute == "" {
			return incident.Obligation{}, "exempt: " + e.Text
		}
		notify, recipient = e.Substitute, "The public, by a communication as effective as individual notice"
		why = append(why, "individual notice replaced by a public communication: "+e.Text)
	}

	ob := incident.Obligation{
		Rule: r.ID, Title: title(notify, r), Jurisdiction: r.Jurisdiction, Residents: scope, Notify: notify, Recipient: recipient,
		Citation: r.Citation, ClockStart: r.ClockStart, ASAP: r.Deadline.ASAP, Stage: r.Stage,
		Content: slices.Clone(r.Content), Late: r.Late, Confidence: r.Confidence, OwnNotice: r.OwnNotice,
	}
	if ob.Content == nil {
		ob.Content = []string{}
	}
	start, startWhy, started := ev.clockStart(r)
	if started {
		st := start
		ob.StartsAt = &st
		if due, ok := r.Deadline.after(start); ok {
			ob.Due = &due
		}
	}
	why = append(why, startWhy+r.Deadline.describe())
	if r.Deadline.Before != "" {
		why = append(why, "no later than the notice under "+r.Deadline.Before)
	}
	ob.Why = why
	return ob, ""
}

// clockStart returns when the rule's clock starts; false while it waits
// on another obligation's notice.
func (ev evaluation) clockStart(r Rule) (time.Time, string, bool) {
	s := ev.s
	switch r.ClockStart {
	case "awareness":
		return s.AwareAt, "from awareness at " + stamp(s.AwareAt), true
	case "discovery":
		return s.DiscoveredAt, "from discovery at " + stamp(s.DiscoveredAt), true
	case "determination":
		return s.DeterminedAt, "from determination at " + stamp(s.DeterminedAt), true
	case "assessment":
		return s.DeterminedAt, "from assessment at " + stamp(s.DeterminedAt), true
	case "year_end_of_discovery":
		y := time.Date(s.DiscoveredAt.UTC().Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
		return y, fmt.Sprintf("from the end of %d, the year of discovery, ", y.Year()-1), true
	}
	if sent, ok := s.NoticesSent[r.ClockStart]; ok {
		return sent, "from the notice under " + r.ClockStart + " sent " + stamp(sent) + ", ", true
	}
	return time.Time{}, "once the notice under " + r.ClockStart + " is sent, ", false
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) + ", " }

// after computes the due time from a clock start; false when the law sets
// no period.
func (d Deadline) after(start time.Time) (time.Time, bool) {
	switch {
	case d.Hours > 0:
		return start.Add(time.Duration(d.Hours) * time.Hour), true
	case d.CalendarDays > 0:
		return start.Add(time.Duration(d.CalendarDays) * 24 * time.Hour), true
	case d.BusinessDays > 0:
		return calendars[d.Calendar].AddBusinessDays(start, d.BusinessDays), true
	case d.Months > 0:
		return start.AddDate(0, d.Months, 0), true
	}
	return time.Time{}, false
}

func (d Deadline) describe() string {
	var p string
	switch {
	case d.Hours > 0:
		p = fmt.Sprintf("%d hours", d.Hours)
	case d.CalendarDays > 0:
		p = fmt.Sprintf("%d calendar days", d.CalendarDays)
	case d.BusinessDays > 0:
		p = fmt.Sprintf("%d business days (%s holidays)", d.BusinessDays, d.Calendar)
	case d.Months > 0:
		p = fmt.Sprintf("%d month(s)", d.Months)
	}
	switch {
	case d.ASAP && p != "":
		return "without undue delay and within " + p
	case d.ASAP:
		return "without undue delay (no fixed period)"
	case p == "":
		return "by the time of the notice it must precede"
	}
	return "within " + p
}

// countMet checks the threshold. An unknown count never rules a law out.
func (ev evaluation) countMet(r Rule, scope string, residents int, known bool) (string, bool) {
	c := r.Trigger.Count
	if c.AtLeast == nil && c.MoreThan == nil && c.AtMost == nil {
		return "", true
	}
	n, what := residents, "residents of "+placeName(scopeName(scope))
	switch c.Of {
	case "total":
		n, known, what = ev.s.total(), ev.s.allKnown(), "people affected in all"
	case "largest_subdivision":
		var region string
		n, known, region = ev.s.largestSubdivision(scope)
		what = "residents of " + placeName(region)
	}
	var need string
	met := true
	switch {
	case c.MoreThan != nil:
		need, met = fmt.Sprintf("more than %s", thousands(*c.MoreThan)), n > *c.MoreThan
	case c.AtLeast != nil:
		need, met = fmt.Sprintf("at least %s", thousands(*c.AtLeast)), n >= *c.AtLeast
	}
	if c.AtMost != nil {
		if need != "" {
			need += " and "
		}
		need += fmt.Sprintf("at most %s", thousands(*c.AtMost))
		met = met && n <= *c.AtMost
	}
	if !known {
		if c.AtMost != nil && n > *c.AtMost {
			return fmt.Sprintf("already %s %s; the law applies to %s", thousands(n), what, need), false
		}
		return fmt.Sprintf("number of %s not known yet: the law applies to %s", what, need), true
	}
	if !met {
		return fmt.Sprintf("%s %s; the law applies to %s", thousands(n), what, need), false
	}
	return fmt.Sprintf("%s %s (%s)", thousands(n), what, need), true
}

// categoriesMet checks the data categories and says which combination
// triggered the rule.
func (ev evaluation) categoriesMet(r Rule) (string, bool) {
	cats := ev.s.Categories
	tc := r.Trigger.Categories
	if tc.Any || (len(tc.AnyOf) == 0 && len(tc.Sets) == 0) {
		if len(cats) == 0 {
			return "personal data (categories not yet known)", true
		}
		return "data exposed: " + strings.Join(cats, ", "), true
	}
	alts := slices.Clone(tc.AnyOf)
	for _, set := range tc.Sets {
		alts = append(alts, ev.rs.CategorySets[set]...)
	}
	for _, alt := range alts {
		all := true
		for _, c := range alt {
			all = all && slices.Contains(cats, c)
		}
		if all {
			return "data covered by the law: " + strings.Join(alt, " with "), true
		}
	}
	var covered []string
	for _, alt := range alts {
		covered = append(covered, strings.Join(alt, "+"))
	}
	exposed := "none listed"
	if len(cats) > 0 {
		exposed = strings.Join(cats, ", ")
	}
	return fmt.Sprintf("the data exposed (%s) is not personal information under this law, which covers %s", exposed, strings.Join(covered, ", ")), false
}

// InScope reports whether a region (DE, US-CA) lies within a rule's
// residents scope (EU, US, US-CA, CA, ANY).
func InScope(region, scope string) bool {
	switch scope {
	case "ANY":
		return true
	case "US":
		return region == "US" || strings.HasPrefix(region, "US-")
	case "EU":
		return incident.InGDPRArea(region)
	}
	if strings.Contains(scope, "-") {
		return region == scope
	}
	return region == scope || strings.HasPrefix(region, scope+"-")
}

// placeName names a country for a reader, with its code: "Germany (DE)".
// Other codes (EU, US-CA) stay as they are.
func placeName(code string) string {
	if len(code) != 2 {
		return code
	}
	r, err := language.ParseRegion(code)
	if err != nil || !r.IsCountry() {
		return code
	}
	return display.English.Regions().Name(r) + " (" + code + ")"
}

func scopeName(scope string) string {
	if scope == "ANY" {
		return "anywhere"
	}
	return scope
}

// residentsOf counts the affected residents within a scope.
func (s Scenario) residentsOf(scope string) (n int, known bool, regions []string) {
	known = true
	for _, region := range sortedKeys(s.Affected) {
		if !InScope(region, scope) {
			continue
		}
		regions = append(regions, region)
		if c := s.Affected[region]; c == Unknown {
			known = false
		} else {
			n += c
		}
	}
	return n, known, regions
}

func (s Scenario) total() int {
	n := 0
	for _, c := range s.Affected {
		if c > 0 {
			n += c
		}
	}
	return n
}

func (s Scenario) allKnown() bool {
	for _, c := range s.Affected {
		if c == Unknown {
			return false
		}
	}
	return true
}

// largestSubdivision finds the subdivision (state, province) within scope
// with the most affected residents.
func (s Scenario) largestSubdivision(scope string) (n int, known bool, region string) {
	known = true
	for _, r := range sortedKeys(s.Affected) {
		if !InScope(r, scope) {
			continue
		}
		c := s.Affected[r]
		if c == Unknown || !strings.Contains(r, "-") {
			known = false // a country-level count may hide a large state
			continue
		}
		if c > n {
			n, region = c, r
		}
	}
	if region == "" {
		region = "any one state or province"
	}
	return n, known, region
}

func describeResidents(s Scenario, regions []string, scope string) string {
	var parts []string
	for _, r := range regions {
		if c := s.Affected[r]; c == Unknown {
			parts = append(parts, "residents of "+placeName(r)+" (count not known yet)")
		} else {
			parts = append(parts, fmt.Sprintf("%s residents of %s", thousands(c), placeName(r)))
		}
	}
	return strings.Join(parts, "; ")
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// resolveBefore bounds a rule that must precede another by that one's due.
func resolveBefore(rs *Ruleset, obs []incident.Obligation) {
	for i := range obs {
		var before string
		for _, r := range rs.Rules {
			if r.ID == obs[i].Rule && r.Deadline.Before != "" {
				before = r.Deadline.Before
			}
		}
		if before == "" {
			continue
		}
		for _, other := range obs {
			if other.Rule == before && other.Due != nil && (obs[i].Due == nil || other.Due.Before(*obs[i].Due)) {
				due := *other.Due
				obs[i].Due = &due
			}
		}
	}
}

// sortObligations orders by due time (no deadline last), then rule.
func sortObligations(obs []incident.Obligation) {
	slices.SortStableFunc(obs, func(a, b incident.Obligation) int {
		if c := incident.CompareDeadlines(a.Due, b.Due); c != 0 {
			return c
		}
		return strings.Compare(a.Rule, b.Rule)
	})
}

func binding(obs []incident.Obligation) (string, bool) {
	for _, o := range obs {
		if o.Due != nil {
			return o.Rule, true // sorted: the first with a due time is the earliest
		}
	}
	return "", false
}

var notifyTitles = map[string]string{
	"authority":                   "Notify the authority",
	"individuals":                 "Notify the people affected",
	"attorney_general":            "Notify the attorney general",
	"consumer_reporting_agencies": "Notify the consumer reporting agencies",
	"media":                       "Notify the media",
	"controller":                  "Notify the controller",
	"public":                      "Inform the public",
	"covered_entity":              "Notify the covered entity",
	"owner":                       "Notify the owner or licensee of the data",
	"other_organizations":         "Notify organisations that can reduce the harm",
}

func title(notify string, r Rule) string {
	t := notifyTitles[notify]
	if r.Stage != "" {
		t += " (" + r.Stage + ")"
	}
	return t
}
