package rules

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
)

func builtinRules(t testing.TB) *Ruleset {
	t.Helper()
	rs, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func high() *risk.Override { return &risk.Override{Level: risk.High, Justification: "test"} }

func evaluate(t *testing.T, s Scenario) Assessment {
	t.Helper()
	a, err := builtinRules(t).Evaluate(s, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func find(a Assessment, rule string) *incident.Obligation {
	for i := range a.Obligations {
		if a.Obligations[i].Rule == rule {
			return &a.Obligations[i]
		}
	}
	return nil
}

func whyNot(a Assessment, rule string) string {
	for _, n := range a.NotTriggered {
		if n.Rule == rule {
			return n.Why
		}
	}
	return ""
}

// dueOf is the due time of a rule as RFC 3339, "asap" with none, or "-" when
// the rule did not apply.
func dueOf(a Assessment, rule string) string {
	o := find(a, rule)
	switch {
	case o == nil:
		return "-"
	case o.Due == nil:
		return "none"
	}
	return o.Due.UTC().Format(time.RFC3339)
}

func TestExactDueTimes(t *testing.T) {
	cases := []struct {
		name string
		s    Scenario
		rule string
		want string
	}{
		{
			// 72 clock hours run through a weekend.
			"GDPR 72 hours over a weekend", Scenario{DiscoveredAt: utc("2026-03-06T16:30:00Z"), Categories: []string{"email"}, Affected: map[string]int{"FR": 10}},
			"eu-gdpr-art33", "2026-03-09T16:30:00Z",
		},
		{
			// Friday 10:00 in São Paulo: Mon 1, Tue 2, Wed 3.
			"LGPD 3 business days over a weekend", Scenario{DiscoveredAt: utc("2026-03-06T13:00:00Z"), Risk: high(), Affected: map[string]int{"BR": 50}},
			"br-lgpd-art48-anpd", "2026-03-11T13:00:00Z",
		},
		{
			// Thursday before Good Friday (3 April 2026, a national holiday):
			// Mon 6 is day 1, Wed 8 day 3.
			"LGPD over Good Friday", Scenario{DiscoveredAt: utc("2026-04-02T13:00:00Z"), Risk: high(), Affected: map[string]int{"BR": 50}},
			"br-lgpd-art48-anpd", "2026-04-08T13:00:00Z",
		},
		{
			// Friday 20 November 2026 is Consciência Negra, a national holiday
			// since 2024 that the holiday library itself does not know.
			"LGPD over Consciência Negra", Scenario{DiscoveredAt: utc("2026-11-19T13:00:00Z"), Risk: high(), Affected: map[string]int{"BR": 50}},
			"br-lgpd-art48-anpd", "2026-11-25T13:00:00Z",
		},
		{
			// Late on a Friday in São Paulo is still Friday: 23:30 local is
			// 02:30Z Saturday, and the count starts from the local day.
			"LGPD at night local time", Scenario{DiscoveredAt: utc("2026-03-07T02:30:00Z"), Risk: high(), Affected: map[string]int{"BR": 50}},
			"br-lgpd-art48-anpd", "2026-03-12T02:30:00Z",
		},
		{
			// Determined the day before Thanksgiving (26 Nov 2026): Fri 27 is
			// a business day (not a federal holiday), then Mon 30, Tue 1, Wed 2.
			"SEC 8-K 4 business days over Thanksgiving", Scenario{DiscoveredAt: utc("2026-11-24T15:00:00Z"), DeterminedAt: utc("2026-11-25T15:00:00Z"), Sectors: []string{"public_company"}},
			"us-sec-8k-item-1-05", "2026-12-02T15:00:00Z",
		},
		{
			// HIPAA: 500 or more in all → HHS within 60 days of discovery.
			"HHS at 500 in all", Scenario{DiscoveredAt: utc("2026-05-01T00:00:00Z"), Sectors: []string{"health"}, Categories: []string{"name", "health"}, Affected: map[string]int{"US-CA": 300, "US-NV": 200}},
			"us-hhs-hipaa-164-408-secretary", "2026-06-30T00:00:00Z",
		},
		{
			// Under 500: the annual log, 60 days after the end of the year.
			"HHS under 500: annual", Scenario{DiscoveredAt: utc("2026-05-01T00:00:00Z"), Sectors: []string{"health"}, Categories: []string{"name", "health"}, Affected: map[string]int{"US-CA": 300, "US-NV": 199}},
			"us-hhs-hipaa-164-408-secretary-annual", "2027-03-02T00:00:00Z",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := evaluate(t, c.s)
			if got := dueOf(a, c.rule); got != c.want {
				t.Fatalf("%s due %s, want %s (not triggered because: %q)", c.rule, got, c.want, whyNot(a, c.rule))
			}
		})
	}
}

func TestThresholdsAtTheirEdges(t *testing.T) {
	cases := []struct {
		rule       string
		region     string
		below, min int // below must not trigger; min must
		sectors    []string
		categories []string
	}{
		{"us-hhs-hipaa-164-408-secretary", "US-CA", 499, 500, []string{"health"}, []string{"name", "health"}},
		{"us-hhs-hipaa-164-406-media", "US-CA", 500, 501, []string{"health"}, []string{"name", "health"}},
	}
	for _, c := range cases {
		for n, want := range map[int]bool{c.below: false, c.min: true} {
			a := evaluate(t, Scenario{DiscoveredAt: utc("2026-05-01T00:00:00Z"), Sectors: c.sectors, Categories: c.categories, Affected: map[string]int{c.region: n}})
			if got := find(a, c.rule) != nil; got != want {
				t.Errorf("%s with %d residents of %s: triggered %v, want %v (%s)", c.rule, n, c.region, got, want, whyNot(a, c.rule))
			}
		}
	}
}

func TestHIPAAMediaCountsTheLargestState(t *testing.T) {
	// 600 people, but no single state has more than 500: no media notice.
	a := evaluate(t, Scenario{DiscoveredAt: utc("2026-05-01T00:00:00Z"), Sectors: []string{"health"}, Categories: []string{"name", "health"},
		Affected: map[string]int{"US-CA": 300, "US-NV": 300}})
	if find(a, "us-hhs-hipaa-164-406-media") != nil {
		t.Fatal("media notice triggered with 300 residents in each of two states")
	}
	if why := whyNot(a, "us-hhs-hipaa-164-406-media"); !strings.Contains(why, "more than 500") {
		t.Fatalf("why not = %q", why)
	}
}

func TestProcessorNotifiesItsControllerNotTheAuthority(t *testing.T) {
	a := evaluate(t, Scenario{Role: "processor", DiscoveredAt: utc("2026-03-02T09:00:00Z"), Categories: []string{"email"}, Risk: high(), Affected: map[string]int{"DE": 1200}})
	if find(a, "eu-gdpr-art33") != nil || find(a, "eu-gdpr-art34") != nil {
		t.Fatal("a processor got the controller's duties")
	}
	ob := find(a, "eu-gdpr-art33-2-processor")
	if ob == nil || ob.Notify != "controller" || !ob.ASAP {
		t.Fatalf("processor obligation = %+v", ob)
	}
	if why := whyNot(a, "eu-gdpr-art33"); !strings.Contains(why, "processor") {
		t.Fatalf("why not art33 = %q", why)
	}
}

func TestGDPRArt34Exemptions(t *testing.T) {
	base := Scenario{DiscoveredAt: utc("2026-03-02T09:00:00Z"), Categories: []string{"name", "email", "account_credentials"}, Affected: map[string]int{"DE": 1200}, Risk: high()}
	if find(evaluate(t, base), "eu-gdpr-art34") == nil {
		t.Fatal("high risk did not trigger Art. 34")
	}
	enc := base
	enc.Encrypted = true
	a := evaluate(t, enc)
	if find(a, "eu-gdpr-art34") != nil || !strings.Contains(whyNot(a, "eu-gdpr-art34"), "34(3)(a)") {
		t.Fatalf("encrypted: art34 = %v, why not %q", find(a, "eu-gdpr-art34"), whyNot(a, "eu-gdpr-art34"))
	}
	measures := base
	measures.Exemptions = []string{"subsequent_measures"}
	if a := evaluate(t, measures); find(a, "eu-gdpr-art34") != nil || !strings.Contains(whyNot(a, "eu-gdpr-art34"), "34(3)(b)") {
		t.Fatal("subsequent measures did not exempt Art. 34")
	}
	effort := base
	effort.Exemptions = []string{"disproportionate_effort"}
	ob := find(evaluate(t, effort), "eu-gdpr-art34")
	if ob == nil || ob.Notify != "public" {
		t.Fatalf("disproportionate effort: %+v; want a public communication instead", ob)
	}
}

func TestRelativeClockWaitsForTheOtherNotice(t *testing.T) {
	s := Scenario{DiscoveredAt: utc("2026-03-02T09:00:00Z"), Risk: high(), Sectors: []string{"essential_entity"}, Affected: map[string]int{"DE": 10}}
	a := evaluate(t, s)
	final := find(a, "eu-nis2-art23-4d-final-report")
	if final == nil || final.Due != nil || final.StartsAt != nil || final.ClockStart != "eu-nis2-art23-4b-incident-notification" {
		t.Fatalf("final report before the notification = %+v", final)
	}
	s.NoticesSent = map[string]time.Time{"eu-nis2-art23-4b-incident-notification": utc("2026-03-04T12:00:00Z")}
	if got := dueOf(evaluate(t, s), "eu-nis2-art23-4d-final-report"); got != "2026-04-04T12:00:00Z" {
		t.Fatalf("final report due %s, want one month after the notification", got)
	}
}

func TestUnknownCountsNeverRuleALawOut(t *testing.T) {
	a := evaluate(t, Scenario{DiscoveredAt: utc("2026-05-01T00:00:00Z"), Sectors: []string{"health"}, Categories: []string{"name", "health"},
		Affected: map[string]int{"US-CA": Unknown}})
	ob := find(a, "us-hhs-hipaa-164-406-media")
	if ob == nil || !strings.Contains(strings.Join(ob.Why, " "), "not known yet") {
		t.Fatalf("media notice with an unknown count = %+v", ob)
	}
}

func TestBindingIsTheEarliestDue(t *testing.T) {
	// Friday: 72 hours end Monday; three Brazilian business days, Wednesday.
	a := evaluate(t, Scenario{DiscoveredAt: utc("2026-03-06T09:00:00Z"), Risk: high(), Categories: []string{"name", "email"}, Affected: map[string]int{"DE": 10, "BR": 10}})
	if a.Binding != "eu-gdpr-art33" {
		t.Fatalf("binding = %s", a.Binding)
	}
	for i := 1; i < len(a.Obligations); i++ {
		p, c := a.Obligations[i-1], a.Obligations[i]
		if p.Due == nil && c.Due != nil {
			t.Fatalf("obligations not ordered by due: %s before %s", p.Rule, c.Rule)
		}
	}
}

// randomScenario draws a scenario from the codes the rules use.
func randomScenario(r *rand.Rand) Scenario {
	regions := []string{"DE", "FR", "IE", "GB", "CH", "BR", "CA", "CA-QC", "US-CA", "US-NY", "US-TX", "US-FL", "US-VT", "US-MD", "AU", "SG", "JP", "KR", "ZA", "NZ", "CN", "IN"}
	s := Scenario{
		DiscoveredAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(800*24)) * time.Hour),
		Affected:     map[string]int{},
	}
	s.AwareAt = s.DiscoveredAt.Add(time.Duration(r.IntN(48)) * time.Hour)
	s.DeterminedAt = s.AwareAt.Add(time.Duration(r.IntN(48)) * time.Hour)
	for _, c := range incident.DataCategories {
		if r.IntN(5) == 0 {
			s.Categories = append(s.Categories, c)
		}
	}
	for _, reg := range regions {
		if r.IntN(4) == 0 {
			s.Affected[reg] = r.IntN(20000)
		}
	}
	for _, sec := range incident.Sectors {
		if r.IntN(4) == 0 {
			s.Sectors = append(s.Sectors, sec)
		}
	}
	if r.IntN(5) == 0 {
		s.Role = "processor"
	}
	s.Encrypted = r.IntN(5) == 0
	return s
}

