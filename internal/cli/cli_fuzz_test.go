package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/internal/yamlfile"
)

// FuzzParseAffected reads any --affected value: either every non-empty
// part is one REGION=COUNT, its region trimmed and in upper case, its count
// not negative, and the counts written back read the same; or the error
// names the flag and quotes the part it refuses.
func FuzzParseAffected(f *testing.F) {
	for _, s := range []string{"DE=1200", "de=1, us-ca = 3", "", ",,", "DE", "DE=-1", "DE=1=2", "=5", "DE=99999999999999999999", " fr =0 ,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseAffected([]string{v})
		var parts []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) || !strings.HasPrefix(err.Error(), "--affected") ||
				!slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(err.Error(), strconv.Quote(p)) }) {
				t.Fatalf("error %q", err)
			}
			return
		}
		if len(got) != len(parts) {
			t.Fatalf("%q: %d parts read as %d", v, len(parts), len(got))
		}
		again := make([]string, len(got))
		for i, r := range got {
			if r.Count < 0 || r.Region != strings.ToUpper(r.Region) || r.Region != strings.TrimSpace(r.Region) || strings.Contains(r.Region, "=") {
				t.Fatalf("%q: part %d read as %+v", v, i, r)
			}
			again[i] = r.Region + "=" + strconv.Itoa(r.Count)
		}
		if back, err := parseAffected(again); err != nil || !slices.Equal(back, got) {
			t.Fatalf("%q written as %q reads as %+v, %v", v, again, back, err)
		}
	})
}

// FuzzParseTime: a time flag is empty (no time), or an RFC 3339 time given
// back in UTC, the same instant; or an error naming the flag.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "2026-11-20T09:00:00Z", " 2026-11-20T10:00:00+01:00 ", "2026-11-20", "tuesday", "2026-11-20T09:00:00.123456789Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseTime("--aware-at", v)
		if err != nil {
			if got != nil || !apperr.Is(err, apperr.Invalid) || !strings.HasPrefix(err.Error(), "--aware-at") {
				t.Fatalf("parseTime(%q) = %v, %v", v, got, err)
			}
			return
		}
		if v == "" {
			if got != nil {
				t.Fatalf("an empty flag read as %v", got)
			}
			return
		}
		want, perr := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if got == nil || perr != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("parseTime(%q) = %v, want %v (%v)", v, got, want, perr)
		}
	})
}

var (
	fuzzRules     = sync.OnceValues(rules.Builtin)
	fileLineRE    = regexp.MustCompile(`f\.yaml:(\d+)|line (\d+)`)
	fuzzFileSeeds = []string{
		"title: Exposed bucket\naware_at: 2026-11-20T09:00:00Z\ndata_categories: [email, media_content]\nregions: EU\nseverity: high\n",
		"title: x\naware_at: 2026-11-20T09:00:00Z\ndata_categories: [email, shoe_size]\n",
		"title: x\naware_at: tuesday\n",
		"title: x\nawareness: 2026-11-20T09:00:00Z\n",
		"title: x\naware_at: 2026-11-20T09:00:00Z\naffected: {DE: 9223372036854775807, FR: 9223372036854775807}\n",
		"title: x\naware_at: 2026-11-20T09:00:00Z\ndetected_at: 2026-11-21T09:00:00Z\nrisk: high\n",
		"title: x\naware_at: 2026-11-20T09:00:00Z\nregions: [EU, US-CA\n",
		"title: x\naware_at: 2026-11-20T09:00:00Z\nsystems: uploads, accounts\nsectors: [health]\nexemptions: disproportionate_effort\n",
		"title: x\naware_at: 2026-11-20T09:00:00Z\ncircumstances: {confidentiality: public}\nencrypted: true\nrole: processor\n",
		"- a\n", "a: &x [*x]\n", "",
	}
)

// FuzzIncidentFile reads any file given to `open --file`: either facts
// that validate and that the rules evaluate without error (as the incident
// workflow does when it opens), or an invalid-input error that names the
// file and, when it names a line, a line of the file (for YAML that does
// not parse, the line yamlfile.SyntaxError names).
func FuzzIncidentFile(f *testing.F) {
	for _, s := range fuzzFileSeeds {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		path := filepath.Join(dir, "f.yaml")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		facts, err := readIncidentFile(path)
		if err != nil {
			checkFileError(t, path, raw, err)
			return
		}
		facts = facts.Normalize()
		if err := facts.Validate(); err != nil {
			t.Fatalf("accepted facts that do not validate: %v", err)
		}
		rs, err := fuzzRules()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs.Evaluate(rules.FromFacts(facts), rules.Config{}); err != nil {
			t.Fatalf("accepted facts the rules cannot evaluate: %v", err)
		}
	})
}

func checkFileError(t *testing.T, path string, raw []byte, err error) {
	t.Helper()
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
	}
	msg, ok := strings.CutPrefix(err.Error(), filepath.Dir(path)+string(filepath.Separator))
	if !ok || !strings.HasPrefix(msg, "f.yaml") {
		t.Fatalf("error %q does not name the file", err)
	}
	lines := yamlLines(raw)
	var named []int
	for _, m := range fileLineRE.FindAllStringSubmatch(msg, -1) {
		n, _ := strconv.Atoi(m[1] + m[2])
		if n < 1 || n > lines {
			t.Fatalf("error %q names line %d of a file of %d lines", msg, n, lines)
		}
		named = append(named, n)
	}
	var doc yaml.Node
	if yerr := yaml.Unmarshal(raw, &doc); yerr != nil {
		if m := fileLineRE.FindStringSubmatch(yamlfile.SyntaxError("f.yaml", raw, yerr).Error()); m != nil {
			if want, _ := strconv.Atoi(m[1] + m[2]); len(named) == 0 || named[0] != want {
				t.Fatalf("syntax error %q: want it at line %d", msg, want)
			}
		}
	}
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
