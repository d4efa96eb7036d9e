package workflows_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/worker"
	"github.com/breachctl/breachctl/workflows"
)

// start is the virtual instant every test opens its incident at.
var start = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

type harness struct {
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	pending  int
	archived *archiveFake
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

// newHarnessWith is newHarness with escalation policies.
func newHarnessWith(t *testing.T, esc *escalation.Config) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, env: env, archived: &archiveFake{}}
	worker.Register(env, worker.Deps{Rules: &activities.Rules{Ruleset: rs, Escalation: esc}, Register: &activities.Register{Store: h.archived}})
	return h
}

// archiveFake is the breach register's store.
type archiveFake struct {
	mu      sync.Mutex
	entries map[string][]byte
	puts    int
}

func (a *archiveFake) PutRegisterEntry(_ context.Context, id string, _ time.Time, status []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil {
		a.entries = map[string][]byte{}
	}
	a.entries[id] = status
	a.puts++
	return nil
}

func facts(awareAt time.Time, regions ...string) incident.Facts {
	return incident.Facts{
		Title:   "Bucket with customer uploads exposed",
		AwareAt: awareAt,
		// Email alone is a low risk: the authority clock (GDPR Art. 33)
		// runs, and no Art. 34 notice to people, so one clock to watch.
		DataCategories: []string{"email"},
		Regions:        regions,
		Severity:       incident.SeverityHigh,
	}
}

func (h *harness) input(f incident.Facts) workflows.IncidentInput {
	return workflows.IncidentInput{ID: "INC-20261120-7K3QX", Facts: f, OpenedBy: "cli:alice"}
}

// at runs fn at a virtual offset from the start.
func (h *harness) at(offset time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, offset) }

func (h *harness) status() incident.Status {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryStatus)
	if err != nil {
		h.t.Fatalf("query status: %v", err)
	}
	var s incident.Status
	if err := v.Get(&s); err != nil {
		h.t.Fatalf("decode status: %v", err)
	}
	return s
}

// update sends an update; then runs once it completes or is rejected (the
// test environment answers asynchronously). result() fails the test if any
// update never answered.
func (h *harness) update(name string, arg any, then func(result any, err error)) {
	h.t.Helper()
	h.pending++
	answered := func(v any, err error) {
		h.pending--
		if then != nil {
			then(v, err)
		}
	}
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { answered(nil, err) },
		OnComplete: answered,
	}, arg)
}

// must is an update callback that fails the test on an error.
func (h *harness) must(what string, then func()) func(any, error) {
	return func(_ any, err error) {
		if err != nil {
			h.t.Errorf("%s: %v", what, err)
			return
		}
		if then != nil {
			then()
		}
	}
}

// close closes the incident as a person who was asked and confirmed
// closing with obligations overdue, where there are any.
func (h *harness) close(reason string) {
	h.update(workflows.UpdateClose, workflows.CloseRequest{Reason: reason, Actor: "cli:alice", AcknowledgeOpen: true}, h.must("close", nil))
}

func (h *harness) result() incident.Status {
	h.t.Helper()
	if h.pending != 0 {
		h.t.Fatalf("%d updates never answered", h.pending)
	}
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow error: %v", err)
	}
	var s incident.Status
	if err := h.env.GetWorkflowResult(&s); err != nil {
		h.t.Fatalf("result: %v", err)
	}
	return s
}

