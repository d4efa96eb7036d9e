package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
)

// referenceRuleIDs are the top-level rules of the reference compilation
// (breach_rules.yaml) marked high or medium confidence: each must ship.
// Low-confidence ones (us-nm-57-12c-6, us-sd-22-40-20, us-la-rs-51-3074,
// us-pr-10-laws-4051) must not.
var referenceRuleIDs = []string{
	"eu-gdpr-art33", "eu-gdpr-art34", "gb-ukgdpr-art33", "gb-ukgdpr-art34",
	"us-ca-civ-1798-82", "ca-pipeda-s10-1", "ca-qc-law25-art3-5", "ca-ab-pipa-s34-1",
	"br-lgpd-art48-anpd", "br-lgpd-art48-titulares",
	"us-hhs-hipaa-164-404-individuals", "us-hhs-hipaa-164-408-secretary", "us-hhs-hipaa-164-406-media",
	"us-hhs-hipaa-164-410-business-associate", "us-ftc-hbnr-16cfr318",
	"us-ny-gbl-899aa-individuals", "us-ny-dfs-23nycrr-500-17", "us-tx-bcc-521-053", "us-fl-stat-501-171",
	"us-co-crs-6-1-716", "us-wa-rcw-19-255-010",
	"au-privacy-act-ndb", "sg-pdpa-s26d", "in-dpdp-rule7", "jp-appi-art26", "kr-pipa-art34", "ch-fadp-art24",
	"za-popia-s22", "nz-privacy-act-2020-s114", "eu-nis2-art23", "us-sec-8k-item-1-05", "cn-pipl-art57",
	"us-vt-9vsa-2435", "us-ct-gs-36a-701b", "us-de-6-12b-102", "us-az-ars-18-552", "us-in-ic-24-4-9",
	"us-md-com-14-3504", "us-oh-orc-1349-19", "us-or-ors-646a-604", "us-ri-gl-11-49-3-4",
	"us-tn-tca-47-18-2107", "us-wi-stat-134-98", "us-al-code-8-38-5", "us-me-10-mrs-1348", "us-ma-93h-3",
}

// lowConfidenceRuleIDs are reference rules (and related obligations) marked low:
// they are not shipped.
var lowConfidenceRuleIDs = []string{
	"us-nm-57-12c-6", "us-nm-ag-cra", "us-sd-22-40-20", "us-sd-ag", "us-la-rs-51-3074", "us-la-ag",
	"us-pr-10-laws-4051", "us-wa-rcw-19-255-010-cra", "us-ct-cra", "cn-cac-incident-reporting-measures-2025",
}

func TestBuiltinRulesetLoads(t *testing.T) {
	rs, err := Builtin()
	if err != nil {
		t.Fatalf("Builtin: %v", err)
	}
	type key struct {
		id     string
		window Period
	}
	seen := map[key]bool{}
	ids := map[string]bool{}
	for _, r := range rs.Rules {
		k := key{r.ID, r.Effective}
		if seen[k] {
			t.Errorf("%s: rule %s appears twice for the same effective window %v", r.where(), r.ID, r.Effective)
		}
		seen[k] = true
		ids[r.ID] = true
		if r.Confidence == "low" {
			t.Errorf("%s: low-confidence rules are not shipped", r.where())
		}
		if r.Law == "" || r.Source == "" || r.Recipient == "" {
			t.Errorf("%s: law, source and recipient are required in the built-in rules", r.where())
		}
	}
	for _, id := range referenceRuleIDs {
		if !ids[id] {
			t.Errorf("reference rule %s is missing", id)
		}
	}
	for _, id := range lowConfidenceRuleIDs {
		if ids[id] {
			t.Errorf("low-confidence reference rule %s is shipped", id)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d rules, %d ids", len(rs.Rules), len(ids))
}

// Two forms of one rule must not overlap in time: the engine would pick
// whichever comes first in the file.
func TestDataEffectiveWindowsDoNotOverlap(t *testing.T) {
	rs, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string][]Rule{}
	for _, r := range rs.Rules {
		byID[r.ID] = append(byID[r.ID], r)
	}
	for id, forms := range byID {
		for i, a := range forms {
			for _, b := range forms[i+1:] {
				if windowsOverlap(a.Effective, b.Effective) {
					t.Errorf("%s: effective windows %v and %v overlap", id, a.Effective, b.Effective)
				}
			}
		}
	}
}

func windowsOverlap(a, b Period) bool {
	// [a.From, a.Until) and [b.From, b.Until), zero meaning unbounded.
	aBeforeB := !a.Until.IsZero() && !b.From.IsZero() && !a.Until.After(b.From.Time)
	bBeforeA := !b.Until.IsZero() && !a.From.IsZero() && !b.Until.After(a.From.Time)
	return !aBeforeB && !bBeforeA
}

// The table tests below run every built-in rule through the engine: one
// scenario that triggers it, with the exact due time, and one that does not,
// with the reason. Unless a case says otherwise, the breach is discovered on
// Monday 2026-05-04 at 13:00 UTC, the organisation is aware of it a day later
// and determines it a day after that; a person rated the risk high; a name and
// an SSN were exposed.
var (
	dataDiscovered = time.Date(2026, 5, 4, 13, 0, 0, 0, time.UTC)
	dataAware      = dataDiscovered.Add(24 * time.Hour)
	dataDetermined = dataDiscovered.Add(48 * time.Hour)
)

type dataCase struct {
	rule string
	s    Scenario
	due  string // triggered: the expected due time (RFC 3339), "" for none (asap, or a clock not yet started)
	not  string // not triggered: a part of the reason
}

type dataOpt func(*Scenario)

func dataScenario(opts ...dataOpt) Scenario {
	s := Scenario{
		DiscoveredAt: dataDiscovered, AwareAt: dataAware, DeterminedAt: dataDetermined,
		Categories: []string{"name", "ssn"}, Affected: map[string]int{},
		Risk: &risk.Override{Level: risk.High, Justification: "table test"},
	}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// triggers is a scenario that must trigger rule, due at due.
func triggers(rule, due string, opts ...dataOpt) dataCase {
	return dataCase{rule: rule, s: dataScenario(opts...), due: due}
}

// spares is a scenario that must not trigger rule, for a reason containing why.
func spares(rule, why string, opts ...dataOpt) dataCase {
	return dataCase{rule: rule, s: dataScenario(opts...), not: why}
}

func residents(region string, n int) dataOpt { return func(s *Scenario) { s.Affected[region] = n } }
func exposing(c ...string) dataOpt           { return func(s *Scenario) { s.Categories = c } }
func inSector(sec ...string) dataOpt         { return func(s *Scenario) { s.Sectors = sec } }
func riskRated(l risk.Level) dataOpt         { return func(s *Scenario) { s.Risk.Level = l } }
func claiming(e string) dataOpt              { return func(s *Scenario) { s.Exemptions = append(s.Exemptions, e) } }
func asProcessor(s *Scenario)                { s.Role = "processor" }
func withEncryption(s *Scenario)             { s.Encrypted = true }
func noticeSent(rule, at string) dataOpt     { return func(s *Scenario) { setDataNotice(s, rule, at) } }
func discoveredOn(at string) dataOpt         { return func(s *Scenario) { shiftDataTimeline(s, at) } }
func dataTime(v string) time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic(err)
	}
	return t
}
func setDataNotice(s *Scenario, rule, at string) {
	if s.NoticesSent == nil {
		s.NoticesSent = map[string]time.Time{}
	}
	s.NoticesSent[rule] = dataTime(at)
}

