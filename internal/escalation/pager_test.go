package escalation

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func briefPolicy(t *testing.T) Policy {
	t.Helper()
	c, err := Parse([]byte(brief), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c.PolicyFor("high", "authority")
}

// sent is one firing as a workflow would see it: when, relative to the page
// start, and which step of which round.
type sent struct {
	At          time.Duration
	Round, Step int
	Targets     int
}

// follow runs a page the way the workflow does: wake at NextAt, send what is
// Due, record it; ack (if ackAt >= 0) at that offset. It stops when NextAt
// says nothing is left, and checks NextAt is never before now.
func follow(t *testing.T, p *Page, ackAt time.Duration) []sent {
	t.Helper()
	var out []sent
	now := p.StartedAt
	for range 1000 {
		for _, f := range Due(*p, now) {
			out = append(out, sent{f.At.Sub(p.StartedAt), f.Round, f.Step, len(f.Targets)})
			if !f.At.Equal(now) {
				t.Errorf("firing %d at %v sent at %v", f.Index, f.At, now)
			}
			p.Record(f)
		}
		next, ok := NextAt(*p, now)
		if ackAt >= 0 && !p.Acked() && (!ok || next.Sub(p.StartedAt) > ackAt) {
			now = p.StartedAt.Add(ackAt)
			p.Ack("U0123ABCD", now)
			continue
		}
		if !ok {
			return out
		}
		if !next.After(now) {
			t.Fatalf("NextAt %v is not after %v once everything due is recorded", next, now)
		}
		now = next
	}
	t.Fatal("the page never ends")
	return nil
}

func TestNobodyAnswers(t *testing.T) {
	p := NewPage(ReasonReminder, "eu-gdpr-art33", 24*time.Hour, briefPolicy(t), t0)
	got := follow(t, &p, -1)
	// Steps at 0 and 30m; each repeat 1h after the last step: 1h30m, 3h.
	want := []sent{
		{0, 0, 0, 4}, {30 * time.Minute, 0, 1, 1},
		{90 * time.Minute, 1, 0, 4}, {2 * time.Hour, 1, 1, 1},
		{3 * time.Hour, 2, 0, 4}, {210 * time.Minute, 2, 1, 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if p.Fired != 6 {
		t.Errorf("Fired = %d, want 6", p.Fired)
	}
}

func TestAcknowledgedEarly(t *testing.T) {
	p := NewPage(ReasonReminder, "eu-gdpr-art33", 24*time.Hour, briefPolicy(t), t0)
	got := follow(t, &p, 10*time.Minute)
	if want := []sent{{0, 0, 0, 4}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want only the first step", got)
	}
	if p.AckedBy != "U0123ABCD" || !p.AckedAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("ack: %v by %q", p.AckedAt, p.AckedBy)
	}
	// Nothing more, ever; a second ack does not replace the first.
	if fs := Due(p, t0.Add(5*time.Hour)); fs != nil {
		t.Errorf("Due after ack: %v", fs)
	}
	if _, ok := NextAt(p, t0.Add(time.Hour)); ok {
		t.Error("NextAt after ack: ok")
	}
	if p.Ack("someone-else", t0.Add(time.Hour)) || p.AckedBy != "U0123ABCD" {
		t.Error("a second ack replaced the first")
	}
}

func TestAckBetweenRounds(t *testing.T) {
	p := NewPage(ReasonReminder, "r", 0, briefPolicy(t), t0)
	got := follow(t, &p, 100*time.Minute) // after round 1's first step (1h30m)
	want := []sent{{0, 0, 0, 4}, {30 * time.Minute, 0, 1, 1}, {90 * time.Minute, 1, 0, 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// Acknowledging stops the paging, never the legal clock.
func TestNewPageAfterAckStartsOver(t *testing.T) {
	pol := briefPolicy(t)
	first := NewPage(ReasonReminder, "eu-gdpr-art33", 24*time.Hour, pol, t0)
	follow(t, &first, 40*time.Minute)
	second := NewPage(ReasonReminder, "eu-gdpr-art33", time.Hour, pol, t0.Add(23*time.Hour))
	fs := Due(second, second.StartedAt)
	if len(fs) != 1 || fs[0].Step != 0 || fs[0].Round != 0 || len(fs[0].Targets) != 4 {
		t.Fatalf("the next reminder's page: %+v, want step 0", fs)
	}
	if got := follow(t, &second, -1); len(got) != 6 {
		t.Errorf("the next reminder's page sent %d firings, want the whole chain (6)", len(got))
	}
	if first.Key(Firing{Index: 0}) == second.Key(Firing{Index: 0}) {
		t.Error("two pages share a key")
	}
}

func TestOverduePagesTheTop(t *testing.T) {
	p := NewPage(ReasonOverdue, "eu-gdpr-art33", 0, briefPolicy(t), t0.Add(72*time.Hour))
	if !p.Top {
		t.Fatal("an overdue page is not at the top")
	}
	fs := Due(p, p.StartedAt)
	want := []Target{tg("slack:U0123ABCD"), tg("slack-channel:C0456"), tg("email:dpo@example.com"), tg("slack-group:S0789"), tg("slack:U0999")}
	if len(fs) != 1 || !reflect.DeepEqual(fs[0].Targets, want) || !fs[0].Top {
		t.Fatalf("got %+v, want one firing of every target", fs)
	}
	p.Record(fs...)
	// Then repeats, RepeatDelay apart, then stops.
	got := follow(t, &p, -1)
	if want := []sent{{time.Hour, 1, 1, 5}, {2 * time.Hour, 2, 1, 5}}; !reflect.DeepEqual(got, want) {
		t.Errorf("repeats: got %v, want %v", got, want)
	}
}

func TestCatchUp(t *testing.T) {
	p := NewPage(ReasonReminder, "r", 0, briefPolicy(t), t0)
	// A worker down for two hours: four firings are due at once.
	fs := Due(p, t0.Add(2*time.Hour+5*time.Minute))
	if len(fs) != 4 {
		t.Fatalf("%d due, want 4", len(fs))
	}
	if got := Targets(fs); len(got) != 5 {
		t.Errorf("Targets: %v, want the 5 targets once each", got)
	}
	if at, ok := NextAt(p, t0.Add(2*time.Hour)); !ok || !at.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("NextAt with firings due = %v, %v; want now", at, ok)
	}
	p.Record(fs[len(fs)-1])
	if p.Fired != 4 || Due(p, t0.Add(2*time.Hour+5*time.Minute)) != nil {
		t.Errorf("recording the last firing did not record the ones before: Fired %d", p.Fired)
	}
}

func TestDefaultPolicyPage(t *testing.T) {
	p := NewPage(ReasonReminder, "r", time.Hour, DefaultPolicy(), t0)
	if got := follow(t, &p, -1); !reflect.DeepEqual(got, []sent{{0, 0, 0, 1}}) {
		t.Errorf("the built-in policy: %v, want one message", got)
	}
	var zero Page
	if Due(zero, t0) != nil {
		t.Error("a zero page fires")
	}
	if _, ok := NextAt(zero, t0); ok {
		t.Error("a zero page has a next time")
	}
}

func TestPageJSON(t *testing.T) {
	p := NewPage(ReasonReminder, "eu-gdpr-art33", 24*time.Hour, briefPolicy(t), t0)
	p.Record(Due(p, t0)...)
	p.Ack("U0123ABCD", t0.Add(time.Minute))
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Page
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	p.Policy.Line = 0
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, p)
	}
}

// Properties over random policies and wake-up times: NextAt is never before
// now; Due is idempotent once recorded; with no ack every firing of Schedule
// is sent exactly once, in order; nothing is sent after an ack.
func TestPagerProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	targets := []Target{tg("slack:U01"), tg("slack:U02"), tg("email:a@b.example"), tg("incident-channel")}
	for i := range 500 {
		var pol Policy
		var d time.Duration
		for range 1 + rng.IntN(4) {
			d += time.Duration(rng.IntN(3)) * 15 * time.Minute
			pol.Steps = append(pol.Steps, Step{Delay: dur(d), Targets: targets[:1+rng.IntN(len(targets))]})
		}
		pol.Repeat = rng.IntN(3)
		pol.RepeatDelay = dur(time.Duration(1+rng.IntN(4)) * 20 * time.Minute)
		reason := ReasonReminder
		if rng.IntN(3) == 0 {
			reason = ReasonOverdue
		}
		p := NewPage(reason, "r", 0, pol, t0)
		ackAt := time.Time{}
		if rng.IntN(2) == 0 {
			ackAt = t0.Add(time.Duration(rng.IntN(300)) * time.Minute)
		}
		now := t0
		var sentIdx []int
		for range 200 {
			if !ackAt.IsZero() && !now.Before(ackAt) && !p.Acked() {
				p.Ack("x", ackAt)
			}
			fs := Due(p, now)
			for _, f := range fs {
				if f.At.After(now) || (p.Acked()) {
					t.Fatalf("case %d: %+v due at %v", i, f, now)
				}
				sentIdx = append(sentIdx, f.Index)
			}
			p.Record(fs...)
			if again := Due(p, now); again != nil {
				t.Fatalf("case %d: Due not idempotent: %v", i, again)
			}
			next, ok := NextAt(p, now)
			if !ok {
				break
			}
			if !next.After(now) {
				t.Fatalf("case %d: NextAt %v not after %v with nothing due", i, next, now)
			}
			if probe, _ := NextAt(p, next.Add(time.Hour)); probe.Before(next.Add(time.Hour)) {
				t.Fatalf("case %d: NextAt before now", i)
			}
			// Wake at the next time, or sometimes late.
			now = next.Add(time.Duration(rng.IntN(2)) * time.Duration(rng.IntN(90)) * time.Minute)
		}
		want := len(Schedule(p))
		if reason == ReasonOverdue && want != pol.Repeat+1 || reason == ReasonReminder && want != (pol.Repeat+1)*len(pol.Steps) {
			t.Fatalf("case %d: schedule of %d", i, want)
		}
		for j, idx := range sentIdx {
			if idx != j {
				t.Fatalf("case %d: sent %v, not in order", i, sentIdx)
			}
		}
		if ackAt.IsZero() && len(sentIdx) != want {
			t.Fatalf("case %d: sent %d of %d with nobody answering", i, len(sentIdx), want)
		}
		for _, f := range Schedule(p)[:len(sentIdx)] {
			if !ackAt.IsZero() && f.At.After(ackAt) {
				t.Fatalf("case %d: %+v sent after the ack at %v", i, f, ackAt)
			}
		}
	}
}
