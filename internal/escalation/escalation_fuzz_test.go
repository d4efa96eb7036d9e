package escalation

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/yamlfile"
)

var errLineRE = regexp.MustCompile(`^f\.yaml:(\d+): `)
var atLineRE = regexp.MustCompile(`at line (\d+)`)

// FuzzParseLines: every line of an error is "f.yaml:N: ..." with N a line
// of the file, lines it refers to ("at line N") are lines of the file, and
// YAML that does not parse is reported where yamlfile.SyntaxError says.
func FuzzParseLines(f *testing.F) {
	if raw, err := os.ReadFile("../../examples/escalation.yaml"); err == nil {
		f.Add(raw)
	} else {
		f.Fatal(err)
	}
	f.Add([]byte(brief))
	f.Add([]byte("policies:\n  - name: [a\n"))
	f.Add([]byte("policies:\n  - {name: a, steps: [{delay: 0m, targets: incident-channel}]}\n  - {name: a, steps: [{delay: 1h, targets: incident-channel}]}\n"))
	f.Add([]byte("policies:\n  - name: a\n    steps:\n      - {delay: 2h, targets: [slack:U0123]}\n      - {delay: 1h, targets: [slack:nobody]}\n"))
	f.Add([]byte("on_call: {x: y}\npolicies: {}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := Parse(raw, "f.yaml")
		if err == nil {
			return
		}
		lines := yamlLines(raw)
		msg := err.Error()
		for _, line := range strings.Split(msg, "\n") {
			m := errLineRE.FindStringSubmatch(line)
			if m == nil {
				if !strings.HasPrefix(line, "f.yaml: ") {
					t.Fatalf("error line %q does not name the file", line)
				}
				continue
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
				t.Fatalf("error %q names line %d of %d", line, n, lines)
			}
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

// FuzzPolicyJSON: a policy read from a file goes into a workflow's state as
// JSON; it must come back out of it the same (delays, targets and all).
func FuzzPolicyJSON(f *testing.F) {
	f.Add([]byte(brief))
	f.Add([]byte("policies:\n  - {name: a, steps: [{delay: 100h, targets: incident-channel}], repeat_delay: 90s}\n"))
	f.Add([]byte("policies:\n  - {name: a, steps: [{delay: 1h30m15s, targets: [email:dpo@example.com]}, {delay: 168h, targets: slack-group:S0789}], repeat: 3}\n"))
	f.Add([]byte("policies:\n  - {name: b, match: {severity: [high]}, steps: [{delay: 0.5s, targets: [slack-channel:C0456]}], repeat_delay: 96h}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse(raw, "f.yaml")
		if err != nil {
			return
		}
		for _, p := range c.Policies {
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatalf("policy %q: %v", p.Name, err)
			}
			var back Policy
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("policy %q as %s does not read back: %v", p.Name, b, err)
			}
			p.Line = 0
			if !reflect.DeepEqual(back, p) {
				t.Fatalf("policy %+v as %s reads back as %+v", p, b, back)
			}
		}
	})
}

// yamlLines is how many lines an error may name in raw, counted as the YAML
// parser counts them (a line break is \n, \r\n, a lone \r, NEL, LS or PS),
// and the end of the file as one more when the last line has no break (the
// parser gives up there on a collection left open).
func yamlLines(raw []byte) int {
	s := yamlBreaks.Replace(string(raw))
	n := strings.Count(s, "\n") + 1
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

var yamlBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n")