// entries returns the timeline entries of one kind, as offsets from start.
func entries(s incident.Status, kind string) []time.Duration {
	var out []time.Duration
	for _, e := range s.Timeline {
		if string(e.Kind) == kind {
			out = append(out, e.At.Sub(start))
		}
	}
	return out
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGDPRClockRemindersAndOverdueAtExactInstants(t *testing.T) {
	h := newHarness(t)
	var atOpen, beforeDue, afterDue incident.Status
	h.at(time.Minute, func() { atOpen = h.status() })
	h.at(72*time.Hour-time.Second, func() { beforeDue = h.status() })
	h.at(72*time.Hour+time.Second, func() { afterDue = h.status() })
	h.at(80*time.Hour, func() { h.close("Notified; contained") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	if len(atOpen.Clocks) != 1 {
		t.Fatalf("clocks at open = %d, want 1", len(atOpen.Clocks))
	}
	c := atOpen.Clocks[0]
	if c.Rule != "eu-gdpr-art33" || !c.Due.Equal(start.Add(72*time.Hour)) || c.State != incident.ClockRunning {
		t.Fatalf("clock = %s due %s state %s; want eu-gdpr-art33 due %s running", c.Rule, c.Due, c.State, start.Add(72*time.Hour))
	}
	if atOpen.NextDeadline == nil || !atOpen.NextDeadline.Equal(*c.Due) || atOpen.BindingRule != c.Rule {
		t.Fatalf("binding deadline = %v %q", atOpen.NextDeadline, atOpen.BindingRule)
	}
	if beforeDue.State != incident.StateOpen || afterDue.State != incident.StateOverdue {
		t.Fatalf("state one second before due = %s, one second after = %s; want open, overdue", beforeDue.State, afterDue.State)
	}
	wantReminders := []time.Duration{24 * time.Hour, 48 * time.Hour, 66 * time.Hour, 71 * time.Hour}
	if got := entries(final, "reminder"); !equalDurations(got, wantReminders) {
		t.Fatalf("reminders at %v, want %v", got, wantReminders)
	}
	if got := entries(final, "overdue"); !equalDurations(got, []time.Duration{72 * time.Hour}) {
		t.Fatalf("overdue at %v, want [72h]", got)
	}
	for _, r := range final.Clocks[0].Schedule {
		if r.FiredAt == nil || !r.FiredAt.Equal(r.At) {
			t.Errorf("reminder %s scheduled %s fired at %v; want exactly on time", r.Before, r.At, r.FiredAt)
		}
	}
	if c := final.Clocks[0]; final.State != incident.StateClosed || c.State != incident.ClockStopped ||
		c.OverdueAt == nil || !c.OverdueAt.Equal(start.Add(72*time.Hour)) {
		// Closing stops the clock but keeps the record that it went overdue.
		t.Fatalf("final state %s, clock %s overdue at %v; want closed, stopped, overdue at +72h", final.State, c.State, c.OverdueAt)
	}
	if got := h.env.Now().Sub(start); got != 80*time.Hour {
		t.Fatalf("workflow ended at +%s, want +80h", got)
	}
}

func TestOpenedLateSkipsRemindersAlreadyPast(t *testing.T) {
	h := newHarness(t)
	h.at(30*time.Hour, func() { h.close("contained") })
	// Aware 50 hours before opening: due in 22 hours.
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start.Add(-50*time.Hour), "DE")))
	final := h.result()
	if got := entries(final, "reminder"); !equalDurations(got, []time.Duration{16 * time.Hour, 21 * time.Hour}) {
		t.Fatalf("reminders at %v, want [16h 21h] (the 48h and 24h ones were past at opening)", got)
	}
	skipped := 0
	for _, r := range final.Clocks[0].Schedule {
		if r.Skipped {
			skipped++
		}
	}
	if skipped != 2 {
		t.Fatalf("skipped reminders = %d, want 2", skipped)
	}
	if got := entries(final, "overdue"); !equalDurations(got, []time.Duration{22 * time.Hour}) {
		t.Fatalf("overdue at %v, want [22h]", got)
	}
}

func TestOpenedAfterTheDeadlineIsOverdueAtOnce(t *testing.T) {
	h := newHarness(t)
	var s incident.Status
	h.at(time.Second, func() { s = h.status(); h.close("late report") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start.Add(-100*time.Hour), "FR")))
	h.result()
	if s.State != incident.StateOverdue || s.Clocks[0].State != incident.ClockOverdue {
		t.Fatalf("state %s clock %s, want overdue", s.State, s.Clocks[0].State)
	}
	if got := entries(s, "reminder"); len(got) != 0 {
		t.Fatalf("reminders fired for a clock already past: %v", got)
	}
}

