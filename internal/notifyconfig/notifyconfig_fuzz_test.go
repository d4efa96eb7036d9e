package notifyconfig

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/yamlfile"
)

var (
	errLineRE = regexp.MustCompile(`^f\.yaml:(\d+): `)
	atLineRE  = regexp.MustCompile(`at line (\d+)`)
)

// FuzzParseLines: every line of an error is "f.yaml:N: ..." with N a line
// of the file, lines it refers to ("at line N") are lines of the file, and
// YAML that does not parse is reported where yamlfile.SyntaxError says.
func FuzzParseLines(f *testing.F) {
	if raw, err := os.ReadFile("../../examples/notify.yaml"); err == nil {
		f.Add(raw)
	} else {
		f.Fatal(err)
	}
	f.Add([]byte(full))
	f.Add([]byte("organisation:\n  name: [P\n"))
	f.Add([]byte("organisation: {name: P"))
	f.Add([]byte("organisation: {}\n- from\n"))
	f.Add([]byte("recipients:\n  - {rule: x, notify: y}\n  - {rule: x, name: a, email: [b, b]}\nrecipients: []\n"))
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
