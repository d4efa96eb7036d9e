package escalation

import (
	"fmt"
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

var (
	topKeys    = []string{"policies", "on_call", "sign_off"}
	policyKeys = []string{"name", "match", "steps", "repeat", "repeat_delay"}
	matchKeys  = []string{"severity", "notify"}
	stepKeys   = []string{"delay", "targets"}

	// notifyKinds are the values of a rule's notify (rules.notifyKinds).
	notifyKinds = []string{"authority", "individuals", "attorney_general", "consumer_reporting_agencies", "media",
		"controller", "public", "covered_entity", "owner", "other_organizations"}

	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Parse parses an escalation file; name is the file name used in errors.
// Every problem found is reported, joined with errors.Join, each an
// *apperr.Error of kind Invalid whose text names the file, the line and the
// field:
//
//	escalation.yaml:7: policies[0].steps[1].delay: 15m is before the previous step's 30m
func Parse(data []byte, name string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlfile.SyntaxError(name, data, err)
	}
	if len(doc.Content) == 0 {
		return nil, apperr.Invalidf(name+":1", "the file is empty: it needs policies")
	}
	p := &parser{yamlfile.Parser{File: name}}
	c := &Config{File: name}
	p.config(deref(doc.Content[0]), c)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) config(root *yaml.Node, c *Config) {
	f, ok := p.fields(root, "", topKeys)
	if !ok {
		return
	}
	if oc, ok := f["on_call"]; ok && !isNull(oc) {
		p.onCall(oc, c)
	}
	if so, ok := f["sign_off"]; ok && !isNull(so) {
		if sf, ok := p.fields(deref(so), "sign_off", []string{"two_person"}); ok {
			if tp, ok := sf["two_person"]; ok {
				c.TwoPerson = p.words(tp, "sign_off.two_person", notifyKinds)
			}
		}
	}
	n, ok := f["policies"]
	if !ok {
		p.errf(root, "policies", "required: the escalation policies (an empty list for the built-in one)")
		return
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "policies", "must be a list of policies")
		return
	}
	names := map[string]int{}
	for i, item := range n.Content {
		item = deref(item)
		path := fmt.Sprintf("policies[%d]", i)
		pol, ok := p.policy(item, path)
		if !ok {
			continue
		}
		if line, dup := names[pol.Name]; dup && pol.Name != "" {
			p.errf(item, join(path, "name"), "%q is already the name of the policy at line %d", pol.Name, line)
		}
		names[pol.Name] = pol.Line
		for _, other := range c.Policies {
			if sameMatch(other.Match, pol.Match) {
				what := "the same match as"
				if pol.Match.specificity() == 0 {
					what = "no match, like"
				}
				p.errf(item, path, "policy %q is never used: it has %s policy %q (line %d), which comes first", pol.Name, what, other.Name, other.Line)
				break
			}
		}
		c.Policies = append(c.Policies, pol)
	}
}

func sameMatch(a, b Match) bool {
	norm := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return slices.Compact(s) }
	return slices.Equal(norm(a.Severity), norm(b.Severity)) && slices.Equal(norm(a.Notify), norm(b.Notify))
}