func TestFactsChangeMovesTheDeadlineOnTheRecord(t *testing.T) {
	h := newHarness(t)
	var after incident.Status
	h.at(10*time.Hour, func() {
		earlier := start.Add(-10 * time.Hour)
		h.update(workflows.UpdateFacts, workflows.FactsRequest{
			Change: incident.FactsChange{AwareAt: &earlier},
			Actor:  "cli:bob", Reason: "access logs show the exposure was known earlier",
		}, h.must("update facts", func() { after = h.status() }))
	})
	h.at(100*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	if len(after.Clocks) != 1 || !after.Clocks[0].Due.Equal(start.Add(62*time.Hour)) {
		t.Fatalf("clocks after change = %+v, want one due start+62h", after.Clocks)
	}
	var moved *incident.Entry
	for i, e := range final.Timeline {
		if e.Kind == incident.EntryKind(incident.EventDeadlineMoved) {
			moved = &final.Timeline[i]
		}
	}
	if moved == nil || moved.At.Sub(start) != 10*time.Hour || !strings.Contains(moved.Text, "aware_at") {
		t.Fatalf("deadline_moved entry = %+v; want one at +10h naming aware_at as the cause", moved)
	}
	// New deadline +62h: reminders at +14h, +38h, +56h, +61h, all after the
	// change at +10h; the old schedule's first reminder (+24h) never fires.
	want := []time.Duration{14 * time.Hour, 38 * time.Hour, 56 * time.Hour, 61 * time.Hour}
	if got := entries(final, "reminder"); !equalDurations(got, want) {
		t.Fatalf("reminders at %v, want %v", got, want)
	}
	if got := entries(final, "overdue"); !equalDurations(got, []time.Duration{62 * time.Hour}) {
		t.Fatalf("overdue at %v, want [62h]", got)
	}
}

func TestRegionsChangeWithdrawsAndReinstatesTheClock(t *testing.T) {
	h := newHarness(t)
	var withdrawn, reinstated incident.Status
	h.at(time.Hour, func() {
		us := []string{"US-CA"}
		h.update(workflows.UpdateFacts, workflows.FactsRequest{Change: incident.FactsChange{Regions: &us}, Actor: "cli:bob"},
			h.must("update", func() { withdrawn = h.status() }))
	})
	h.at(2*time.Hour, func() {
		both := []string{"US-CA", "IE"}
		h.update(workflows.UpdateFacts, workflows.FactsRequest{Change: incident.FactsChange{Regions: &both}, Actor: "cli:bob"},
			h.must("update", func() { reinstated = h.status() }))
	})
	h.at(3*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	h.result()
	if withdrawn.Clocks[0].State != incident.ClockWithdrawn || withdrawn.NextDeadline != nil {
		t.Fatalf("after leaving the EU: clock %s, next %v; want withdrawn, none", withdrawn.Clocks[0].State, withdrawn.NextDeadline)
	}
	if reinstated.Clocks[0].State != incident.ClockRunning || !reinstated.Clocks[0].Due.Equal(start.Add(72*time.Hour)) {
		t.Fatalf("after IE: clock %s due %s; want running, due start+72h", reinstated.Clocks[0].State, reinstated.Clocks[0].Due)
	}
}

func TestValidatorsRejectBadRequestsWithoutChangingAnything(t *testing.T) {
	h := newHarness(t)
	h.at(time.Hour, func() {
		cases := []struct {
			name string
			arg  any
			want string
		}{
			{workflows.UpdateNote, workflows.NoteRequest{Text: "  ", Actor: "cli:a"}, "text"},
			{workflows.UpdateNote, workflows.NoteRequest{Text: "ok", Actor: ""}, "actor"},
			{workflows.UpdateClose, workflows.CloseRequest{Reason: "", Actor: "cli:a"}, "reason"},
			{workflows.UpdateFacts, workflows.FactsRequest{Actor: "cli:a"}, "nothing differs"},
			{workflows.UpdateFacts, workflows.FactsRequest{Change: incident.FactsChange{Regions: &[]string{"XX"}}, Actor: "cli:a"}, "regions"},
			{workflows.UpdateFacts, workflows.FactsRequest{Change: incident.FactsChange{DataCategories: &[]string{"shoe_size"}}, Actor: "cli:a"}, "data_categories"},
		}
		before := len(h.status().Timeline)
		for _, c := range cases {
			h.update(c.name, c.arg, func(_ any, err error) {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s %+v: err = %v, want a rejection naming %q", c.name, c.arg, err, c.want)
				}
			})
		}
		h.at(time.Minute, func() {
			if after := len(h.status().Timeline); after != before {
				t.Errorf("rejected requests changed the timeline: %d -> %d entries", before, after)
			}
			h.update(workflows.UpdateNote, workflows.NoteRequest{Text: "Access logs pulled", Actor: "cli:alice"}, h.must("note", nil))
		})
	})
	h.at(2*time.Hour, func() {
		h.close("Notified; contained")
		h.at(time.Minute, func() {
			h.update(workflows.UpdateNote, workflows.NoteRequest{Text: "late", Actor: "cli:a"}, func(_ any, err error) {
				if err == nil || !strings.Contains(err.Error(), "closed") {
					t.Errorf("note after close: err = %v, want a rejection saying it is closed", err)
				}
			})
		})
	})
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()
	notes := 0
	for _, e := range final.Timeline {
		if e.Kind == incident.EntryNote {
			notes++
			if e.Text != "Access logs pulled" || e.Actor != "cli:alice" || e.At.Sub(start) != time.Hour+time.Minute {
				t.Errorf("note entry = %+v", e)
			}
		}
	}
	if notes != 1 {
		t.Fatalf("notes = %d, want 1", notes)
	}
	if final.CloseReason != "Notified; contained" || final.ClosedAt == nil || final.ClosedAt.Sub(start) != 2*time.Hour {
		t.Fatalf("close = %q at %v", final.CloseReason, final.ClosedAt)
	}
	if final.Clocks[0].State != incident.ClockStopped {
		t.Fatalf("clock after close = %s, want stopped", final.Clocks[0].State)
	}
}

func TestNoRegionsMeansNoClockUntilTheFactsSaySo(t *testing.T) {
	h := newHarness(t)
	var before incident.Status
	h.at(5*time.Hour, func() {
		before = h.status()
		eu := []string{"NL"}
		h.update(workflows.UpdateFacts, workflows.FactsRequest{Change: incident.FactsChange{Regions: &eu}, Actor: "cli:a"}, h.must("update", nil))
	})
	h.at(100*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start)))
	final := h.result()
	if len(before.Clocks) != 0 {
		t.Fatalf("clocks with no regions = %d, want 0", len(before.Clocks))
	}
	// The clock runs from awareness, not from when the region became known.
	if got := entries(final, "overdue"); !equalDurations(got, []time.Duration{72 * time.Hour}) {
		t.Fatalf("overdue at %v, want [72h]", got)
	}
}

