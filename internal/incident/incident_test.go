package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/risk"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func ptr(t time.Time) *time.Time { return &t }

func gdpr(due time.Time) Obligation {
	return Obligation{Rule: "eu-gdpr-art33", StartsAt: ptr(due.Add(-72 * time.Hour)), Due: ptr(due),
		Reminders: []Duration{Duration(48 * time.Hour), Duration(24 * time.Hour), Duration(6 * time.Hour), Duration(time.Hour)}}
}

func TestNewClockSchedulesRemindersEarliestFirstAndSkipsThePast(t *testing.T) {
	c := NewClock(gdpr(t0.Add(72*time.Hour)), t0.Add(30*time.Hour))
	var got []string
	for _, r := range c.Schedule {
		got = append(got, r.At.Sub(t0).String()+map[bool]string{true: "/skip", false: ""}[r.Skipped])
	}
	if strings.Join(got, " ") != "24h0m0s/skip 48h0m0s 66h0m0s 71h0m0s" {
		t.Fatalf("schedule = %v", got)
	}
	if next, _ := c.NextEvent(); !next.Equal(t0.Add(48 * time.Hour)) {
		t.Fatalf("next = %s", next)
	}
}

func TestAdvanceAfterDowntimeFiresWhatFellDueAndGoesOverdue(t *testing.T) {
	c := NewClock(gdpr(t0.Add(72*time.Hour)), t0)
	// Nothing ran from t0 until 70h: three reminders fell due meanwhile.
	ev := c.Advance(t0.Add(70 * time.Hour))
	if len(ev) != 3 || c.State != ClockRunning {
		t.Fatalf("events = %d, state %s; want 3 reminders, running", len(ev), c.State)
	}
	if ev[0].Late != 46*time.Hour || ev[2].Left != 2*time.Hour {
		t.Fatalf("first reminder late by %s, last says %s left", ev[0].Late, ev[2].Left)
	}
	ev = c.Advance(t0.Add(75 * time.Hour))
	if len(ev) != 1 || ev[0].Kind != EventOverdue || c.State != ClockOverdue || ev[0].Late != 3*time.Hour {
		t.Fatalf("events = %+v, state %s; want overdue, 3h late", ev, c.State)
	}
	if ev := c.Advance(t0.Add(80 * time.Hour)); len(ev) != 0 {
		t.Fatalf("an overdue clock fired again: %+v", ev)
	}
	if _, ok := c.NextEvent(); ok {
		t.Fatal("an overdue clock still has a next event")
	}
}

func TestReconcile(t *testing.T) {
	due := t0.Add(72 * time.Hour)
	base := []Clock{NewClock(gdpr(due), t0)}
	cases := []struct {
		name   string
		obs    []Obligation
		now    time.Time
		events string
		state  ClockState
		due    time.Time
	}{
		{"unchanged", []Obligation{gdpr(due)}, t0.Add(time.Hour), "", ClockRunning, due},
		{"moved earlier", []Obligation{gdpr(due.Add(-10 * time.Hour))}, t0.Add(time.Hour), "deadline_moved", ClockRunning, due.Add(-10 * time.Hour)},
		{"gone", nil, t0.Add(time.Hour), "clock_withdrawn", ClockWithdrawn, due},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clocks, events := Reconcile(base, c.obs, c.now)
			var kinds []string
			for _, e := range events {
				kinds = append(kinds, string(e.Kind))
			}
			if strings.Join(kinds, ",") != c.events || clocks[0].State != c.state || !clocks[0].Due.Equal(c.due) {
				t.Fatalf("events %v state %s due %s; want %q %s %s", kinds, clocks[0].State, clocks[0].Due, c.events, c.state, c.due)
			}
		})
	}
	if base[0].State != ClockRunning {
		t.Fatal("Reconcile changed its input")
	}
}

