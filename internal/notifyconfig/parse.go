package notifyconfig

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/yamlfile"
	"github.com/breachctl/breachctl/templates"
)

var (
	topKeys          = []string{"organisation", "from", "reply_to", "sending", "recipients"}
	organisationKeys = []string{"name", "contact_name", "contact_email", "contact_phone", "website", "address"}
	addressKeys      = []string{"email", "name"}
	sendingKeys      = []string{"concurrency", "rate", "page_size", "partitions", "sandbox", "unconfirmed"}
	unconfirmedKeys  = []string{"wait", "then", "email_activity"}
	recipientKeys    = []string{"rule", "notify", "jurisdiction", "name", "email", "portal", "locale"}

	ruleIDPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	jurisdictionPattern = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)
)

// Parse parses a notify file; name is the file name used in errors. See the
// package documentation for the errors.
func Parse(data []byte, name string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlfile.SyntaxError(name, data, err)
	}
	p := &parser{yamlfile.Parser{File: name}}
	if len(doc.Content) == 0 {
		return nil, apperr.Invalidf(name+":1", "the file is empty: it needs organisation and from")
	}
	c := &Config{File: name, Sending: DefaultSending()}
	p.config(deref(doc.Content[0]), c)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// text reads a scalar as text, trimmed; null is "".
func (p *parser) text(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode {
		p.errf(n, path, "must be text")
		return ""
	}
	if isNull(n) {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// required reads a text field that must be there and not be empty; parent is
// the mapping it belongs to, for the line when it is missing.
func (p *parser) required(parent *yaml.Node, fields map[string]*yaml.Node, key, path, why string) (string, *yaml.Node) {
	n, ok := fields[key]
	if !ok {
		p.errf(parent, join(path, key), "required: %s", why)
		return "", parent
	}
	s := p.text(n, join(path, key))
	if s == "" && n.Kind == yaml.ScalarNode {
		p.errf(n, join(path, key), "required: %s", why)
	}
	return s, n
}

func (p *parser) config(root *yaml.Node, c *Config) {
	f, ok := p.fields(root, "", topKeys)
	if !ok {
		return
	}
	if n, ok := f["organisation"]; ok && !isNull(n) {
		p.organisation(n, &c.Organisation)
	} else {
		at := root
		if ok {
			at = n
		}
		p.errf(at, "organisation", "required: who gives the notices (name, contact_name, contact_email, ...)")
	}
	if n, ok := f["from"]; ok && !isNull(n) {
		c.From = p.address(n, "from")
	} else {
		at := root
		if ok {
			at = n
		}
		p.errf(at, "from", "required: the sender of every notice (email, name)")
	}
	if n, ok := f["reply_to"]; ok && !isNull(n) {
		a := p.address(n, "reply_to")
		c.ReplyTo = &a
	}
	if n, ok := f["sending"]; ok {
		p.sending(n, &c.Sending)
	}
	if n, ok := f["recipients"]; ok && !isNull(n) {
		p.recipients(n, c)
	}
}

func (p *parser) organisation(n *yaml.Node, o *templates.Organisation) {
	const path = "organisation"
	f, ok := p.fields(n, path, organisationKeys)
	if !ok {
		return
	}
	o.Name, _ = p.required(n, f, "name", path, "the organisation that gives the notices")
	o.ContactName, _ = p.required(n, f, "contact_name", path, "the data protection officer or other contact point")
	if v, ok := f["contact_email"]; ok {
		o.ContactEmail = p.email(v, join(path, "contact_email"))
	}
	if v, ok := f["contact_phone"]; ok {
		o.ContactPhone = p.text(v, join(path, "contact_phone"))
	}
	if v, ok := f["website"]; ok {
		o.Website = p.url(v, join(path, "website"))
	}
	if v, ok := f["address"]; ok {
		o.Address = p.text(v, join(path, "address"))
	}
}

func (p *parser) address(n *yaml.Node, path string) Address {
	var a Address
	f, ok := p.fields(n, path, addressKeys)
	if !ok {
		return a
	}
	if v, ok := f["email"]; !ok {
		p.errf(n, join(path, "email"), "required")
	} else if a.Email = p.email(v, join(path, "email")); a.Email == "" && v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) == "" {
		p.errf(v, join(path, "email"), "required")
	}
	if v, ok := f["name"]; ok {
		a.Name = p.text(v, join(path, "name"))
	}
	return a
}

// email reads one address; empty is "". Only a bare address is accepted
// (privacy@example.com, not "Privacy <privacy@example.com>"), with a domain
// that has a dot.
func (p *parser) email(n *yaml.Node, path string) string {
	s := p.text(n, path)
	if n.Kind != yaml.ScalarNode || s == "" {
		return ""
	}
	if !yamlfile.PlausibleEmail(s) {
		p.errf(n, path, "%q is not an email address", s)
		return ""
	}
	return s
}

// url reads an absolute http or https URL.
func (p *parser) url(n *yaml.Node, path string) string {
	s := p.text(n, path)
	if n.Kind != yaml.ScalarNode || s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.errf(n, path, "%q is not an http or https URL", s)
		return ""
	}
	return s
}

