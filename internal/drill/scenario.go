// Package drill rehearses a whole incident in virtual time: the incident
// workflow runs in Temporal's test environment, people act at scripted
// offsets (or nobody does), and the timeline comes out with every reminder,
// overdue, approval, refusal and notice at its virtual instant. A tabletop
// exercise in seconds, and a regression test of a policy.
package drill

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/internal/yamlfile"
	"github.com/breachctl/breachctl/workflows"
)

// Defaults of a scenario.
var (
	DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	DefaultUntil = 30 * 24 * time.Hour
)

// Scenario is a parsed drill: the incident as opened and what people do.
type Scenario struct {
	Name     string // the file, for messages
	Title    string // the drill's own name, if it gives one
	Start    time.Time
	Until    time.Duration // the drill closes the incident here if nobody did
	OpenedBy string
	Facts    incident.Facts
	// Reminders override the configured reminder offsets; nil keeps them.
	Reminders []incident.Duration
	// Portals are the obligations whose authority takes reports only
	// through a web portal: their notice waits for a `filed` action.
	Portals []string
	Actions []Action // in file order; the scope, if any, among them
}

// Action is one thing a person does at an offset from the start.
type Action struct {
	At    time.Duration `json:"-"`
	Actor string        `json:"actor"`
	Do    string        `json:"do"`
	Line  int           `json:"line"`
	// Update and Request are what is sent to the workflow.
	Update  string `json:"-"`
	Request any    `json:"-"`
	// Rule is the obligation the action is about, if any, for the timeline.
	Rule string `json:"rule,omitempty"`
}

// Kinds of action and the arguments each takes besides at, actor and do.
var actionArgs = map[string][]string{
	"note":    {"text"},
	"ack":     {"rule", "text"},
	"assign":  {"role", "person"},
	"update":  {"facts", "reason"},
	"delay":   {"rule", "reasons"},
	"approve": {"rules", "texts", "translations", "subject_categories", "draft"},
	"draft":   {"rules", "texts", "translations", "subject_categories"},
	"reject":  {"rules", "draft", "reason"},
	"filed":   {"rule", "recipient", "reference"},
	"close":   {"reason"},
}