// policy reads one policy; ok is false when it is not a mapping at all.
func (p *parser) policy(n *yaml.Node, path string) (pol Policy, ok bool) {
	pol.Line = n.Line
	f, ok := p.fields(n, path, policyKeys)
	if !ok {
		return pol, false
	}
	if v, ok := f["name"]; !ok || isNull(v) {
		at := n
		if ok {
			at = v
		}
		p.errf(at, join(path, "name"), "required: a name for the policy, shown when it pages")
	} else if v.Kind != yaml.ScalarNode || !namePattern.MatchString(v.Value) {
		p.errf(v, join(path, "name"), "%q is not a name: letters, digits, '.', '_' and '-' (gdpr-authority)", v.Value)
		pol.Name = v.Value // to name the policy in later errors; the config is not returned
	} else {
		pol.Name = v.Value
	}
	if v, ok := f["match"]; ok {
		pol.Match = p.match(v, join(path, "match"))
	}
	if v, ok := f["steps"]; ok && !isNull(v) {
		pol.Steps = p.steps(v, join(path, "steps"))
	} else {
		at := n
		if ok {
			at = v
		}
		p.errf(at, join(path, "steps"), "required: at least one step (delay, targets)")
	}
	if v, ok := f["repeat"]; ok && !isNull(v) {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&pol.Repeat) != nil {
			p.errf(v, join(path, "repeat"), "%q is not a whole number", v.Value)
		} else if pol.Repeat < 0 || pol.Repeat > MaxRepeat {
			p.errf(v, join(path, "repeat"), "%d is out of range: 0 to %d", pol.Repeat, MaxRepeat)
			pol.Repeat = 0
		}
	}
	pol.RepeatDelay = incident.Duration(DefaultRepeatDelay)
	if len(pol.Steps) > 0 && pol.Steps[len(pol.Steps)-1].Delay > 0 {
		pol.RepeatDelay = max(pol.Steps[len(pol.Steps)-1].Delay, incident.Duration(MinRepeatDelay))
	}
	if v, ok := f["repeat_delay"]; ok && !isNull(v) {
		if d, ok := p.duration(v, join(path, "repeat_delay")); ok {
			if d < MinRepeatDelay {
				p.errf(v, join(path, "repeat_delay"), "%s is too short: at least %s", v.Value, incident.FormatDuration(MinRepeatDelay))
			} else {
				pol.RepeatDelay = incident.Duration(d)
			}
		}
	}
	return pol, true
}

func (p *parser) match(n *yaml.Node, path string) Match {
	var m Match
	f, ok := p.fields(n, path, matchKeys)
	if !ok {
		return m
	}
	severities := make([]string, len(incident.Severities))
	for i, s := range incident.Severities {
		severities[i] = string(s)
	}
	if v, ok := f["severity"]; ok {
		m.Severity = p.words(v, join(path, "severity"), severities)
	}
	if v, ok := f["notify"]; ok {
		m.Notify = p.words(v, join(path, "notify"), notifyKinds)
	}
	return m
}

// words reads one word or a list of them, each one of allowed (in lower case).
func (p *parser) words(n *yaml.Node, path string, allowed []string) []string {
	items := []*yaml.Node{n}
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind != yaml.ScalarNode:
		p.errf(n, path, "must be a word or a list of words (%s)", strings.Join(allowed, ", "))
		return nil
	}
	var out []string
	for i, item := range items {
		item = deref(item)
		ipath := path
		if n.Kind == yaml.SequenceNode {
			ipath = path + "[" + strconv.Itoa(i) + "]"
		}
		w := strings.ToLower(strings.TrimSpace(item.Value))
		switch {
		case item.Kind != yaml.ScalarNode || !slices.Contains(allowed, w):
			p.errf(item, ipath, "%q is not one of %s", item.Value, strings.Join(allowed, ", "))
		case slices.Contains(out, w):
			p.errf(item, ipath, "%q is already in the list", w)
		default:
			out = append(out, w)
		}
	}
	return out
}

func (p *parser) steps(n *yaml.Node, path string) []Step {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errf(n, path, "must be a list of at least one step (delay, targets)")
		return nil
	}
	if len(n.Content) > MaxSteps {
		p.errf(n, path, "%d steps: at most %d", len(n.Content), MaxSteps)
	}
	var out []Step
	prev, prevOK := time.Duration(0), false
	for i, item := range n.Content {
		item = deref(item)
		ipath := fmt.Sprintf("%s[%d]", path, i)
		f, ok := p.fields(item, ipath, stepKeys)
		if !ok {
			continue
		}
		var s Step
		if v, ok := f["delay"]; !ok || isNull(v) {
			at := item
			if ok {
				at = v
			}
			p.errf(at, join(ipath, "delay"), "required: how long after the page starts to page this step (0m: at once)")
			prevOK = false
		} else if d, ok := p.duration(v, join(ipath, "delay")); ok {
			if prevOK && d < prev {
				p.errf(v, join(ipath, "delay"), "%s is before the previous step's %s: each delay counts from the start of the page",
					incident.FormatDuration(d), incident.FormatDuration(prev))
			}
			s.Delay, prev, prevOK = incident.Duration(d), d, true
		} else {
			prevOK = false
		}
		if v, ok := f["targets"]; ok && !isNull(v) {
			s.Targets = p.targets(v, join(ipath, "targets"))
		} else {
			at := item
			if ok {
				at = v
			}
			p.errf(at, join(ipath, "targets"), "required: whom to page (%s)", targetForms)
		}
		out = append(out, s)
	}
	return out
}

