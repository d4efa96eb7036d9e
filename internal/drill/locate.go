package drill

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
)

// path names a place in the scenario: mapping keys and sequence indexes.
type path []any

func (p path) key(k string) path { return append(append(path{}, p...), k) }

func (p path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch v := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// locator finds the line of a path in the parsed document.
type locator struct {
	name string
	root *yaml.Node
}

// node returns the deepest node the path reaches: for a mapping key, the
// key's node, so the line is where the field is named.
func (l locator) node(p path) *yaml.Node {
	n, last := l.root, l.root
	for _, e := range p {
		switch v := e.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return last
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == v {
					last, n, found = n.Content[i], n.Content[i+1], true
					break
				}
			}
			if !found {
				return last
			}
		case int:
			if n.Kind != yaml.SequenceNode || v >= len(n.Content) {
				return last
			}
			n = n.Content[v]
			last = n
		}
	}
	return last
}

func (l locator) line(p path) int { return l.node(p).Line }

// keys lists the keys of the mapping at p.
func (l locator) keys(p path) []string {
	n := l.node(p)
	if len(p) > 0 {
		if _, isKey := p[len(p)-1].(string); isKey {
			return nil
		}
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

// errorf reports an invalid field as FILE:LINE: FIELD: message.
func (l locator) errorf(p path, format string, args ...any) error {
	return apperr.Invalidf(fmt.Sprintf("%s:%d: %s", l.name, l.line(p), p), format, args...)
}

var (
	yamlLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlNotFound = regexp.MustCompile(`field (\S+) not found in type \S+`)
)

// yamlError rewrites the YAML library's errors as FILE:LINE: message, with
// unknown fields named as such.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return apperr.Invalidf(name+":"+m[1], "%s", m[2])
		}
		return apperr.Invalidf(name, "%s", msg)
	}
	// The first error is enough to fix; the others usually follow from it.
	msg := yamlNotFound.ReplaceAllString(te.Errors[0], "unknown field $1")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return apperr.Invalidf(name+":"+m[1], "%s", m[2])
	}
	return apperr.Invalidf(name, "%s", msg)
}

func asAppErr(err error, target **apperr.Error) bool { return errors.As(err, target) }
