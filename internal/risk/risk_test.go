package risk_test

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/risk"
)

// known is a breach whose circumstances are all known and all benign: CB = 0.
var known = risk.Circumstances{Confidentiality: "none", Integrity: "none", Availability: "none"}

func circ(conf, integ, avail string, malicious bool) risk.Circumstances {
	return risk.Circumstances{Confidentiality: conf, Integrity: integ, Availability: avail, Malicious: malicious}
}

// Each scenario is worked by hand from the tables in doc.go:
// DPC = highest category score (+1 for minors, capped at 4), EI = most
// identifying category, CB = sum of the increments, SE = DPC × EI + CB.
func TestAssessScenarios(t *testing.T) {
	tests := []struct {
		name               string
		in                 risk.Input
		dpc, ei, cb, score float64
		severity           string
		level              risk.Level
	}{
		{
			// Customer list published by a misconfigured bucket.
			// DPC max(name 1, email 1) = 1; EI max(name 1, email 0.75) = 1;
			// CB unknown recipients 0.5. SE = 1 × 1 + 0.5 = 1.5 → low.
			name: "contact list exposed by mistake",
			in:   risk.Input{Categories: []string{"name", "email"}, Circumstances: circ("unknown_recipients", "none", "none", false)},
			dpc:  1, ei: 1, cb: 0.5, score: 1.5, severity: "low", level: risk.Low,
		},
		{
			// Credentials stolen by an attacker.
			// DPC account_credentials 3; EI max(email 0.75, credentials 0.75) = 0.75;
			// CB unknown recipients 0.5 + malicious 0.5 = 1. SE = 3 × 0.75 + 1 = 3.25 → high.
			name: "credentials stolen",
			in:   risk.Input{Categories: []string{"email", "account_credentials"}, Circumstances: circ("unknown_recipients", "none", "none", true)},
			dpc:  3, ei: 0.75, cb: 1, score: 3.25, severity: "high", level: risk.High,
		},
		{
			// Ransomware at a clinic, restored from backups after some days, no exfiltration.
			// DPC health 4; EI name 1; CB availability temporal 0.25 + malicious 0.5 = 0.75.
			// SE = 4 × 1 + 0.75 = 4.75 → very_high.
			name: "clinic ransomware with backups",
			in:   risk.Input{Categories: []string{"name", "health"}, Circumstances: circ("none", "none", "recoverable", true)},
			dpc:  4, ei: 1, cb: 0.75, score: 4.75, severity: "very_high", level: risk.High,
		},
		{
			// Web logs sent to one wrong partner.
			// DPC max(ip_address 1, usage_data 2) = 2; EI max(0.5, 0.25) = 0.5;
			// CB known recipients 0.25. SE = 2 × 0.5 + 0.25 = 1.25 → low.
			name: "logs to a known recipient",
			in:   risk.Input{Categories: []string{"ip_address", "usage_data"}, Circumstances: circ("known_recipients", "none", "none", false)},
			dpc:  2, ei: 0.5, cb: 0.25, score: 1.25, severity: "low", level: risk.Low,
		},
		{
			// A children's app hacked.
			// DPC max(device_id 1, usage_data 2, children_data 1) = 2, +1 minors = 3;
			// EI max(device_id 0.5, 0.25, 0.25) = 0.5; CB 0.5 + 0.5 = 1.
			// SE = 3 × 0.5 + 1 = 2.5 → medium.
			name: "children's app hacked",
			in:   risk.Input{Categories: []string{"device_id", "usage_data", "children_data"}, Circumstances: circ("unknown_recipients", "none", "none", true)},
			dpc:  3, ei: 0.5, cb: 1, score: 2.5, severity: "medium", level: risk.Medium,
		},
		{
			// Minors cannot lift DPC past 4: health 4 + 1 → 4. EI name 1, CB 0. SE = 4 → very_high.
			name: "minors at the ceiling",
			in:   risk.Input{Categories: []string{"children_data", "health", "name"}, Circumstances: known},
			dpc:  4, ei: 1, cb: 0, score: 4, severity: "very_high", level: risk.High,
		},
		{
			// Nothing known about the circumstances yet: each unknown element scores 0.5.
			// DPC 1; EI 1; CB 0.5 + 0.5 + 0.5 = 1.5. SE = 1 + 1.5 = 2.5 → medium.
			name: "circumstances unknown",
			in:   risk.Input{Categories: []string{"name", "email"}},
			dpc:  1, ei: 1, cb: 1.5, score: 2.5, severity: "medium", level: risk.Medium,
		},
		{
			// Date of birth with postal address singles people out: EI maximum.
			// DPC 1; EI 1; CB 0. SE = 1 → low.
			name: "quasi-identifiers together",
			in:   risk.Input{Categories: []string{"postal_address", "date_of_birth"}, Circumstances: known},
			dpc:  1, ei: 1, cb: 0, score: 1, severity: "low", level: risk.Low,
		},
		{
			// Card skimming. DPC payment_card 4; EI name 1; CB 0.5 + 0.5 = 1.
			// SE = 4 × 1 + 1 = 5 → very_high.
			name: "cards skimmed",
			in:   risk.Input{Categories: []string{"name", "payment_card"}, Circumstances: circ("unknown_recipients", "none", "none", true)},
			dpc:  4, ei: 1, cb: 1, score: 5, severity: "very_high", level: risk.High,
		},
		{
			// Salted hashes leaked on their own. DPC password_hash 2; EI 0.25;
			// CB 0.5 + 0.5 = 1. SE = 2 × 0.25 + 1 = 1.5 → low.
			name: "hashes alone",
			in:   risk.Input{Categories: []string{"password_hash"}, Circumstances: circ("unknown_recipients", "none", "none", true)},
			dpc:  2, ei: 0.25, cb: 1, score: 1.5, severity: "low", level: risk.Low,
		},
		{
			// Nothing known at all: the data scores as sensitive (DPC 4) and
			// naming the person (EI 1), CB 0.5 × 3 = 1.5. SE = 4 + 1.5 = 5.5.
			name: "nothing known yet",
			in:   risk.Input{},
			dpc:  4, ei: 1, cb: 1.5, score: 5.5, severity: "very_high", level: risk.High,
		},
		{
			// The most that can be scored: DPC 4, EI 1, CB 0.5 × 3 + 0.5 = 2. SE = 6.
			name: "worst case",
			in:   risk.Input{Categories: []string{"biometric"}, Circumstances: circ("", "", "", true)},
			dpc:  4, ei: 1, cb: 2, score: 6, severity: "very_high", level: risk.High,
		},

		// Band edges: each score exactly on a boundary, and one step below it.
		{
			// DPC max(name 1, usage_data 2) = 2; EI 1; CB 0. SE = 2 → medium.
			name: "edge 2",
			in:   risk.Input{Categories: []string{"name", "usage_data"}, Circumstances: known},
			dpc:  2, ei: 1, cb: 0, score: 2, severity: "medium", level: risk.Medium,
		},
		{
			// DPC 1; EI 1; CB unknown recipients 0.5 + integrity recoverable 0.25. SE = 1.75 → low.
			name: "below 2",
			in:   risk.Input{Categories: []string{"name"}, Circumstances: circ("unknown_recipients", "recoverable", "none", false)},
			dpc:  1, ei: 1, cb: 0.75, score: 1.75, severity: "low", level: risk.Low,
		},
		{
			// DPC financial_account 3; EI name 1; CB 0. SE = 3 → high.
			name: "edge 3",
			in:   risk.Input{Categories: []string{"name", "financial_account"}, Circumstances: known},
			dpc:  3, ei: 1, cb: 0, score: 3, severity: "high", level: risk.High,
		},
		{
			// DPC 3; EI email 0.75; CB 0.5. SE = 2.25 + 0.5 = 2.75 → medium.
			name: "below 3",
			in:   risk.Input{Categories: []string{"email", "financial_account"}, Circumstances: circ("unknown_recipients", "none", "none", false)},
			dpc:  3, ei: 0.75, cb: 0.5, score: 2.75, severity: "medium", level: risk.Medium,
		},
		{
			// DPC health 4; EI name 1; CB 0. SE = 4 → very_high.
			name: "edge 4",
			in:   risk.Input{Categories: []string{"name", "health"}, Circumstances: known},
			dpc:  4, ei: 1, cb: 0, score: 4, severity: "very_high", level: risk.High,
		},
		{
			// DPC payment_card 4; EI email 0.75; CB 0.5 + availability 0.25. SE = 3 + 0.75 = 3.75 → high.
			name: "below 4",
			in:   risk.Input{Categories: []string{"email", "payment_card"}, Circumstances: circ("unknown_recipients", "none", "recoverable", false)},
			dpc:  4, ei: 0.75, cb: 0.75, score: 3.75, severity: "high", level: risk.High,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := risk.Assess(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			p := a.Parts
			if p.DPC != tt.dpc || p.EI != tt.ei || p.CB != tt.cb || p.Score != tt.score {
				t.Errorf("DPC %v EI %v CB %v SE %v; want %v %v %v %v", p.DPC, p.EI, p.CB, p.Score, tt.dpc, tt.ei, tt.cb, tt.score)
			}
			if p.Severity != tt.severity || a.Level != tt.level {
				t.Errorf("severity %s level %s; want %s %s", p.Severity, a.Level, tt.severity, tt.level)
			}
			if a.Method != risk.MethodENISA || a.Override != nil || a.Version != risk.TableVersion {
				t.Errorf("method %q override %v version %q", a.Method, a.Override, a.Version)
			}
			if p.DPCBasis == "" || p.EIBasis == "" || len(p.CBBasis) != 4 {
				t.Errorf("bases missing: %+v", p)
			}
		})
	}
}

