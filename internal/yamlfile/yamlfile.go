// Package yamlfile is what breachctl's configuration parsers share: reading
// a YAML file as nodes and reporting every problem with the file, the line
// and the field ("notify.yaml:14: recipients[1].email: ..."), all at once.
package yamlfile

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
)

// Parser collects every error it finds, each at a line of File.
type Parser struct {
	File string
	errs []lineError
}

type lineError struct {
	line int
	err  error
}

// Errf records an error at n's line about the field at path.
func (p *Parser) Errf(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	p.errs = append(p.errs, lineError{n.Line, apperr.Invalidf(fmt.Sprintf("%s:%d", p.File, n.Line), "%s", msg)})
}

// Errors is how many errors were recorded so far.
func (p *Parser) Errors() int { return len(p.errs) }

// Err is every error recorded, in file order (errors on one line in the
// order found), joined; nil when there is none.
func (p *Parser) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b lineError) int { return a.line - b.line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e.err
	}
	return errors.Join(errs...)
}

// Fields walks a mapping's keys in order, reporting unknown and repeated
// ones, and returns the known keys' values. A null mapping has no fields.
func (p *Parser) Fields(n *yaml.Node, path string, known []string) (map[string]*yaml.Node, bool) {
	if IsNull(n) {
		return map[string]*yaml.Node{}, true
	}
	if n.Kind != yaml.MappingNode {
		what := path
		if what == "" {
			what = "the file"
		}
		p.Errf(n, "", "%s must be a mapping (%s)", what, strings.Join(known, ", "))
		return nil, false
	}
	out := map[string]*yaml.Node{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Deref(n.Content[i]), Deref(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			p.Errf(k, path, "a key must be a plain word")
		case !slices.Contains(known, k.Value):
			p.Errf(k, Join(path, k.Value), "unknown field (known: %s)", strings.Join(known, ", "))
		case lines[k.Value] != 0:
			p.Errf(k, Join(path, k.Value), "already given at line %d", lines[k.Value])
		default:
			lines[k.Value] = k.Line
			out[k.Value] = v
		}
	}
	return out, true
}

// Deref follows aliases to the node they stand for.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is null (~, null, or nothing).
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// Join extends a field path: Join("recipients[1]", "email").
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	yamlLineRE      = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)
	unknownAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// parserErrors are the messages of libyaml's parser (as opposed to its
// scanner), whose line yaml.v3 (v3.0.1, decode.go, parser.fail) gives
// counted from 0, leaving it out when it is 0. The scanner has messages
// that start alike ("did not find expected alphabetic or numeric
// character"), whose line is right as it is: these are the parser's own.
var parserErrors = []string{"did not find expected <", "did not find expected node content",
	"did not find expected '-' indicator", "did not find expected key", "did not find expected ',' or ",
	"found undefined tag handle", "found duplicate %", "found incompatible YAML document"}

// SyntaxError turns yaml.v3's "yaml: line 3: ..." into "file:3: ...",
// correcting the line of parser errors (see parserErrors): it is where the
// unclosed collection starts, or where the parser gave up. An unknown anchor
// has no line at all; it is looked up in data.
func SyntaxError(name string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if slices.ContainsFunc(parserErrors, func(prefix string) bool { return strings.HasPrefix(msg, prefix) }) {
		line++
	}
	if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil && line == 0 {
		for i, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "*"+m[1]) {
				line = i + 1
				break
			}
		}
	}
	if line == 0 {
		return apperr.Invalidf(name, "%s", msg)
	}
	return apperr.Invalidf(name+":"+strconv.Itoa(line), "%s", msg)
}

// PlausibleEmail accepts a bare address (not "Name <address>") whose domain
// has a dot.
func PlausibleEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > 254 {
		return false
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