// ActionKinds lists the values of `do`.
func ActionKinds() []string {
	kinds := make([]string, 0, len(actionArgs))
	for k := range actionArgs {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// scenarioFile is the YAML contract of `breachctl drill`: extend it only by
// adding fields.
type scenarioFile struct {
	Name      string       `yaml:"name"`
	Start     string       `yaml:"start"`
	Until     string       `yaml:"until"`
	OpenedBy  string       `yaml:"opened_by"`
	Reminders []string     `yaml:"reminders"`
	Portals   yamlList     `yaml:"portals"`
	Facts     *factsFile   `yaml:"facts"`
	Scope     *scopeFile   `yaml:"scope"`
	Actions   []actionFile `yaml:"actions"`
}

// factsFile has the keys of `breachctl open --file`; every key is optional,
// so the same shape serves the opening facts and an `update` action.
type factsFile struct {
	Title             *string             `yaml:"title"`
	Description       *string             `yaml:"description"`
	Reporter          *string             `yaml:"reporter"`
	DetectedAt        *string             `yaml:"detected_at"`
	AwareAt           *string             `yaml:"aware_at"`
	OccurredAt        *string             `yaml:"occurred_at"`
	Systems           *yamlList           `yaml:"systems"`
	DataCategories    *yamlList           `yaml:"data_categories"`
	Regions           *yamlList           `yaml:"regions"`
	Severity          *string             `yaml:"severity"`
	Role              *string             `yaml:"role"`
	Sectors           *yamlList           `yaml:"sectors"`
	DeterminedAt      *string             `yaml:"determined_at"`
	Affected          map[string]int      `yaml:"affected"`
	Encrypted         *bool               `yaml:"encrypted"`
	Risk              *string             `yaml:"risk"`
	RiskJustification *string             `yaml:"risk_justification"`
	Circumstances     *risk.Circumstances `yaml:"circumstances"`
	Exemptions        *yamlList           `yaml:"exemptions"`
}

// scopeFile is a scoping snapshot: its counts, never the people.
type scopeFile struct {
	At         string         `yaml:"at"`
	Actor      string         `yaml:"actor"`
	ID         string         `yaml:"id"`
	Systems    yamlList       `yaml:"systems"`
	Window     string         `yaml:"window"`
	People     int            `yaml:"people"`
	Affected   map[string]int `yaml:"affected"`
	Categories yamlList       `yaml:"categories"`
	Rejected   int            `yaml:"rejected"`
}

type actionFile struct {
	At    string `yaml:"at"`
	Actor string `yaml:"actor"`
	Do    string `yaml:"do"`

	Text              string                            `yaml:"text"`
	Reason            string                            `yaml:"reason"`
	Facts             *factsFile                        `yaml:"facts"`
	Rule              string                            `yaml:"rule"`
	Reasons           string                            `yaml:"reasons"`
	Rules             yamlList                          `yaml:"rules"`
	Texts             activities.NoticeTexts            `yaml:"texts"`
	Translations      map[string]activities.NoticeTexts `yaml:"translations"`
	SubjectCategories yamlList                          `yaml:"subject_categories"`
	Recipient         string                            `yaml:"recipient"`
	Reference         string                            `yaml:"reference"`
	Role              string                            `yaml:"role"`
	Person            string                            `yaml:"person"`
	// Draft names the draft approved or rejected: its hash, or "latest",
	// the newest pending draft under the action's rules (a script cannot
	// know a hash before the draft is made).
	Draft string `yaml:"draft"`
}

// Parse reads a scenario; every error names the file, the line and the field.
func Parse(name string, raw []byte) (Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Scenario{}, yamlfile.SyntaxError(name, raw, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return Scenario{}, apperr.Invalidf(name, "a drill is a YAML mapping (start, facts, actions ...)")
	}
	var f scenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Scenario{}, yamlError(name, err)
	}
	at := locator{name: name, root: doc.Content[0]}
	s := Scenario{Name: name, Title: strings.TrimSpace(f.Name), Start: DefaultStart, Until: DefaultUntil, OpenedBy: strings.TrimSpace(f.OpenedBy), Portals: f.Portals}
	if s.OpenedBy == "" {
		s.OpenedBy = "drill"
	}
	if f.Start != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(f.Start))
		if err != nil {
			return s, at.errorf(path{"start"}, "%q is not an RFC 3339 time like 2026-01-05T09:00:00Z", f.Start)
		}
		s.Start = t.UTC()
	}
	if f.Until != "" {
		d, err := parseOffset(f.Until)
		if err != nil || d <= 0 {
			return s, at.errorf(path{"until"}, "%q is not a positive offset like 96h or 30d", f.Until)
		}
		s.Until = d
	}
	if f.Reminders != nil {
		s.Reminders = []incident.Duration{}
		for i, v := range f.Reminders {
			d, err := parseOffset(v)
			if err != nil || d <= 0 {
				return s, at.errorf(path{"reminders", i}, "%q is not a positive duration before a deadline, like 24h", v)
			}
			s.Reminders = append(s.Reminders, incident.Duration(d))
		}
	}
	if f.Facts == nil {
		return s, at.errorf(path{"facts"}, "is required: the facts the incident is opened with")
	}
	change, err := f.Facts.change(at, path{"facts"})
	if err != nil {
		return s, err
	}
	s.Facts = change.Apply(incident.Facts{})
	if f.Facts.AwareAt == nil {
		s.Facts.AwareAt = s.Start // aware when the drill opens the incident
	}
	if err := s.Facts.Validate(); err != nil {
		field := ""
		if e := (*apperr.Error)(nil); asAppErr(err, &e) {
			field = e.Field
			err = apperr.New(apperr.Invalid, "%s", e.Msg)
		}
		p := path{"facts"}
		if field != "" {
			p = append(p, strings.SplitN(field, ".", 2)[0])
		}
		return s, at.errorf(p, "%v", err)
	}
	for i, a := range f.Actions {
		act, err := a.action(at, path{"actions", i}, s)
		if err != nil {
			return s, err
		}
		s.Actions = append(s.Actions, act)
	}
	if f.Scope != nil {
		act, err := f.Scope.action(at, path{"scope"}, s)
		if err != nil {
			return s, err
		}
		s.Actions = append(s.Actions, act)
	}
	// Actions run in time order; at the same offset, in file order.
	slices.SortStableFunc(s.Actions, func(a, b Action) int { return int(a.At - b.At) })
	return s, nil
}

