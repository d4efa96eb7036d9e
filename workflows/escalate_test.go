package workflows_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// chain: a responder at once, the DPO after 30 minutes, the whole chain
// once more an hour later.
const chainYAML = `policies:
  - name: gdpr
    steps:
      - delay: 0m
        targets: [slack:U0RESP]
      - delay: 30m
        targets: [slack:U0DPO, email:dpo@example.com]
    repeat: 1
    repeat_delay: 1h
`

func chain(t *testing.T) *escalation.Config {
	t.Helper()
	c, err := escalation.Parse([]byte(chainYAML), "escalation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// escalations lists the escalated entries as "+offset text".
func escalations(s incident.Status) []string {
	var out []string
	for _, e := range s.Timeline {
		if e.Kind == "escalated" {
			out = append(out, "+"+e.At.Sub(start).String()+" "+e.Text)
		}
	}
	return out
}

func firedAt(s incident.Status) []time.Duration {
	var out []time.Duration
	for _, e := range s.Timeline {
		if e.Kind == "escalated" {
			out = append(out, e.At.Sub(start))
		}
	}
	return out
}

// TestNobodyAnswers: each reminder climbs the chain at the configured
// times until the next reminder starts it again; the deadline passing pages
// the top of the chain at once, then repeats.
func TestNobodyAnswers(t *testing.T) {
	h := newHarnessWith(t, chain(t))
	h.at(80*time.Hour, func() { h.close("Notified") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	h24, h48, h66, h71, h72 := 24*time.Hour, 48*time.Hour, 66*time.Hour, 71*time.Hour, 72*time.Hour
	m := time.Minute
	want := []time.Duration{
		h24, h24 + 30*m, h24 + 90*m, h24 + 120*m, // a round, and its repeat an hour after the last step
		h48, h48 + 30*m, h48 + 90*m, h48 + 120*m,
		h66, h66 + 30*m, h66 + 90*m, h66 + 120*m,
		h71, h71 + 30*m, // the deadline's page replaces the 1h reminder's before it climbs further
		h72, h72 + 60*m, // top of the chain at once, then its repeat
	}
	if got := firedAt(final); !slices.Equal(got, want) {
		t.Fatalf("escalations at %v\nwant %v\n%s", got, want, strings.Join(escalations(final), "\n"))
	}
	top := escalations(final)[14]
	if !strings.Contains(top, "top of the chain") || !strings.Contains(top, "slack:U0RESP") || !strings.Contains(top, "email:dpo@example.com") {
		t.Errorf("the deadline's page does not hit the whole chain: %s", top)
	}
}

// TestAcknowledgedEarly: an acknowledgement stops the climb, not the clock:
// the next reminder pages again from the first step.
func TestAcknowledgedEarly(t *testing.T) {
	h := newHarnessWith(t, chain(t))
	h.at(24*time.Hour+10*time.Minute, func() {
		h.update(workflows.UpdateAcknowledge, workflows.AckRequest{Rule: "eu-gdpr-art33", Actor: "slack:U0RESP", Text: "on it"}, h.must("ack", nil))
	})
	h.at(24*time.Hour+20*time.Minute, func() {
		h.update(workflows.UpdateAcknowledge, workflows.AckRequest{Rule: "no-such-rule", Actor: "slack:U0RESP"}, func(_ any, err error) {
			if err == nil {
				t.Error("acknowledging an obligation the incident does not have was accepted")
			}
		})
	})
	h.at(49*time.Hour, func() { h.close("Notified") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	want := []time.Duration{24 * time.Hour, 48 * time.Hour, 48*time.Hour + 30*time.Minute}
	if got := firedAt(final); !slices.Equal(got, want) {
		t.Fatalf("escalations at %v, want %v", got, want)
	}
	var acks []incident.Entry
	for _, e := range final.Timeline {
		if e.Kind == "acknowledged" {
			acks = append(acks, e)
		}
	}
	if len(acks) != 1 || acks[0].Actor != "slack:U0RESP" || !strings.Contains(acks[0].Text, "paging stopped") || !strings.Contains(acks[0].Text, "on it") {
		t.Fatalf("acknowledgements: %+v", acks)
	}
	if c := final.Clocks[0]; c.State != incident.ClockStopped || c.OverdueAt != nil {
		t.Errorf("the clock after the acknowledgement: %s", c.State)
	}
}

// TestRolesOnTheRecord: roles are assigned and reassigned on the timeline,
// and a role that does not exist, or no person, is refused.
func TestRolesOnTheRecord(t *testing.T) {
	h := newHarness(t)
	var refusals []string
	refused := func(what string) func(any, error) {
		return func(_ any, err error) {
			if err == nil {
				t.Errorf("%s was accepted", what)
			}
			refusals = append(refusals, what)
		}
	}
	h.at(time.Hour, func() {
		h.update(workflows.UpdateAssign, workflows.AssignRequest{Role: "commander", Person: "slack:U0ALICE", Actor: "cli:bob"}, h.must("assign", nil))
		h.update(workflows.UpdateAssign, workflows.AssignRequest{Role: "dpo", Person: "dpo@example.com", Actor: "cli:bob"}, h.must("assign dpo", nil))
		h.update(workflows.UpdateAssign, workflows.AssignRequest{Role: "janitor", Person: "x", Actor: "cli:bob"}, refused("an unknown role"))
		h.update(workflows.UpdateAssign, workflows.AssignRequest{Role: "scribe", Person: " ", Actor: "cli:bob"}, refused("nobody"))
	})
	h.at(2*time.Hour, func() {
		h.update(workflows.UpdateAssign, workflows.AssignRequest{Role: "commander", Person: "slack:U0CAROL", Actor: "slack:U0ALICE"}, h.must("reassign", nil))
		h.update(workflows.UpdateAssign, workflows.AssignRequest{Role: "dpo", Person: "dpo@example.com", Actor: "cli:bob"}, refused("the same person again"))
	})
	h.at(3*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	if final.Roles["commander"] != "slack:U0CAROL" || final.Roles["dpo"] != "dpo@example.com" || len(final.Roles) != 2 {
		t.Fatalf("roles: %v", final.Roles)
	}
	if len(refusals) != 3 {
		t.Fatalf("refusals: %v", refusals)
	}
	var texts []string
	for _, e := range final.Timeline {
		if e.Kind == "role_assigned" {
			texts = append(texts, e.Actor+": "+e.Text)
		}
	}
	want := []string{
		"cli:bob: slack:U0ALICE is now the incident commander",
		"cli:bob: dpo@example.com is now the privacy lead (DPO)",
		"slack:U0ALICE: slack:U0CAROL is now the incident commander (was slack:U0ALICE)",
	}
	if !slices.Equal(texts, want) {
		t.Fatalf("timeline:\n%s\nwant\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
}

// TestOnCallTakesTheRoles: whoever configuration puts on call holds the
// roles when the incident opens.
func TestOnCallTakesTheRoles(t *testing.T) {
	esc, err := escalation.Parse([]byte("on_call:\n  commander: slack:U0ONCALL\n  dpo: email:dpo@example.com\npolicies: []\n"), "e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, esc)
	h.at(time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()
	if final.Roles["commander"] != "slack:U0ONCALL" || final.Roles["dpo"] != "email:dpo@example.com" {
		t.Fatalf("roles at open: %v", final.Roles)
	}
	n := 0
	for _, e := range final.Timeline {
		if e.Kind == "role_assigned" && strings.Contains(e.Text, "(from configuration)") && e.At.Equal(start) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d on-call entries at open, want 2", n)
	}
}

// TestPagesAreEmailed: every escalation step with an email target is
// emailed at its instant, once, with a subject that says what it is.
func TestPagesAreEmailed(t *testing.T) {
	h := newHarnessWith(t, chain(t))
	type sent struct {
		at time.Duration
		in activities.PageEmailInput
	}
	var emails []sent
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.PageEmailInput) error {
		emails = append(emails, sent{h.env.Now().Sub(start), in})
		return nil
	}, activity.RegisterOptions{Name: activities.SendPageEmailName})
	h.at(80*time.Hour, func() { h.close("Notified") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	var want []time.Duration
	for _, e := range final.Timeline {
		if e.Kind == "escalated" && strings.Contains(e.Text, "email:dpo@example.com") {
			want = append(want, e.At.Sub(start))
		}
	}
	var got []time.Duration
	keys := map[string]bool{}
	for _, e := range emails {
		got = append(got, e.at)
		if keys[e.in.Key] || !slices.Equal(e.in.To, []string{"dpo@example.com"}) || !strings.Contains(e.in.Subject, "eu-gdpr-art33") {
			t.Errorf("page email %+v", e.in)
		}
		keys[e.in.Key] = true
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("page emails at %v, want %v (the steps that name the address)", got, want)
	}
	if last := emails[len(emails)-1].in; !strings.Contains(last.Subject, "overdue") || strings.Contains(last.Text, "*") {
		t.Errorf("the deadline's page email: %+v", last)
	}
}

// TestOpenedOverduePagesAtOnce: an incident opened after its deadline
// pages the top of the chain at the opening, as a change of facts that
// makes it overdue does, and tells the responders once the channel is
// made; a responder who is also on the chain is messaged once.
func TestOpenedOverduePagesAtOnce(t *testing.T) {
	h := newHarnessWith(t, chain(t))
	f := &fakeSlack{now: func() time.Time { return h.env.Now() }, posts: map[string]time.Time{}}
	f.register(h)
	h.at(90*time.Minute, func() { h.close("late report, filed by phone") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start.Add(-100*time.Hour), "EU")))
	final := h.result()

	if got := firedAt(final); !slices.Equal(got, []time.Duration{0, time.Hour}) {
		t.Fatalf("escalations at %v, want [0s 1h0m0s] (top of the chain at the opening, then its repeat)\n%s", got, strings.Join(escalations(final), "\n"))
	}
	if top := escalations(final)[0]; !strings.Contains(top, "top of the chain") || !strings.Contains(top, "slack:U0DPO") {
		t.Errorf("the opening's page: %s", top)
	}
	dpo := 0
	for _, d := range f.direct {
		if d == "U0DPO@0s" {
			dpo++
		}
	}
	if dpo != 1 || !slices.Contains(f.direct, "U0RESP@0s") {
		t.Errorf("direct messages at the opening: %v; want U0RESP and the responder U0DPO (also on the chain) once each", f.direct)
	}
}

// TestResponderOnTheChainHearsOnce: when the deadline passes, the
// responder who is also a target of the chain's top gets one direct
// message, not the responders' and the page's.
func TestResponderOnTheChainHearsOnce(t *testing.T) {
	h := newHarnessWith(t, chain(t))
	f := &fakeSlack{now: func() time.Time { return h.env.Now() }, posts: map[string]time.Time{}}
	f.register(h)
	h.at(72*time.Hour+30*time.Minute, func() { h.close("Notified") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	h.result()
	var atDeadline []string
	for _, d := range f.direct {
		if strings.HasSuffix(d, "@72h0m0s") {
			atDeadline = append(atDeadline, d)
		}
	}
	slices.Sort(atDeadline)
	if want := []string{"U0DPO@72h0m0s", "U0RESP@72h0m0s"}; !slices.Equal(atDeadline, want) {
		t.Fatalf("direct messages at the deadline: %v, want %v", atDeadline, want)
	}
}