func TestContinueAsNewCarriesTheWholeState(t *testing.T) {
	h := newHarness(t)
	h.at(24*time.Hour, func() { h.env.SetContinueAsNewSuggested(true) })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	err := h.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if err == nil || !asContinueAsNew(err, &can) {
		t.Fatalf("err = %v, want continue-as-new", err)
	}
	var next workflows.IncidentInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatalf("decode carry: %v", err)
	}
	if next.Carry == nil || len(next.Carry.Clocks) != 1 || len(entries(*next.Carry, "reminder")) != 1 {
		t.Fatalf("carry = %+v; want the clock and the 24h reminder", next.Carry)
	}

	// The next run picks up where the last left off.
	h2 := newHarness(t)
	h2.env.SetStartTime(start.Add(24 * time.Hour))
	h2.at(50*time.Hour, func() { h2.close("done") })
	h2.env.ExecuteWorkflow(workflows.IncidentWorkflow, next)
	final := h2.result()
	if got := entries(final, "reminder"); !equalDurations(got, []time.Duration{24 * time.Hour, 48 * time.Hour, 66 * time.Hour, 71 * time.Hour}) {
		t.Fatalf("reminders across the two runs at %v", got)
	}
}

func TestOneClockPerObligationAndTheLatePath(t *testing.T) {
	h := newHarness(t)
	f := facts(start, "DE")
	f.DataCategories = []string{"name", "email", "account_credentials"}
	f.Affected = []incident.Residents{{Region: "DE", Count: 1200}, {Region: "BR", Count: 50}}
	f.Risk = &risk.Override{Level: risk.High, Justification: "passwords cracked"}
	var atOpen, overdue incident.Status
	h.at(time.Minute, func() { atOpen = h.status() })
	h.at(71*time.Hour, func() {
		// Not overdue yet: reasons for a delay are refused.
		h.update(workflows.UpdateDelay, workflows.DelayRequest{Rule: "eu-gdpr-art33", Reasons: "x", Actor: "cli:dpo"}, func(_ any, err error) {
			if err == nil || !strings.Contains(err.Error(), "not overdue") {
				t.Errorf("delay reasons before the deadline: %v", err)
			}
		})
	})
	h.at(80*time.Hour, func() {
		overdue = h.status()
		h.update(workflows.UpdateDelay, workflows.DelayRequest{Rule: "eu-gdpr-art33", Reasons: "Scope unclear until the forensic image was analysed", Actor: "cli:dpo"},
			h.must("delay reasons", nil))
	})
	h.at(130*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(f))
	final := h.result()

	due := map[string]string{}
	for _, c := range atOpen.Clocks {
		due[c.Rule] = "none"
		if c.Due != nil {
			due[c.Rule] = c.Due.Sub(start).String()
		}
	}
	// Friday 20 Nov 2026 09:00Z is a Brazilian holiday (Consciência Negra):
	// three business days run Mon, Tue, Wed 25 Nov, same local time.
	want := map[string]string{"eu-gdpr-art33": "72h0m0s", "eu-gdpr-art34": "none", "br-lgpd-art48-anpd": "120h0m0s", "br-lgpd-art48-titulares": "120h0m0s"}
	for rule, w := range want {
		if due[rule] != w {
			t.Errorf("%s due at +%s, want +%s (all: %v)", rule, due[rule], w, due)
		}
	}
	if atOpen.BindingRule != "eu-gdpr-art33" || atOpen.Risk == nil || atOpen.Risk.Level != risk.High || len(atOpen.NotTriggered) == 0 {
		t.Fatalf("binding %q, risk %+v, %d not triggered", atOpen.BindingRule, atOpen.Risk, len(atOpen.NotTriggered))
	}
	var gdpr *incident.Clock
	for i := range overdue.Clocks {
		if overdue.Clocks[i].Rule == "eu-gdpr-art33" {
			gdpr = &overdue.Clocks[i]
		}
	}
	if gdpr == nil || !gdpr.NeedsDelayReasons() {
		t.Fatalf("overdue GDPR clock should ask for the reasons for the delay: %+v", gdpr)
	}
	var asked, recorded bool
	for _, e := range final.Timeline {
		asked = asked || (e.Rule == "eu-gdpr-art33" && e.Kind == "overdue" && strings.Contains(e.Text, "reasons for the delay"))
		recorded = recorded || (e.Kind == "delay_reasons" && e.Actor == "cli:dpo" && e.At.Sub(start) == 80*time.Hour)
	}
	if !asked || !recorded {
		t.Fatalf("timeline: asked %v, recorded %v", asked, recorded)
	}
	// The clocks of both laws went overdue at their own instants.
	if got := entries(final, "overdue"); !slices.Contains(got, 72*time.Hour) || !slices.Contains(got, 120*time.Hour) {
		t.Fatalf("overdue at %v", got)
	}
}