func (a actionFile) action(at locator, p path, s Scenario) (Action, error) {
	act := Action{Actor: strings.TrimSpace(a.Actor), Do: strings.ToLower(strings.TrimSpace(a.Do)), Line: at.line(p)}
	allowed, ok := actionArgs[act.Do]
	switch {
	case a.Do == "":
		return act, at.errorf(p, "do: say what the person does: %s", strings.Join(ActionKinds(), ", "))
	case !ok:
		return act, at.errorf(p.key("do"), "%q is not an action: %s", a.Do, strings.Join(ActionKinds(), ", "))
	}
	for _, k := range at.keys(p) {
		if k != "at" && k != "actor" && k != "do" && !slices.Contains(allowed, k) {
			return act, at.errorf(p.key(k), "%s takes %s, not %s", act.Do, strings.Join(allowed, ", "), k)
		}
	}
	off, err := actionOffset(at, p, a.At, s.Until)
	if err != nil {
		return act, err
	}
	act.At = off
	if act.Actor == "" {
		return act, at.errorf(p.key("actor"), "say who acts, like slack:U0DPO or cli:alice")
	}
	switch act.Do {
	case "note":
		act.Update, act.Request = workflows.UpdateNote, workflows.NoteRequest{Text: a.Text, Actor: act.Actor}
	case "ack":
		act.Rule = a.Rule
		act.Update, act.Request = workflows.UpdateAcknowledge, workflows.AckRequest{Rule: a.Rule, Text: a.Text, Actor: act.Actor}
	case "assign":
		role := strings.ToLower(strings.TrimSpace(a.Role))
		if !slices.Contains(incident.TeamRoles, role) {
			return act, at.errorf(p.key("role"), "assign needs a role: %s", strings.Join(incident.TeamRoles, ", "))
		}
		if strings.TrimSpace(a.Person) == "" {
			return act, at.errorf(p.key("person"), "assign needs the person who takes the role, like slack:U0DPO or dana@example.com")
		}
		act.Update, act.Request = workflows.UpdateAssign, workflows.AssignRequest{Role: role, Person: a.Person, Actor: act.Actor}
	case "update":
		if a.Facts == nil {
			return act, at.errorf(p.key("facts"), "update needs the facts that change")
		}
		change, err := a.Facts.change(at, p.key("facts"))
		if err != nil {
			return act, err
		}
		act.Update, act.Request = workflows.UpdateFacts, workflows.FactsRequest{Change: change, Actor: act.Actor, Reason: a.Reason}
	case "delay":
		act.Rule = a.Rule
		act.Update, act.Request = workflows.UpdateDelay, workflows.DelayRequest{Rule: a.Rule, Reasons: a.Reasons, Actor: act.Actor}
	case "approve", "draft":
		if len(a.Rules) > 0 {
			act.Rule = a.Rules[0]
		}
		draft := strings.TrimSpace(a.Draft)
		if draft != "" && (a.Texts != activities.NoticeTexts{} || len(a.Translations) > 0) {
			return act, at.errorf(p.key("draft"), "approving a draft approves it as drafted: give the texts to the draft action")
		}
		act.Update, act.Request = workflows.UpdateApprove, workflows.ApproveRequest{
			Rules: a.Rules, Texts: a.Texts, Translations: a.Translations, SubjectCategories: a.SubjectCategories, Actor: act.Actor, Draft: draft,
		}
		if act.Do == "draft" {
			act.Update = workflows.UpdateDraft
		}
	case "reject":
		if len(a.Rules) > 0 {
			act.Rule = a.Rules[0]
		}
		if strings.TrimSpace(a.Draft) == "" {
			return act, at.errorf(p.key("draft"), "reject needs the draft: its hash, or latest")
		}
		act.Update, act.Request = workflows.UpdateReject, workflows.RejectRequest{Draft: strings.TrimSpace(a.Draft), Reason: a.Reason, Actor: act.Actor}
	case "filed":
		act.Rule = a.Rule
		act.Update, act.Request = workflows.UpdateFiled, workflows.FiledRequest{Rule: a.Rule, Recipient: a.Recipient, Reference: a.Reference, Actor: act.Actor}
	case "close":
		act.Update, act.Request = workflows.UpdateClose, workflows.CloseRequest{Reason: a.Reason, Actor: act.Actor}
	}
	return act, nil
}

func (sc scopeFile) action(at locator, p path, s Scenario) (Action, error) {
	act := Action{Actor: strings.TrimSpace(sc.Actor), Do: "scope", Line: at.line(p)}
	off, err := actionOffset(at, p, sc.At, s.Until)
	if err != nil {
		return act, err
	}
	act.At = off
	if act.Actor == "" {
		return act, at.errorf(p.key("actor"), "say who scoped, like cli:alice")
	}
	if len(sc.Affected) == 0 {
		return act, at.errorf(p.key("affected"), "give the people found per region, like DE: 5000")
	}
	sn := incident.SnapshotRef{
		ID: sc.ID, At: s.Start.Add(off), Systems: sc.Systems, Window: sc.Window, People: sc.People,
		Categories: sc.Categories, Rejected: sc.Rejected,
	}
	if sn.ID == "" {
		sn.ID = "snap_drill"
	}
	if sn.Window == "" {
		sn.Window = "drill"
	}
	if sn.Systems == nil {
		sn.Systems = s.Facts.Systems
	}
	if sn.Categories == nil {
		sn.Categories = s.Facts.DataCategories
	}
	sum := 0
	for _, region := range sortedKeys(sc.Affected) {
		n := sc.Affected[region]
		if n < 0 {
			return act, at.errorf(p.key("affected").key(region), "a count of people cannot be negative")
		}
		sn.Affected = append(sn.Affected, incident.Residents{Region: strings.ToUpper(region), Count: n})
		sum += n
	}
	if sn.People == 0 {
		sn.People = sum
	}
	act.Update, act.Request = workflows.UpdateScope, workflows.ScopeRequest{Snapshot: sn, Actor: act.Actor}
	return act, nil
}