func (p *parser) sending(n *yaml.Node, s *Sending) {
	const path = "sending"
	f, ok := p.fields(n, path, sendingKeys)
	if !ok {
		return
	}
	if v, ok := f["concurrency"]; ok {
		s.Concurrency = p.integer(v, join(path, "concurrency"), MinConcurrency, MaxConcurrency, DefaultConcurrency)
	}
	if v, ok := f["rate"]; ok && !isNull(v) {
		var r float64
		if v.Kind != yaml.ScalarNode || v.Decode(&r) != nil || math.IsNaN(r) || math.IsInf(r, 0) {
			p.errf(v, join(path, "rate"), "%q is not a number of requests per second", v.Value)
		} else if r < 0 {
			p.errf(v, join(path, "rate"), "%s is negative: 0 means no limit", v.Value)
		} else {
			s.Rate = r
		}
	}
	if v, ok := f["page_size"]; ok {
		s.PageSize = p.integer(v, join(path, "page_size"), MinPageSize, MaxPageSize, DefaultPageSize)
	}
	if v, ok := f["partitions"]; ok {
		s.Partitions = p.integer(v, join(path, "partitions"), MinPartitions, MaxPartitions, DefaultPartitions)
	}
	if v, ok := f["sandbox"]; ok && !isNull(v) {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&s.Sandbox) != nil {
			p.errf(v, join(path, "sandbox"), "%q is not true or false", v.Value)
		}
	}
	if v, ok := f["unconfirmed"]; ok && !isNull(v) {
		p.unconfirmed(v, join(path, "unconfirmed"), &s.Unconfirmed)
	}
}

func (p *parser) unconfirmed(n *yaml.Node, path string, u *Unconfirmed) {
	f, ok := p.fields(n, path, unconfirmedKeys)
	if !ok {
		return
	}
	if v, ok := f["wait"]; ok && !isNull(v) {
		d, err := time.ParseDuration(v.Value)
		switch {
		case v.Kind != yaml.ScalarNode || err != nil:
			p.errf(v, join(path, "wait"), "%q is not a duration (30s, 5m, 1h)", v.Value)
		case d < time.Second || d > MaxUnconfirmedWait:
			p.errf(v, join(path, "wait"), "%s is out of range: 1s to %s", v.Value, MaxUnconfirmedWait)
		default:
			u.Wait = d
		}
	}
	if v, ok := f["then"]; ok && !isNull(v) {
		switch v.Value {
		case UnconfirmedResend, UnconfirmedHold:
			u.Then = v.Value
		default:
			p.errf(v, join(path, "then"), "%q is neither %s nor %s", v.Value, UnconfirmedResend, UnconfirmedHold)
		}
	}
	if v, ok := f["email_activity"]; ok && !isNull(v) {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&u.EmailActivity) != nil {
			p.errf(v, join(path, "email_activity"), "%q is not true or false", v.Value)
		}
	}
}

// integer reads a whole number in [lo, hi]; null is def.
func (p *parser) integer(n *yaml.Node, path string, lo, hi, def int) int {
	if isNull(n) {
		return def
	}
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		p.errf(n, path, "%q is not a whole number", n.Value)
		return def
	}
	if i < lo || i > hi {
		p.errf(n, path, "%d is out of range: %d to %d", i, lo, hi)
		return def
	}
	return i
}

func (p *parser) recipients(n *yaml.Node, c *Config) {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "recipients", "must be a list of recipients")
		return
	}
	type key struct{ rule, notify, jurisdiction, name string }
	seen := map[key]int{}
	for i, item := range n.Content {
		item = deref(item)
		e, ok := p.recipient(item, fmt.Sprintf("recipients[%d]", i))
		if !ok {
			continue
		}
		k := key{e.Rule, e.Notify, e.Jurisdiction, strings.ToLower(e.Name)}
		if j, dup := seen[k]; dup {
			p.errf(item, fmt.Sprintf("recipients[%d]", i), "same recipient for the same obligations as recipients[%d] (line %d): it would be notified twice",
				j, c.Recipients[j].Line)
		}
		seen[k] = len(c.Recipients)
		c.Recipients = append(c.Recipients, e)
	}
}