func TestReconcileNeverReopensAClosedClockAndRevivesOverdueWhenMovedLater(t *testing.T) {
	due := t0.Add(72 * time.Hour)
	c := NewClock(gdpr(due), t0)
	c.Advance(due)
	clocks, ev := Reconcile([]Clock{c}, []Obligation{gdpr(due.Add(24 * time.Hour))}, due.Add(time.Hour))
	if clocks[0].State != ClockRunning || len(ev) != 1 || ev[0].Kind != EventDeadlineMoved || !ev[0].Prior.Equal(due) {
		t.Fatalf("overdue clock moved later: state %s events %+v", clocks[0].State, ev)
	}
	stopped := NewClock(gdpr(due), t0)
	stopped.Stop(t0.Add(time.Hour))
	clocks, ev = Reconcile([]Clock{stopped}, []Obligation{gdpr(due.Add(time.Hour))}, t0.Add(2*time.Hour))
	if clocks[0].State != ClockStopped || len(ev) != 0 {
		t.Fatalf("stopped clock changed: %s %+v", clocks[0].State, ev)
	}
}

func TestBindingIsTheEarliestOpenDeadline(t *testing.T) {
	a := NewClock(Obligation{Rule: "a", Due: ptr(t0.Add(72 * time.Hour))}, t0)
	b := NewClock(Obligation{Rule: "b", Due: ptr(t0.Add(24 * time.Hour))}, t0)
	c := NewClock(Obligation{Rule: "c", Due: ptr(t0.Add(time.Hour))}, t0)
	asap := NewClock(Obligation{Rule: "asap", ASAP: true}, t0)
	c.Stop(t0)
	got, ok := Binding([]Clock{asap, a, b, c})
	if !ok || got.Rule != "b" {
		t.Fatalf("binding = %s", got.Rule)
	}
	if next, _ := NextEvent([]Clock{asap, a, b, c}); !next.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("next = %s", next)
	}
	if _, ok := asap.NextEvent(); ok || len(asap.Schedule) != 0 || len(asap.Advance(t0.Add(1000*time.Hour))) != 0 {
		t.Fatal("a clock with no deadline has something to fire")
	}
}

