package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/drill"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
)

// fastEscalationYAML pages the incident channel and the DPO at once and
// the CISO 8 s later, so a chain climbs inside a test.
const fastEscalationYAML = `policies:
  - name: fast
    steps:
      - delay: 0s
        targets: [incident-channel, email:dpo@pixelcrunch.example]
      - delay: 8s
        targets: [email:ciso@pixelcrunch.example]
`

// TestDevBehavesLikeTheDrill is issue 7's "done when": an incident where
// nobody answers, run for real on `breachctl dev` (a GDPR deadline 50 s
// after opening, reminders 30 s and 15 s before it, an escalation chain
// of two steps 8 s apart), then rehearsed as a drill in virtual time with
// the same facts, configuration and actions at the same offsets. Both
// timelines show the chain climbing at the configured times, the clock
// going overdue, the approval refused without reasons for the delay and
// accepted with them, at the same offsets to within 2 s.
func TestDevBehavesLikeTheDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a deadline in real time (about a minute)")
	}
	dir := t.TempDir()
	notifyPath, escPath := filepath.Join(dir, "notify.yaml"), filepath.Join(dir, "escalation.yaml")
	for path, content := range map[string]string{notifyPath: notifyYAML, escPath: fastEscalationYAML} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reminders := "30s,15s"
	env := map[string]string{"BREACHCTL_NOTIFY": notifyPath, "BREACHCTL_ESCALATION": escPath, "BREACHCTL_REMINDERS": reminders,
		"BREACHCTL_STORE": "sqlite:" + filepath.Join(dir, "breachctl.db")}
	dev := startDevEnv(t, dir, env)
	defer dev.Stop()
	c := devCLI(t, dev, env)

	const (
		title       = "Customer table exported"
		description = "An administrator account exported the customer table."
		reasons     = "Nobody with authority to notify saw the alert before the deadline."
	)
	aware := time.Now().UTC().Add(-72*time.Hour + 50*time.Second).Truncate(time.Second)
	var st incident.Status
	c.ok(&st, "open", "--title", title, "--description", description, "--aware-at", aware.Format(time.RFC3339),
		"--system", "accounts", "--region", "EU", "--category", "name,email,password_hash", "--severity", "high",
		"--risk", "high", "--risk-justification", "unsalted password hashes")
	cl := clockOf(st, "eu-gdpr-art33")
	if cl == nil || cl.Due == nil {
		t.Fatalf("no GDPR clock: %+v", st.Clocks)
	}
	deadline := *cl.Due
	texts := []string{"--what-happened", description, "--consequences", "Phishing.", "--measures", "Passwords were reset."}

	// What people do, at real offsets from the opening.
	type act struct {
		do   string
		args []string
		ok   bool
		at   time.Duration
	}
	acts := []*act{
		{do: "approve", args: append([]string{"approve", st.ID, "eu-gdpr-art33"}, texts...)},
		{do: "delay", args: []string{"delay", st.ID, "eu-gdpr-art33", reasons}, ok: true},
		{do: "approve", args: append([]string{"approve", st.ID, "eu-gdpr-art33"}, texts...), ok: true},
	}
	for i, a := range acts {
		time.Sleep(time.Until(deadline.Add(time.Duration(5+2*i) * time.Second)))
		a.at = time.Since(st.OpenedAt).Round(time.Millisecond)
		code, _, errOut := c.run(a.args...)
		if (code == 0) != a.ok {
			t.Fatalf("%s at +%s: exit %d: %s", a.do, a.at, code, errOut)
		}
		if a.do == "approve" && !a.ok && !strings.Contains(errOut, "reasons for the delay") {
			t.Fatalf("the late approval without reasons: %s", errOut)
		}
	}
	var real incident.Status
	eventually(t, 30*time.Second, "the notice sent and the clock met", func() bool {
		c.ok(&real, "show", st.ID)
		cl := clockOf(real, "eu-gdpr-art33")
		return cl != nil && cl.State == incident.ClockMet
	})

	// The same incident as a drill.
	var b strings.Builder
	fmt.Fprintf(&b, "name: dev comparison\nstart: %s\nuntil: %s\nopened_by: cli:e2e\nreminders: [%s]\nfacts:\n", st.OpenedAt.Format(time.RFC3339Nano),
		(time.Since(st.OpenedAt) + time.Minute).Round(time.Second), reminders)
	fmt.Fprintf(&b, "  title: %s\n  description: %s\n  aware_at: %s\n  systems: [accounts]\n  regions: [EU]\n", title, description, aware.Format(time.RFC3339))
	fmt.Fprintf(&b, "  data_categories: [name, email, password_hash]\n  severity: high\n  risk: high\n  risk_justification: unsalted password hashes\nactions:\n")
	for _, a := range acts {
		fmt.Fprintf(&b, "  - at: %dms\n    actor: cli:e2e\n    do: %s\n", a.at.Milliseconds(), a.do)
		if a.do == "approve" {
			fmt.Fprintf(&b, "    rules: [eu-gdpr-art33]\n    texts: {what_happened: %q, likely_consequences: Phishing., measures_taken: Passwords were reset.}\n", description)
		} else {
			fmt.Fprintf(&b, "    rule: eu-gdpr-art33\n    reasons: %q\n", reasons)
		}
	}
	s, err := drill.Parse("dev.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	esc, err := escalation.Load(escPath)
	if err != nil {
		t.Fatal(err)
	}
	rehearsed, err := drill.Run(s, drill.Options{Escalation: esc})
	if err != nil {
		t.Fatal(err)
	}

	// Compare what the clock and the people did: reminders, pages,
	// overdue, reasons, approval, met.
	type line struct {
		at   time.Duration
		kind incident.EntryKind
		rule string
	}
	keep := func(kind incident.EntryKind, rule string) bool {
		return rule == "eu-gdpr-art33" && kind != "note" && kind != drill.EntryRefused && kind != incident.EntryClosed
	}
	var want, got []line
	for _, e := range rehearsed.Timeline {
		if keep(e.Kind, e.Rule) && e.At.Before(rehearsed.End) {
			want = append(want, line{e.At.Sub(s.Start), e.Kind, e.Rule})
		}
	}
	for _, e := range real.Timeline {
		if keep(e.Kind, e.Rule) {
			got = append(got, line{e.At.Sub(st.OpenedAt), e.Kind, e.Rule})
		}
	}
	show := func(ls []line) string {
		var out []string
		for _, l := range ls {
			out = append(out, fmt.Sprintf("+%s %s", l.at.Round(100*time.Millisecond), l.kind))
		}
		return strings.Join(out, "\n")
	}
	kinds := map[incident.EntryKind]int{}
	for _, l := range want {
		kinds[l.kind]++
	}
	if kinds["reminder"] != 2 || kinds["escalated"] < 5 || kinds["overdue"] != 1 || kinds["notice_approved"] != 1 || kinds["clock_met"] != 1 {
		t.Fatalf("the drill's timeline lacks what the test is about:\n%s", show(want))
	}
	if len(want) != len(got) {
		t.Fatalf("drill and dev differ:\ndrill:\n%s\ndev:\n%s", show(want), show(got))
	}
	for i := range want {
		d := got[i].at - want[i].at
		if got[i].kind != want[i].kind || d < -2*time.Second || d > 2*time.Second {
			t.Fatalf("entry %d: drill +%s %s, dev +%s %s\ndrill:\n%s\ndev:\n%s", i, want[i].at, want[i].kind, got[i].at, got[i].kind, show(want), show(got))
		}
	}
	t.Logf("drill and dev agree on %d entries:\n%s", len(want), show(got))
}