func TestPropertyDueNeverBeforeItsClockStarts(t *testing.T) {
	rs := builtinRules(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		s := randomScenario(r)
		a, err := rs.Evaluate(s, Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range a.Obligations {
			if o.Due != nil && (o.StartsAt == nil || o.Due.Before(*o.StartsAt)) {
				t.Fatalf("%s: due %v before its clock start %v in %+v", o.Rule, o.Due, o.StartsAt, s)
			}
		}
	}
}

// More affected people never removes a duty to notify someone: the set of
// (jurisdiction, recipient kind) pairs only grows. (One rule may hand over
// to another: HIPAA's annual log under 500 becomes the 60-day notice.)
func TestPropertyMorePeopleNeverRemovesAnObligation(t *testing.T) {
	rs := builtinRules(t)
	r := rand.New(rand.NewPCG(3, 4))
	duties := func(a Assessment) []string {
		var out []string
		for _, o := range a.Obligations {
			out = append(out, o.Jurisdiction+"/"+o.Notify)
		}
		return out
	}
	for i := 0; i < 2000; i++ {
		s := randomScenario(r)
		before, err := rs.Evaluate(s, Config{})
		if err != nil {
			t.Fatal(err)
		}
		more := s
		more.Affected = map[string]int{}
		for k, v := range s.Affected {
			more.Affected[k] = v + r.IntN(5000)
		}
		more.Affected[[]string{"DE", "US-CA", "BR", "GB"}[r.IntN(4)]] += 1 + r.IntN(1000)
		after, err := rs.Evaluate(more, Config{})
		if err != nil {
			t.Fatal(err)
		}
		have := duties(after)
		for _, d := range duties(before) {
			if !slices.Contains(have, d) {
				t.Fatalf("adding people removed %s\nbefore: %+v\nafter: %+v", d, s.Affected, more.Affected)
			}
		}
	}
}