// duration reads a duration in [0, MaxDelay].
func (p *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s := strings.TrimSpace(n.Value)
	d, err := time.ParseDuration(s)
	switch {
	case n.Kind != yaml.ScalarNode || err != nil:
		hint := ""
		if strings.HasSuffix(s, "d") {
			hint = " (write days in hours: 24h)"
		}
		p.errf(n, path, "%q is not a duration like 0m, 30m or 1h%s", n.Value, hint)
	case d < 0:
		p.errf(n, path, "%s is negative", s)
	case d > MaxDelay:
		p.errf(n, path, "%s is too long: at most %s", s, incident.FormatDuration(MaxDelay))
	default:
		return d, true
	}
	return 0, false
}

// targets reads one target or a list of them.
func (p *parser) targets(n *yaml.Node, path string) []Target {
	items := []*yaml.Node{n}
	switch n.Kind {
	case yaml.SequenceNode:
		items = n.Content
		if len(items) == 0 {
			p.errf(n, path, "is an empty list: whom to page (%s)", targetForms)
			return nil
		}
		if len(items) > MaxTargets {
			p.errf(n, path, "%d targets: at most %d", len(items), MaxTargets)
		}
	case yaml.ScalarNode:
	default:
		p.errf(n, path, "must be a target or a list of targets (%s)", targetForms)
		return nil
	}
	var out []Target
	for i, item := range items {
		item = deref(item)
		ipath := path
		if n.Kind == yaml.SequenceNode {
			ipath = path + "[" + strconv.Itoa(i) + "]"
		}
		if item.Kind != yaml.ScalarNode {
			p.errf(item, ipath, "must be a target (%s)", targetForms)
			continue
		}
		t, err := ParseTarget(item.Value)
		if err != nil {
			p.errf(item, ipath, "%v", err)
			continue
		}
		if slices.ContainsFunc(out, func(o Target) bool { return sameTarget(o, t) }) {
			p.errf(item, ipath, "%s is already in the list", t)
			continue
		}
		out = append(out, t)
	}
	return out
}

// sameTarget compares targets, email addresses without regard to case.
func sameTarget(a, b Target) bool {
	if a.Kind == Email && b.Kind == Email {
		return strings.EqualFold(a.ID, b.ID)
	}
	return a == b
}

// onCall reads who is on call for each role on an incident.
func (p *parser) onCall(n *yaml.Node, c *Config) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errf(n, "on_call", "must map roles (%s) to a person", strings.Join(incident.TeamRoles, ", "))
		return
	}
	c.OnCall = map[string]Target{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		path := join("on_call", k.Value)
		if !slices.Contains(incident.TeamRoles, k.Value) {
			p.errf(k, path, "%q is not a role on an incident (%s)", k.Value, strings.Join(incident.TeamRoles, ", "))
			continue
		}
		if _, dup := c.OnCall[k.Value]; dup {
			p.errf(k, path, "given twice")
			continue
		}
		t, err := ParseTarget(v.Value)
		if err != nil || (t.Kind != SlackUser && t.Kind != Email) {
			p.errf(v, path, "%q is not a person: slack:U0123ABCD or email:someone@example.com", v.Value)
			continue
		}
		c.OnCall[k.Value] = t
	}
}

// parser reads the file with yamlfile's error collection; the short names
// keep the grammar below readable.
type parser struct{ yamlfile.Parser }

func (p *parser) errf(n *yaml.Node, path, format string, args ...any) {
	p.Errf(n, path, format, args...)
}

func (p *parser) fields(n *yaml.Node, path string, known []string) (map[string]*yaml.Node, bool) {
	return p.Fields(n, path, known)
}

var (
	deref  = yamlfile.Deref
	isNull = yamlfile.IsNull
	join   = yamlfile.Join
)
