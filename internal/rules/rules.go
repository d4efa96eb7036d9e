// Package rules works out, from the facts of a breach, which notification
// obligations apply and by when. It is pure: no Temporal, no I/O, the time
// comes from the facts. The workflow calls it through an activity, so a new
// ruleset reaches running incidents without breaking their replay.
package rules

import (
	"slices"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// Version names the ruleset; it is recorded with every assessment.
const Version = "builtin-2026.11.1"

// DefaultReminders are the reminder offsets before each deadline.
var DefaultReminders = []incident.Duration{
	incident.Duration(48 * time.Hour), incident.Duration(24 * time.Hour),
	incident.Duration(6 * time.Hour), incident.Duration(time.Hour),
}

// Config tunes how obligations are laid out.
type Config struct {
	// Reminders before each deadline; nil means DefaultReminders.
	Reminders []incident.Duration
}

// Assess returns the obligations the facts trigger, ordered by due time then
// rule, with reminders from the config.
func Assess(f incident.Facts, cfg Config) []incident.Obligation {
	reminders := cfg.Reminders
	if reminders == nil {
		reminders = DefaultReminders
	}
	var out []incident.Obligation
	if ob, ok := gdprAuthority(f); ok {
		out = append(out, ob)
	}
	for i := range out {
		out[i].Reminders = slices.Clone(reminders)
	}
	slices.SortStableFunc(out, func(a, b incident.Obligation) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return compareStrings(a.Rule, b.Rule)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// gdprAuthority is GDPR Art. 33(1): the controller notifies the competent
// supervisory authority without undue delay and, where feasible, within 72
// hours of becoming aware of a personal-data breach.
func gdprAuthority(f incident.Facts) (incident.Obligation, bool) {
	var inArea []string
	for _, r := range f.Regions {
		if incident.InGDPRArea(r) {
			inArea = append(inArea, r)
		}
	}
	if len(inArea) == 0 || f.AwareAt.IsZero() {
		return incident.Obligation{}, false
	}
	return incident.Obligation{
		Rule:         "eu-gdpr-art33",
		Title:        "Notify the supervisory authority",
		Jurisdiction: "EU",
		Notify:       "authority",
		Recipient:    "Competent supervisory authority (lead authority for cross-border processing)",
		Citation:     "Regulation (EU) 2016/679 (GDPR) Art. 33(1)",
		ClockStart:   "awareness",
		StartsAt:     f.AwareAt,
		Due:          f.AwareAt.Add(72 * time.Hour),
		ASAP:         true,
		Why:          []string{"affected people in " + joinCodes(inArea) + " (GDPR area)", "72 hours from awareness at " + f.AwareAt.UTC().Format(time.RFC3339)},
	}, true
}

func joinCodes(codes []string) string {
	out := ""
	for i, c := range codes {
		if i > 0 {
			out += ", "
		}
		out += c
	}
	return out
}
