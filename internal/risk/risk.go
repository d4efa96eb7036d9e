package risk

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/breachctl/breachctl/internal/apperr"
)

// TableVersion names the category mapping and its adjustments; it is recorded
// with every assessment so an old result can be explained after the table
// changes.
const TableVersion = "enisa-2013/1"

// Level is the risk to the people affected, in the GDPR's terms.
type Level string

const (
	None   Level = "none"
	Low    Level = "low"
	Medium Level = "medium"
	High   Level = "high"
)

var levels = []Level{None, Low, Medium, High}

// ParseLevel accepts a level name in any case. The empty string is an error:
// "no risk" must be said, not left out.
func ParseLevel(s string) (Level, error) {
	v := Level(strings.ToLower(strings.TrimSpace(s)))
	if v.rank() < 0 {
		return "", apperr.Invalidf("level", "%q is not one of none, low, medium, high", s)
	}
	return v, nil
}

func (l Level) rank() int {
	for i, v := range levels {
		if v == l {
			return i
		}
	}
	return -1
}

// AtLeast reports whether l is as high as other or higher, in the order
// none < low < medium < high. It is false when either is not a level.
func (l Level) AtLeast(other Level) bool {
	a, b := l.rank(), other.rank()
	return a >= 0 && b >= 0 && a >= b
}

// ENISA severity bands of the score.
const (
	SeverityLow      = "low"       // SE < 2
	SeverityMedium   = "medium"    // 2 ≤ SE < 3
	SeverityHigh     = "high"      // 3 ≤ SE < 4
	SeverityVeryHigh = "very_high" // 4 ≤ SE
)

// Methods an Assessment can name.
const (
	MethodENISA     = "ENISA 2013 severity: SE = DPC × EI + CB"
	MethodEncrypted = "encrypted: unintelligible data (GDPR Art. 34(3)(a); EDPB Guidelines 9/2022)"
	MethodOverride  = "override"
)

// Input is what the assessment needs from the facts of a breach.
type Input struct {
	// Categories are data category codes (see Categories); none means not yet
	// known, which scores as the worst case.
	Categories []string
	Affected   int // number of people (0 = unknown); recorded, not scored
	// Encrypted: the data is unintelligible to whoever got it and the key was
	// not compromised.
	Encrypted     bool
	Circumstances Circumstances
	Override      *Override // a person's judgement, with a written justification
}

// Override is a person's judgement of the level, replacing the computed one.
type Override struct {
	Level         Level  `json:"level"`
	Justification string `json:"justification"`
}

// Assessment is the level of risk and how it was reached.
type Assessment struct {
	Level    Level     `json:"level"`
	Method   string    `json:"method"`
	Parts    Parts     `json:"parts"`
	Override *Override `json:"override,omitempty"` // kept when a person overrode the computed level
	Version  string    `json:"version"`            // TableVersion at the time
}

// Parts are the ENISA criteria as scored, each with its reasons. They are
// computed for every assessment, overridden or encrypted too, for the record.
type Parts struct {
	DPC      float64  `json:"dpc"`       // data processing context, 1..4
	DPCBasis string   `json:"dpc_basis"` // which category set it and why
	EI       float64  `json:"ei"`        // ease of identification, 0.25..1
	EIBasis  string   `json:"ei_basis"`
	CB       float64  `json:"cb"`       // circumstances of the breach, 0..2
	CBBasis  []string `json:"cb_basis"` // one line per element, in a fixed order
	Score    float64  `json:"score"`    // SE = DPC × EI + CB
	Severity string   `json:"severity"` // ENISA band: low, medium, high, very_high
	// Notes say what lies outside the formula: the number of people,
	// encryption, an override.
	Notes []string `json:"notes,omitempty"`
}

// Assess scores a breach with the ENISA method and maps the band to a level.
// Encryption that leaves a usable copy with the controller lowers the level to
// none; an override replaces the level. Either way the parts are computed.
func Assess(in Input) (Assessment, error) {
	if err := validate(in); err != nil {
		return Assessment{}, err
	}
	parts := score(in)
	computed := bandLevel(parts.Severity)
	a := Assessment{Level: computed, Method: MethodENISA, Parts: parts, Version: TableVersion}
	encrypted := in.Encrypted && in.Circumstances.copyRemains()
	switch {
	case in.Encrypted && !encrypted:
		a.Parts.Notes = append(a.Parts.Notes, "encrypted, but integrity or availability is lost for good or not yet known: "+
			"encryption keeps the data from others, it does not give it back, so it does not lower the level")
	case encrypted && in.Override == nil:
		a.Level, a.Method = None, MethodEncrypted
		a.Parts.Notes = append(a.Parts.Notes, fmt.Sprintf("encrypted and a usable copy remains: "+
			"the data is unintelligible to whoever has it, so the computed level %s becomes none", computed))
	case encrypted:
		a.Parts.Notes = append(a.Parts.Notes, "encrypted and a usable copy remains: the data is unintelligible to whoever has it")
	}
	if in.Override != nil {
		o := *in.Override
		o.Level, _ = ParseLevel(string(o.Level))
		o.Justification = strings.TrimSpace(o.Justification)
		a.Level, a.Method, a.Override = o.Level, MethodOverride, &o
		a.Parts.Notes = append(a.Parts.Notes, fmt.Sprintf("a person set the level to %s (computed: %s)", o.Level, computed))
	}
	return a, nil
}

