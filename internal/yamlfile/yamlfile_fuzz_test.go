package yamlfile

import (
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
)

var fileLineRE = regexp.MustCompile(`^f\.yaml(?::(\d+))?: `)

// lineOf is the line an error names ("f.yaml:12: ..."), 0 for none; it
// fails the test when the error does not start with the file name.
func lineOf(t *testing.T, err error) int {
	t.Helper()
	m := fileLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error %q does not start with the file name", err)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// lineCount is how many lines an error may name in raw, counted as the YAML
// parser counts them (a line break is \n, \r\n, a lone \r, NEL, LS or PS),
// and the end of the file as one more when the last line has no break (the
// parser gives up there on a collection left open).
func lineCount(raw []byte) int {
	s := yamlBreaks.Replace(string(raw))
	n := strings.Count(s, "\n") + 1
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

var yamlBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n")

var yamlSeeds = []string{
	"a: 1\nb: [1, 2\nc: 3\n", "a: 1\n\n\nb: {x\n", "a: 1\nb:\n  - x\n - y\n", "a: 1\nb: \"x\n", "\t\ta: 1\n",
	"a: *nope\n", "a: &x 1\nb: *y\n", "%YAML 1.1\n%YAML 1.1\n---\na: 1\n", "!h!x a\n", "--- a\n...\n--- b\n",
	"a: 1\na: 2\nb: {c: 1}\n? [x]\n: y\n", "a:\nb: ~\nz: 3\n", "a: &x {b: 1}\nc: *x\n", "- 1\n", "",
}

// FuzzSyntaxError: for any text the YAML library refuses, SyntaxError is an
// invalid-input error naming the file, with a message, at a line of the
// text when it names one.
func FuzzSyntaxError(f *testing.F) {
	for _, s := range yamlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		yerr := yaml.Unmarshal(data, &doc)
		if yerr == nil {
			return
		}
		err := SyntaxError("f.yaml", data, yerr)
		if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
		}
		n := lineOf(t, err)
		if n < 0 || n > lineCount(data) {
			t.Fatalf("%q: error %q names line %d of %d", data, err, n, lineCount(data))
		}
		if msg := fileLineRE.ReplaceAllString(err.Error(), ""); strings.TrimSpace(msg) == "" {
			t.Fatalf("error %q says nothing", err)
		}
	})
}

// FuzzFields walks the top mapping of any YAML with three known fields:
// each key is either returned (known, first given) or reported once, at its
// line; Err lists the reports in file order.
func FuzzFields(f *testing.F) {
	for _, s := range yamlSeeds {
		f.Add([]byte(s))
	}
	known := []string{"a", "b", "c"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
			return
		}
		root := Deref(doc.Content[0])
		p := &Parser{File: "f.yaml"}
		fields, ok := p.Fields(root, "", known)
		if !ok {
			if root.Kind == yaml.MappingNode || IsNull(root) || p.Errors() != 1 {
				t.Fatalf("refused a %v node with %d errors", root.Kind, p.Errors())
			}
		} else {
			if root.Kind != yaml.MappingNode && !IsNull(root) {
				t.Fatalf("a %v node read as a mapping", root.Kind)
			}
			for k := range fields {
				if !slices.Contains(known, k) {
					t.Fatalf("unknown field %q returned", k)
				}
			}
			keys := len(root.Content) / 2
			if root.Kind != yaml.MappingNode {
				keys = 0
			}
			if len(fields)+p.Errors() != keys {
				t.Fatalf("%d keys: %d returned, %d reported", keys, len(fields), p.Errors())
			}
		}
		err := p.Err()
		if (err == nil) != (p.Errors() == 0) {
			t.Fatalf("Err() = %v with %d errors", err, p.Errors())
		}
		if err == nil {
			return
		}
		if !slices.IsSortedFunc(p.errs, func(a, b lineError) int { return a.line - b.line }) {
			t.Fatal("Err does not list the errors in file order")
		}
		for _, e := range p.errs {
			if e.line < 1 || e.line > lineCount(data) || lineOf(t, e.err) != e.line {
				t.Fatalf("error %q recorded at line %d of %d", e.err, e.line, lineCount(data))
			}
		}
	})
}

// FuzzPlausibleEmail: an address PlausibleEmail accepts is one that goes
// into a mail header and comes back out as itself, with a dotted domain.
func FuzzPlausibleEmail(f *testing.F) {
	for _, s := range []string{"a@example.org", "dpo@example", "Dana <d@example.org>", "a.b+c@sub.example.co.uk",
		`"a b"@example.org`, "a@example.org.", "a@.example.org", "a@[127.0.0.1]", "ü@例え.jp", "a@b@c.d", " a@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !PlausibleEmail(s) {
			return
		}
		header := (&mail.Address{Address: s}).String()
		a, err := mail.ParseAddress(header)
		if err != nil || a.Address != s {
			t.Fatalf("%q accepted, but the header %q reads back as %v, %v", s, header, a, err)
		}
		at := strings.LastIndexByte(s, '@')
		if at <= 0 || len(s) > 254 || !strings.Contains(s[at+1:], ".") {
			t.Fatalf("%q accepted", s)
		}
	})
}
