package drill

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
)

func runFile(t *testing.T, name string) Report {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return runYAML(t, name, string(raw))
}

func runYAML(t *testing.T, name, src string) Report {
	t.Helper()
	s, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	r, err := Run(s, Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return r
}

// offsets returns the offsets of the timeline entries of one kind.
func offsets(r Report, kind string) []time.Duration {
	var out []time.Duration
	for _, e := range r.Timeline {
		if string(e.Kind) == kind {
			out = append(out, time.Duration(e.Offset))
		}
	}
	return out
}

func clock(t *testing.T, r Report, rule string) Clock {
	t.Helper()
	for _, c := range r.Clocks {
		if c.Rule == rule {
			return c
		}
	}
	t.Fatalf("no clock %s in %+v", rule, r.Clocks)
	return Clock{}
}

func TestNobodyAnswers(t *testing.T) {
	r := runFile(t, "../../examples/drills/nobody-answers.yaml")

	// The configured default reminders (48h, 24h, 6h, 1h before the 72h
	// GDPR deadline) fire unanswered, then the clock goes overdue.
	if got, want := offsets(r, "reminder"), []time.Duration{24 * time.Hour, 48 * time.Hour, 66 * time.Hour, 71 * time.Hour}; !slices.Equal(got, want) {
		t.Errorf("reminders at %v, want %v", got, want)
	}
	if got := offsets(r, "overdue"); !slices.Equal(got, []time.Duration{72 * time.Hour}) {
		t.Errorf("overdue at %v, want [72h]", got)
	}

	// The first approval is refused for want of the reasons for the delay;
	// the second, after they are recorded, is accepted.
	var results []string
	for _, o := range r.Actions {
		results = append(results, o.Do+" "+o.Result)
	}
	if want := []string{"ack accepted", "approve refused", "delay accepted", "approve accepted"}; !slices.Equal(results, want) {
		t.Fatalf("actions %v, want %v", results, want)
	}
	if got := offsets(r, "acknowledged"); !slices.Equal(got, []time.Duration{80 * time.Hour}) {
		t.Errorf("acknowledged at %v, want [80h]", got)
	}
	for _, e := range r.Timeline {
		if e.Kind == "acknowledged" && e.Text != "Acknowledged by slack:U0DPO: back from leave, taking this over" {
			t.Errorf("acknowledgement = %q", e.Text)
		}
	}
	if got := offsets(r, "note"); len(got) != 0 {
		t.Errorf("notes at %v, want none: an ack is no note", got)
	}
	if len(r.Refusals) != 1 {
		t.Fatalf("refusals = %+v, want one", r.Refusals)
	}
	ref := r.Refusals[0]
	if time.Duration(ref.Offset) != 80*time.Hour+5*time.Minute || ref.Line != 30 || !strings.Contains(ref.Error, "reasons for the delay") {
		t.Errorf("refusal = %+v; want the approval at +80h05m (line 30) refused for the reasons for the delay", ref)
	}
	if got := offsets(r, string(EntryRefused)); !slices.Equal(got, []time.Duration{80*time.Hour + 5*time.Minute}) {
		t.Errorf("refused entries at %v, want [80h05m]", got)
	}
	if got := offsets(r, "notice_approved"); !slices.Equal(got, []time.Duration{80*time.Hour + 30*time.Minute}) {
		t.Errorf("approved at %v, want [80h30m]", got)
	}

	c := clock(t, r, "eu-gdpr-art33")
	if c.State != incident.ClockMet || c.OverdueAt == nil || time.Duration(*c.ClosedOffset) != 80*time.Hour+30*time.Minute || c.DelayReasons == "" {
		t.Errorf("art33 clock = %+v; want met late at +80h30m, overdue recorded, with the reasons", c)
	}
	for _, rem := range c.Reminders {
		if !rem.Fired {
			t.Errorf("reminder %s did not fire", rem.Before)
		}
	}
	if len(r.Notices) != 1 || r.Notices[0].State != incident.NoticeSent {
		t.Errorf("notices = %+v, want the authority notice sent", r.Notices)
	}
	// Nobody closed it: the drill did, at until.
	if !r.ClosedByDrill || r.State != incident.StateClosed || time.Duration(r.EndOffset) != 96*time.Hour {
		t.Errorf("closed by drill %v, state %s at %s; want closed by the drill at +96h", r.ClosedByDrill, r.State, r.EndOffset)
	}
}

func TestQuickResponse(t *testing.T) {
	r := runFile(t, "../../examples/drills/quick-response.yaml")
	for _, o := range r.Actions {
		if o.Result != ResultAccepted {
			t.Errorf("%s at %s (line %d): %s %s", o.Do, o.Offset, o.Line, o.Result, o.Error)
		}
	}
	for _, rule := range []string{"eu-gdpr-art33", "eu-gdpr-art34"} {
		if c := clock(t, r, rule); c.State != incident.ClockMet || c.OverdueAt != nil {
			t.Errorf("%s = %s (overdue at %v), want met in time", rule, c.State, c.OverdueAt)
		}
	}
	if got := offsets(r, "acknowledged"); !slices.Equal(got, []time.Duration{30 * time.Minute}) {
		t.Errorf("acknowledged at %v, want [30m]", got)
	}
	if got := offsets(r, "reminder"); !slices.Equal(got, []time.Duration{24 * time.Hour}) {
		t.Errorf("reminders at %v, want only the first, at 24h, before the approval", got)
	}
	if len(r.Notices) != 2 || r.Notices[1].Notify != "individuals" || r.Notices[1].Accepted != 5000 {
		t.Errorf("notices = %+v; want the authority's, then 5000 people's from the scope", r.Notices)
	}
	if r.ClosedByDrill || time.Duration(r.EndOffset) != 72*time.Hour {
		t.Errorf("closed by drill %v at %s; want closed by the scenario at +72h", r.ClosedByDrill, r.EndOffset)
	}
}

const euFacts = `
facts:
  title: Bucket exposed
  data_categories: [email]
  regions: [EU]
  severity: high
`

func TestActionsAtOneOffsetRunInFileOrder(t *testing.T) {
	r := runYAML(t, "same.yaml", euFacts+`
portals: [eu-gdpr-art33]
actions:
  - {at: 73h, actor: cli:dpo, do: delay, rule: eu-gdpr-art33, reasons: weekend}
  - {at: 73h, actor: cli:dpo, do: approve, rules: [eu-gdpr-art33], texts: {what_happened: x, likely_consequences: y, measures_taken: z}}
  - {at: 74h, actor: cli:dpo, do: filed, rule: eu-gdpr-art33, reference: DPA-1}
  - {at: 75h, actor: cli:dpo, do: close, reason: done}
  - {at: 76h, actor: cli:dpo, do: note, text: too late}
`)
	var results []string
	for _, o := range r.Actions {
		results = append(results, o.Do+" "+o.Result)
	}
	if want := []string{"delay accepted", "approve accepted", "filed accepted", "close accepted", "note not_run"}; !slices.Equal(results, want) {
		t.Fatalf("actions %v, want %v (errors %+v)", results, want, r.Actions)
	}
	if c := clock(t, r, "eu-gdpr-art33"); c.State != incident.ClockMet || time.Duration(*c.ClosedOffset) != 74*time.Hour {
		t.Errorf("clock = %s closed %v; want met when filed at +74h", c.State, c.ClosedOffset)
	}
}

func TestAckSendsTheAcknowledgement(t *testing.T) {
	r := runYAML(t, "ack.yaml", euFacts+`
actions:
  - {at: 1h, actor: slack:U0ONCALL, do: ack}
  - {at: 2h, actor: cli:dpo, do: ack, rule: eu-gdpr-art33, text: on it}
  - {at: 3h, actor: cli:dpo, do: ack, rule: us-ca-1798.82}
`)
	var results []string
	for _, o := range r.Actions {
		results = append(results, o.Do+" "+o.Rule+" "+o.Result)
	}
	if want := []string{"ack  accepted", "ack eu-gdpr-art33 accepted", "ack us-ca-1798.82 refused"}; !slices.Equal(results, want) {
		t.Fatalf("actions %v, want %v", results, want)
	}
	if !strings.Contains(r.Refusals[0].Error, `no obligation "us-ca-1798.82"`) {
		t.Errorf("refusal = %+v, want the unknown rule named", r.Refusals[0])
	}
	var acks []string
	for _, e := range r.Timeline {
		if e.Kind == "acknowledged" {
			acks = append(acks, e.Offset.String()+" "+e.Rule+" "+e.Text)
		}
	}
	if want := []string{
		"+1h00m  Acknowledged by slack:U0ONCALL",
		"+2h00m eu-gdpr-art33 Acknowledged by cli:dpo for eu-gdpr-art33: on it",
	}; !slices.Equal(acks, want) {
		t.Errorf("acknowledgements %q, want %q", acks, want)
	}
}

func TestAssignGivesRoles(t *testing.T) {
	r := runYAML(t, "assign.yaml", euFacts+`
actions:
  - {at: 1h, actor: slack:U0ONCALL, do: assign, role: commander, person: slack:U0ONCALL}
  - {at: 2h, actor: slack:U0ONCALL, do: assign, role: DPO, person: dana@example.com}
  - {at: 3h, actor: slack:U0ONCALL, do: assign, role: commander, person: slack:U0ONCALL}
  - {at: 4h, actor: cli:dana, do: assign, role: commander, person: slack:U0LEAD}
`)
	var results []string
	for _, o := range r.Actions {
		results = append(results, o.Do+" "+o.Result)
	}
	if want := []string{"assign accepted", "assign accepted", "assign refused", "assign accepted"}; !slices.Equal(results, want) {
		t.Fatalf("actions %v, want %v (%+v)", results, want, r.Actions)
	}
	if !strings.Contains(r.Refusals[0].Error, "already the incident commander") {
		t.Errorf("refusal = %+v, want no change named", r.Refusals[0])
	}
	var assigned []string
	for _, e := range r.Timeline {
		if e.Kind == "role_assigned" {
			assigned = append(assigned, e.Offset.String()+" "+e.Actor+" "+e.Text)
		}
	}
	if want := []string{
		"+1h00m slack:U0ONCALL slack:U0ONCALL is now the incident commander",
		"+2h00m slack:U0ONCALL dana@example.com is now the privacy lead (DPO)",
		"+4h00m cli:dana slack:U0LEAD is now the incident commander (was slack:U0ONCALL)",
	}; !slices.Equal(assigned, want) {
		t.Errorf("assignments %q, want %q", assigned, want)
	}
	if want := map[string]string{"commander": "slack:U0LEAD", "dpo": "dana@example.com"}; !maps.Equal(r.Roles, want) {
		t.Errorf("roles at the end = %v, want %v", r.Roles, want)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"bad action", euFacts + `
actions:
  - at: 26h
    actor: slack:U0DPO
    do: escalate
`, `bad.yaml:11: actions[0].do: "escalate" is not an action`},
		{"unknown field", euFacts + `
actions:
  - at: 26h
    actor: slack:U0DPO
    do: note
    txt: hello
`, `bad.yaml:12: unknown field txt`},
		{"argument of another kind", euFacts + `
actions:
  - at: 26h
    actor: slack:U0DPO
    do: note
    reasons: hello
`, `bad.yaml:12: actions[0].reasons: note takes text, not reasons`},
		{"ack with reasons", euFacts + `
actions:
  - {at: 1h, actor: a, do: ack, reasons: x}
`, `bad.yaml:9: actions[0].reasons: ack takes rule, text, not reasons`},
		{"assign without a role", euFacts + `
actions:
  - {at: 1h, actor: a, do: assign, person: b}
`, `bad.yaml:9: actions[0].role: assign needs a role: commander, dpo, legal, scribe`},
		{"assign an unknown role", euFacts + `
actions:
  - {at: 1h, actor: a, do: assign, role: janitor, person: b}
`, `bad.yaml:9: actions[0].role: assign needs a role`},
		{"assign without a person", euFacts + `
actions:
  - {at: 1h, actor: a, do: assign, role: scribe}
`, `bad.yaml:9: actions[0].person: assign needs the person`},
		{"assign with text", euFacts + `
actions:
  - {at: 1h, actor: a, do: assign, role: scribe, person: b, text: x}
`, `bad.yaml:9: actions[0].text: assign takes role, person, not text`},
		{"bad offset", euFacts + `
actions:
  - {at: tomorrow, actor: a, do: note, text: x}
`, `bad.yaml:9: actions[0].at: "tomorrow" is not an offset`},
		{"after until", euFacts + `
until: 48h
actions:
  - {at: 3d, actor: a, do: note, text: x}
`, `bad.yaml:10: actions[0].at: 3d is not before the end of the drill (until 48h)`},
		{"no actor", euFacts + `
actions:
  - {at: 1h, do: note, text: x}
`, `bad.yaml:9: actions[0].actor: say who acts`},
		{"bad time in facts", `
facts:
  title: x
  aware_at: yesterday
`, `bad.yaml:4: facts.aware_at: "yesterday" is not an RFC 3339 time`},
		{"invalid facts", `
facts:
  title: x
  severity: high
  regions: [EU]
  role: vendor
`, `bad.yaml:6: facts.role:`},
		{"no facts", `start: 2026-01-05T09:00:00Z`, `bad.yaml:1: facts: is required`},
		{"bad start", "start: monday\n" + euFacts, `bad.yaml:1: start: "monday" is not an RFC 3339 time`},
		{"scope without counts", euFacts + `
scope: {at: 1h, actor: a}
`, `bad.yaml:8: scope.affected: give the people found per region`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("error kind = %s, want invalid", apperr.KindOf(err))
			}
		})
	}
}