// shiftDataTimeline moves the whole timeline so that discovery is at at.
func shiftDataTimeline(s *Scenario, at string) {
	d := dataTime(at)
	s.DiscoveredAt, s.AwareAt, s.DeterminedAt = d, d.Add(24*time.Hour), d.Add(48*time.Hour)
}

func TestDataEuropeRules(t *testing.T) { runDataCases(t, europeDataCases()) }

func europeDataCases() []dataCase {
	return []dataCase{
		triggers("eu-gdpr-art33", "2026-05-08T13:00:00Z", residents("DE", 10)),
		spares("eu-gdpr-art33", "risk none; the law applies from risk low", residents("FR", 10), riskRated(risk.None)),
		triggers("eu-gdpr-art33-2-processor", "", residents("NO", 10), asProcessor),
		spares("eu-gdpr-art33-2-processor", "applies to a processor; the organisation acts as controller", residents("NO", 10)),
		triggers("eu-gdpr-art34", "", residents("IT", 10)),
		spares("eu-gdpr-art34", "risk medium; the law applies from risk high", residents("IT", 10), riskRated(risk.Medium)),
		triggers("eu-nis2-art23", "2026-05-06T13:00:00Z", residents("BE", 10), inSector("essential_entity")),
		spares("eu-nis2-art23", "applies only in the essential_entity sector", residents("BE", 10)),
		triggers("eu-nis2-art23-4b-incident-notification", "2026-05-08T13:00:00Z", residents("BE", 10), inSector("essential_entity")),
		spares("eu-nis2-art23-4b-incident-notification", "risk low; the law applies from risk medium", residents("BE", 10), inSector("essential_entity"), riskRated(risk.Low)),
		// One calendar month after the incident notification is sent.
		triggers("eu-nis2-art23-4d-final-report", "2026-06-07T10:00:00Z", residents("BE", 10), inSector("essential_entity"),
			noticeSent("eu-nis2-art23-4b-incident-notification", "2026-05-07T10:00:00Z")),
		spares("eu-nis2-art23-4d-final-report", "no affected residents of EU", residents("GB", 10), inSector("essential_entity")),

		triggers("gb-ukgdpr-art33", "2026-05-08T13:00:00Z", residents("GB", 10)),
		spares("gb-ukgdpr-art33", "no affected residents of GB", residents("IE", 10)),
		triggers("gb-ukgdpr-art33-2-processor", "", residents("GB", 10), asProcessor),
		spares("gb-ukgdpr-art33-2-processor", "applies to a processor", residents("GB", 10)),
		triggers("gb-ukgdpr-art34", "", residents("GB", 10)),
		spares("gb-ukgdpr-art34", "exempt: UK GDPR Art. 34(3)(a)", residents("GB", 10), withEncryption),

		triggers("ch-fadp-art24", "", residents("CH", 10)),
		spares("ch-fadp-art24", "risk medium; the law applies from risk high", residents("CH", 10), riskRated(risk.Medium)),
		triggers("ch-fadp-art24-3-processor", "", residents("CH", 10), asProcessor),
		spares("ch-fadp-art24-3-processor", "applies to a processor", residents("CH", 10)),
		triggers("ch-fadp-art24-4-individuals", "", residents("CH", 10)),
		spares("ch-fadp-art24-4-individuals", "no affected residents of CH", residents("LI", 10)),
	}
}

