package rules

import (
	"os"
	"testing"
)

// BenchmarkAssess evaluates the whole built-in ruleset for the example
// scenario (three jurisdictions), as `breachctl assess` does after loading.
//
//	go test ./internal/rules -run '^$' -bench Assess -benchmem
func BenchmarkAssess(b *testing.B) {
	raw, err := os.ReadFile("../../examples/scenario.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := ParseScenario("scenario.yaml", raw)
	if err != nil {
		b.Fatal(err)
	}
	rs := builtinRules(b)
	b.ResetTimer()
	for range b.N {
		if _, err := rs.Evaluate(s, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadRuleset is the other half of an `assess` run: parsing the
// embedded YAML.
func BenchmarkLoadRuleset(b *testing.B) {
	for range b.N {
		if _, err := Builtin(); err != nil {
			b.Fatal(err)
		}
	}
}
