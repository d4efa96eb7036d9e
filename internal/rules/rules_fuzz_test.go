package rules

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// lineRE finds the lines an error names: "f.yaml:12" or "line 12".
var lineRE = regexp.MustCompile(`(?:f\.yaml:|line )(\d+)`)

// checkError checks what every error of a file parser must be: invalid
// input, naming the file, at lines of the file; and, when the YAML does not
// parse at all, at the line yamlfile.SyntaxError (the configuration
// parsers' reference) names.
func checkError(t *testing.T, raw []byte, err error) {
	t.Helper()
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
	}
	if !strings.HasPrefix(err.Error(), "f.yaml") {
		t.Fatalf("error %q does not name the file", err)
	}
	lines := lineCount(raw)
	var named []int
	for _, m := range lineRE.FindAllStringSubmatch(err.Error(), -1) {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > lines {
			t.Fatalf("error %q names line %d of a file of %d lines", err, n, lines)
		}
		named = append(named, n)
	}
	var doc yaml.Node
	if yerr := yaml.Unmarshal(raw, &doc); yerr != nil {
		ref := lineRE.FindStringSubmatch(yamlfile.SyntaxError("f.yaml", raw, yerr).Error())
		if ref != nil {
			want, _ := strconv.Atoi(ref[1])
			if len(named) == 0 || named[0] != want {
				t.Fatalf("syntax error %q: want it at line %d", err, want)
			}
		}
	}
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

var builtinOnce = sync.OnceValues(Builtin)

// cloneBuiltin is a copy of the built-in ruleset that merge may change.
func cloneBuiltin(t *testing.T) *Ruleset {
	t.Helper()
	rs, err := builtinOnce()
	if err != nil {
		t.Fatal(err)
	}
	return &Ruleset{Version: rs.Version, CategorySets: maps.Clone(rs.CategorySets), Rules: slices.Clone(rs.Rules)}
}

// FuzzParseScenario: ParseScenario answers a scenario the engine can
// evaluate without error, or an error naming the file and a line of it. An
// evaluation accounts for every rule: each is an obligation or is listed as
// not triggered, with why.
func FuzzParseScenario(f *testing.F) {
	seeds, _ := filepath.Glob("../cli/testdata/assess/*.yaml")
	seeds = append(seeds, "../../examples/scenario.yaml")
	for _, name := range seeds {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{
		"discovered_at: 2026-03-02T09:00:00Z\ndata_categories: [email, shoe_size]\n",
		"discovered_at: 2026-03-02T09:00:00Z\naffected: {DE: 9223372036854775807, FR: 9223372036854775807}\n",
		"discovered_at: 2026-03-02T09:00:00Z\naffected:\n  DE: -5\n",
		"discovered_at: 2026-03-02T09:00:00Z\nnotices_sent: {eu-gdpr-art33: 2026-03-03T00:00:00Z}\n",
		"discovered_at: 2026-03-02T09:00:00Z\ncircumstances: {confidentiality: public, malicious: true}\n",
		"discovered_at: 2026-03-02T09:00:00Z\nrisk: high\nsectors: [health\n",
		"discovered_at: 9999-12-31T23:59:59Z\naffected: {US-CA: 1}\n",
		"discovered_at: 0001-01-01T00:00:01Z\naware_at: 0001-01-01T00:00:00Z\n",
		"- a\n- b\n", "hackers: true\n", "a: &x [*x]\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseScenario("f.yaml", raw)
		if err != nil {
			checkError(t, raw, err)
			return
		}
		if s.DiscoveredAt.IsZero() {
			t.Fatal("a scenario without discovered_at")
		}
		rs, err := builtinOnce()
		if err != nil {
			t.Fatal(err)
		}
		a, err := rs.Evaluate(s, Config{})
		if err != nil {
			t.Fatalf("a parsed scenario does not evaluate: %v", err)
		}
		if n := len(a.Obligations) + len(a.NotTriggered); n != len(rs.ids()) {
			t.Fatalf("%d obligations and %d not triggered, for %d rules", len(a.Obligations), len(a.NotTriggered), len(rs.ids()))
		}
		if a.Binding != "" && !slices.ContainsFunc(a.Obligations, func(o incident.Obligation) bool { return o.Rule == a.Binding }) {
			t.Fatalf("binding rule %q is not an obligation", a.Binding)
		}
	})
}

// FuzzRuleFile reads a rule file as Load does on top of the built-in rules:
// parse, merge, validate. An error names the file and a line of it; a
// ruleset that validates has every rule of the file, and evaluates the
// example scenario accounting for each of its rules.
func FuzzRuleFile(f *testing.F) {
	seeds, _ := filepath.Glob("data/*.yaml")
	seeds = append(seeds, "../../examples/rules/our-promises.yaml")
	for _, name := range seeds {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{
		"version: x\nrules:\n  - {id: a, jurisdiction: X, citation: c, confidence: high, notify: individuals, clock_start: discovery, deadline: {hours: 1}, trigger: {categories: any}}\n",
		"version: x\nrules:\n  - {id: a, jurisdiction: X, citation: c, confidence: high, notify: individuals, clock_start: b, deadline: {asap: true}}\n",
		"version: x\nrules:\n  - id: a\n    effective: {from: 2026-13-01}\n",
		"version: x\nrules:\n  - id: a\n    trigger: {categories: some}\n",
		"version: x\ncategory_sets: {s: [[email, shoe_size]]}\n",
		"version: x\nrules:\n  - id: a\n    deadline: {hours: -1, business_days: 2, calendar: mars}\n",
		"version: x\nrules: [\n", "rules: {}\n", "a: &x [*x]\n", "",
	} {
		f.Add([]byte(s))
	}
	scenarioRaw, err := os.ReadFile("../../examples/scenario.yaml")
	if err != nil {
		f.Fatal(err)
	}
	scenario, err := ParseScenario("scenario.yaml", scenarioRaw)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		part, err := parse("f.yaml", raw)
		if err != nil {
			checkError(t, raw, err)
			return
		}
		rs := cloneBuiltin(t)
		rs.merge(part)
		if err := rs.validate(); err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
			}
			for _, m := range lineRE.FindAllStringSubmatch(err.Error(), -1) {
				if n, _ := strconv.Atoi(m[1]); n < 1 || n > lineCount(raw) {
					t.Fatalf("error %q names a line the file does not have", err)
				}
			}
			return
		}
		for _, r := range part.Rules {
			if !rs.Has(r.ID) {
				t.Fatalf("rule %q of the file is not in the ruleset", r.ID)
			}
		}
		a, err := rs.Evaluate(scenario, Config{})
		if err != nil {
			t.Fatalf("Evaluate: %v", err)
		}
		if n := len(a.Obligations) + len(a.NotTriggered); n != len(rs.ids()) {
			t.Fatalf("%d obligations and %d not triggered, for %d rules", len(a.Obligations), len(a.NotTriggered), len(rs.ids()))
		}
	})
}