func TestBasesNameTheirSource(t *testing.T) {
	a, err := risk.Assess(risk.Input{
		Categories:    []string{"usage_data", "health", "children_data", "special_category", "email"},
		Affected:      1200,
		Circumstances: risk.Circumstances{Integrity: "recoverable", Availability: "none", Malicious: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := a.Parts
	for _, want := range []string{"health:", "base 4", "also 4: special_category", "minors", "ceiling"} {
		if !strings.Contains(p.DPCBasis, want) {
			t.Errorf("DPC basis %q lacks %q", p.DPCBasis, want)
		}
	}
	if !strings.HasPrefix(p.EIBasis, "email: significant") {
		t.Errorf("EI basis %q", p.EIBasis)
	}
	wantCB := []string{
		"confidentiality +0.5: unknown; assumed an unknown number of recipients (the conservative reading)",
		"integrity +0.25: altered and possibly misused, but the original can be restored",
		"availability +0: available, or restored from another copy without difficulty",
		"malicious +0.5: malicious intent",
	}
	if !slices.Equal(p.CBBasis, wantCB) {
		t.Errorf("CB basis\n got %q\nwant %q", p.CBBasis, wantCB)
	}
	if len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], "1200 people affected") {
		t.Errorf("notes %q", p.Notes)
	}
}

func TestInputOrderDoesNotMatter(t *testing.T) {
	cats := []string{"name", "health", "ip_address", "children_data", "payment_card", "date_of_birth", "postal_address"}
	want, err := risk.Assess(risk.Input{Categories: cats, Circumstances: known})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		shuffled := slices.Clone(cats)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[0]) // a duplicate changes nothing either
		got, err := risk.Assess(risk.Input{Categories: shuffled, Circumstances: known})
		if err != nil {
			t.Fatal(err)
		}
		if gotJSON, _ := json.Marshal(got); string(gotJSON) != string(wantJSON) {
			t.Fatalf("order %v gave\n%s\nwant\n%s", shuffled, gotJSON, wantJSON)
		}
	}
}