func TestDataBrazilRules(t *testing.T) { runDataCases(t, brazilDataCases()) }

func brazilDataCases() []dataCase {
	return []dataCase{
		// 3 business days from awareness (Tuesday 10:00 in São Paulo).
		triggers("br-lgpd-art48-anpd", "2026-05-08T13:00:00Z", residents("BR", 10)),
		spares("br-lgpd-art48-anpd", "risk low; the law applies from risk medium", residents("BR", 10), riskRated(risk.Low)),
		// Aware on Monday 2026-04-20: Tiradentes (Tuesday 21 April) is no business day.
		triggers("br-lgpd-art48-titulares", "2026-04-24T13:00:00Z", residents("BR-SP", 10), discoveredOn("2026-04-19T13:00:00Z")),
		spares("br-lgpd-art48-titulares", "no affected residents of BR", residents("PT", 10)),
	}
}

func TestDataCanadaRules(t *testing.T) { runDataCases(t, canadaDataCases()) }

func canadaDataCases() []dataCase {
	return []dataCase{
		triggers("ca-pipeda-s10-1", "", residents("CA-ON", 10)),
		spares("ca-pipeda-s10-1", "risk medium; the law applies from risk high", residents("CA-ON", 10), riskRated(risk.Medium)),
		triggers("ca-pipeda-s10-1-3-individuals", "", residents("CA", 10)),
		spares("ca-pipeda-s10-1-3-individuals", "no affected residents of CA", residents("US-WA", 10)),
		triggers("ca-pipeda-s10-2-other-orgs", "", residents("CA-BC", 10)),
		spares("ca-pipeda-s10-2-other-orgs", "risk low; the law applies from risk high", residents("CA-BC", 10), riskRated(risk.Low)),
		triggers("ca-qc-law25-art3-5", "", residents("CA-QC", 10)),
		spares("ca-qc-law25-art3-5", "no affected residents of CA-QC", residents("CA-ON", 10)),
		triggers("ca-qc-law25-art3-5-individuals", "", residents("CA-QC", 10)),
		spares("ca-qc-law25-art3-5-individuals", "not in force on 2022-05-06", residents("CA-QC", 10), discoveredOn("2022-05-04T13:00:00Z")),
		triggers("ca-ab-pipa-s34-1", "", residents("CA-AB", 10)),
		spares("ca-ab-pipa-s34-1", "no affected residents of CA-AB", residents("CA-QC", 10)),
	}
}

func TestDataUSFederalRules(t *testing.T) { runDataCases(t, usFederalDataCases()) }

func usFederalDataCases() []dataCase {
	phi := exposing("name", "health")
	return []dataCase{
		triggers("us-hhs-hipaa-164-404-individuals", "2026-07-03T13:00:00Z", residents("US-CA", 10), inSector("health"), phi),
		spares("us-hhs-hipaa-164-404-individuals", "applies only in the health sector", residents("US-CA", 10), phi),
		triggers("us-hhs-hipaa-164-408-secretary", "2026-07-03T13:00:00Z", residents("US-CA", 300), residents("US-NV", 200), inSector("health"), phi),
		spares("us-hhs-hipaa-164-408-secretary", "499 people affected in all; the law applies to at least 500", residents("US-CA", 499), inSector("health"), phi),
		// Fewer than 500: 60 days after the end of the year of discovery.
		triggers("us-hhs-hipaa-164-408-secretary-annual", "2027-03-02T00:00:00Z", residents("US-CA", 499), inSector("health"), phi),
		spares("us-hhs-hipaa-164-408-secretary-annual", "500 people affected in all; the law applies to at most 499", residents("US-CA", 500), inSector("health"), phi),
		triggers("us-hhs-hipaa-164-406-media", "2026-07-03T13:00:00Z", residents("US-CA", 501), inSector("health"), phi),
		// 1,000 people, but no more than 500 in any one state.
		spares("us-hhs-hipaa-164-406-media", "500 residents of US-CA; the law applies to more than 500", residents("US-CA", 500), residents("US-NY", 500), inSector("health"), phi),
		triggers("us-hhs-hipaa-164-410-business-associate", "2026-07-03T13:00:00Z", residents("US-TX", 10), inSector("health"), asProcessor, exposing("name", "health_insurance")),
		spares("us-hhs-hipaa-164-410-business-associate", "exempt: 45 CFR 164.402", residents("US-TX", 10), inSector("health"), asProcessor, phi, withEncryption),

		triggers("us-ftc-hbnr-16cfr318", "2026-07-03T13:00:00Z", residents("US-CO", 10), inSector("health_app"), phi),
		spares("us-ftc-hbnr-16cfr318", "is not personal information under this law", residents("US-CO", 10), inSector("health_app"), exposing("email", "usage_data")),
		triggers("us-ftc-hbnr-16cfr318-ftc", "2026-07-03T13:00:00Z", residents("US-CO", 500), inSector("health_app"), phi),
		spares("us-ftc-hbnr-16cfr318-ftc", "applies only in the health_app sector", residents("US-CO", 500), inSector("health"), phi),
		triggers("us-ftc-hbnr-16cfr318-ftc-annual", "2027-03-02T00:00:00Z", residents("US-CO", 20), inSector("health_app"), phi),
		spares("us-ftc-hbnr-16cfr318-ftc-annual", "the law applies to at most 499", residents("US-CO", 800), inSector("health_app"), phi),
		triggers("us-ftc-hbnr-16cfr318-media", "2026-07-03T13:00:00Z", residents("US-CO", 501), inSector("health_app"), phi),
		spares("us-ftc-hbnr-16cfr318-media", "the law applies to more than 500", residents("US-CO", 400), residents("US-UT", 400), inSector("health_app"), phi),

		// Determined on Wednesday 2026-05-06 09:00 in New York: 4 business days.
		triggers("us-sec-8k-item-1-05", "2026-05-12T13:00:00Z", residents("GB", 10), inSector("public_company")),
		// Determined on Thursday 2026-05-21: Memorial Day (25 May) is no business day.
		triggers("us-sec-8k-item-1-05", "2026-05-28T13:00:00Z", residents("DE", 10), inSector("public_company"), discoveredOn("2026-05-19T13:00:00Z")),
		spares("us-sec-8k-item-1-05", "applies only in the public_company sector", residents("US-NY", 10)),
		triggers("us-ny-dfs-23nycrr-500-17", "2026-05-09T13:00:00Z", residents("FR", 10), inSector("financial_ny")),
		spares("us-ny-dfs-23nycrr-500-17", "applies only in the financial_ny sector", residents("US-NY", 10)),
	}
}