func TestOffsetString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "+0h00m", 26 * time.Hour: "+26h00m", 80*time.Hour + 5*time.Minute: "+80h05m",
		-90 * time.Minute: "-1h30m", 3*time.Hour + 7*time.Second: "+3h00m07s",
	} {
		if got := Offset(d).String(); got != want {
			t.Errorf("Offset(%s) = %s, want %s", d, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"../../examples/drills/nobody-answers.yaml", "../../examples/drills/quick-response.yaml"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(euFacts + "actions:\n  - {at: 2d3h, actor: a, do: ack}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Parse("fuzz.yaml", raw)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
			}
			return
		}
		for _, a := range s.Actions {
			if a.At < 0 || a.At >= s.Until || a.Update == "" || a.Actor == "" {
				t.Fatalf("action %+v accepted (until %s)", a, s.Until)
			}
		}
	})
}

// TestNobodyAnswersClimbsTheChain is the drill: with the example
// escalation policies, nobody answers, the chain climbs at its configured
// times on every reminder, the deadline passing pages the top of the chain,
// the approval without reasons for the delay is refused, and once someone
// acknowledges no page of that reminder fires again.
func TestNobodyAnswersClimbsTheChain(t *testing.T) {
	esc, err := escalation.Load(filepath.Join("..", "..", "examples", "escalation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "drills", "nobody-answers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("nobody-answers.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(s, Options{Escalation: esc})
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Duration
	var top []string
	for _, e := range r.Timeline {
		if e.Kind == "escalated" {
			at = append(at, time.Duration(e.Offset))
			if strings.Contains(e.Text, "top of the chain") {
				top = append(top, e.Offset.String())
			}
		}
	}
	pol := esc.PolicyFor("high", "authority")
	first := escalation.NewPage(escalation.ReasonReminder, "eu-gdpr-art33", 48*time.Hour, pol, s.Start.Add(24*time.Hour))
	var want []time.Duration
	for _, f := range escalation.Schedule(first) {
		want = append(want, f.At.Sub(s.Start))
	}
	if len(at) < len(want) || !slices.Equal(at[:len(want)], want) {
		t.Fatalf("the first reminder's chain fired at %v, want %v", at, want)
	}
	if len(top) == 0 || top[0] != "+72h00m" {
		t.Fatalf("the top of the chain was paged at %v, want first at +72h00m", top)
	}
	for _, d := range at {
		if d > 80*time.Hour { // acknowledged at +80h, and the page was the deadline's
			t.Errorf("paged at +%s after the acknowledgement", d)
		}
	}
	// The example file also asks two approvers of a draft for notices to
	// an authority: the one-step approval after the reasons is refused too.
	if len(r.Refusals) != 2 || !strings.Contains(r.Refusals[0].Error, "reasons for the delay") ||
		!strings.Contains(r.Refusals[1].Error, "2 different approvers") {
		t.Errorf("refusals: %+v", r.Refusals)
	}
}

// TestSignOffDrill: the example sign-off drill under the example
// escalation file: a draft rejected with its reason, drafted again, and
// sent at the second approver's approval, which meets the clock.
func TestSignOffDrill(t *testing.T) {
	esc, err := escalation.Load(filepath.Join("..", "..", "examples", "escalation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "drills", "sign-off.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("sign-off.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(s, Options{Escalation: esc})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Refusals) != 0 {
		t.Fatalf("refusals: %+v", r.Refusals)
	}
	want := []struct{ offset, kind, text string }{
		{"+3h00m", "notice_drafted", "needs 2 different approvers"},
		{"+4h00m", "draft_rejected", "every password was reset"},
		{"+5h00m", "notice_drafted", "needs 2 different approvers"},
		{"+6h00m", "draft_approval", "(1 of 2 approvals)"},
		{"+7h00m", "draft_approval", "(2 of 2 approvals): sending"},
	}
	next := 0
	for _, e := range r.Timeline {
		if next < len(want) && e.Offset.String() == want[next].offset && string(e.Kind) == want[next].kind && strings.Contains(e.Text, want[next].text) {
			next++
		}
	}
	if next != len(want) {
		t.Fatalf("timeline lacks %+v:\n%+v", want[next], r.Timeline)
	}
	i := slices.IndexFunc(r.Clocks, func(c Clock) bool { return c.Rule == "eu-gdpr-art33" })
	if i < 0 || r.Clocks[i].State != incident.ClockMet || r.Clocks[i].ClosedOffset == nil || r.Clocks[i].ClosedOffset.String() != "+7h00m" {
		t.Fatalf("clocks: %+v", r.Clocks)
	}

	// Without the two-person rule the DPO's approval sends it, and legal's
	// finds the draft already approved.
	r, err = Run(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Refusals) != 1 || !strings.Contains(r.Refusals[0].Error, "no draft") && !strings.Contains(r.Refusals[0].Error, "is approved") {
		t.Fatalf("refusals without the rule: %+v", r.Refusals)
	}
}