func validate(in Input) error {
	for _, c := range in.Categories {
		if _, ok := lookup(c); !ok {
			return apperr.Invalidf("categories", "unknown category %q; known: %s", c, strings.Join(Categories(), ", "))
		}
	}
	if in.Affected < 0 {
		return apperr.Invalidf("affected", "%d: must be 0 (unknown) or more", in.Affected)
	}
	if err := in.Circumstances.Validate(); err != nil {
		return err
	}
	if o := in.Override; o != nil {
		if strings.TrimSpace(o.Justification) == "" {
			return apperr.Invalidf("override", "a justification is required")
		}
		if _, err := ParseLevel(string(o.Level)); err != nil {
			return apperr.Invalidf("override.level", "%q is not one of none, low, medium, high", o.Level)
		}
	}
	return nil
}

// score computes the ENISA parts. The input must be valid.
func score(in Input) Parts {
	present := make([]category, 0, len(categories))
	for _, c := range categories { // table order, so output does not depend on input order
		for _, code := range in.Categories {
			if code == c.code {
				present = append(present, c)
				break
			}
		}
	}
	var p Parts
	p.DPC, p.DPCBasis = dpc(present)
	p.EI, p.EIBasis = ei(present)
	p.CB, p.CBBasis = in.Circumstances.cb()
	p.Score = round2(p.DPC*p.EI + p.CB)
	p.Severity = band(p.Score)
	if in.Affected > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d people affected; ENISA does not weigh the count, the notification rules do", in.Affected))
	} else {
		p.Notes = append(p.Notes, "number of people affected unknown; ENISA does not weigh the count, the notification rules do")
	}
	return p
}

// dpc takes the highest category score (ENISA: score each type, keep the
// highest), then raises it for minors. No categories means not yet known,
// which scores as the worst case.
func dpc(present []category) (float64, string) {
	if len(present) == 0 {
		return 4, "no data categories recorded yet; assumed sensitive data (the conservative reading) → 4"
	}
	top := present[0]
	var also []string
	for _, c := range present[1:] {
		switch {
		case c.dpc() > top.dpc():
			top, also = c, nil
		case c.dpc() == top.dpc():
			also = append(also, c.code)
		}
	}
	s := top.dpc()
	basis := fmt.Sprintf("%s: %s (ENISA %s data, base %d) → %s", top.code, top.why, top.class, int(top.class), num(s))
	if len(also) > 0 {
		basis += fmt.Sprintf("; also %s: %s", num(s), strings.Join(also, ", "))
	}
	for _, c := range present {
		if c.code == "children_data" {
			raised := float64(clamp(int(s)+minorsAdjust, 1, 4))
			basis += fmt.Sprintf("; the people are minors (ENISA: vulnerable individuals) +%d → %s", minorsAdjust, num(raised))
			if raised == s {
				basis += " (already at the ceiling of 4)"
			}
			s = raised
		}
	}
	return s, basis
}

// ei takes the most identifying category, and raises date of birth with a
// postal address to maximum: together they single out nearly everyone. No
// categories means not yet known, which scores as the worst case.
func ei(present []category) (float64, string) {
	if len(present) == 0 {
		return float64(maximum), "no data categories recorded yet; assumed to name the person (the conservative reading): maximum"
	}
	top := present[0]
	for _, c := range present[1:] {
		if c.ease > top.ease {
			top = c
		}
	}
	has := func(code string) bool {
		for _, c := range present {
			if c.code == code {
				return true
			}
		}
		return false
	}
	if top.ease < maximum && has("date_of_birth") && has("postal_address") {
		return float64(maximum), "date_of_birth with postal_address: maximum (together they single out nearly everyone)"
	}
	return float64(top.ease), fmt.Sprintf("%s: %s (%s)", top.code, top.ease, top.easeOf)
}

func band(score float64) string {
	switch {
	case score < 2:
		return SeverityLow
	case score < 3:
		return SeverityMedium
	case score < 4:
		return SeverityHigh
	}
	return SeverityVeryHigh
}

func bandLevel(severity string) Level {
	switch severity {
	case SeverityLow:
		return Low
	case SeverityMedium:
		return Medium
	}
	return High
}

// round2 keeps scores to two decimals. Every value in the tables is a multiple
// of 0.25, so this only guards against future entries that are not.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