func TestFactsValidateNamesTheField(t *testing.T) {
	ok := Facts{Title: "t", AwareAt: t0}
	cases := []struct {
		mut   func(*Facts)
		field string
	}{
		{func(f *Facts) { f.Title = "" }, "title"},
		{func(f *Facts) { f.Title = strings.Repeat("x", 201) }, "title"},
		{func(f *Facts) { f.AwareAt = time.Time{} }, "aware_at"},
		{func(f *Facts) { d := t0.Add(time.Hour); f.DetectedAt = &d }, "detected_at"},
		{func(f *Facts) { o := t0.Add(time.Hour); f.OccurredAt = &o }, "occurred_at"},
		{func(f *Facts) { f.DataCategories = []string{"shoe_size"} }, "data_categories"},
		{func(f *Facts) { f.Regions = []string{"XX"} }, "regions"},
		{func(f *Facts) { f.Regions = []string{"US-CALIF"} }, "regions"},
		{func(f *Facts) { f.Regions = []string{"ZZ"} }, "regions"},
		{func(f *Facts) { f.Systems = []string{"a b"} }, "systems"},
		{func(f *Facts) { f.Severity = "dire" }, "severity"},
		// Escape sequences (clear screen, OSC 52 clipboard write, OSC 8
		// link), carriage returns, C1 controls and bidi overrides are
		// refused in every text fact, naming it.
		{func(f *Facts) { f.Title = "a\x1b[2Jb" }, "title"},
		{func(f *Facts) { f.Title = "\x1b]52;c;ZWNobyBoaQ==\x07" }, "title"},
		{func(f *Facts) { f.Title = "x\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\" }, "title"},
		{func(f *Facts) { f.Title = "paid\rrefund" }, "title"},
		{func(f *Facts) { f.Title = "a\u009b2Jb" }, "title"},
		{func(f *Facts) { f.Title = "abc\u202edcba" }, "title"},
		{func(f *Facts) { f.Title = "a\xffb" }, "title"},
		{func(f *Facts) { f.Reporter = "eve\x1b[8m" }, "reporter"},
		{func(f *Facts) { f.Description = "line\nline\x1b[2J" }, "description"},
		{func(f *Facts) { f.Risk = &risk.Override{Level: "low", Justification: "x\x07"} }, "risk_justification"},
	}
	for i, c := range cases {
		f := ok
		c.mut(&f)
		err := f.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.field+":") {
			t.Errorf("case %d: err = %v, want one naming %s", i, err, c.field)
		}
	}
	// A title pasted across lines is taken on one line; a description
	// keeps its lines and tabs.
	pasted := Facts{Title: "Bucket\r\n exposed\t", AwareAt: t0, Description: "a\n\tb"}.Normalize()
	if err := pasted.Validate(); err != nil || pasted.Title != "Bucket exposed" || pasted.Description != "a\n\tb" {
		t.Fatalf("pasted = %q / %q, err %v", pasted.Title, pasted.Description, err)
	}
	good := Facts{Title: " t ", AwareAt: t0, Regions: []string{"de", "US-CA", "eu", "DE"}, DataCategories: []string{"Email"}}.Normalize()
	if err := good.Validate(); err != nil || strings.Join(good.Regions, ",") != "DE,EU,US-CA" || good.Severity != SeverityUnassessed {
		t.Fatalf("normalized = %+v, err %v", good, err)
	}
}

func TestInGDPRArea(t *testing.T) {
	for code, want := range map[string]bool{"EU": true, "EEA": true, "DE": true, "GR": true, "NO": true, "IS": true, "FR-75": true, "GB": false, "CH": false, "US-CA": false, "BR": false} {
		if got := InGDPRArea(code); got != want {
			t.Errorf("InGDPRArea(%s) = %v", code, got)
		}
	}
}

func TestIDsRoundTripAndAreCanonical(t *testing.T) {
	id := NewID(t0, []byte{0xde, 0xad, 0xbe, 0xef})
	if !strings.HasPrefix(id, "INC-20261120-") {
		t.Fatalf("id = %s", id)
	}
	got, err := ParseID(strings.ToLower(id))
	if err != nil || got != id {
		t.Fatalf("ParseID(lower) = %q, %v", got, err)
	}
	if back, ok := IDFromWorkflowID(WorkflowID(id)); !ok || back != id {
		t.Fatalf("workflow ID round trip: %q", back)
	}
	for _, bad := range []string{"", "INC-2026-ABCDE", "INC-20261120-ABCDI", "incident/INC-20261120-ABCDE"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{48 * time.Hour: "48h", 90 * time.Minute: "1h30m", 30 * time.Second: "30s",
		100 * time.Hour: "4d4h", 72 * time.Hour: "72h", -2 * time.Hour: "-2h", 0: "0s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %s, want %s", d, got, want)
		}
	}
	offs, err := ParseOffsets("48h, 24h,6h,1h")
	if err != nil || len(offs) != 4 || offs[3] != Duration(time.Hour) {
		t.Fatalf("ParseOffsets = %v, %v", offs, err)
	}
	for _, bad := range []string{"48", "-1h", "0s"} {
		if _, err := ParseOffsets(bad); err == nil {
			t.Errorf("ParseOffsets(%q) accepted", bad)
		}
	}
}

// TestRecordedFactsKeepRunning: an incident opened before control
// characters were refused still starts (and replays) and is assessed; only
// new facts are refused.
func TestRecordedFactsKeepRunning(t *testing.T) {
	f := Facts{Title: "Breach \x1b]52;c;aGk=\x07", AwareAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Severity: SeverityHigh}.Normalize()
	if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "title") {
		t.Errorf("new facts with an escape in the title: %v; want refused naming the title", err)
	}
	if err := f.ValidateRecorded(); err != nil {
		t.Errorf("recorded facts with an escape in the title: %v; want them taken", err)
	}
}