func TestScopingSnapshotUpdatesTheFactsAndTheClocks(t *testing.T) {
	h := newHarness(t)
	f := facts(start, "EU") // suspected: email + media, people in the EU, counts unknown
	var after incident.Status
	sn := incident.SnapshotRef{ID: "snap_1", At: start.Add(5 * time.Hour), Systems: []string{"accounts"}, Window: "w", People: 1250,
		Affected:   []incident.Residents{{Region: "DE", Count: 1200}, {Region: "US-CA", Count: 50}},
		Categories: []string{"name", "email", "account_credentials"}}
	h.at(5*time.Hour, func() {
		h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: sn, Actor: "cli:analyst"}, h.must("scope", func() { after = h.status() }))
	})
	h.at(6*time.Hour, func() {
		// The same snapshot twice, or something that is not a snapshot, is refused.
		for _, bad := range []incident.SnapshotRef{sn, {ID: "people.csv"}} {
			h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: bad, Actor: "cli:analyst"}, func(_ any, err error) {
				if err == nil {
					t.Errorf("snapshot %q accepted twice or malformed", bad.ID)
				}
			})
		}
	})
	h.at(7*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(f))
	final := h.result()
	if len(after.Snapshots) != 1 || after.Facts.AffectedTotal() != 1250 || !slices.Equal(after.Facts.DataCategories, []string{"account_credentials", "email", "name"}) {
		t.Fatalf("facts after scoping: %+v, snapshots %+v", after.Facts, after.Snapshots)
	}
	var rules []string
	for _, c := range after.Clocks {
		if c.State.Open() {
			rules = append(rules, c.Rule)
		}
	}
	// 50 Californians with credentials: the California notice starts.
	if !slices.Contains(rules, "us-ca-civ-1798-82") || !slices.Contains(rules, "eu-gdpr-art33") {
		t.Fatalf("open clocks after scoping: %v", rules)
	}
	scoped := false
	for _, e := range final.Timeline {
		scoped = scoped || (e.Kind == "scoped" && strings.Contains(e.Text, "snap_1") && e.Actor == "cli:analyst")
	}
	if !scoped {
		t.Fatal("no timeline entry for the snapshot")
	}
}

