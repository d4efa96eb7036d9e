package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of the assess tests")

// TestAssessGolden runs `assess` on every scenario in testdata/assess and
// compares the table and the JSON with golden files. An obligation is a
// legal answer: every change to one must show in review. Rewrite them with
// go test ./internal/cli -run AssessGolden -update, and read the diff.
func TestAssessGolden(t *testing.T) {
	scenarios, err := filepath.Glob(filepath.Join("testdata", "assess", "*.yaml"))
	if err != nil || len(scenarios) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, path := range scenarios {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		for _, format := range []string{"table", "json"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				code, out, errOut := run(t, nil, nil, "assess", path, "-o", format)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				golden := filepath.Join("testdata", "assess", name+"."+format+".golden")
				if *update {
					if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if out != string(want) {
					t.Errorf("assess %s -o %s differs from %s:\n%s", path, format, golden, firstDiff(string(want), out))
				}
			})
		}
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return ""
}

func TestAssessErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ body, want string }{
		{"discovered_at: 2026-03-02T09:00:00Z\ndata_categories: [email, shoe_size]\n", "bad.yaml:2: data_categories"},
		{"discovered_at: 2026-03-02T09:00:00Z\naffected:\n  DE: 10\n  XX: 5\n", "bad.yaml:4: affected"},
		{"discovered_at: yesterday\n", "bad.yaml:1: discovered_at"},
		{"data_categories: [email]\n", "discovered_at"},
		{"discovered_at: 2026-03-02T09:00:00Z\nrole: owner\n", "bad.yaml:2: role"},
		{"discovered_at: 2026-03-02T09:00:00Z\nsectors: [banking]\n", "bad.yaml:2: sectors"},
		{"discovered_at: 2026-03-02T09:00:00Z\nrisk: extreme\n", "bad.yaml:2: risk"},
		{"discovered_at: 2026-03-02T09:00:00Z\nhackers: true\n", "field hackers not found"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := run(t, nil, nil, "assess", path)
		if code != ExitInvalid || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, %q; want %q", c.body, code, errOut, c.want)
		}
	}
}

// TestAssessWithOurOwnPromises loads a company's own rules (a privacy
// policy's 72 hours, a contract's 24-hour processor window) on top of the
// law, and reports a bad rule file by file and line.
func TestAssessWithOurOwnPromises(t *testing.T) {
	rulesDir := filepath.Join("..", "..", "examples", "rules")
	code, out, errOut := run(t, nil, nil, "assess", filepath.Join("testdata", "assess", "processor.yaml"), "--rules", rulesDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"acme-dpa-processor-24h", "2026-06-13T14:00:00Z", "Ruleset 2026.11.1+acme-2026.11", "* "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	bad := t.TempDir()
	body := "version: x\nrules:\n  - id: broken\n    jurisdiction: ACME\n    citation: c\n    confidence: high\n    notify: pigeons\n    clock_start: discovery\n    deadline: {hours: 1}\n"
	if err := os.WriteFile(filepath.Join(bad, "r.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, nil, nil, "assess", filepath.Join("testdata", "assess", "processor.yaml"), "--rules", bad)
	if code != ExitInvalid || !strings.Contains(errOut, "r.yaml:3: rule broken: notify") {
		t.Fatalf("bad rule: exit %d, %q", code, errOut)
	}
}
