package risk

import (
	"fmt"

	"github.com/breachctl/breachctl/internal/apperr"
)

// Values of the Circumstances fields. The empty string means not yet known.
const (
	Unknown = ""

	// Confidentiality.
	NotDisclosed      = "none"               // no evidence anyone unauthorised read the data
	KnownRecipients   = "known_recipients"   // disclosed to recipients who can be named
	UnknownRecipients = "unknown_recipients" // disclosed to an unknown number (published, stolen)

	// Integrity and availability.
	NoLoss        = "none"          // not altered / still available (or restored from a copy at once)
	Recoverable   = "recoverable"   // altered or unavailable for a while, and can be put right
	Irrecoverable = "irrecoverable" // altered or lost for good
)

// Circumstances of the breach: ENISA's CB criterion. Each loss adds to the
// score; see doc.go for the mapping to ENISA's increments.
type Circumstances struct {
	Confidentiality string `json:"confidentiality,omitempty" yaml:"confidentiality"`
	Integrity       string `json:"integrity,omitempty" yaml:"integrity"`
	Availability    string `json:"availability,omitempty" yaml:"availability"`
	Malicious       bool   `json:"malicious,omitempty" yaml:"malicious"`
}

// Validate names the first field with a value outside its allowed set.
func (c Circumstances) Validate() error {
	if _, _, ok := confidentialityCB(c.Confidentiality); !ok {
		return apperr.Invalidf("circumstances.confidentiality",
			"%q is not one of: \"\" (unknown), none, known_recipients, unknown_recipients", c.Confidentiality)
	}
	if _, _, ok := lossCB(c.Integrity, integrityWords); !ok {
		return apperr.Invalidf("circumstances.integrity",
			"%q is not one of: \"\" (unknown), none, recoverable, irrecoverable", c.Integrity)
	}
	if _, _, ok := lossCB(c.Availability, availabilityWords); !ok {
		return apperr.Invalidf("circumstances.availability",
			"%q is not one of: \"\" (unknown), none, recoverable, irrecoverable", c.Availability)
	}
	return nil
}

// ENISA's increments for each element of CB.
const (
	cbNone    = 0
	cbPartial = 0.25
	cbFull    = 0.5
	cbMalice  = 0.5
)

// confidentialityCB maps a confidentiality value to its ENISA increment. An
// unknown value scores as the worst case: a breach is not assumed contained
// before someone has found out.
func confidentialityCB(v string) (score float64, basis string, ok bool) {
	switch v {
	case NotDisclosed:
		return cbNone, "no evidence the data was read", true
	case KnownRecipients:
		return cbPartial, "disclosed to known recipients", true
	case UnknownRecipients:
		return cbFull, "disclosed to an unknown number of recipients", true
	case Unknown:
		return cbFull, "unknown; assumed an unknown number of recipients (the conservative reading)", true
	}
	return 0, "", false
}

type lossWords struct{ none, recoverable, irrecoverable, unknown string }

var integrityWords = lossWords{
	none:          "not altered, or no sign the altered data was used",
	recoverable:   "altered and possibly misused, but the original can be restored",
	irrecoverable: "altered and possibly misused, and the original cannot be restored",
	unknown:       "unknown; assumed altered beyond repair (the conservative reading)",
}

var availabilityWords = lossWords{
	none:          "available, or restored from another copy without difficulty",
	recoverable:   "unavailable for a while; restoring takes work or the person's help",
	irrecoverable: "lost; no copy remains with the controller or the person",
	unknown:       "unknown; assumed lost for good (the conservative reading)",
}

func lossCB(v string, w lossWords) (score float64, basis string, ok bool) {
	switch v {
	case NoLoss:
		return cbNone, w.none, true
	case Recoverable:
		return cbPartial, w.recoverable, true
	case Irrecoverable:
		return cbFull, w.irrecoverable, true
	case Unknown:
		return cbFull, w.unknown, true
	}
	return 0, "", false
}

// cb sums the increments and says where each came from, one line per element
// in a fixed order. c must be valid.
func (c Circumstances) cb() (float64, []string) {
	conf, confWhy, _ := confidentialityCB(c.Confidentiality)
	integ, integWhy, _ := lossCB(c.Integrity, integrityWords)
	avail, availWhy, _ := lossCB(c.Availability, availabilityWords)
	malice, maliceWhy := float64(cbNone), "no malicious intent known"
	if c.Malicious {
		malice, maliceWhy = cbMalice, "malicious intent"
	}
	return conf + integ + avail + malice, []string{
		line("confidentiality", conf, confWhy),
		line("integrity", integ, integWhy),
		line("availability", avail, availWhy),
		line("malicious", malice, maliceWhy),
	}
}

func line(element string, score float64, why string) string {
	return fmt.Sprintf("%s +%s: %s", element, num(score), why)
}

// copyRemains reports whether the data can still be had in its original form:
// integrity and availability are known and neither is lost for good. Only then
// does encryption take the risk away (EDPB: unintelligible data still harms
// people when it was the only copy).
func (c Circumstances) copyRemains() bool {
	ok := func(v string) bool { return v == NoLoss || v == Recoverable }
	return ok(c.Integrity) && ok(c.Availability)
}