// TestClosedIncidentGoesToTheRegister: the final record, close reason and
// timeline included, is left in the store's breach register once, when the
// incident closes.
func TestClosedIncidentGoesToTheRegister(t *testing.T) {
	h := newHarness(t)
	h.at(30*time.Hour, func() {
		if h.archived.puts != 0 {
			t.Errorf("archived while open")
		}
		h.close("contained; no risk to people")
	})
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()
	raw, ok := h.archived.entries[final.ID]
	if !ok || h.archived.puts != 1 {
		t.Fatalf("register entries %d for %s", h.archived.puts, final.ID)
	}
	var got incident.Status
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.State != incident.StateClosed || got.CloseReason != "contained; no risk to people" || len(got.Timeline) != len(final.Timeline) {
		t.Fatalf("archived %+v", got)
	}
}

// TestCloseWithAnObligationOverdue: closing while a deadline has passed
// with no notice is refused, naming the obligation, until the person
// confirms it; the close then records what was left open, and so does the
// register.
func TestCloseWithAnObligationOverdue(t *testing.T) {
	h := newHarness(t)
	var refused error
	h.at(80*time.Hour, func() {
		h.update(workflows.UpdateClose, workflows.CloseRequest{Reason: "Notified; contained", Actor: "cli:alice"}, func(_ any, err error) { refused = err })
		h.at(time.Minute, func() {
			h.update(workflows.UpdateClose, workflows.CloseRequest{Reason: "Contained; the DPA was called", Actor: "cli:alice", AcknowledgeOpen: true}, h.must("close", nil))
		})
	})
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()
	if refused == nil || !strings.Contains(refused.Error(), "eu-gdpr-art33 (overdue, due 2026-11-23T09:00:00Z, no notice given)") || !strings.Contains(refused.Error(), "--yes") {
		t.Fatalf("close with an overdue obligation: %v; want a refusal naming it and how to confirm", refused)
	}
	var closed incident.Entry
	for _, e := range final.Timeline {
		if e.Kind == incident.EntryClosed {
			closed = e
		}
	}
	want := "Incident closed: Contained; the DPA was called. Obligations open at the close: eu-gdpr-art33 (overdue, due 2026-11-23T09:00:00Z, no notice given). cli:alice confirmed closing with them open"
	if closed.Text != want || closed.At.Sub(start) != 80*time.Hour+time.Minute {
		t.Fatalf("close entry %q at +%s\nwant %q", closed.Text, closed.At.Sub(start), want)
	}
	if !strings.Contains(string(h.archived.entries[final.ID]), "Obligations open at the close: eu-gdpr-art33 (overdue") {
		t.Error("the register's record lacks the obligations open at the close")
	}
}