func actionOffset(at locator, p path, v string, until time.Duration) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return 0, at.errorf(p.key("at"), "say when, as an offset from the start like 26h or 3d")
	}
	d, err := parseOffset(v)
	if err != nil || d < 0 {
		return 0, at.errorf(p.key("at"), "%q is not an offset from the start like 26h, 80h30m or 3d", v)
	}
	if d >= until {
		return 0, at.errorf(p.key("at"), "%s is not before the end of the drill (until %s)", v, incident.FormatDuration(until))
	}
	return d, nil
}

// change reads the facts keys that are set into a change.
func (f *factsFile) change(at locator, p path) (incident.FactsChange, error) {
	var c incident.FactsChange
	c.Title, c.Description, c.Reporter, c.Role = f.Title, f.Description, f.Reporter, f.Role
	c.Encrypted, c.Circumstances = f.Encrypted, f.Circumstances
	lists := []struct {
		src *yamlList
		dst **[]string
	}{{f.Systems, &c.Systems}, {f.DataCategories, &c.DataCategories}, {f.Regions, &c.Regions}, {f.Sectors, &c.Sectors}, {f.Exemptions, &c.Exemptions}}
	for _, l := range lists {
		if l.src != nil {
			v := []string(*l.src)
			*l.dst = &v
		}
	}
	times := []struct {
		key string
		src *string
		dst **time.Time
	}{{"detected_at", f.DetectedAt, &c.DetectedAt}, {"aware_at", f.AwareAt, &c.AwareAt}, {"occurred_at", f.OccurredAt, &c.OccurredAt}, {"determined_at", f.DeterminedAt, &c.DeterminedAt}}
	for _, t := range times {
		if t.src == nil {
			continue
		}
		v, err := time.Parse(time.RFC3339, strings.TrimSpace(*t.src))
		if err != nil {
			return c, at.errorf(p.key(t.key), "%q is not an RFC 3339 time like 2026-01-05T09:00:00Z", *t.src)
		}
		v = v.UTC()
		*t.dst = &v
	}
	if f.Severity != nil {
		sev, err := incident.ParseSeverity(*f.Severity)
		if err != nil {
			return c, at.errorf(p.key("severity"), "%q is not low, medium, high or critical", *f.Severity)
		}
		c.Severity = &sev
	}
	if f.Affected != nil {
		a := []incident.Residents{}
		for _, region := range sortedKeys(f.Affected) {
			if f.Affected[region] < 0 {
				return c, at.errorf(p.key("affected").key(region), "a count of people cannot be negative")
			}
			a = append(a, incident.Residents{Region: region, Count: f.Affected[region]})
		}
		c.Affected = &a
	}
	if f.Risk != nil || f.RiskJustification != nil {
		var level, why string
		if f.Risk != nil {
			level = *f.Risk
		}
		if f.RiskJustification != nil {
			why = *f.RiskJustification
		}
		l, err := risk.ParseLevel(level)
		if err != nil {
			return c, at.errorf(p.key("risk"), "%q is not none, low, medium or high", level)
		}
		c.Risk = &risk.Override{Level: l, Justification: why}
	}
	if f.Circumstances != nil {
		if err := f.Circumstances.Validate(); err != nil {
			return c, at.errorf(p.key("circumstances"), "%v", err)
		}
	}
	return c, nil
}

// parseOffset reads a Go duration, with whole days allowed in front: 3d,
// 2d12h.
func parseOffset(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var days time.Duration
	if m := daysPrefix.FindStringSubmatch(v); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, err
		}
		if n > math.MaxInt64/int(24*time.Hour) {
			return 0, fmt.Errorf("%s days is too long", m[1])
		}
		days, v = time.Duration(n)*24*time.Hour, m[2]
		if v == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if days > 0 && d < 0 {
		return 0, fmt.Errorf("%q: a negative part after days", v)
	}
	if d > math.MaxInt64-days {
		return 0, fmt.Errorf("%q: too long", v)
	}
	return days + d, nil
}

var daysPrefix = regexp.MustCompile(`^(\d+)d(.*)$`)

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type yamlList []string

// UnmarshalYAML accepts a list or a single comma-separated string, like
// `breachctl open --file`.
func (l *yamlList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var out yamlList
		for _, part := range strings.Split(n.Value, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		*l = out
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
