package drill

import (
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// FuzzParseOffset checks parseOffset against exact arithmetic: an offset it
// reads is days*24h plus the Go duration after them, to the nanosecond; it
// refuses only what time.ParseDuration refuses, a negative part after whole
// days, or a sum that does not fit in a time.Duration.
func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"96h", "30d", "2d12h", " 3d ", "0d", "1d-1h", "0d-5h", "d", "3dd", "-3d", "1.5d", "1e3h",
		"106751d23h47m16.854775807s", "106752d", "213504d", "99999999999999999999d", "9223372036854775807ns", "+5m"} {
		f.Add(s)
	}
	dayRE := regexp.MustCompile(`^(\d+)d(.*)$`)
	day := big.NewInt(int64(24 * time.Hour))
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseOffset(v)
		// The reference, in big integers.
		var want *big.Int
		refused := false
		trimmed := strings.TrimSpace(v)
		if m := dayRE.FindStringSubmatch(trimmed); m != nil {
			n, _ := new(big.Int).SetString(m[1], 10)
			want = n.Mul(n, day)
			if m[2] != "" {
				d, perr := time.ParseDuration(m[2])
				refused = perr != nil || want.Sign() > 0 && d < 0
				want.Add(want, big.NewInt(int64(d)))
			}
		} else {
			d, perr := time.ParseDuration(trimmed)
			refused = perr != nil
			want = big.NewInt(int64(d))
		}
		fits := want.IsInt64()
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			if !refused && fits {
				t.Fatalf("parseOffset(%q) refused (%v), but it is %s ns", v, err, want)
			}
			return
		}
		if refused || !fits || got != time.Duration(want.Int64()) {
			t.Fatalf("parseOffset(%q) = %d, want %s (refused %v, fits %v)", v, got, want, refused, fits)
		}
		// What a report prints reads back, to the second.
		if got >= 0 && got < math.MaxInt64-time.Second {
			back, err := parseOffset(Offset(got).String())
			if err != nil || back != got.Truncate(time.Second) {
				t.Fatalf("%d printed as %s reads back as %d, %v", got, Offset(got), back, err)
			}
		}
	})
}

// FuzzParseLines: whatever the file, Parse answers a scenario or an error of
// the invalid kind that names the file, and any line it names is a line of
// the file. When the YAML does not parse at all, the line is the one
// yamlfile.SyntaxError (which the other configuration parsers use) names.
func FuzzParseLines(f *testing.F) {
	examples, _ := filepath.Glob("../../examples/drills/*.yaml")
	for _, name := range examples {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(euFacts + "actions:\n  - {at: 2d3h, actor: a, do: ack}\n"))
	f.Add([]byte(euFacts + "actions:\n  - {at: 1h, actor: a, do: note, text: [x}\n"))
	f.Add([]byte(euFacts + "until: 48h\nactions:\n  - {at: 3d, actor: a, do: note, text: x}\n"))
	f.Add([]byte("facts: {title: x, aware_at: yesterday}\n"))
	f.Add([]byte("facts: &a {title: *a}\n"))
	f.Add([]byte("start: monday\nfacts:\n\ttitle: x\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := Parse("f.yaml", raw)
		if err == nil {
			return
		}
		checkErrorLines(t, "f.yaml", raw, err)
		var doc yaml.Node
		if yerr := yaml.Unmarshal(raw, &doc); yerr != nil {
			if want := yamlfile.SyntaxError("f.yaml", raw, yerr); err.Error() != want.Error() {
				t.Fatalf("syntax error reported as %q, yamlfile says %q", err, want)
			}
		}
	})
}

// checkErrorLines checks that err is invalid input naming the file, at a
// line of raw when it names one ("f.yaml:12: ...").
func checkErrorLines(t *testing.T, name string, raw []byte, err error) {
	t.Helper()
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
	}
	rest, ok := strings.CutPrefix(err.Error(), name)
	if !ok {
		t.Fatalf("error %q does not start with the file name", err)
	}
	digits, ok := strings.CutPrefix(rest, ":")
	if !ok {
		return
	}
	end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(digits)
	}
	if end == 0 {
		return // "f.yaml: ..."
	}
	n, _ := strconv.Atoi(digits[:end])
	if lines := lineCount(raw); n < 1 || n > lines {
		t.Fatalf("error %q names line %d of a file of %d lines", err, n, lines)
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