func TestDataUSStateRules(t *testing.T) { runDataCases(t, usStateDataCases()) }

func usStateDataCases() []dataCase {
	return []dataCase{
		// California: 30 calendar days from discovery since 2026; before, no fixed period.
		triggers("us-ca-civ-1798-82", "2026-06-03T13:00:00Z", residents("US-CA", 10)),
		triggers("us-ca-civ-1798-82", "", residents("US-CA", 10), discoveredOn("2025-11-03T13:00:00Z")),
		spares("us-ca-civ-1798-82", "is not personal information under this law", residents("US-CA", 10), exposing("name", "email")),
		spares("us-ca-civ-1798-82", "exempt: Cal. Civ. Code § 1798.82(a)", residents("US-CA", 10), withEncryption),
		triggers("us-ca-civ-1798-82-f-ag", "2026-06-04T15:00:00Z", residents("US-CA", 501), noticeSent("us-ca-civ-1798-82", "2026-05-20T15:00:00Z")),
		triggers("us-ca-civ-1798-82-f-ag", "", residents("US-CA", 501)), // waits on the notice to residents
		spares("us-ca-civ-1798-82-f-ag", "500 residents of US-CA; the law applies to more than 500", residents("US-CA", 500)),
		triggers("us-ca-civ-1798-82-b-owner", "", residents("US-CA", 10), asProcessor),
		spares("us-ca-civ-1798-82-b-owner", "applies to a processor", residents("US-CA", 10)),

		// New York: three forms of § 899-aa(2).
		triggers("us-ny-gbl-899aa-individuals", "2026-06-03T13:00:00Z", residents("US-NY", 10), exposing("name", "health")),
		triggers("us-ny-gbl-899aa-individuals", "2025-02-05T13:00:00Z", residents("US-NY", 10), discoveredOn("2025-01-06T13:00:00Z")),
		triggers("us-ny-gbl-899aa-individuals", "", residents("US-NY", 10), discoveredOn("2024-06-03T13:00:00Z")),
		spares("us-ny-gbl-899aa-individuals", "is not personal information under this law", residents("US-NY", 10), exposing("name", "health"), discoveredOn("2025-01-06T13:00:00Z")),
		triggers("us-ny-gbl-899aa-8a-regulators", "2026-06-03T13:00:00Z", residents("US-NY", 10)), // at or before the residents' notice
		spares("us-ny-gbl-899aa-8a-regulators", "no affected residents of US-NY", residents("US-NJ", 10)),
		triggers("us-ny-gbl-899aa-8a-dfs", "2026-06-03T13:00:00Z", residents("US-NY", 10), inSector("financial_ny")),
		spares("us-ny-gbl-899aa-8a-dfs", "applies only in the financial_ny sector", residents("US-NY", 10)),
		triggers("us-ny-gbl-899aa-8b-cra", "", residents("US-NY", 5001)),
		spares("us-ny-gbl-899aa-8b-cra", "5,000 residents of US-NY; the law applies to more than 5,000", residents("US-NY", 5000)),
		triggers("us-ny-gbl-899aa-3-owner", "2026-06-03T13:00:00Z", residents("US-NY", 10), asProcessor),
		spares("us-ny-gbl-899aa-3-owner", "applies to a processor", residents("US-NY", 10)),
		// HHS notified on Friday 2026-05-15: 5 US business days.
		triggers("us-ny-gbl-899aa-hipaa-ag", "2026-05-22T14:00:00Z", residents("US-NY", 600), inSector("health"), exposing("name", "health"),
			noticeSent("us-hhs-hipaa-164-408-secretary", "2026-05-15T14:00:00Z")),
		spares("us-ny-gbl-899aa-hipaa-ag", "400 people affected in all; the law applies to at least 500", residents("US-NY", 400), inSector("health"), exposing("name", "health")),
		// HHS log sent on Wednesday 2027-02-10: Presidents' Day (15 February) is no business day.
		triggers("us-ny-gbl-899aa-hipaa-ag-annual", "2027-02-18T15:00:00Z", residents("US-NY", 100), inSector("health"), exposing("name", "health"),
			noticeSent("us-hhs-hipaa-164-408-secretary-annual", "2027-02-10T15:00:00Z")),
		spares("us-ny-gbl-899aa-hipaa-ag-annual", "applies only in the health sector", residents("US-NY", 100), exposing("name", "health")),

		// Texas.
		triggers("us-tx-bcc-521-053", "2026-07-05T13:00:00Z", residents("US-TX", 10)),
		spares("us-tx-bcc-521-053", "is not personal information under this law", residents("US-TX", 10), exposing("account_credentials")),
		triggers("us-tx-bcc-521-053-i-ag", "2026-06-05T13:00:00Z", residents("US-TX", 250)),
		spares("us-tx-bcc-521-053-i-ag", "249 residents of US-TX; the law applies to at least 250", residents("US-TX", 249)),
		triggers("us-tx-bcc-521-053-h-cra", "", residents("US-TX", 10001)),
		spares("us-tx-bcc-521-053-h-cra", "the law applies to more than 10,000", residents("US-TX", 10000)),
		triggers("us-tx-bcc-521-053-c-owner", "", residents("US-TX", 10), asProcessor),
		spares("us-tx-bcc-521-053-c-owner", "applies to a processor", residents("US-TX", 10)),

		// Florida.
		triggers("us-fl-stat-501-171", "2026-06-05T13:00:00Z", residents("US-FL", 10), exposing("name", "passport")),
		spares("us-fl-stat-501-171", "is not personal information under this law", residents("US-FL", 10), exposing("name", "biometric")),
		triggers("us-fl-stat-501-171-3-department", "2026-06-05T13:00:00Z", residents("US-FL", 500)),
		spares("us-fl-stat-501-171-3-department", "the law applies to at least 500", residents("US-FL", 499)),
		triggers("us-fl-stat-501-171-5-cra", "", residents("US-FL", 1001)),
		spares("us-fl-stat-501-171-5-cra", "the law applies to more than 1,000", residents("US-FL", 1000)),
		triggers("us-fl-stat-501-171-6-third-party-agent", "2026-05-16T13:00:00Z", residents("US-FL", 10), asProcessor),
		spares("us-fl-stat-501-171-6-third-party-agent", "applies to a processor", residents("US-FL", 10)),

		// Colorado: a card number needs no name.
		triggers("us-co-crs-6-1-716", "2026-06-05T13:00:00Z", residents("US-CO", 10), exposing("payment_card")),
		spares("us-co-crs-6-1-716", "is not personal information under this law", residents("US-CO", 10), exposing("name", "genetic")),
		triggers("us-co-crs-6-1-716-ag", "2026-06-05T13:00:00Z", residents("US-CO", 500)),
		spares("us-co-crs-6-1-716-ag", "the law applies to at least 500", residents("US-CO", 499)),
		triggers("us-co-crs-6-1-716-cra", "", residents("US-CO", 1001)),
		spares("us-co-crs-6-1-716-cra", "the law applies to more than 1,000", residents("US-CO", 1000)),
		triggers("us-co-crs-6-1-716-third-party", "", residents("US-CO", 10), asProcessor),
		spares("us-co-crs-6-1-716-third-party", "applies to a processor", residents("US-CO", 10)),

		// Washington: the full date of birth counts.
		triggers("us-wa-rcw-19-255-010", "2026-06-03T13:00:00Z", residents("US-WA", 10), exposing("name", "date_of_birth")),
		spares("us-wa-rcw-19-255-010", "is not personal information under this law", residents("US-WA", 10), exposing("name", "genetic")),
		triggers("us-wa-rcw-19-255-010-7-ag", "2026-06-03T13:00:00Z", residents("US-WA", 501)),
		spares("us-wa-rcw-19-255-010-7-ag", "the law applies to more than 500", residents("US-WA", 500)),
		triggers("us-wa-rcw-19-255-010-vendor", "", residents("US-WA", 10), asProcessor),
		spares("us-wa-rcw-19-255-010-vendor", "exempt: RCW 19.255.010", residents("US-WA", 10), asProcessor, withEncryption),

		// Vermont: the AG's preliminary notice counts Vermont business days.
		triggers("us-vt-9vsa-2435", "2026-06-18T13:00:00Z", residents("US-VT", 10), exposing("name", "genetic")),
		spares("us-vt-9vsa-2435", "exempt: 9 V.S.A.", residents("US-VT", 10), withEncryption),
		triggers("us-vt-9vsa-2435-b3-ag-preliminary", "2026-05-22T13:00:00Z", residents("US-VT", 1)),
		// Discovered Monday 2026-02-23 09:00 EST: Town Meeting Day (3 March) is skipped, and
		// the 14th business day falls after the switch to daylight time.
		triggers("us-vt-9vsa-2435-b3-ag-preliminary", "2026-03-16T13:00:00Z", residents("US-VT", 1), discoveredOn("2026-02-23T14:00:00Z")),
		spares("us-vt-9vsa-2435-b3-ag-preliminary", "no affected residents of US-VT", residents("US-NH", 10)),
		triggers("us-vt-cra", "", residents("US-VT", 1001)),
		spares("us-vt-cra", "the law applies to more than 1,000", residents("US-VT", 1000)),

		// Connecticut.
		triggers("us-ct-gs-36a-701b", "2026-07-03T13:00:00Z", residents("US-CT", 10), exposing("name", "taxpayer_id")),
		spares("us-ct-gs-36a-701b", "is not personal information under this law", residents("US-CT", 10), exposing("name", "genetic")),
		triggers("us-ct-ag", "2026-07-03T13:00:00Z", residents("US-CT", 1)),
		spares("us-ct-ag", "no affected residents of US-CT", residents("US-NY", 10)),

		// Delaware.
		triggers("us-de-6-12b-102", "2026-07-05T13:00:00Z", residents("US-DE", 10), exposing("name", "genetic")),
		spares("us-de-6-12b-102", "is not personal information under this law", residents("US-DE", 10), exposing("name", "date_of_birth")),
		triggers("us-de-ag", "2026-07-05T13:00:00Z", residents("US-DE", 501)),
		spares("us-de-ag", "the law applies to more than 500", residents("US-DE", 500)),

		// Arizona.
		triggers("us-az-ars-18-552", "2026-06-20T13:00:00Z", residents("US-AZ", 10), exposing("name", "biometric")),
		spares("us-az-ars-18-552", "is not personal information under this law", residents("US-AZ", 10), exposing("name", "genetic")),
		triggers("us-az-ag", "2026-06-20T13:00:00Z", residents("US-AZ", 1001)),
		spares("us-az-ag", "the law applies to more than 1,000", residents("US-AZ", 1000)),
		triggers("us-az-dhs", "2026-06-20T13:00:00Z", residents("US-AZ", 1001)),
		spares("us-az-dhs", "the law applies to more than 1,000", residents("US-AZ", 1000)),
		triggers("us-az-cra", "2026-06-20T13:00:00Z", residents("US-AZ", 1001)),
		spares("us-az-cra", "the law applies to more than 1,000", residents("US-AZ", 1000)),

		// Indiana.
		triggers("us-in-ic-24-4-9", "2026-06-18T13:00:00Z", residents("US-IN", 10)),
		spares("us-in-ic-24-4-9", "is not personal information under this law", residents("US-IN", 10), exposing("name", "health")),
		triggers("us-in-ag", "2026-06-18T13:00:00Z", residents("US-IN", 1)),
		spares("us-in-ag", "no affected residents of US-IN", residents("US-IL", 10)),
		triggers("us-in-cra", "", residents("US-IN", 1001)),
		spares("us-in-cra", "the law applies to more than 1,000", residents("US-IN", 1000)),

		// Maryland: the AG before the residents; CRAs from 1,000.
		triggers("us-md-com-14-3504", "2026-06-18T13:00:00Z", residents("US-MD", 10), exposing("name", "taxpayer_id")),
		spares("us-md-com-14-3504", "is not personal information under this law", residents("US-MD", 10), exposing("name", "date_of_birth")),
		triggers("us-md-ag", "2026-06-18T13:00:00Z", residents("US-MD", 1)),
		spares("us-md-ag", "no affected residents of US-MD", residents("US-VA", 10)),
		triggers("us-md-cra", "", residents("US-MD", 1000)),
		spares("us-md-cra", "999 residents of US-MD; the law applies to at least 1,000", residents("US-MD", 999)),

		// Ohio.
		triggers("us-oh-orc-1349-19", "2026-06-18T13:00:00Z", residents("US-OH", 10)),
		spares("us-oh-orc-1349-19", "is not personal information under this law", residents("US-OH", 10), exposing("account_credentials")),
		triggers("us-oh-cra", "", residents("US-OH", 1001)),
		spares("us-oh-cra", "the law applies to more than 1,000", residents("US-OH", 1000)),

		// Oregon.
		triggers("us-or-ors-646a-604", "2026-06-18T13:00:00Z", residents("US-OR", 10), exposing("account_credentials")),
		spares("us-or-ors-646a-604", "is not personal information under this law", residents("US-OR", 10), exposing("name", "genetic")),
		triggers("us-or-ag", "2026-06-18T13:00:00Z", residents("US-OR", 251)),
		spares("us-or-ag", "250 residents of US-OR; the law applies to more than 250", residents("US-OR", 250)),
		triggers("us-or-cra", "", residents("US-OR", 1001)),
		spares("us-or-cra", "the law applies to more than 1,000", residents("US-OR", 1000)),
		triggers("us-or-vendor", "2026-05-14T13:00:00Z", residents("US-OR", 10), asProcessor),
		spares("us-or-vendor", "applies to a processor", residents("US-OR", 10)),

		// Rhode Island.
		triggers("us-ri-gl-11-49-3-4", "2026-06-20T13:00:00Z", residents("US-RI", 10), exposing("name", "health_insurance")),
		spares("us-ri-gl-11-49-3-4", "is not personal information under this law", residents("US-RI", 10), exposing("name", "biometric")),
		triggers("us-ri-ag", "", residents("US-RI", 501)),
		spares("us-ri-ag", "the law applies to more than 500", residents("US-RI", 500)),
		triggers("us-ri-cra", "", residents("US-RI", 501)),
		spares("us-ri-cra", "the law applies to more than 500", residents("US-RI", 500)),

		// Tennessee.
		triggers("us-tn-tca-47-18-2107", "2026-06-18T13:00:00Z", residents("US-TN", 10)),
		spares("us-tn-tca-47-18-2107", "exempt: Tenn. Code Ann.", residents("US-TN", 10), withEncryption),
		triggers("us-tn-cra", "", residents("US-TN", 1001)),
		spares("us-tn-cra", "the law applies to more than 1,000", residents("US-TN", 1000)),

		// Wisconsin: a DNA profile counts.
		triggers("us-wi-stat-134-98", "2026-06-18T13:00:00Z", residents("US-WI", 10), exposing("name", "genetic")),
		spares("us-wi-stat-134-98", "is not personal information under this law", residents("US-WI", 10), exposing("name", "health")),
		triggers("us-wi-cra", "", residents("US-WI", 1001)),
		spares("us-wi-cra", "the law applies to more than 1,000", residents("US-WI", 1000)),

		// Alabama.
		triggers("us-al-code-8-38-5", "2026-06-20T13:00:00Z", residents("US-AL", 10)),
		spares("us-al-code-8-38-5", "no affected residents of US-AL", residents("US-GA", 10)),
		triggers("us-al-ag", "2026-06-20T13:00:00Z", residents("US-AL", 1001)),
		spares("us-al-ag", "the law applies to more than 1,000", residents("US-AL", 1000)),
		triggers("us-al-cra", "", residents("US-AL", 1001)),
		spares("us-al-cra", "the law applies to more than 1,000", residents("US-AL", 1000)),
		triggers("us-al-third-party", "2026-05-16T13:00:00Z", residents("US-AL", 10), asProcessor),
		spares("us-al-third-party", "applies to a processor", residents("US-AL", 10)),

		// Maine: the clock runs from awareness.
		triggers("us-me-10-mrs-1348", "2026-06-04T13:00:00Z", residents("US-ME", 10)),
		spares("us-me-10-mrs-1348", "no affected residents of US-ME", residents("US-NH", 10)),
		triggers("us-me-regulator", "", residents("US-ME", 1)),
		spares("us-me-regulator", "exempt: 10 M.R.S.", residents("US-ME", 1), withEncryption),
		triggers("us-me-cra", "", residents("US-ME", 1001)),
		spares("us-me-cra", "the law applies to more than 1,000", residents("US-ME", 1000)),

		// Massachusetts: no fixed period.
		triggers("us-ma-93h-3", "", residents("US-MA", 10)),
		spares("us-ma-93h-3", "is not personal information under this law", residents("US-MA", 10), exposing("account_credentials")),
		triggers("us-ma-93h-3-ag", "", residents("US-MA", 10)),
		spares("us-ma-93h-3-ag", "no affected residents of US-MA", residents("US-CT", 10)),
		triggers("us-ma-93h-3-ocabr", "", residents("US-MA", 10)),
		spares("us-ma-93h-3-ocabr", "exempt: M.G.L. c. 93H", residents("US-MA", 10), withEncryption),
	}
}

