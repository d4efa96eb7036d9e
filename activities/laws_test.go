package activities

import (
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/templates"
)

func lawsSpec() NoticeSpec {
	return NoticeSpec{ID: "INC-20261123-LAWS1/eu-gdpr-art34", Incident: "INC-20261123-LAWS1", Rules: []string{"eu-gdpr-art34", "br-lgpd-art48-titulares"},
		Notify: "individuals", Residents: []string{"EU", "BR"},
		Laws: []NoticeLaw{{Rule: "eu-gdpr-art34", Residents: "EU", Citation: "GDPR Art. 34(1)-(3)"},
			{Rule: "br-lgpd-art48-titulares", Residents: "BR", Citation: "LGPD Art. 48; Res. CD/ANPD 15/2024 Art. 9"}},
		Translations: map[string]NoticeTexts{"de": {WhatHappened: "Ein Angreifer kopierte die Tabelle."}},
		Data: templates.NoticeData{Organisation: DrillOrganisation, IncidentID: "INC-20261123-LAWS1", NoticeDate: time.Now(), DiscoveredAt: time.Now(),
			WhatHappened: "An attacker copied the table.", LikelyConsequences: "y", MeasuresTaken: "z", WhatYouCanDo: "w",
			DataCategories: []string{"email"}, Citation: "GDPR Art. 34(1)-(3); LGPD Art. 48; Res. CD/ANPD 15/2024 Art. 9"}}
}

// TestEachPersonIsToldTheirOwnLaw: a German is told the notice is given
// under the DSGVO and nothing of Brazil's law; a Brazilian only of the
// LGPD; a notice approved before Laws cites what it was approved with.
func TestEachPersonIsToldTheirOwnLaw(t *testing.T) {
	spec := lawsSpec()
	p := &preparedNotice{spec: spec, rendered: map[renderKey]templates.Rendered{}}
	for _, c := range []struct {
		region, lang, want, not string
	}{
		{"DE", "de", "Diese Mitteilung erfolgt gemäß DSGVO Art. 34(1)-(3).", "LGPD"},
		{"FR", "fr", "Fondement juridique de cette notification : RGPD Art. 34(1)-(3).", "LGPD"},
		{"BR", "pt-BR", "Base legal deste comunicado: LGPD Art. 48; Res. CD/ANPD 15/2024 Art. 9.", "GDPR"},
	} {
		r, err := p.render(renderKey{kind: templates.Individuals, lang: c.lang, laws: spec.lawsFor(c.region)})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Text, c.want) || strings.Contains(r.Text, c.not) || strings.Contains(r.Text, "RGPD Art. 34(1)-(3); ") {
			t.Errorf("%s in %s: the notice cites\n%s\nwant %q and no %s", c.region, c.lang, lastLines(r.Text), c.want, c.not)
		}
	}
	old := spec
	old.Laws = nil
	q := &preparedNotice{spec: old, rendered: map[renderKey]templates.Rendered{}}
	r, err := q.render(renderKey{kind: templates.Individuals, lang: "de", laws: old.lawsFor("DE")})
	if err != nil || !strings.Contains(r.Text, "gemäß GDPR Art. 34(1)-(3); LGPD Art. 48") {
		t.Errorf("a notice approved before Laws: %v\n%s", err, lastLines(r.Text))
	}
}

// TestFallbackLanguages: a notice with German texts falls back in French,
// Spanish and Portuguese; the approver's choice decides what those people
// get.
func TestFallbackLanguages(t *testing.T) {
	spec := lawsSpec()
	if got := strings.Join(spec.FallbackLanguages(), ","); got != "fr,es,pt-BR" {
		t.Fatalf("fallback languages %s", got)
	}
	if spec.language("fr") != "fr" || spec.FallbackChoice() != FallbackTemplate {
		t.Fatal("by default a French reader gets the French template")
	}
	spec.Fallback = FallbackEnglish
	if spec.language("fr") != "en" || spec.language("de") != "de" {
		t.Fatal("with english, a French reader gets the English notice, a German reader the German one")
	}
	res, err := NewPreviewer(DrillOrganisation).PreviewNotice(t.Context(), lawsSpec())
	if err != nil {
		t.Fatal(err)
	}
	var langs []string
	for _, p := range res.Previews {
		langs = append(langs, p.Lang)
	}
	if strings.Join(langs, ",") != "en,de,fr,es,pt-BR" {
		t.Errorf("previews in %v: want the fallback languages shown as they will be sent", langs)
	}
}

func TestCoverageCountsPeopleByRule(t *testing.T) {
	spec := lawsSpec()
	others := []NoticeLaw{{Rule: "us-ca-civ-1798-82", Residents: "US-CA"}}
	c := Coverage("snap_1", []incident.Residents{{Region: "DE", Count: 3}, {Region: "BR", Count: 1}, {Region: "US-CA", Count: 1}, {Region: "JP", Count: 2}}, spec.Laws, others)
	want := "4 of 7 people in snapshot snap_1 are covered by its rules (eu-gdpr-art34 3, br-lgpd-art48-titulares 1); 3 people are covered by none and not mailed by it: " +
		"JP 2 (no obligation of the incident covers them), US-CA 1 (under us-ca-civ-1798-82, by a notice of their own)"
	if got := c.Summary(); got != want {
		t.Fatalf("coverage:\n%s\nwant\n%s", got, want)
	}
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-4):], "\n")
}
