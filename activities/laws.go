package activities

import (
	"slices"
	"strings"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/templates"
)

// NoticeLaw is one rule a notice answers, with whom it covers, so each
// person's notice cites the laws that apply to them and no other.
type NoticeLaw struct {
	Rule string `json:"rule"`
	// Residents is the rule's scope (EU, BR, US-CA): a person living in it
	// is notified under the rule.
	Residents string `json:"residents"`
	Citation  string `json:"citation"`
}

// What people get whose language has no texts of its own in the notice
// (NoticeSpec.Fallback).
const (
	// FallbackTemplate: their language's template around the texts in
	// the notice's main language (English). The default.
	FallbackTemplate = "template"
	// FallbackEnglish: the whole notice in English.
	FallbackEnglish = "english"
)

// Fallbacks lists the choices of NoticeSpec.Fallback.
func Fallbacks() []string { return []string{FallbackTemplate, FallbackEnglish} }

// FallbackLanguages are the notice languages other than English that a
// notice to people has no texts for: people who read one of them get
// what Fallback says. Empty for a notice to organisations.
func (s NoticeSpec) FallbackLanguages() []string {
	if s.Notify != "individuals" {
		return nil
	}
	var out []string
	for _, l := range templates.Languages() {
		if _, ok := s.Translations[l]; l != "en" && !ok {
			out = append(out, l)
		}
	}
	return out
}

// FallbackChoice is what people whose language has no texts get.
func (s NoticeSpec) FallbackChoice() string {
	if s.Fallback == "" {
		return FallbackTemplate
	}
	return s.Fallback
}

// language is the language a person who reads lang is sent the notice in.
func (s NoticeSpec) language(lang string) string {
	if _, ok := s.Translations[lang]; !ok && lang != "en" && s.Fallback == FallbackEnglish {
		return "en"
	}
	return lang
}

// allLaws selects every law of the notice.
const allLaws = ^uint64(0)

// lawsFor selects the laws of the notice that cover a person living in
// region, as bits of Laws; 0 for a notice without Laws (approved before
// them), which cites Data.Citation whole.
func (s NoticeSpec) lawsFor(region string) uint64 {
	var set uint64
	for i, l := range s.Laws {
		if i < 64 && rules.InScope(region, l.Residents) {
			set |= 1 << i
		}
	}
	return set
}

// citation is what a notice in lang cites for the laws selected: each
// law under the name readers of the language know it by, once. A notice
// without Laws cites Data.Citation as it was approved.
func (s NoticeSpec) citation(lang string, laws uint64) string {
	if len(s.Laws) == 0 {
		return s.Data.Citation
	}
	var out []string
	for i, l := range s.Laws {
		if i < 64 && laws&(1<<i) != 0 {
			if c := rules.LocalCitation(l.Citation, lang); !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return strings.Join(out, "; ")
}

// Coverage counts the people of a snapshot (its counts by jurisdiction)
// by the laws of a notice to people: how many each law covers, and who is
// covered by none. others are the incident's other obligations to people,
// named for the uncovered people they cover.
func Coverage(snapshot string, affected []incident.Residents, laws []NoticeLaw, others []NoticeLaw) incident.NoticeCoverage {
	c := incident.NoticeCoverage{Snapshot: snapshot, ByRule: []incident.RuleCount{}}
	for _, l := range laws {
		c.ByRule = append(c.ByRule, incident.RuleCount{Rule: l.Rule})
	}
	byRegion := map[string]int{}
	for _, a := range affected {
		byRegion[a.Region] += a.Count
	}
	for _, region := range sortedKeys(byRegion) {
		n := byRegion[region]
		c.People += n
		covered := false
		for i, l := range laws {
			if rules.InScope(region, l.Residents) {
				c.ByRule[i].People += n
				covered = true
			}
		}
		if covered {
			c.Covered += n
			continue
		}
		u := incident.UncoveredPeople{Region: region, People: n}
		for _, o := range others {
			if rules.InScope(region, o.Residents) && !slices.Contains(u.Rules, o.Rule) {
				u.Rules = append(u.Rules, o.Rule)
			}
		}
		c.Uncovered = append(c.Uncovered, u)
	}
	return c
}