func TestDataAsiaPacificRules(t *testing.T) { runDataCases(t, asiaPacificDataCases()) }

func asiaPacificDataCases() []dataCase {
	return []dataCase{
		triggers("au-privacy-act-ndb", "", residents("AU", 10)),
		spares("au-privacy-act-ndb", "risk medium; the law applies from risk high", residents("AU", 10), riskRated(risk.Medium)),
		triggers("au-privacy-act-ndb-individuals", "", residents("AU-NSW", 10)),
		spares("au-privacy-act-ndb-individuals", "exempt: s. 26WF", residents("AU", 10), claiming("subsequent_measures")),

		// 3 calendar days from the assessment (determined_at).
		triggers("sg-pdpa-s26d", "2026-05-09T13:00:00Z", residents("SG", 10)),
		spares("sg-pdpa-s26d", "risk medium; the law applies from risk high", residents("SG", 10), riskRated(risk.Medium)),
		triggers("sg-pdpa-s26d-scale", "2026-05-09T13:00:00Z", residents("SG", 500), riskRated(risk.Low)),
		spares("sg-pdpa-s26d-scale", "499 residents of Singapore (SG); the law applies to at least 500", residents("SG", 499)),
		triggers("sg-pdpa-s26d-individuals", "", residents("SG", 10)),
		spares("sg-pdpa-s26d-individuals", "exempt: s. 26D(5): a technological measure", residents("SG", 10), withEncryption),
		triggers("sg-pdpa-s26c-data-intermediary", "", residents("SG", 10), asProcessor),
		spares("sg-pdpa-s26c-data-intermediary", "applies to a processor", residents("SG", 10)),

		// India: the DPDP breach provisions are not in force before 2027-05-13.
		triggers("in-dpdp-rule7", "", residents("IN", 10), discoveredOn("2027-06-01T13:00:00Z")),
		spares("in-dpdp-rule7", "not in force on 2026-05-05", residents("IN", 10)),
		triggers("in-dpdp-rule7-board-72h", "2027-06-05T13:00:00Z", residents("IN", 10), discoveredOn("2027-06-01T13:00:00Z")),
		spares("in-dpdp-rule7-board-72h", "not in force on 2026-05-05", residents("IN", 10)),
		triggers("in-dpdp-rule7-individuals", "", residents("IN", 10), discoveredOn("2027-06-01T13:00:00Z")),
		spares("in-dpdp-rule7-individuals", "no affected residents of IN", residents("LK", 10), discoveredOn("2027-06-01T13:00:00Z")),
		triggers("in-certin-6h", "2026-05-05T19:00:00Z", residents("IN", 10)),
		spares("in-certin-6h", "no affected residents of IN", residents("PK", 10)),

		triggers("jp-appi-art26", "2026-05-10T13:00:00Z", residents("JP", 10)),
		spares("jp-appi-art26", "no affected residents of JP", residents("KR", 10)),
		triggers("jp-appi-art26-final", "2026-06-04T13:00:00Z", residents("JP", 10)),
		spares("jp-appi-art26-final", "not in force on 2022-03-02", residents("JP", 10), discoveredOn("2022-03-01T13:00:00Z")),
		triggers("jp-appi-art26-2-individuals", "", residents("JP", 10)),
		spares("jp-appi-art26-2-individuals", "no affected residents of JP", residents("CN", 10)),

		triggers("kr-pipa-art34", "2026-05-08T13:00:00Z", residents("KR", 10)),
		spares("kr-pipa-art34", "no affected residents of KR", residents("JP", 10)),
		triggers("kr-pipa-art34-3-authority", "2026-05-08T13:00:00Z", residents("KR", 10)),
		spares("kr-pipa-art34-3-authority", "exempt: Enforcement Decree", residents("KR", 10), claiming("subsequent_measures")),

		triggers("nz-privacy-act-2020-s114", "", residents("NZ", 10)),
		spares("nz-privacy-act-2020-s114", "risk medium; the law applies from risk high", residents("NZ", 10), riskRated(risk.Medium)),
		triggers("nz-privacy-act-2020-s115-individuals", "", residents("NZ", 10)),
		spares("nz-privacy-act-2020-s115-individuals", "no affected residents of NZ", residents("AU", 10)),

		triggers("cn-pipl-art57", "", residents("CN", 10), riskRated(risk.Low)),
		spares("cn-pipl-art57", "no affected residents of CN", residents("HK", 10)),
		triggers("cn-pipl-art57-individuals", "", residents("CN", 10)),
		spares("cn-pipl-art57-individuals", "exempt: PIPL Art. 57", residents("CN", 10), claiming("subsequent_measures")),
	}
}