func TestEncrypted(t *testing.T) {
	// DPC 4 × EI 1 + CB (0.5 + 0 + 0.25 + 0.5) = 5.25 → very_high, but the
	// data is unintelligible and a copy remains: none.
	a, err := risk.Assess(risk.Input{
		Categories:    []string{"name", "health"},
		Encrypted:     true,
		Circumstances: circ("unknown_recipients", "none", "recoverable", true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Level != risk.None || a.Method != risk.MethodEncrypted {
		t.Errorf("level %s method %q; want none, %q", a.Level, a.Method, risk.MethodEncrypted)
	}
	if !strings.Contains(a.Method, "Art. 34(3)(a)") {
		t.Errorf("method %q does not say why", a.Method)
	}
	if a.Parts.Score != 5.25 || a.Parts.Severity != "very_high" {
		t.Errorf("parts not kept for the record: %+v", a.Parts)
	}

	// Encryption keeps data from an attacker, not from loss: with the only
	// copy gone, or not yet known to remain, the computed level stands.
	for _, loss := range [][2]string{{"none", "irrecoverable"}, {"none", ""}, {"irrecoverable", "none"}, {"", "recoverable"}} {
		a, err := risk.Assess(risk.Input{
			Categories:    []string{"name", "health"},
			Encrypted:     true,
			Circumstances: circ("unknown_recipients", loss[0], loss[1], false),
		})
		if err != nil {
			t.Fatal(err)
		}
		if a.Level != risk.High || a.Method != risk.MethodENISA {
			t.Errorf("integrity, availability %q: level %s method %q; want high by ENISA", loss, a.Level, a.Method)
		}
		if !slices.ContainsFunc(a.Parts.Notes, func(n string) bool { return strings.Contains(n, "does not lower the level") }) {
			t.Errorf("integrity, availability %q: notes %q do not explain", loss, a.Parts.Notes)
		}
	}
}

func TestOverride(t *testing.T) {
	in := risk.Input{
		Categories:    []string{"name", "health"},
		Circumstances: known,
		Override:      &risk.Override{Level: "Low", Justification: "  records were test fixtures, not real patients  "},
	}
	a, err := risk.Assess(in)
	if err != nil {
		t.Fatal(err)
	}
	if a.Level != risk.Low || a.Method != risk.MethodOverride {
		t.Errorf("level %s method %q; want low, override", a.Level, a.Method)
	}
	if a.Override == nil || a.Override.Level != risk.Low || a.Override.Justification != "records were test fixtures, not real patients" {
		t.Errorf("override not kept: %+v", a.Override)
	}
	if a.Override == in.Override {
		t.Error("the assessment shares the caller's override")
	}
	// The computed parts are kept: DPC 4 × EI 1 + 0 = 4 → very_high.
	if a.Parts.Score != 4 || a.Parts.Severity != "very_high" {
		t.Errorf("parts %+v", a.Parts)
	}
	if !slices.Contains(a.Parts.Notes, "a person set the level to low (computed: high)") {
		t.Errorf("notes %q", a.Parts.Notes)
	}

	// An override beats encryption too.
	in.Encrypted, in.Override = true, &risk.Override{Level: risk.Medium, Justification: "key may have been on the laptop"}
	if a, err := risk.Assess(in); err != nil || a.Level != risk.Medium || a.Method != risk.MethodOverride {
		t.Errorf("override with encryption: %v, %v", a, err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		in   risk.Input
		want []string // the error names these
	}{
		{"unknown category", risk.Input{Categories: []string{"name", "pasword"}}, []string{"categories", `"pasword"`, "account_credentials"}},
		{"category in the wrong case", risk.Input{Categories: []string{"Name"}}, []string{`"Name"`}},
		{"negative count", risk.Input{Categories: []string{"name"}, Affected: -1}, []string{"affected", "-1"}},
		{"bad confidentiality", risk.Input{Categories: []string{"name"}, Circumstances: risk.Circumstances{Confidentiality: "public"}},
			[]string{"circumstances.confidentiality", `"public"`, "known_recipients", "unknown_recipients"}},
		{"bad integrity", risk.Input{Categories: []string{"name"}, Circumstances: risk.Circumstances{Integrity: "known_recipients"}},
			[]string{"circumstances.integrity", `"known_recipients"`, "recoverable", "irrecoverable"}},
		{"bad availability", risk.Input{Categories: []string{"name"}, Circumstances: risk.Circumstances{Availability: "gone"}},
			[]string{"circumstances.availability", `"gone"`}},
		{"override without justification", risk.Input{Categories: []string{"name"}, Override: &risk.Override{Level: risk.Low, Justification: " \n\t"}},
			[]string{"override: a justification is required"}},
		{"override with a bad level", risk.Input{Categories: []string{"name"}, Override: &risk.Override{Level: "critical", Justification: "because"}},
			[]string{"override.level", `"critical"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := risk.Assess(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("kind %s; want invalid", apperr.KindOf(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not contain %q", err, w)
				}
			}
		})
	}
	_, err := risk.Assess(risk.Input{Categories: []string{"name"}, Override: &risk.Override{Level: risk.Low}})
	if err == nil || err.Error() != "override: a justification is required" {
		t.Errorf("got %v", err)
	}
}

func TestCircumstancesValidate(t *testing.T) {
	for _, conf := range []string{"", "none", "known_recipients", "unknown_recipients"} {
		for _, loss := range []string{"", "none", "recoverable", "irrecoverable"} {
			c := circ(conf, loss, loss, true)
			if err := c.Validate(); err != nil {
				t.Errorf("%+v: %v", c, err)
			}
		}
	}
	if err := circ("recoverable", "", "", false).Validate(); err == nil {
		t.Error("confidentiality accepted an integrity value")
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]risk.Level{"none": risk.None, "low": risk.Low, " Medium ": risk.Medium, "HIGH": risk.High} {
		if got, err := risk.ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "critical", "very_high", "unassessed"} {
		_, err := risk.ParseLevel(in)
		if err == nil {
			t.Errorf("ParseLevel(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseLevel(%q): %q does not name the value", in, err)
		}
	}
}

func TestAtLeast(t *testing.T) {
	order := []risk.Level{risk.None, risk.Low, risk.Medium, risk.High}
	for i, a := range order {
		for j, b := range order {
			if got := a.AtLeast(b); got != (i >= j) {
				t.Errorf("%s.AtLeast(%s) = %v", a, b, got)
			}
		}
		if a.AtLeast("bogus") || risk.Level("bogus").AtLeast(a) {
			t.Errorf("%s compared with a non-level", a)
		}
	}
}

// TestCategoriesMatchIncident keeps the model and the facts in step: a new
// data category must be scored before the facts accept it.
func TestCategoriesMatchIncident(t *testing.T) {
	if got := risk.Categories(); !slices.Equal(got, incident.DataCategories) {
		t.Errorf("risk knows\n%v\nincident accepts\n%v", got, incident.DataCategories)
	}
}

// Adding a category never lowers DPC, EI or the score.
func TestMoreDataNeverLowersScore(t *testing.T) {
	all := risk.Categories()
	r := rand.New(rand.NewPCG(7, 11))
	for range 400 {
		var set []string
		for _, c := range all {
			if r.IntN(4) == 0 {
				set = append(set, c)
			}
		}
		if len(set) == 0 {
			set = []string{all[r.IntN(len(all))]}
		}
		base := mustAssess(t, risk.Input{Categories: set, Circumstances: known})
		for _, c := range all {
			if slices.Contains(set, c) {
				continue
			}
			more := mustAssess(t, risk.Input{Categories: append(slices.Clone(set), c), Circumstances: known})
			if more.Parts.DPC < base.Parts.DPC || more.Parts.EI < base.Parts.EI || more.Parts.Score < base.Parts.Score {
				t.Errorf("adding %s to %v lowered %+v to %+v", c, set, base.Parts, more.Parts)
			}
		}
	}
}

// A worse circumstance never lowers CB; an unknown one scores at least as
// much as any known value.
func TestWorseCircumstancesNeverLowerCB(t *testing.T) {
	confs := []string{"none", "known_recipients", "unknown_recipients"} // least to worst
	losses := []string{"none", "recoverable", "irrecoverable"}
	type point struct{ c, i, a, m int }
	cb := func(p point) float64 {
		return mustAssess(t, risk.Input{Categories: []string{"name"},
			Circumstances: circ(confs[p.c], losses[p.i], losses[p.a], p.m == 1)}).Parts.CB
	}
	var points []point
	for c := range 3 {
		for i := range 3 {
			for a := range 3 {
				for m := range 2 {
					points = append(points, point{c, i, a, m})
				}
			}
		}
	}
	for _, p := range points {
		for _, q := range points {
			if q.c >= p.c && q.i >= p.i && q.a >= p.a && q.m >= p.m && cb(q) < cb(p) {
				t.Errorf("%+v scores %v, less than %+v at %v", q, cb(q), p, cb(p))
			}
		}
	}
	unknown := mustAssess(t, risk.Input{Categories: []string{"name"}, Circumstances: circ("", "", "", false)}).Parts.CB
	worst := cb(point{2, 2, 2, 0})
	if unknown < worst {
		t.Errorf("unknown circumstances score %v, less than the worst known %v", unknown, worst)
	}
}

func TestJSONShape(t *testing.T) {
	a := mustAssess(t, risk.Input{Categories: []string{"name"}, Circumstances: known,
		Override: &risk.Override{Level: risk.Medium, Justification: "press coverage"}})
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"level", "method", "parts", "override", "version"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	parts := got["parts"].(map[string]any)
	for _, k := range []string{"dpc", "dpc_basis", "ei", "ei_basis", "cb", "cb_basis", "score", "severity", "notes"} {
		if _, ok := parts[k]; !ok {
			t.Errorf("no parts.%q in %s", k, b)
		}
	}
	var back risk.Assessment
	if err := json.Unmarshal(b, &back); err != nil || back.Override.Justification != "press coverage" || back.Parts.Score != 1 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// TestPure keeps Temporal, HTTP and the outside world out of the package:
// nothing it depends on reaches a server, and it imports no clock, randomness
// or I/O itself.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.temporal.io/", "github.com/slack-go/", "github.com/sendgrid/", "net/http"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("package risk depends on %s", dep)
			}
		}
	}
	out, err = exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "os" || imp == "time" || imp == "io" || strings.HasPrefix(imp, "math/rand") || strings.HasPrefix(imp, "os/") {
			t.Errorf("package risk imports %s", imp)
		}
	}
}

func FuzzAssess(f *testing.F) {
	f.Add("name,email", "", "", "", false, false, 0, "", "")
	f.Add("health,children_data", "unknown_recipients", "recoverable", "irrecoverable", true, true, 1200, "low", "test data")
	f.Add("payment_card", "known_recipients", "none", "none", false, false, -3, "HIGH", " ")
	f.Add("", "public", "x", "y", true, false, 5, "critical", "why")
	f.Add("name,,ssn,bogus", "none", "none", "none", false, true, 1, "none", "")
	f.Fuzz(func(t *testing.T, cats, conf, integ, avail string, malicious, encrypted bool, affected int, level, justification string) {
		in := risk.Input{
			Categories:    strings.Split(cats, ","),
			Affected:      affected,
			Encrypted:     encrypted,
			Circumstances: circ(conf, integ, avail, malicious),
		}
		if level != "" || justification != "" {
			in.Override = &risk.Override{Level: risk.Level(level), Justification: justification}
		}
		a, err := risk.Assess(in)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
			}
			return
		}
		if _, err := risk.ParseLevel(string(a.Level)); err != nil {
			t.Fatalf("level %q does not parse: %v", a.Level, err)
		}
		p := a.Parts
		if p.DPC < 1 || p.DPC > 4 || p.EI < 0.25 || p.EI > 1 || p.CB < 0 || p.CB > 2 || p.Score != p.DPC*p.EI+p.CB {
			t.Fatalf("parts out of range: %+v", p)
		}
		if !slices.Contains([]string{"low", "medium", "high", "very_high"}, p.Severity) {
			t.Fatalf("severity %q", p.Severity)
		}
	})
}

func mustAssess(t *testing.T, in risk.Input) risk.Assessment {
	t.Helper()
	a, err := risk.Assess(in)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
