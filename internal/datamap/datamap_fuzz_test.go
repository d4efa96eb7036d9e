package datamap

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// fuzzLines is how many lines an error may name in raw, counted as the YAML
// parser counts them (a line break is \n, \r\n, a lone \r, NEL, LS or PS),
// and the end of the file as one more when the last line has no break (the
// parser gives up there on a collection left open).
func fuzzLines(raw []byte) int {
	s := yamlBreaks.Replace(string(raw))
	n := strings.Count(s, "\n") + 1
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

var yamlBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n")

var atLineRE = regexp.MustCompile(`at line (\d+)`)

// FuzzParseLines: every error is invalid input at "f.yaml:N" with N a line
// of the file (the line yamlfile.SyntaxError names when the YAML does not
// parse), and a line it refers to ("already used at line N") is one too.
func FuzzParseLines(f *testing.F) {
	examples, _ := filepath.Glob("../../examples/datamaps/*.yaml")
	for _, name := range examples {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(good))
	f.Add([]byte(good + "  - id: logs\n    categories: [email]\n    retention: 1h\n"))
	f.Add([]byte("company: X\nsystems:\n  - id: a\n    categories: [email\n"))
	f.Add([]byte("company: X\nsystems: [{id: a, categories: [email], retention: 1h, residence: {fixed: XX}}]"))
	f.Add([]byte("a: *nope\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := Parse("f.yaml", raw)
		if err == nil {
			return
		}
		if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
		}
		msg := err.Error()
		rest, ok := strings.CutPrefix(msg, "f.yaml")
		if !ok {
			t.Fatalf("error %q does not name the file", msg)
		}
		named := 0
		if digits, ok := strings.CutPrefix(rest, ":"); ok {
			end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
			if end > 0 {
				named, _ = strconv.Atoi(digits[:end])
			}
		}
		if named == 0 && !strings.HasPrefix(rest, ": ") {
			t.Fatalf("error %q: no line after the colon", msg)
		}
		lines := fuzzLines(raw)
		if named > lines {
			t.Fatalf("error %q names line %d of %d", msg, named, lines)
		}
		for _, m := range atLineRE.FindAllStringSubmatch(msg, -1) {
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
				t.Fatalf("error %q refers to line %d of %d", msg, n, lines)
			}
		}
		var doc yaml.Node
		if yerr := yaml.Unmarshal(raw, &doc); yerr != nil {
			if want := yamlfile.SyntaxError("f.yaml", raw, yerr); msg != want.Error() {
				t.Fatalf("syntax error %q, yamlfile says %q", msg, want)
			}
		}
	})
}

// FuzzRetention: a retention the map accepts is written back by
// RetentionText ("as the map would write it") as text the map reads as
// the same retention.
func FuzzRetention(f *testing.F) {
	for _, s := range []string{"1h", "90m", "2h30m", "30d", "7d", "indefinite", "100h", "96h", "90s", "1h30m15s", "1.5h", "0d", "36500d", "36501d",
		"876000h", "-1h", "1d12h", "3ns", "1e2h"} {
		f.Add(s)
	}
	doc := func(retention string) []byte {
		return []byte("company: X\nsystems:\n  - id: a\n    categories: [email]\n    retention: " + strconv.Quote(retention) + "\n    residence: {fixed: DE}\n")
	}
	f.Fuzz(func(t *testing.T, retention string) {
		m, err := Parse("f.yaml", doc(retention))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error %q", err)
			}
			return
		}
		s := m.All[0]
		text := s.RetentionText()
		again, err := Parse("f.yaml", doc(text))
		if err != nil {
			t.Fatalf("retention %q (%s) written as %q, which does not read: %v", retention, s.Retention, text, err)
		}
		if b := again.All[0]; b.Retention != s.Retention || b.Indefinite != s.Indefinite {
			t.Fatalf("retention %q (%s) written as %q, which reads as %s", retention, s.Retention, text, b.Retention)
		}
	})
}