// recipient reads one entry; ok is false when it is not a mapping at all.
// An entry with errors is still returned, so later checks can name it.
func (p *parser) recipient(n *yaml.Node, path string) (e Entry, ok bool) {
	e.Line = n.Line
	f, ok := p.fields(n, path, recipientKeys)
	if !ok {
		return e, false
	}
	rule, hasRule := f["rule"]
	notify, hasNotify := f["notify"]
	switch {
	case hasRule && hasNotify:
		p.errf(n, path, "give rule or notify, not both")
	case !hasRule && !hasNotify:
		p.errf(n, path, "needs rule (a rule ID) or notify (%s)", strings.Join(notifyKinds, ", "))
	}
	if hasRule {
		e.Rule = p.text(rule, join(path, "rule"))
		if rule.Kind == yaml.ScalarNode && !ruleIDPattern.MatchString(e.Rule) {
			p.errf(rule, join(path, "rule"), "%q is not a rule ID (eu-gdpr-art33)", e.Rule)
		}
	}
	if hasNotify {
		e.Notify = p.text(notify, join(path, "notify"))
		switch {
		case notify.Kind != yaml.ScalarNode:
		case e.Notify == "individuals" || e.Notify == "public":
			p.errf(notify, join(path, "notify"), "%q are not notified through recipients: notices to people go to the addresses in the scoped snapshot", e.Notify)
		case !slices.Contains(notifyKinds, e.Notify):
			p.errf(notify, join(path, "notify"), "%q is not one of %s", e.Notify, strings.Join(notifyKinds, ", "))
		}
	}
	if v, ok := f["jurisdiction"]; ok {
		e.Jurisdiction = strings.ToUpper(p.text(v, join(path, "jurisdiction")))
		switch {
		case v.Kind != yaml.ScalarNode:
		case hasRule:
			p.errf(v, join(path, "jurisdiction"), "only with notify: a rule has its own jurisdiction")
		case !jurisdictionPattern.MatchString(e.Jurisdiction):
			p.errf(v, join(path, "jurisdiction"), "%q is not a jurisdiction code (BR, EU, US-CA)", v.Value)
		}
	}
	e.Name, _ = p.required(n, f, "name", path, "who the notice is addressed to")
	before := p.Errors()
	if v, ok := f["email"]; ok {
		e.Emails = p.emails(v, join(path, "email"))
	}
	if v, ok := f["portal"]; ok {
		e.Portal = p.url(v, join(path, "portal"))
	}
	if len(e.Emails) == 0 && e.Portal == "" && p.Errors() == before {
		p.errf(n, path, "needs email or portal (or both): how the notice reaches %s", orSomeone(e.Name))
	}
	e.Locale = "en"
	if v, ok := f["locale"]; ok {
		e.Locale = p.locale(v, join(path, "locale"))
	}
	return e, true
}

func orSomeone(name string) string {
	if name == "" {
		return "the recipient"
	}
	return name
}

// emails reads one address or a list of them.
func (p *parser) emails(n *yaml.Node, path string) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) || strings.TrimSpace(n.Value) == "" {
			p.errf(n, path, "is empty: give an address or a list of them, or leave email out")
			return nil
		}
		if s := p.email(n, path); s != "" {
			return []string{s}
		}
		return nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			p.errf(n, path, "is an empty list: give an address or leave email out")
			return nil
		}
		var out []string
		for i, item := range n.Content {
			item = deref(item)
			ipath := path + "[" + strconv.Itoa(i) + "]"
			if item.Kind == yaml.ScalarNode && strings.TrimSpace(item.Value) == "" {
				p.errf(item, ipath, "is empty")
				continue
			}
			s := p.email(item, ipath)
			if s == "" {
				continue
			}
			if slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
				p.errf(item, ipath, "%q is already in the list", s)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	p.errf(n, path, "must be an address or a list of addresses")
	return nil
}

// locale reads a BCP 47 tag and returns it in canonical form.
func (p *parser) locale(n *yaml.Node, path string) string {
	s := p.text(n, path)
	if n.Kind != yaml.ScalarNode || s == "" {
		return "en"
	}
	tag, err := language.Parse(s)
	if err != nil || tag == language.Und {
		hint := ""
		if strings.Contains(s, "_") {
			hint = fmt.Sprintf(" (write %s)", strings.ReplaceAll(s, "_", "-"))
		}
		p.errf(n, path, "%q is not a BCP 47 language tag%s", s, hint)
		return "en"
	}
	return tag.String()
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
