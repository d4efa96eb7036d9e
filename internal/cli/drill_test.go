package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDrillPrintsTheTimelineAndRefusalsAndExitsZero(t *testing.T) {
	code, out, errOut := run(t, nil, nil, "drill", filepath.Join("..", "..", "examples", "drills", "nobody-answers.yaml"))
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"+24h00m  2026-01-06T09:00:00Z  reminder",
		"+72h00m  2026-01-08T09:00:00Z  overdue",
		"+80h00m  2026-01-08T17:00:00Z  acknowledged     -              slack:U0DPO     Acknowledged by slack:U0DPO: back from leave, taking this over",
		"REFUSED          eu-gdpr-art33  slack:U0DPO     approve refused (line 30)",
		"REFUSED (1)",
		"notice_approved",
		"eu-gdpr-art33  authority    met      +72h00m  +72h00m  +80h30m  4/4 fired",
		"closed by the drill",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDrillJSON(t *testing.T) {
	code, out, errOut := run(t, nil, nil, "drill", filepath.Join("..", "..", "examples", "drills", "quick-response.yaml"), "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var r struct {
		Timeline []struct {
			Offset  string `json:"offset"`
			Seconds int64  `json:"offset_seconds"`
			Kind    string `json:"kind"`
		} `json:"timeline"`
		Refusals []any `json:"refusals"`
		Clocks   []struct {
			Rule  string `json:"rule"`
			State string `json:"state"`
		} `json:"clocks"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	last := r.Timeline[len(r.Timeline)-1]
	if last.Kind != "closed" || last.Offset != "+72h00m" || last.Seconds != 72*3600 {
		t.Errorf("last entry = %+v, want closed at +72h00m", last)
	}
	if r.Refusals == nil || len(r.Refusals) != 0 {
		t.Errorf("refusals = %v, want an empty list", r.Refusals)
	}
	if len(r.Clocks) != 2 || r.Clocks[0].State != "met" || r.Clocks[1].State != "met" {
		t.Errorf("clocks = %+v, want both met", r.Clocks)
	}
}

func TestDrillBadScenarioNamesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	src := "facts:\n  title: x\n  regions: [EU]\nactions:\n  - at: 26h\n    actor: slack:U0DPO\n    do: escalate\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, nil, "drill", path)
	if code != ExitInvalid || out != "" || !strings.Contains(errOut, "bad.yaml:7: actions[0].do: \"escalate\" is not an action") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 naming line 7", code, out, errOut)
	}
}

func TestDrillFlags(t *testing.T) {
	g := &globals{env: &Env{}}
	cmd := newDrillCmd(g)
	if err := cmd.ParseFlags([]string{"--rules", "./contracts"}); err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("rules").Value.String(); got != "./contracts" {
		t.Errorf("--rules = %q", got)
	}
	if err := cmd.Args(cmd, nil); err == nil {
		t.Error("drill with no scenario was accepted")
	}
}