func TestDataAfricaRules(t *testing.T) { runDataCases(t, africaDataCases()) }

func africaDataCases() []dataCase {
	return []dataCase{
		triggers("za-popia-s22", "", residents("ZA", 1), riskRated(risk.Low)),
		spares("za-popia-s22", "no affected residents of ZA", residents("NA", 10)),
		triggers("za-popia-s22-data-subjects", "", residents("ZA", 1)),
		spares("za-popia-s22-data-subjects", "no affected residents of ZA", residents("BW", 10)),
		triggers("za-popia-s21-operator", "", residents("ZA", 10), asProcessor),
		spares("za-popia-s21-operator", "applies to a processor", residents("ZA", 10)),
	}
}

// The substitute of an exemption replaces the notice rather than dropping it.
func TestDataSubstituteNotice(t *testing.T) {
	rs := dataRuleset(t)
	a, err := rs.Evaluate(dataScenario(residents("IT", 10), claiming("disproportionate_effort")), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ob, ok := dataObligation(a, "eu-gdpr-art34")
	if !ok || ob.Notify != "public" {
		t.Fatalf("eu-gdpr-art34 with disproportionate effort: %+v (found %v), want a public communication", ob, ok)
	}
}

// Every built-in rule has a table case that triggers it and one that does not.
func TestDataEveryRuleHasCases(t *testing.T) {
	rs := dataRuleset(t)
	covered := map[string][2]bool{}
	for _, cases := range [][]dataCase{europeDataCases(), brazilDataCases(), canadaDataCases(), usFederalDataCases(),
		usStateDataCases(), asiaPacificDataCases(), africaDataCases()} {
		for _, c := range cases {
			v := covered[c.rule]
			if c.not == "" {
				v[0] = true
			} else {
				v[1] = true
			}
			covered[c.rule] = v
		}
	}
	ids := map[string]bool{}
	for _, r := range rs.Rules {
		ids[r.ID] = true
		if v := covered[r.ID]; !v[0] || !v[1] {
			t.Errorf("rule %s: a case that triggers it %v, one that does not %v", r.ID, v[0], v[1])
		}
	}
	for id := range covered {
		if !ids[id] {
			t.Errorf("table case for %s, which is no built-in rule", id)
		}
	}
}

func dataRuleset(t *testing.T) *Ruleset {
	t.Helper()
	rs, err := Builtin()
	if err != nil {
		t.Fatalf("Builtin: %v", err)
	}
	return rs
}

func dataObligation(a Assessment, rule string) (incident.Obligation, bool) {
	for _, ob := range a.Obligations {
		if ob.Rule == rule {
			return ob, true
		}
	}
	return incident.Obligation{}, false
}

func runDataCases(t *testing.T, cases []dataCase) {
	t.Helper()
	rs := dataRuleset(t)
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			a, err := rs.Evaluate(c.s, Config{})
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			ob, triggered := dataObligation(a, c.rule)
			if c.not != "" {
				if triggered {
					t.Fatalf("triggered (%s), want not triggered: %q", strings.Join(ob.Why, "; "), c.not)
				}
				for _, n := range a.NotTriggered {
					if n.Rule == c.rule {
						if !strings.Contains(n.Why, c.not) {
							t.Errorf("not triggered because %q, want %q", n.Why, c.not)
						}
						return
					}
				}
				t.Fatalf("neither triggered nor listed as not triggered")
			}
			if !triggered {
				why := "not considered"
				for _, n := range a.NotTriggered {
					if n.Rule == c.rule {
						why = n.Why
					}
				}
				t.Fatalf("not triggered: %s", why)
			}
			got := ""
			if ob.Due != nil {
				got = ob.Due.UTC().Format(time.RFC3339)
			}
			if got != c.due {
				t.Errorf("due %q, want %q (%s)", got, c.due, strings.Join(ob.Why, "; "))
			}
		})
	}
}
