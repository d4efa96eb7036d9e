package incident

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzDuration: a Duration read from text is written back as text that reads
// as the same Duration. Durations travel as text in every JSON payload (the
// pages and policies of a workflow's state, -o json), so a value that does
// not read back breaks whoever decodes it next.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"48h", "90m", "1h30m", "30s", "100h", "72h", "96h", "-2h", "0s", "1h30m15s", "1.5s", "3ns",
		" 24h ", "2562047h47m16.854775807s", "-2562047h47m16.854775808s", "4d4h", "1d", "1e3h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		text, err := d.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%d): %v", d, err)
		}
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Fatalf("%q read as %d, written as %q, read back as %d (%v)", s, d, text, back, err)
		}
		// The same through JSON, as in a payload.
		raw, err := json.Marshal(struct{ D Duration }{d})
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ D Duration }
		if err := json.Unmarshal(raw, &v); err != nil || v.D != d {
			t.Fatalf("%s does not round-trip through JSON: %d, %v", raw, v.D, err)
		}
	})
}

// FuzzParseOffsets: every non-empty part is one positive offset, equal to
// what time.ParseDuration reads (or Duration.UnmarshalText, for whole days
// in front), and the list written back reads the same.
func FuzzParseOffsets(f *testing.F) {
	for _, s := range []string{"48h,24h,6h,1h", "48h, 24h,6h,1h", "", ",,", "48", "-1h", "0s", "1h,,2h", "96h,1h30m", " 7h ,x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		offs, err := ParseOffsets(s)
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if err != nil {
			if offs != nil {
				t.Fatal("offsets and an error")
			}
			// The error quotes the part it refuses.
			if !slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(err.Error(), strconv.Quote(p)) }) {
				t.Fatalf("error %q names no part of %q", err, s)
			}
			return
		}
		if len(offs) != len(parts) {
			t.Fatalf("%q: %d offsets for %d parts", s, len(offs), len(parts))
		}
		texts := make([]string, len(offs))
		for i, o := range offs {
			want, err := time.ParseDuration(parts[i])
			if err != nil {
				var d Duration
				if d.UnmarshalText([]byte(parts[i])) != nil {
					t.Fatalf("%q: part %q accepted, but no duration", s, parts[i])
				}
				want = time.Duration(d)
			}
			if o <= 0 || time.Duration(o) != want {
				t.Fatalf("%q: offset %d is %d, want %d > 0", s, i, o, want)
			}
			b, _ := o.MarshalText()
			texts[i] = string(b)
		}
		back, err := ParseOffsets(strings.Join(texts, ","))
		if err != nil || !slices.Equal(back, offs) {
			t.Fatalf("%q written as %q reads as %v, %v", s, strings.Join(texts, ","), back, err)
		}
	})
}

// FuzzParseID: an accepted ID is the input upper-cased and trimmed, ASCII,
// accepted again as itself and in lower case, and survives the workflow ID
// round trip; a refusal says what an ID looks like.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"INC-20261120-7K3QX", " inc-20261120-7k3qx ", "INC-2026-ABCDE", "INC-20261120-ABCDI",
		"incident/INC-20261120-ABCDE", "INC-20261120-7K3QX\n", "İNC-20261120-7K3QX", "inc-20261120-ıııı1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			if id != "" || !strings.Contains(err.Error(), "is not an incident ID") {
				t.Fatalf("ParseID(%q) = %q, %v", s, id, err)
			}
			return
		}
		if len(id) != len("INC-20261120-7K3QX") || id != strings.ToUpper(strings.TrimSpace(s)) {
			t.Fatalf("ParseID(%q) = %q: not the input in canonical form", s, id)
		}
		for _, again := range []string{id, strings.ToLower(id)} {
			if back, err := ParseID(again); err != nil || back != id {
				t.Fatalf("ParseID(%q) = %q, %v, want %q", again, back, err, id)
			}
		}
		if back, ok := IDFromWorkflowID(WorkflowID(id)); !ok || back != id {
			t.Fatalf("workflow ID round trip of %q: %q", id, back)
		}
	})
}

// FuzzParseSeverity: an accepted severity is one of Severities and reads
// back as itself; the empty text is unassessed.
func FuzzParseSeverity(f *testing.F) {
	for _, s := range []string{"", "low", " HIGH ", "Critical", "unassessed", "apocalyptic", "hıgh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sev, err := ParseSeverity(s)
		if err != nil {
			if sev != "" || err.Error() == "" {
				t.Fatalf("ParseSeverity(%q) = %q, %v", s, sev, err)
			}
			return
		}
		if !slices.Contains(Severities, sev) || !strings.EqualFold(string(sev), strings.TrimSpace(s)) && strings.TrimSpace(s) != "" {
			t.Fatalf("ParseSeverity(%q) = %q", s, sev)
		}
		if back, err := ParseSeverity(string(sev)); err != nil || back != sev {
			t.Fatalf("%q does not read back: %q, %v", sev, back, err)
		}
	})
}
